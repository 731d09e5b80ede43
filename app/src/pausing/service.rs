//! Fitting an account into its plan: pause what does not fit, resume what
//! fits again, and the preview of a coming plan change.

use sqlx::Row;

use super::model::{split_kept, KeepChoice, KeepItem, KeepKind, KeepPreview, KindPreview};
use crate::{
    db::{now, Db},
    entitlements::{Entitlements, Limit},
    error::{AppError, AppResult},
    state::AppState,
};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

fn limit(e: &Entitlements, kind: KeepKind) -> Limit {
    match kind {
        KeepKind::Device => e.devices,
        KeepKind::Identity => e.identities,
        KeepKind::Camera => e.cameras,
    }
}

/// Every device, identity and camera of the user, as the rule sees them.
async fn items(ex: &mut sqlx::AnyConnection, user_id: i64) -> Result<Vec<KeepItem>, sqlx::Error> {
    let mut out = Vec::new();
    let rows = sqlx::query(
        "SELECT id, name, kept_rank, last_handshake_at, paused_at, identity_region FROM devices \
         WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&mut *ex)
    .await?;
    for r in rows {
        let region: Option<String> = r.try_get(5)?;
        out.push(KeepItem {
            kind: if region.is_some() {
                KeepKind::Identity
            } else {
                KeepKind::Device
            },
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            kept_rank: r.try_get(2)?,
            last_used: r.try_get(3)?,
            paused: r.try_get::<Option<i64>, _>(4)?.is_some(),
        });
    }
    // A camera is used when its gateway starts pulling it for a viewer.
    let rows = sqlx::query(
        "SELECT c.id, c.name, c.kept_rank, \
           (SELECT MAX(e.at) FROM camera_events e WHERE e.camera_id = c.id AND e.kind = 'online'), \
           c.paused_at FROM cameras c WHERE c.user_id = $1 ORDER BY c.id",
    )
    .bind(user_id)
    .fetch_all(&mut *ex)
    .await?;
    for r in rows {
        out.push(KeepItem {
            kind: KeepKind::Camera,
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            kept_rank: r.try_get(2)?,
            last_used: r.try_get(3)?,
            paused: r.try_get::<Option<i64>, _>(4)?.is_some(),
        });
    }
    Ok(out)
}

fn of_kind(items: &[KeepItem], kind: KeepKind) -> Vec<KeepItem> {
    items.iter().filter(|i| i.kind == kind).cloned().collect()
}

/// What a fit changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// Devices or identities paused or resumed: their servers' nodes re-read.
    pub peers_changed: bool,
    /// Cameras paused or resumed.
    pub cameras: Vec<i64>,
}

/// Pauses what the user's plan does not include and resumes what it does,
/// inside the caller's write transaction (the plan change's own). Call it
/// with the user's row locked where it guards against concurrent adds.
pub async fn fit_to_plan(tx: &mut Tx, user_id: i64) -> Result<Fitted, sqlx::Error> {
    let ent = Entitlements::for_user(&mut **tx, user_id).await?;
    let all = items(tx, user_id).await?;
    let mut fitted = Fitted::default();
    let at = now();
    for kind in KeepKind::ALL.iter().copied() {
        let (keep, pause) = split_kept(of_kind(&all, kind), limit(&ent, kind).max());
        let table = if kind == KeepKind::Camera {
            "cameras"
        } else {
            "devices"
        };
        let mut changed = Vec::new();
        for i in keep.iter().filter(|i| i.paused) {
            sqlx::query(&format!(
                "UPDATE {table} SET paused_at = NULL WHERE id = $1"
            ))
            .bind(i.id)
            .execute(&mut **tx)
            .await?;
            changed.push(i.id);
        }
        for i in pause.iter().filter(|i| !i.paused) {
            sqlx::query(&format!("UPDATE {table} SET paused_at = $1 WHERE id = $2"))
                .bind(at)
                .bind(i.id)
                .execute(&mut **tx)
                .await?;
            changed.push(i.id);
        }
        if !changed.is_empty() {
            tracing::info!(
                user_id,
                kind = kind.as_str(),
                changed = changed.len(),
                "fitted to the plan"
            );
            if kind == KeepKind::Camera {
                fitted.cameras.extend(changed);
            } else {
                fitted.peers_changed = true;
            }
        }
    }
    if fitted.peers_changed {
        crate::vpn::repo::bump_user_servers(tx, user_id).await?;
    }
    Ok(fitted)
}

