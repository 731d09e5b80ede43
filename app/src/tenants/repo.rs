//! Tenant storage: tenants, their users (a `users` row each plus the
//! tenant-scoped identity), credentials and their calls, seen signatures,
//! token families, usage.

use sqlx::Row;

use super::model::{
    Branding, CredentialId, CredentialInfo, TenantId, TenantStatus, TenantUsage, TenantUserId,
};
use crate::db::Db;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A tenant's row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: TenantId,
    pub name: String,
    pub contact_email: String,
    pub owner_user_id: Option<i64>,
    pub plan_id: i64,
    pub plan: String,
    pub status: TenantStatus,
    pub brand_name: String,
    pub logo_url: Option<String>,
    pub theme_id: Option<i64>,
    pub created_at: i64,
}

const TENANT_SELECT: &str = "SELECT t.id, t.name, t.contact_email, t.owner_user_id, t.plan_id, \
     p.name AS plan, t.status, t.brand_name, t.logo_url, t.theme_id, t.created_at \
     FROM tenants t JOIN plans p ON p.id = t.plan_id";

pub async fn insert_tenant(
    tx: &mut Tx,
    name: &str,
    contact_email: &str,
    owner: Option<i64>,
    plan_id: i64,
    now: i64,
) -> Result<TenantId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO tenants (name, contact_email, owner_user_id, plan_id, status, brand_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $1, $6, $6) RETURNING id",
    )
    .bind(name)
    .bind(contact_email)
    .bind(owner)
    .bind(plan_id)
    .bind(TenantStatus::Active.as_str())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map(TenantId)
}

pub async fn find(db: &Db, id: TenantId) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(&format!("{TENANT_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

pub async fn of_owner(db: &Db, user_id: i64) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{TENANT_SELECT} WHERE t.owner_user_id = $1 ORDER BY t.id LIMIT 1"
    ))
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await
}

pub async fn list(db: &Db) -> Result<Vec<TenantRow>, sqlx::Error> {
    sqlx::query_as(&format!("{TENANT_SELECT} ORDER BY t.id"))
        .fetch_all(&db.pool)
        .await
}

/// Sets the status and gives every server holding one of the tenant's
/// users' devices a new config version (service follows the tenant).
pub async fn set_status(
    tx: &mut Tx,
    id: TenantId,
    status: TenantStatus,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let n = sqlx::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query(
        "UPDATE vpn_servers SET peers_version = peers_version + 1 WHERE id IN \
         (SELECT d.server_id FROM devices d JOIN users u ON u.id = d.user_id WHERE u.tenant_id = $1)",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(n)
}

pub async fn set_branding(
    db: &Db,
    id: TenantId,
    b: &Branding,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tenants SET brand_name = $1, logo_url = $2, theme_id = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&b.brand_name)
    .bind(&b.logo_url)
    .bind(b.theme_id)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Devices of all the tenant's users (regional identities aside).
pub async fn count_devices(tx: &mut Tx, tenant_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices d JOIN users u ON u.id = d.user_id \
         WHERE u.tenant_id = $1 AND d.identity_region IS NULL",
    )
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await
}

pub async fn count_users(tx: &mut Tx, tenant: TenantId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM tenant_users WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut **tx)
        .await
}

/// Whether a theme may be chosen: a published one of the themes system.
pub async fn theme_published(db: &Db, theme_id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM themes WHERE id = $1 AND is_published = 1")
            .bind(theme_id)
            .fetch_one(&db.pool)
            .await?;
    Ok(n > 0)
}

// ---- tenant users -----------------------------------------------------------

/// A tenant user as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantUserRow {
    pub id: TenantUserId,
    pub user_id: i64,
    pub email: String,
    pub created_at: i64,
}

/// The `users` row that owns the user's devices, then the tenant identity.
/// The row's e-mail is synthetic and undeliverable and its password hash
/// is not a PHC string: it can never sign in as a consumer.
pub async fn insert_user(
    tx: &mut Tx,
    tenant: TenantId,
    email: &str,
    password_hash: &str,
    now: i64,
) -> Result<(TenantUserId, i64), sqlx::Error> {
    let synthetic = format!(
        "tenant-{tenant}-{}@tenants.invalid",
        crate::accounts::tokens::random_token().to_lowercase()
    );
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, first_name, password_hash, status, role, plan_id, tenant_id, \
            email_verified_at, created_at, updated_at) \
         VALUES ($1, '', '!', 'active', 'user', NULL, $2, $3, $3, $3) RETURNING id",
    )
    .bind(synthetic)
    .bind(tenant)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tenant_users (tenant_id, user_id, email, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(email)
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok((TenantUserId(id), user_id))
}

