//! Account storage (sqlx, portable SQL for SQLite and PostgreSQL).

use sqlx::Row;

use super::model::{AccountStatus, CurrentUser, Role, SessionInfo, UserRow};
use crate::db::{now, Db};

/// A user row with the columns the flows need.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub password_hash: String,
    pub status: AccountStatus,
    pub role: Role,
    pub totp_secret_enc: Option<String>,
    #[sqlx(try_from = "crate::typed::Flag")]
    pub totp_enabled: bool,
    pub totp_last_step: i64,
}

impl UserRecord {
    pub fn current(&self) -> CurrentUser {
        CurrentUser {
            id: self.id,
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            role: self.role,
            status: self.status,
            totp_enabled: self.totp_enabled,
        }
    }
}

const USER_COLS: &str =
    "id, email, first_name, password_hash, status, role, totp_secret_enc, totp_enabled, totp_last_step";

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRecord>, sqlx::Error> {
    // Consumers only: a tenant's users are found through their tenant.
    sqlx::query_as(&format!(
        "SELECT {USER_COLS} FROM users WHERE email = $1 AND tenant_id IS NULL"
    ))
    .bind(email)
    .fetch_optional(&db.pool)
    .await
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<UserRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

pub async fn insert_user(
    db: &Db,
    email: &str,
    first_name: &str,
    password_hash: &str,
    status: AccountStatus,
    role: Role,
) -> Result<i64, sqlx::Error> {
    let t = now();
    let row = sqlx::query(
        "INSERT INTO users (email, first_name, password_hash, status, role, plan_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, (SELECT id FROM plans WHERE slug = 'free'), $6, $6) RETURNING id",
    )
    .bind(email)
    .bind(first_name)
    .bind(password_hash)
    .bind(status.as_str())
    .bind(role.as_str())
    .bind(t)
    .fetch_one(&db.pool)
    .await?;
    row.try_get("id")
}

pub async fn set_password(db: &Db, user_id: i64, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now())
        .bind(user_id)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

pub async fn mark_verified(db: &Db, user_id: i64) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "UPDATE users SET email_verified_at = $1, updated_at = $1, \
         status = CASE WHEN status = 'pending' THEN 'active' ELSE status END WHERE id = $2",
    )
    .bind(t)
    .bind(user_id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// The account's status decides service (`entitlements::service`): the
/// user's nodes get a new config version in the same transaction.
pub async fn set_status(db: &Db, user_id: i64, status: AccountStatus) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(now())
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    crate::vpn::repo::bump_user_servers(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(n)
}

pub async fn set_role(db: &Db, user_id: i64, role: Role) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now())
        .bind(user_id)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected())
}

pub async fn set_first_name(db: &Db, user_id: i64, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET first_name = $1, updated_at = $2 WHERE id = $3")
        .bind(name)
        .bind(now())
        .bind(user_id)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

pub async fn count_admins(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}

pub async fn search_users(db: &Db, q: &str, limit: i64) -> Result<Vec<UserRow>, sqlx::Error> {
    let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
    sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.role, u.status, u.created_at, \
                COALESCE(p.name, '') AS plan, \
                (SELECT COUNT(*) FROM vip_accounts v WHERE v.email = u.email) AS vip, \
                CAST(CASE WHEN u.data_capped_since IS NULL THEN 0 ELSE 1 END AS BIGINT) AS data_capped \
         FROM users u LEFT JOIN plans p ON p.id = u.plan_id \
         WHERE u.tenant_id IS NULL AND (u.email LIKE $1 OR LOWER(u.first_name) LIKE $1) \
         ORDER BY u.id LIMIT $2",
    )
    .bind(pattern)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

// ---- single-use tokens ------------------------------------------------------

pub async fn insert_token(
    db: &Db,
    user_id: i64,
    purpose: &str,
    token_hash: &str,
    ttl: i64,
) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "INSERT INTO account_tokens (user_id, purpose, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(purpose)
    .bind(token_hash)
    .bind(t)
    .bind(t + ttl)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Marks a token used if it exists, has this purpose, is unused and
/// unexpired; returns its user. One UPDATE, so two concurrent uses of the
/// same token cannot both succeed.
pub async fn consume_token(
    db: &Db,
    purpose: &str,
    token_hash: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let t = now();
    let row = sqlx::query(
        "UPDATE account_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(t)
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| r.try_get("user_id")).transpose()
}

/// Looks a token up without consuming it (the second login step checks the
/// code first, and only then consumes the challenge).
pub async fn peek_token(
    db: &Db,
    purpose: &str,
    token_hash: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_id FROM account_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose)
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| r.try_get("user_id")).transpose()
}

/// Earlier unused tokens of the same purpose stop working when a new one is issued.
pub async fn expire_tokens(db: &Db, user_id: i64, purpose: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
        .bind(now())
        .bind(user_id)
        .bind(purpose)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

// ---- sessions ---------------------------------------------------------------

pub async fn insert_session(
    db: &Db,
    id_hash: &str,
    user_id: i64,
    ttl: i64,
    user_agent: &str,
    ip: &str,
) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, user_agent, ip) \
         VALUES ($1, $2, $3, $3, $4, $5, $6)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(t)
    .bind(t + ttl)
    .bind(user_agent)
    .bind(ip)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// A live session: its user, when it was last seen, and the user's theme
