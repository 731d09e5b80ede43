//! Tenant flows: a business signs up (or an operator creates it), the
//! operator suspends and resumes it, its credentials (made, listed,
//! regenerated, revoked, and checked on every request: the secret as a
//! header or an HMAC signature), its users (register, sign in, the
//! rotating refresh token with reuse detection) and its usage.
//!
//! Every request reads its credential's row with the tenant's status (no
//! cache), so a revocation or a suspension holds on the next request on
//! every portal instance.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{
    model::{
        signing_string, timestamp_fresh, Branding, BrandingForm, CreatedCredential, CredentialId,
        CredentialInfo, NewTenant, TenantError, TenantForm, TenantId, TenantInfo, TenantLimitsView,
        TenantStatus, TenantUserId, ACCESS_PREFIX, ACCESS_TTL_SECS, KEY_ID_PREFIX, REFRESH_PREFIX,
        REFRESH_TTL_SECS, SECRET_PREFIX,
    },
    repo::{self, TenantRow, TenantUserRow, TokenKind},
};
use crate::{
    accounts::{
        model::{AccountStatus, CurrentUser, Email, Role},
        password, tokens,
    },
    audit,
    db::{is_unique_violation, now, Db},
    entitlements,
    error::{AppError, AppResult},
};

/// `last_used_at` moves at most this often per credential.
pub const LAST_USED_EVERY_SECS: i64 = 60;

/// The first day (days since 1970, UTC) of the month `at` falls in.
pub fn month_start_day(at: i64) -> i64 {
    crate::vpn::model::month_bounds(at).0 / 86_400
}

// ---- tenants ------------------------------------------------------------------

/// A portal account signs its business up: the tenant takes the account's
/// plan, which must host tenants (the business plan); one per account.
pub async fn sign_up(db: &Db, owner: &CurrentUser, form: TenantForm) -> AppResult<TenantRow> {
    let new = NewTenant::try_from(form)?;
    if repo::of_owner(db, owner.id).await?.is_some() {
        return Err(TenantError::AlreadyTenant.into());
    }
    let plan_id: Option<i64> = sqlx::query_scalar("SELECT plan_id FROM users WHERE id = $1")
        .bind(owner.id)
        .fetch_one(&db.pool)
        .await?;
    let plan_id = match plan_id {
        Some(p) if entitlements::plan_hosts_tenants(&db.pool, p).await? => p,
        _ => return Err(TenantError::NotInPlan.into()),
    };
    create(db, Some(owner.id), owner.id, &new, plan_id).await
}

/// An operator creates a tenant on a plan (by slug) that hosts tenants.
pub async fn operator_create(
    db: &Db,
    admin: &CurrentUser,
    form: TenantForm,
    plan_slug: &str,
) -> AppResult<TenantRow> {
    let new = NewTenant::try_from(form)?;
    let plan_id: Option<i64> = sqlx::query_scalar("SELECT id FROM plans WHERE slug = $1")
        .bind(plan_slug.trim())
        .fetch_optional(&db.pool)
        .await?;
    let plan_id = match plan_id {
        Some(p) if entitlements::plan_hosts_tenants(&db.pool, p).await? => p,
        Some(_) => return Err(TenantError::NotInPlan.into()),
        None => return Err(AppError::invalid_field("plan", "Unknown plan.")),
    };
    create(db, None, admin.id, &new, plan_id).await
}

async fn create(
    db: &Db,
    owner: Option<i64>,
    actor: i64,
    new: &NewTenant,
    plan_id: i64,
) -> AppResult<TenantRow> {
    let mut tx = db.begin_write().await?;
    let id = repo::insert_tenant(
        &mut tx,
        &new.name,
        new.contact_email.as_str(),
        owner,
        plan_id,
        now(),
    )
    .await?;
    audit::record_in(
        &mut tx,
        Some(actor),
        "tenant.created",
        &format!("tenant {id}"),
        &new.name,
    )
    .await?;
    tx.commit().await?;
    repo::find(db, id).await?.ok_or(AppError::NotFound)
}