pub async fn user_by_email(
    db: &Db,
    tenant: TenantId,
    email: &str,
) -> Result<Option<(TenantUserRow, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, user_id, email, created_at, password_hash FROM tenant_users \
         WHERE tenant_id = $1 AND email = $2",
    )
    .bind(tenant)
    .bind(email)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok((
            TenantUserRow {
                id: TenantUserId(r.try_get("id")?),
                user_id: r.try_get("user_id")?,
                email: r.try_get("email")?,
                created_at: r.try_get("created_at")?,
            },
            r.try_get("password_hash")?,
        ))
    })
    .transpose()
}

/// The tenant's user by id; another tenant's is not found.
pub async fn user(
    db: &Db,
    tenant: TenantId,
    id: TenantUserId,
) -> Result<Option<TenantUserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, email, created_at FROM tenant_users WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(tenant)
    .fetch_optional(&db.pool)
    .await
}

pub async fn users_page(
    db: &Db,
    tenant: TenantId,
    after: i64,
    limit: i64,
) -> Result<Vec<TenantUserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, email, created_at FROM tenant_users \
         WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(tenant)
    .bind(after)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

// ---- credentials ------------------------------------------------------------

pub async fn insert_credential(
    tx: &mut Tx,
    tenant: TenantId,
    name: &str,
    key_id: &str,
    secret_hash: &str,
    now: i64,
) -> Result<CredentialId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO tenant_credentials (tenant_id, name, key_id, secret_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(tenant)
    .bind(name)
    .bind(key_id)
    .bind(secret_hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map(CredentialId)
}

/// The tenant's credentials, newest first, with their calls since `month_start_day`.
pub async fn credentials(
    db: &Db,
    tenant: TenantId,
    month_start_day: i64,
) -> Result<Vec<CredentialInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.name, c.key_id, c.created_at, c.last_used_at, c.revoked_at, \
            CAST(COALESCE((SELECT SUM(a.calls) FROM tenant_api_calls a \
                      WHERE a.credential_id = c.id AND a.day >= $2), 0) AS BIGINT) AS calls \
         FROM tenant_credentials c WHERE c.tenant_id = $1 ORDER BY c.id DESC",
    )
    .bind(tenant)
    .bind(month_start_day)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CredentialInfo {
                id: CredentialId(r.try_get("id")?),
                name: r.try_get("name")?,
                key_id: r.try_get("key_id")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                revoked_at: r.try_get("revoked_at")?,
                calls_this_month: r.try_get("calls")?,
            })
        })
        .collect()
}

/// Revokes a live credential of the tenant; 0 when there is none.
pub async fn revoke_credential(
    tx: &mut Tx,
    tenant: TenantId,
    id: CredentialId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE tenant_credentials SET revoked_at = $1 \
         WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(tenant)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// A credential as a request presents it, with its tenant's status.
pub struct CredentialRow {
    pub id: CredentialId,
    pub tenant_id: TenantId,
    pub secret_hash: String,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub tenant_status: TenantStatus,
}

pub async fn credential_by_key_id(
    db: &Db,
    key_id: &str,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, c.tenant_id, c.secret_hash, c.revoked_at, c.last_used_at, t.status \
         FROM tenant_credentials c JOIN tenants t ON t.id = c.tenant_id WHERE c.key_id = $1",
    )
    .bind(key_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(CredentialRow {
            id: CredentialId(r.try_get("id")?),
            tenant_id: TenantId(r.try_get("tenant_id")?),
            secret_hash: r.try_get("secret_hash")?,
            revoked_at: r.try_get("revoked_at")?,
            last_used_at: r.try_get("last_used_at")?,
            tenant_status: r.try_get("status")?,
        })
    })
    .transpose()
}

