//! Server functions: the developer section (a business signs up, its
//! branding and credentials) and the operator's tenants (list with usage,
//! limits and status, create, suspend/resume, the audit of a tenant).

use leptos::prelude::*;

use super::model::{
    BrandingForm, CreatedCredential, CredentialId, CredentialInfo, TenantForm, TenantId, TenantInfo,
};
use crate::{admin::model::AuditEntry, error::AppError};
#[cfg(feature = "ssr")]
use {
    super::{model::TenantStatus, service},
    crate::sfn,
};

/// The signed-in account's tenant, if it runs one.
#[server(endpoint = "developer/tenant")]
pub async fn my_tenant() -> Result<Option<TenantInfo>, AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    match super::repo::of_owner(db, user.id).await? {
        Some(t) => Ok(Some(service::info(db, t).await?)),
        None => Ok(None),
    }
}

#[server(endpoint = "developer/tenant_signup")]
pub async fn tenant_signup(#[server(flatten)] form: TenantForm) -> Result<TenantInfo, AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    let t = service::sign_up(db, &user, form).await?;
    service::info(db, t).await
}

#[server(endpoint = "developer/branding")]
pub async fn tenant_branding(#[server(flatten)] form: BrandingForm) -> Result<(), AppError> {
    let user = sfn::user()?;
    service::set_branding(&sfn::state().db, &user, form).await
}

#[server(endpoint = "developer/credentials")]
pub async fn tenant_credentials() -> Result<Vec<CredentialInfo>, AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    let t = service::own_tenant(db, &user).await?;
    service::credentials(db, t.id).await
}

#[server(endpoint = "developer/credential_create")]
pub async fn tenant_credential_create(name: String) -> Result<CreatedCredential, AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    let user = sfn::user()?;
    let db = &sfn::state().db;
    let t = service::own_tenant(db, &user).await?;
    service::create_credential(db, &user, t.id, &name).await
}

#[server(endpoint = "developer/credential_regenerate")]
pub async fn tenant_credential_regenerate(id: CredentialId) -> Result<CreatedCredential, AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    let t = service::own_tenant(db, &user).await?;
    service::regenerate_credential(db, &user, t.id, id).await
}

#[server(endpoint = "developer/credential_revoke")]
pub async fn tenant_credential_revoke(id: CredentialId) -> Result<(), AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    let t = service::own_tenant(db, &user).await?;
    service::revoke_credential(db, &user, t.id, id).await
}

/// Every tenant with its plan's limits, this month's usage and its status.
#[server(endpoint = "admin/tenants")]
pub async fn admin_tenants() -> Result<Vec<TenantInfo>, AppError> {
    sfn::admin()?;
    service::list_with_usage(&sfn::state().db).await
}

#[server(endpoint = "admin/tenant_create")]
pub async fn admin_tenant_create(
    #[server(flatten)] form: TenantForm,
    plan: String,
) -> Result<TenantInfo, AppError> {
    sfn::limit("plan", "Plan", &plan, 32)?;
    let admin = sfn::admin()?;
    let db = &sfn::state().db;
    let t = service::operator_create(db, &admin, form, &plan).await?;
    service::info(db, t).await
}

#[server(endpoint = "admin/tenant_status")]
pub async fn admin_tenant_status(id: TenantId, status: String) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    let status = TenantStatus::parse(status.trim())
        .ok_or_else(|| AppError::invalid_field("status", "Unknown status."))?;
    let state = sfn::state();
    service::set_status(&state.db, &state.node_changes, &admin, id, status).await
}

/// An operator onboarding a business makes its first credential.
#[server(endpoint = "admin/tenant_credential_create")]
pub async fn admin_tenant_credential_create(
    id: TenantId,
    name: String,
) -> Result<CreatedCredential, AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    let admin = sfn::admin()?;
    let db = &sfn::state().db;
    let t = super::repo::find(db, id).await?.ok_or(AppError::NotFound)?;
    service::create_credential(db, &admin, t.id, &name).await
}

/// What happened to one tenant, newest first: the audit rows about it.
#[server(endpoint = "admin/tenant_audit")]
pub async fn admin_tenant_audit(id: TenantId) -> Result<Vec<AuditEntry>, AppError> {
    use sqlx::Row;
    sfn::admin()?;
    let rows = sqlx::query(
        "SELECT a.id, a.at, COALESCE(u.email, '') AS actor, a.action, a.target, a.ip, a.details \
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id \
         WHERE a.target = $1 ORDER BY a.id DESC LIMIT 200",
    )
    .bind(format!("tenant {id}"))
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