/// The operator's suspension (or resumption): its users' service follows
/// at once (their peers leave the node configs, `node_changes` wakes the
/// nodes' long-polls), and its credentials answer `TENANT_SUSPENDED`.
pub async fn set_status(
    db: &Db,
    node_changes: &tokio::sync::Notify,
    admin: &CurrentUser,
    tenant: TenantId,
    status: TenantStatus,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    if repo::set_status(&mut tx, tenant, status, now()).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit::record_in(
        &mut tx,
        Some(admin.id),
        "tenant.status",
        &format!("tenant {tenant}"),
        status.as_str(),
    )
    .await?;
    tx.commit().await?;
    node_changes.notify_waiters();
    Ok(())
}

pub async fn set_branding(db: &Db, owner: &CurrentUser, form: BrandingForm) -> AppResult<()> {
    let tenant = own_tenant(db, owner).await?;
    let b = Branding::try_from(form)?;
    if let Some(t) = b.theme_id {
        if !repo::theme_published(db, t).await? {
            return Err(AppError::invalid_field("theme_id", "Unknown theme."));
        }
    }
    repo::set_branding(db, tenant.id, &b, now()).await?;
    audit::record(
        db,
        Some(owner.id),
        "tenant.branding",
        &format!("tenant {}", tenant.id),
        "",
        &b.brand_name,
    )
    .await;
    Ok(())
}

/// The tenant the signed-in account runs.
pub async fn own_tenant(db: &Db, owner: &CurrentUser) -> AppResult<TenantRow> {
    repo::of_owner(db, owner.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A tenant with its plan's limits and this month's usage.
pub async fn info(db: &Db, t: TenantRow) -> AppResult<TenantInfo> {
    let limits = entitlements::tenant_limits(&db.pool, t.id.0)
        .await?
        .ok_or(AppError::NotFound)?;
    let usage = repo::tenant_usage(db, t.id, month_start_day(now())).await?;
    Ok(TenantInfo {
        id: t.id,
        name: t.name,
        contact_email: t.contact_email,
        status: t.status,
        plan: t.plan,
        branding: Branding {
            brand_name: t.brand_name,
            logo_url: t.logo_url,
            theme_id: t.theme_id,
        },
        created_at: t.created_at,
        limits: TenantLimitsView {
            users: limits.users.max(),
            devices: limits.devices.max(),
            bandwidth_bytes: limits.bandwidth_bytes,
        },
        usage,
    })
}

pub async fn list_with_usage(db: &Db) -> AppResult<Vec<TenantInfo>> {
    let mut out = Vec::new();
    for t in repo::list(db).await? {
        out.push(info(db, t).await?);
    }
    Ok(out)
}

// ---- credentials --------------------------------------------------------------

fn new_key_id() -> String {
    let t = tokens::random_token();
    format!("{KEY_ID_PREFIX}{}", &t[..16])
}

pub async fn create_credential(
    db: &Db,
    actor: &CurrentUser,
    tenant: TenantId,
    name: &str,
) -> AppResult<CreatedCredential> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid_field(
            "name",
            "Give the credential a name of at most 64 characters, on one line.",
        ));
    }
    let key_id = new_key_id();
    let secret = format!("{SECRET_PREFIX}{}", tokens::random_token());
    let at = now();
    let mut tx = db.begin_write().await?;
    let id = repo::insert_credential(
        &mut tx,
        tenant,
        name,
        &key_id,
        &tokens::hash_token(&secret),
        at,
    )
    .await?;
    audit::record_in(
        &mut tx,
        Some(actor.id),
        "tenant.credential_created",
        &format!("tenant {tenant}"),
        &format!("credential {id} {key_id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedCredential {
        info: CredentialInfo {
            id,
            name: name.to_string(),
            key_id,
            created_at: at,
            last_used_at: None,
            revoked_at: None,
            calls_this_month: 0,
        },
        secret,
    })
}

pub async fn credentials(db: &Db, tenant: TenantId) -> AppResult<Vec<CredentialInfo>> {
    Ok(repo::credentials(db, tenant, month_start_day(now())).await?)
}