/// Counts one call (and moves `last_used_at` when asked), in one write.
pub async fn count_call(
    db: &Db,
    c: &CredentialRow,
    day: i64,
    touch_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO tenant_api_calls (credential_id, tenant_id, day, calls) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (credential_id, day) DO UPDATE SET calls = tenant_api_calls.calls + 1",
    )
    .bind(c.id)
    .bind(c.tenant_id)
    .bind(day)
    .execute(&mut *tx)
    .await?;
    if let Some(at) = touch_at {
        sqlx::query("UPDATE tenant_credentials SET last_used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Records a signature as seen; `false` when it was seen before (a replay).
/// Signatures older than twice the window go (a timestamp that old is
/// refused before this anyway).
pub async fn see_signature(
    db: &Db,
    credential: CredentialId,
    signature: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM tenant_signatures WHERE credential_id = $1 AND seen_at < $2")
        .bind(credential)
        .bind(now - 2 * super::model::SIGNATURE_WINDOW_SECS)
        .execute(&mut *tx)
        .await?;
    let res = sqlx::query(
        "INSERT INTO tenant_signatures (credential_id, signature, seen_at) VALUES ($1, $2, $3)",
    )
    .bind(credential)
    .bind(signature)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

// ---- token families ---------------------------------------------------------

crate::string_enum! {
    /// A tenant user's token: short-lived access, or the rotating refresh.
    pub enum TokenKind {
        Access = "access",
        Refresh = "refresh",
    }
}

pub async fn insert_family(tx: &mut Tx, user: TenantUserId, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO tenant_token_families (tenant_user_id, created_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(user)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn insert_token(
    tx: &mut Tx,
    family: i64,
    kind: TokenKind,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tenant_tokens (family_id, kind, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(family)
    .bind(kind.as_str())
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A presented token with its family and user.
pub struct TokenRow {
    pub id: i64,
    pub family_id: i64,
    pub kind: TokenKind,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub family_revoked: bool,
    pub tenant_id: TenantId,
    pub tenant_user_id: TenantUserId,
    pub user_id: i64,
    pub email: String,
    /// The `users` row's synthetic e-mail.
    pub account_email: String,
}

pub async fn token_by_hash(db: &Db, token_hash: &str) -> Result<Option<TokenRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT k.id, k.family_id, k.kind, k.expires_at, k.used_at, f.revoked_at, \
                tu.tenant_id, tu.id AS tenant_user_id, tu.user_id, tu.email, u.email AS account_email \
         FROM tenant_tokens k JOIN tenant_token_families f ON f.id = k.family_id \
         JOIN tenant_users tu ON tu.id = f.tenant_user_id JOIN users u ON u.id = tu.user_id \
         WHERE k.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            id: r.try_get("id")?,
            family_id: r.try_get("family_id")?,
            kind: r.try_get("kind")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
            family_revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            tenant_id: TenantId(r.try_get("tenant_id")?),
            tenant_user_id: TenantUserId(r.try_get("tenant_user_id")?),
            user_id: r.try_get("user_id")?,
            email: r.try_get("email")?,
            account_email: r.try_get("account_email")?,
        })
    })
    .transpose()
}

/// Marks a refresh token rotated; 0 when it already was (another request
/// rotated it first: that is a reuse too).
pub async fn use_token(tx: &mut Tx, id: i64, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE tenant_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

pub async fn revoke_family(db: &Db, family: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tenant_token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

// ---- usage ------------------------------------------------------------------

/// The tenant's month so far (days from `since_day`).
pub async fn tenant_usage(
    db: &Db,
    tenant: TenantId,
    since_day: i64,
) -> Result<TenantUsage, sqlx::Error> {
    let r = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM tenant_users WHERE tenant_id = $1) AS users, \
           (SELECT COUNT(DISTINCT uu.user_id) FROM user_usage uu JOIN users u ON u.id = uu.user_id \
              WHERE u.tenant_id = $1 AND uu.day >= $2 AND uu.rx_bytes + uu.tx_bytes > 0) AS active, \
           (SELECT COUNT(*) FROM devices d JOIN users u ON u.id = d.user_id \
              WHERE u.tenant_id = $1 AND d.identity_region IS NULL) AS devices, \
           (SELECT CAST(COALESCE(SUM(uu.rx_bytes), 0) AS BIGINT) FROM user_usage uu JOIN users u ON u.id = uu.user_id \
              WHERE u.tenant_id = $1 AND uu.day >= $2) AS rx, \
           (SELECT CAST(COALESCE(SUM(uu.tx_bytes), 0) AS BIGINT) FROM user_usage uu JOIN users u ON u.id = uu.user_id \
              WHERE u.tenant_id = $1 AND uu.day >= $2) AS tx, \
           (SELECT CAST(COALESCE(SUM(uu.connected_seconds), 0) AS BIGINT) FROM user_usage uu JOIN users u ON u.id = uu.user_id \
              WHERE u.tenant_id = $1 AND uu.day >= $2) AS secs, \
           (SELECT CAST(COALESCE(SUM(a.calls), 0) AS BIGINT) FROM tenant_api_calls a \
              WHERE a.tenant_id = $1 AND a.day >= $2) AS calls",
    )
    .bind(tenant)
    .bind(since_day)
    .fetch_one(&db.pool)
    .await?;
    Ok(TenantUsage {
        users: r.try_get("users")?,
        active_users: r.try_get("active")?,
        devices: r.try_get("devices")?,
        rx_bytes: r.try_get("rx")?,
        tx_bytes: r.try_get("tx")?,
        connected_seconds: r.try_get("secs")?,
        api_calls: r.try_get("calls")?,
    })
}

/// One user's month so far: rx, tx, connected seconds, devices.
pub async fn user_usage(
    db: &Db,
    user_id: i64,
    since_day: i64,
) -> Result<(i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(rx_bytes), 0) AS BIGINT), CAST(COALESCE(SUM(tx_bytes), 0) AS BIGINT), \
            CAST(COALESCE(SUM(connected_seconds), 0) AS BIGINT), \
            (SELECT COUNT(*) FROM devices WHERE user_id = $1 AND identity_region IS NULL) \
         FROM user_usage WHERE user_id = $1 AND day >= $2",
    )
    .bind(user_id)
    .bind(since_day)
    .fetch_one(&db.pool)
    .await
}
