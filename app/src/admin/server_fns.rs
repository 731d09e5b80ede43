//! Admin server functions: users (search, status, role, VIP), mail outbox,
//! audit log. Every change is audited.

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{AuditEntry, OutboxMail};
use crate::accounts::model::UserRow;
#[cfg(feature = "ssr")]
use {
    crate::{
        accounts::{
            model::{AccountStatus, Email, Role},
            repo,
        },
        audit,
        db::now,
        sfn,
    },
    sqlx::Row,
};

#[server(endpoint = "admin/users")]
pub async fn admin_users(q: String) -> Result<Vec<UserRow>, AppError> {
    sfn::admin()?;
    sfn::limit("q", "Search", &q, 100)?;
    Ok(repo::search_users(&sfn::state().db, q.trim(), 200).await?)
}

#[server(endpoint = "admin/user_status")]
pub async fn admin_set_status(user_id: i64, status: String) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let status =
        AccountStatus::parse(&status).ok_or_else(|| AppError::invalid("Unknown status."))?;
    if user_id == admin.id && status != AccountStatus::Active {
        return Err(AppError::invalid("You cannot suspend your own account."));
    }
    let state = sfn::state();
    if repo::set_status(&state.db, user_id, status).await? == 0 {
        return Err(AppError::NotFound);
    }
    // Service follows the account's status: nodes drop (or restore) its
    // peers now, its gateway tunnels end.
    state.node_changes.notify_waiters();
    crate::cameras::service::close_user_tunnels(&state, user_id).await?;
    audit::record(
        &state.db,
        Some(admin.id),
        "admin.user_status",
        &user_id.to_string(),
        "",
        status.as_str(),
    )
    .await;
    Ok(())
}

/// Lifts the user's data cap for the rest of this month: their peers
/// return now, and this month's traffic caps them no more.
#[server(endpoint = "admin/lift_data_cap")]
pub async fn admin_lift_data_cap(user_id: i64) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let state = sfn::state();
    let (month_start, _) = crate::vpn::model::month_bounds(now());
    let mut tx = state.db.begin_write().await?;
    if !crate::vpn::repo::lift_cap_for_month(&mut tx, user_id, month_start / 86_400).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    state.node_changes.notify_waiters();
    audit::record(
        &state.db,
        Some(admin.id),
        "admin.lift_data_cap",
        &user_id.to_string(),
        "",
        "",
    )
    .await;
    Ok(())
}

#[server(endpoint = "admin/user_role")]
pub async fn admin_set_role(user_id: i64, role: String) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let role = Role::parse(&role).ok_or_else(|| AppError::invalid("Unknown role."))?;
    if user_id == admin.id && role != Role::Admin {
        return Err(AppError::invalid("You cannot remove your own admin role."));
    }
    let state = sfn::state();
    if repo::set_role(&state.db, user_id, role).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "admin.user_role",
        &user_id.to_string(),
        "",
        role.as_str(),
    )
    .await;
    Ok(())
}

/// Adds or removes an address from the VIP table.
#[server(endpoint = "admin/vip")]
pub async fn admin_set_vip(email: String, vip: bool) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let email = Email::parse(&email).map_err(AppError::invalid)?;
    let state = sfn::state();
    if vip {
        sqlx::query("INSERT INTO vip_accounts (email, created_at) VALUES ($1, $2) ON CONFLICT (email) DO NOTHING")
            .bind(&email)
            .bind(now())
            .execute(&state.db.pool)
            .await?;
    } else {
        sqlx::query("DELETE FROM vip_accounts WHERE email = $1")
            .bind(&email)
            .execute(&state.db.pool)
            .await?;
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "admin.vip",
        &email,
        "",
        &vip.to_string(),
    )
    .await;
    Ok(())
}

#[server(endpoint = "admin/outbox")]
pub async fn admin_outbox() -> Result<Vec<OutboxMail>, AppError> {
    sfn::admin()?;
    Ok(sfn::state().mailer.outbox(100).await?)
}

#[server(endpoint = "admin/audit")]
pub async fn admin_audit() -> Result<Vec<AuditEntry>, AppError> {
    sfn::admin()?;
    let rows = sqlx::query(
        "SELECT a.id, a.at, COALESCE(u.email, '') AS actor, a.action, a.target, a.ip, a.details \
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id ORDER BY a.id DESC LIMIT 200",
    )
    .fetch_all(&sfn::state().db.pool)
    .await?;
    let entries: Result<Vec<AuditEntry>, sqlx::Error> = rows
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                ip: r.try_get("ip")?,
                details: r.try_get("details")?,
            })
        })
        .collect();
    Ok(entries?)
}