pub async fn revoke_credential(
    db: &Db,
    actor: &CurrentUser,
    tenant: TenantId,
    id: CredentialId,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    if repo::revoke_credential(&mut tx, tenant, id, now()).await? == 0 {
        let known = repo::credentials(db, tenant, 0)
            .await?
            .iter()
            .any(|c| c.id == id);
        // Revoking twice is not an error; another tenant's is not found.
        return if known {
            Ok(())
        } else {
            Err(AppError::NotFound)
        };
    }
    audit::record_in(
        &mut tx,
        Some(actor.id),
        "tenant.credential_revoked",
        &format!("tenant {tenant}"),
        &format!("credential {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new secret under a new key id, with the same name; the old pair stops.
pub async fn regenerate_credential(
    db: &Db,
    actor: &CurrentUser,
    tenant: TenantId,
    id: CredentialId,
) -> AppResult<CreatedCredential> {
    let old = repo::credentials(db, tenant, 0)
        .await?
        .into_iter()
        .find(|c| c.id == id && c.revoked_at.is_none())
        .ok_or(AppError::NotFound)?;
    revoke_credential(db, actor, tenant, id).await?;
    create_credential(db, actor, tenant, &old.name).await
}

/// How a request presents its credential.
pub enum Presented<'a> {
    /// `X-TrueVault-Key` and `X-TrueVault-Secret`.
    Secret { key_id: &'a str, secret: &'a str },
    /// `X-TrueVault-Key`, `X-TrueVault-Timestamp` and
    /// `X-TrueVault-Signature: v1=<hex>` over [`signing_string`].
    Signed {
        key_id: &'a str,
        timestamp: &'a str,
        signature: &'a str,
        method: &'a str,
        path_and_query: &'a str,
        body: &'a [u8],
    },
}

/// Who is calling: a tenant, through one of its credentials.
#[derive(Debug, Clone, Copy)]
pub struct TenantCaller {
    pub tenant: TenantId,
    pub credential: CredentialId,
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The tenant behind a request's credential, or why it is refused. Counts
/// the call (calls per month) once it is accepted.
pub async fn authenticate(db: &Db, presented: Presented<'_>, at: i64) -> AppResult<TenantCaller> {
    let key_id = match &presented {
        Presented::Secret { key_id, .. } | Presented::Signed { key_id, .. } => *key_id,
    };
    if !super::model::looks_like_key_id(key_id) {
        return Err(TenantError::InvalidCredential.into());
    }
    let c = repo::credential_by_key_id(db, key_id)
        .await?
        .ok_or(TenantError::InvalidCredential)?;
    if c.revoked_at.is_some() {
        return Err(TenantError::InvalidCredential.into());
    }
    match presented {
        Presented::Secret { secret, .. } => {
            if !super::model::looks_like_secret(secret)
                || !constant_eq(
                    tokens::hash_token(secret).as_bytes(),
                    c.secret_hash.as_bytes(),
                )
            {
                return Err(TenantError::InvalidCredential.into());
            }
        }
        Presented::Signed {
            timestamp,
            signature,
            method,
            path_and_query,
            body,
            ..
        } => {
            let ts: i64 = timestamp
                .parse()
                .map_err(|_| TenantError::SignatureInvalid)?;
            if !timestamp_fresh(ts, at) {
                return Err(TenantError::SignatureExpired.into());
            }
            let given = signature
                .strip_prefix("v1=")
                .and_then(|h| hex::decode(h).ok())
                .ok_or(TenantError::SignatureInvalid)?;
            let body_hash = hex::encode(Sha256::digest(body));
            let mut mac = Hmac::<Sha256>::new_from_slice(c.secret_hash.as_bytes())
                .map_err(AppError::internal)?;
            mac.update(signing_string(timestamp, method, path_and_query, &body_hash).as_bytes());
            if mac.verify_slice(&given).is_err() {
                return Err(TenantError::SignatureInvalid.into());
            }
            if !repo::see_signature(db, c.id, &hex::encode(&given), at).await? {
                return Err(TenantError::SignatureReplayed.into());
            }
        }
    }
    if c.tenant_status == TenantStatus::Suspended {
        return Err(TenantError::Suspended.into());
    }
    let touch = c
        .last_used_at
        .is_none_or(|t| at - t >= LAST_USED_EVERY_SECS)
        .then_some(at);
    // Losing this write loses a count, never the request.
    if let Err(e) = repo::count_call(db, &c, at / 86_400, touch).await {
        tracing::warn!(error = %e, "could not count a tenant API call");
    }
    Ok(TenantCaller {
        tenant: c.tenant_id,
        credential: c.id,
    })
}

// ---- tenant users ---------------------------------------------------------------

/// A new sign-in's tokens: the access token for calls, the refresh token
/// for the next pair.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: TenantUserRow,
}

/// A tenant user's sign-up, checked.
pub struct NewTenantUser {
    pub email: Email,
    pub password: String,
}

impl NewTenantUser {
    pub fn parse(email: &str, password: &str) -> AppResult<Self> {
        let email = Email::parse(email).map_err(|e| AppError::invalid_field("email", e))?;
        password::check_policy(password, email.as_str())?;
        Ok(NewTenantUser {
            email,
            password: password.to_string(),
        })
    }
}

async fn start_family(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: TenantUserId,
    at: i64,
) -> Result<(i64, String, String), sqlx::Error> {
    let family = repo::insert_family(tx, user, at).await?;
    let (access, refresh) = tokens_for(tx, family, at).await?;
    Ok((family, access, refresh))
}

async fn tokens_for(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    family: i64,
    at: i64,
) -> Result<(String, String), sqlx::Error> {
    let access = format!("{ACCESS_PREFIX}{}", tokens::random_token());
    let refresh = format!("{REFRESH_PREFIX}{}", tokens::random_token());
    repo::insert_token(
        tx,
        family,
        TokenKind::Access,
        &tokens::hash_token(&access),
        at,
        at + ACCESS_TTL_SECS,
    )
    .await?;
    repo::insert_token(
        tx,
        family,
        TokenKind::Refresh,
        &tokens::hash_token(&refresh),
        at,
        at + REFRESH_TTL_SECS,
    )
    .await?;
    Ok((access, refresh))
}

/// Registers a user in the tenant's pool, within the plan's user limit
/// (counted inside the write transaction with the tenant's row locked, so
/// concurrent registrations cannot both take the last place).
pub async fn register(db: &Db, tenant: TenantId, new: NewTenantUser) -> AppResult<TokenPair> {
    let hash = password::hash_off_runtime(&new.password).await?;
    let at = now();
    let mut tx = db.begin_write().await?;
    db.lock_row(&mut tx, "tenants", tenant.0).await?;
    let limits = entitlements::tenant_limits(&mut *tx, tenant.0)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(max) = limits.users.max() {
        if !limits
            .users
            .allows_another(repo::count_users(&mut tx, tenant).await?)
        {
            return Err(TenantError::UserLimit(max).into());
        }
    }
    let (id, user_id) =
        match repo::insert_user(&mut tx, tenant, new.email.as_str(), &hash, at).await {
            Ok(ids) => ids,
            Err(e) if is_unique_violation(&e) => return Err(TenantError::EmailTaken.into()),
            Err(e) => return Err(e.into()),
        };
    let (_, access, refresh) = start_family(&mut tx, id, at).await?;
    audit::record_in(
        &mut tx,
        None,
        "tenant.user_registered",
        &format!("tenant {tenant}"),
        &format!("tenant user {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        expires_in: ACCESS_TTL_SECS,
        user: TenantUserRow {
            id,
            user_id,
            email: new.email.as_str().to_string(),
            created_at: at,
        },
    })
}

/// Signs a tenant user in: a new token family. An unknown e-mail takes the
/// same time as a wrong password (a dummy hash is verified).
pub async fn sign_in(db: &Db, tenant: TenantId, email: &str, pass: &str) -> AppResult<TokenPair> {
    let found = match Email::parse(email) {
        Ok(e) => repo::user_by_email(db, tenant, e.as_str()).await?,
        Err(_) => None,
    };
    let phc = found
        .as_ref()
        .map_or(password::dummy_hash(), |(_, h)| h.as_str())
        .to_string();
    let ok = password::verify_off_runtime(pass, &phc).await?;
    let Some((user, _)) = found.filter(|_| ok) else {
        return Err(AppError::InvalidCredentials);
    };
    let at = now();
    let mut tx = db.begin_write().await?;
    let (_, access, refresh) = start_family(&mut tx, user.id, at).await?;
    tx.commit().await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        expires_in: ACCESS_TTL_SECS,
        user,
    })
}