/// After a fit is committed: nodes re-read now, paused cameras' live views
/// end and their gateways re-read their camera lists.
pub async fn after_fit(state: &AppState, user_id: i64, fitted: &Fitted) {
    if fitted.peers_changed {
        state.node_changes.notify_waiters();
    }
    if fitted.cameras.is_empty() {
        return;
    }
    for id in &fitted.cameras {
        for kind in crate::cameras::model::StreamKind::ALL {
            state.cameras.hub.close(kind.channel(*id));
        }
    }
    match crate::cameras::repo::list_gateways(&state.db, user_id).await {
        Ok(gateways) => {
            for gw in gateways {
                state
                    .cameras
                    .send(gw.id, crate::cameras::relay::GatewayCommand::Refresh);
            }
        }
        Err(e) => tracing::warn!(user_id, error = %e, "gateways after a plan fit"),
    }
}

/// The user's choice to keep one item: it goes first in the rule (before
/// earlier choices and recent use), and the account is fitted to the plan
/// it has now, so on a plan that is already full the choice swaps it in for
/// another at once; before a downgrade it only decides what the downgrade
/// keeps.
pub async fn keep(state: &AppState, user_id: i64, choice: KeepChoice) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    state.db.lock_row(&mut tx, "users", user_id).await?;
    let (table, kind_filter) = match choice.kind {
        KeepKind::Device => ("devices", " AND identity_region IS NULL"),
        KeepKind::Identity => ("devices", " AND identity_region IS NOT NULL"),
        KeepKind::Camera => ("cameras", ""),
    };
    // One rank counter per table and user: a later choice ranks higher
    // even within the same second.
    let res = sqlx::query(&format!(
        "UPDATE {table} SET kept_rank = (SELECT COALESCE(MAX(t.kept_rank), 0) + 1 FROM {table} t WHERE t.user_id = $1) \
         WHERE id = $2 AND user_id = $1{kind_filter}"
    ))
    .bind(user_id)
    .bind(choice.id)
    .execute(&mut *tx)
    .await?;
    if res.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    let fitted = fit_to_plan(&mut tx, user_id).await?;
    crate::audit::record_in(
        &mut tx,
        Some(user_id),
        "plan.keep",
        &format!("{} {}", choice.kind.as_str(), choice.id),
        "",
    )
    .await?;
    tx.commit().await?;
    after_fit(state, user_id, &fitted).await;
    Ok(())
}

/// What the coming plan change (a downgrade waiting for the period's end,
/// or a cancelled subscription expiring to the free plan) keeps and pauses;
/// `None` when nothing is coming or everything fits.
pub async fn preview(db: &Db, user_id: i64) -> AppResult<Option<KeepPreview>> {
    let mut conn = db.pool.acquire().await?;
    let Some(sub) = crate::billing::repo::subscription_of_user(&mut *conn, user_id).await? else {
        return Ok(None);
    };
    let next = match sub.pending_plan_id {
        Some(plan) => Some(plan),
        None if sub.cancel_at_period_end => {
            sqlx::query_scalar("SELECT id FROM plans WHERE slug = 'free'")
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    let Some(next) = next else { return Ok(None) };
    let plan_name = crate::billing::repo::find_plan(&mut *conn, next)
        .await?
        .map(|p| p.1)
        .unwrap_or_default();
    let ent = Entitlements::for_user_on_plan(&mut *conn, user_id, next).await?;
    let all = items(&mut conn, user_id).await?;
    let kinds: Vec<KindPreview> = KeepKind::ALL
        .iter()
        .copied()
        .filter_map(|kind| {
            let max = limit(&ent, kind).max()?;
            let (keep, pause) = split_kept(of_kind(&all, kind), Some(max));
            (!pause.is_empty()).then_some(KindPreview {
                kind,
                max,
                keep,
                pause,
            })
        })
        .collect();
    if kinds.is_empty() {
        return Ok(None);
    }
    Ok(Some(KeepPreview {
        plan_name,
        at: sub.current_period_end,
        kinds,
    }))
}
