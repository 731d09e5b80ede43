//! API key storage: keys (hashed) and the answers kept for Idempotency-Key.

use sqlx::{any::AnyRow, Row};

use super::model::{scopes_from_text, ApiKeyId, ApiKeyInfo, KeyState, Scope};
use crate::{
    accounts::model::{AccountStatus, CurrentUser, Role, ServiceOff},
    db::Db,
};

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
    name: &str,
    prefix: &str,
    token_hash: &str,
    scopes: &str,
    now: i64,
    expires_at: Option<i64>,
) -> Result<ApiKeyId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_keys (user_id, name, prefix, token_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(prefix)
    .bind(token_hash)
    .bind(scopes)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut **tx)
    .await
    .map(ApiKeyId)
}

const SELECT: &str =
    "SELECT id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at FROM api_keys";

fn info(r: &AnyRow) -> Result<ApiKeyInfo, sqlx::Error> {
    let expires_at = r.try_get("expires_at")?;
    let revoked_at = r.try_get("revoked_at")?;
    Ok(ApiKeyInfo {
        id: ApiKeyId(r.try_get("id")?),
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        scopes: scopes_from_text(&r.try_get::<String, _>("scopes")?),
        created_at: r.try_get("created_at")?,
        expires_at,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at,
        state: KeyState::of(expires_at, revoked_at, crate::db::now()),
    })
}

/// The user's keys, newest first (revoked ones too: the list is their record).
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
    sqlx::query(&format!("{SELECT} WHERE user_id = $1 ORDER BY id DESC"))
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(info)
        .collect()
}

pub async fn find(db: &Db, user_id: i64, id: ApiKeyId) -> Result<Option<ApiKeyInfo>, sqlx::Error> {
    sqlx::query(&format!("{SELECT} WHERE id = $1 AND user_id = $2"))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(info)
        .transpose()
}

/// Marks a live key revoked; 0 when it is not the user's or already revoked.
pub async fn revoke(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
    id: ApiKeyId,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// A key as a request presents it, with its owner.
pub struct KeyOwner {
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Why the owner has no service now (`entitlements::service_off_sql`).
    pub service_off: Option<ServiceOff>,
    pub user: CurrentUser,
}

/// One indexed read per request: the key by its hash, and its owner's
/// current status (a suspension counts at once).
pub async fn by_hash(db: &Db, token_hash: &str) -> Result<Option<KeyOwner>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT k.id, k.name, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, \
                u.id AS user_id, u.email, u.first_name, u.role, u.status, u.totp_enabled, \
                {} AS service_off \
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.token_hash = $1",
        crate::entitlements::service_off_sql()
    ))
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(KeyOwner {
        id: ApiKeyId(r.try_get("id")?),
        name: r.try_get("name")?,
        scopes: scopes_from_text(&r.try_get::<String, _>("scopes")?),
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        last_used_at: r.try_get("last_used_at")?,
        service_off: r.try_get("service_off")?,
        user: CurrentUser {
            id: r.try_get("user_id")?,
            email: r.try_get("email")?,
            first_name: r.try_get("first_name")?,
            role: Role::parse(&r.try_get::<String, _>("role")?).unwrap_or(Role::User),
            status: AccountStatus::parse(&r.try_get::<String, _>("status")?)
                .unwrap_or(AccountStatus::Suspended),
            totp_enabled: r.try_get::<i64, _>("totp_enabled")? != 0,
        },
    }))
}

pub async fn touch(db: &Db, id: ApiKeyId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// What an earlier request with the same Idempotency-Key left.
pub struct Remembered {
    pub request_hash: String,
    pub status: i64,
    pub response_sealed: String,
}

/// Claims the key for this request; `false` when it was claimed before.
pub async fn claim_idempotency(
    db: &Db,
    key_id: ApiKeyId,
    idem_key: &str,
    request_hash: &str,
    now: i64,
    older_than: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    // Answers are kept a day; an older one no longer holds its key.
    sqlx::query(
        "DELETE FROM api_idempotency WHERE api_key_id = $1 AND idem_key = $2 AND created_at < $3",
    )
    .bind(key_id)
    .bind(idem_key)
    .bind(older_than)
    .execute(&mut *tx)
    .await?;
    let res = sqlx::query(
        "INSERT INTO api_idempotency (api_key_id, idem_key, request_hash, status, response_sealed, created_at) \
         VALUES ($1, $2, $3, 0, '', $4)",
    )
    .bind(key_id)
    .bind(idem_key)
    .bind(request_hash)
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

pub async fn remembered(
    db: &Db,
    key_id: ApiKeyId,
    idem_key: &str,
) -> Result<Option<Remembered>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT request_hash, status, response_sealed FROM api_idempotency WHERE api_key_id = $1 AND idem_key = $2",
    )
    .bind(key_id)
    .bind(idem_key)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(Remembered {
            request_hash: r.try_get(0)?,
            status: r.try_get(1)?,
            response_sealed: r.try_get(2)?,
        })
    })
    .transpose()
}

pub async fn finish_idempotency(
    db: &Db,
    key_id: ApiKeyId,
    idem_key: &str,
    status: u16,
    response_sealed: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_idempotency SET status = $1, response_sealed = $2 WHERE api_key_id = $3 AND idem_key = $4",
    )
    .bind(i64::from(status))
    .bind(response_sealed)
    .bind(key_id)
    .bind(idem_key)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Lets the key go again (the first request failed on our side).
pub async fn release_idempotency(
    db: &Db,
    key_id: ApiKeyId,
    idem_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM api_idempotency WHERE api_key_id = $1 AND idem_key = $2")
        .bind(key_id)
        .bind(idem_key)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Removes the kept answers made before `older_than`.
pub async fn prune_idempotency(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    older_than: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM api_idempotency WHERE created_at < $1")
        .bind(older_than)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected())
}