/// Rotates a refresh token: the old one is spent and a new pair is issued
/// in the same family. A spent refresh token presented again means it was
/// copied: the whole family (every access and refresh token of that
/// sign-in) is revoked, and the caller must sign in again.
pub async fn refresh(db: &Db, tenant: TenantId, refresh_token: &str) -> AppResult<TokenPair> {
    if !super::model::looks_like_refresh(refresh_token) {
        return Err(TenantError::InvalidRefreshToken.into());
    }
    let t = repo::token_by_hash(db, &tokens::hash_token(refresh_token))
        .await?
        .filter(|t| t.kind == TokenKind::Refresh && t.tenant_id == tenant)
        .ok_or(TenantError::InvalidRefreshToken)?;
    let at = now();
    if t.family_revoked {
        return Err(TenantError::InvalidRefreshToken.into());
    }
    if t.used_at.is_some() {
        repo::revoke_family(db, t.family_id, at).await?;
        audit::record(
            db,
            None,
            "tenant.refresh_reused",
            &format!("tenant {tenant}"),
            "",
            &format!("tenant user {} family {}", t.tenant_user_id, t.family_id),
        )
        .await;
        return Err(TenantError::RefreshTokenReused.into());
    }
    if at >= t.expires_at {
        return Err(TenantError::InvalidRefreshToken.into());
    }
    let mut tx = db.begin_write().await?;
    if repo::use_token(&mut tx, t.id, at).await? == 0 {
        // Rotated by a concurrent request first: a reuse all the same.
        drop(tx);
        repo::revoke_family(db, t.family_id, at).await?;
        return Err(TenantError::RefreshTokenReused.into());
    }
    let (access, refresh) = tokens_for(&mut tx, t.family_id, at).await?;
    tx.commit().await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        expires_in: ACCESS_TTL_SECS,
        user: TenantUserRow {
            id: t.tenant_user_id,
            user_id: t.user_id,
            email: t.email,
            created_at: 0,
        },
    })
}

/// The tenant user behind an access token, as the device service sees an
/// account; a token of another tenant's user is refused like an unknown one.
pub async fn user_for_access(
    db: &Db,
    tenant: TenantId,
    access: &str,
) -> AppResult<(TenantUserId, CurrentUser)> {
    if !super::model::looks_like_access(access) {
        return Err(TenantError::InvalidAccessToken.into());
    }
    let t = repo::token_by_hash(db, &tokens::hash_token(access))
        .await?
        .filter(|t| t.kind == TokenKind::Access && t.tenant_id == tenant)
        .ok_or(TenantError::InvalidAccessToken)?;
    if t.family_revoked || now() >= t.expires_at {
        return Err(TenantError::InvalidAccessToken.into());
    }
    Ok((t.tenant_user_id, as_account(t.user_id, t.account_email)))
}

/// The `users` row of a tenant user, as the device service takes it. Its
/// e-mail is the synthetic one (never the tenant-scoped address, which
/// could equal a consumer's or a VIP's).
pub fn as_account(user_id: i64, account_email: String) -> CurrentUser {
    CurrentUser {
        id: user_id,
        email: account_email,
        first_name: String::new(),
        role: Role::User,
        status: AccountStatus::Active,
        totp_enabled: false,
    }
}