/// choice (one query, as every page view runs it).
pub struct LiveSession {
    pub user: CurrentUser,
    pub last_seen_at: i64,
    pub theme: Option<String>,
}

/// The user behind a session, if the session is live and the account may sign in.
pub async fn session_user(db: &Db, id_hash: &str) -> Result<Option<LiveSession>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.email, u.first_name, u.role, u.status, u.totp_enabled, s.last_seen_at, \
                (SELECT value FROM user_settings us WHERE us.user_id = u.id AND us.key = 'theme') AS theme \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.status IN ('active', 'pending')",
    )
    .bind(id_hash)
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let user = CurrentUser {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        first_name: r.try_get("first_name")?,
        role: Role::parse(&r.try_get::<String, _>("role")?).unwrap_or(Role::User),
        status: AccountStatus::parse(&r.try_get::<String, _>("status")?)
            .unwrap_or(AccountStatus::Suspended),
        totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
    };
    Ok(Some(LiveSession {
        user,
        last_seen_at: r.try_get("last_seen_at")?,
        theme: r.try_get("theme")?,
    }))
}

pub async fn touch_session(db: &Db, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now())
        .bind(id_hash)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

pub async fn delete_session(db: &Db, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

pub async fn delete_sessions_except(db: &Db, user_id: i64, keep: &str) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected())
}

pub async fn list_sessions(
    db: &Db,
    user_id: i64,
    current: &str,
) -> Result<Vec<SessionInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id_hash, created_at, last_seen_at, user_agent, ip FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC",
    )
    .bind(user_id)
    .bind(now())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id_hash")?;
            Ok(SessionInfo {
                current: id == current,
                // Only a prefix of the hash is shown; it identifies, it does not authenticate.
                id: id.chars().take(12).collect(),
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                user_agent: r.try_get("user_agent")?,
                ip: r.try_get("ip")?,
            })
        })
        .collect()
}

// ---- two-factor ---------------------------------------------------------------

pub async fn set_totp_pending(db: &Db, user_id: i64, sealed: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET totp_secret_enc = $1, totp_enabled = 0, updated_at = $2 WHERE id = $3",
    )
    .bind(sealed)
    .bind(now())
    .bind(user_id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

pub async fn enable_totp(
    db: &Db,
    user_id: i64,
    step: i64,
    code_hashes: &[String],
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_enabled = 1, totp_last_step = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(step)
    .bind(now())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for h in code_hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(h)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

pub async fn disable_totp(db: &Db, user_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_enabled = 0, totp_secret_enc = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Records a TOTP step as used; fails (0 rows) if a newer or equal step was
/// already used, so a code cannot be replayed even by concurrent requests.
pub async fn advance_totp_step(db: &Db, user_id: i64, step: i64) -> Result<bool, sqlx::Error> {
    sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
        .bind(step)
        .bind(user_id)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected() == 1)
}

pub async fn use_recovery_code(
    db: &Db,
    user_id: i64,
    code_hash: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
        .bind(now())
        .bind(user_id)
        .bind(code_hash)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected() == 1)
}

// ---- login throttle -------------------------------------------------------------

pub const THROTTLE_MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW: i64 = 15 * 60;

pub async fn throttle_locked_until(db: &Db, key: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT locked_until FROM login_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row
        .map(|r| r.try_get("locked_until"))
        .transpose()?
        .unwrap_or(0))
}

/// The first lock after [`THROTTLE_MAX_FAILURES`]; each further failure
/// doubles it, up to [`THROTTLE_MAX_LOCK`].
pub const THROTTLE_FIRST_LOCK: i64 = 60;
pub const THROTTLE_MAX_LOCK: i64 = 60 * 60;

/// How long `failures` failures in one window lock the key for.
pub fn throttle_lock_secs(failures: i64) -> i64 {
    if failures < THROTTLE_MAX_FAILURES {
        return 0;
    }
    let doublings = (failures - THROTTLE_MAX_FAILURES).min(16) as u32;
    (THROTTLE_FIRST_LOCK << doublings).min(THROTTLE_MAX_LOCK)
}

pub async fn throttle_failure(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    let t = now();
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING failures",
    )
    .bind(key)
    .bind(t)
    .bind(t - THROTTLE_WINDOW)
    .fetch_one(&db.pool)
    .await?;
    let lock = throttle_lock_secs(failures);
    if lock > 0 {
        sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE key = $2")
            .bind(t + lock)
            .bind(key)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// Clears every key starting with `prefix` (all addresses of one account).
pub async fn throttle_clear_prefix(db: &Db, prefix: &str) -> Result<(), sqlx::Error> {
    // substr, not LIKE: `_` and `%` are common in addresses.
    sqlx::query("DELETE FROM login_throttle WHERE substr(key, 1, CAST($2 AS INTEGER)) = $1")
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

pub async fn throttle_clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

// ---- settings ---------------------------------------------------------------------

pub async fn get_setting(db: &Db, user_id: i64, key: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM user_settings WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| r.try_get("value")).transpose()
}

pub async fn set_setting(db: &Db, user_id: i64, key: &str, value: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_settings (user_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(user_id)
    .bind(key)
    .bind(value)
    .execute(&db.pool)
    .await
    .map(|_| ())
}
