//! API key flows: create (shown once), list, revoke, and authenticating a
//! request's key.
//!
//! Every request reads its key's row (one indexed lookup by hash, joined to
//! the owner): a revocation, an expiry or a suspended account refuses the
//! very next request on every portal instance, because the database is the
//! only place that state lives (no per-instance cache to invalidate).

use super::{
    model::{
        scopes_to_text, ApiKeyForm, ApiKeyId, ApiKeyInfo, CreatedApiKey, NewApiKey, Scope,
        KEY_PREFIX, SHOWN_PREFIX_LEN,
    },
    repo,
};
use crate::{
    accounts::{
        model::{AccountStatus, CurrentUser},
        tokens,
    },
    audit,
    db::{now, Db},
    entitlements::Entitlements,
    error::{AppError, AppResult},
};

/// `last_used_at` is written at most this often per key, so a busy script's
/// reads do not turn into a write each.
pub const LAST_USED_EVERY_SECS: i64 = 60;

/// The scopes the user's plan lets a new key carry.
pub async fn allowed_scopes(db: &Db, user: &CurrentUser) -> AppResult<Vec<Scope>> {
    Ok(Entitlements::for_user(&db.pool, user.id)
        .await?
        .api_key_scopes()
        .to_vec())
}

pub async fn create(db: &Db, user: &CurrentUser, form: ApiKeyForm) -> AppResult<CreatedApiKey> {
    let new = NewApiKey::try_from(form)?;
    let allowed = allowed_scopes(db, user).await?;
    if !new.scopes.iter().all(|s| allowed.contains(s)) {
        return Err(AppError::ScopeNotInPlan);
    }
    let key = format!("{KEY_PREFIX}{}", tokens::random_token());
    let prefix: String = key.chars().take(SHOWN_PREFIX_LEN).collect();
    let at = now();
    let expires_at = new.expires_in_days.map(|d| at + d * 86_400);
    let scopes = scopes_to_text(&new.scopes);
    let mut tx = db.begin_write().await?;
    let id = repo::insert(
        &mut tx,
        user.id,
        &new.name,
        &prefix,
        &tokens::hash_token(&key),
        &scopes,
        at,
        expires_at,
    )
    .await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "api_key.created",
        &new.name,
        &format!("key {id} {prefix}… scopes {scopes}"),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedApiKey {
        info: ApiKeyInfo {
            id,
            name: new.name,
            prefix,
            scopes: new.scopes,
            created_at: at,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            state: super::model::KeyState::Active,
        },
        key,
    })
}

pub async fn list(db: &Db, user: &CurrentUser) -> AppResult<Vec<ApiKeyInfo>> {
    Ok(repo::list(db, user.id).await?)
}

pub async fn revoke(db: &Db, user: &CurrentUser, id: ApiKeyId) -> AppResult<()> {
    let key = repo::find(db, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = db.begin_write().await?;
    if repo::revoke(&mut tx, user.id, id, now()).await? == 0 {
        // Revoking twice is not an error: the key is revoked either way.
        return Ok(());
    }
    audit::record_in(
        &mut tx,
        Some(user.id),
        "api_key.revoked",
        &key.name,
        &format!("key {id} {}…", key.prefix),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who is calling: the key and its owner.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_id: ApiKeyId,
    pub key_name: String,
    pub scopes: Vec<Scope>,
    pub user: CurrentUser,
}

impl ApiCaller {
    pub fn require(&self, scope: Scope) -> AppResult<()> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AppError::InsufficientScope)
        }
    }
}

/// The caller behind a presented key, or why it is refused.
pub async fn authenticate(db: &Db, key: &str) -> AppResult<ApiCaller> {
    if !super::model::looks_like_key(key) {
        return Err(AppError::InvalidApiKey);
    }
    let k = repo::by_hash(db, &tokens::hash_token(key))
        .await?
        .ok_or(AppError::InvalidApiKey)?;
    let at = now();
    match super::model::KeyState::of(k.expires_at, k.revoked_at, at) {
        super::model::KeyState::Revoked => return Err(AppError::ApiKeyRevoked),
        super::model::KeyState::Expired => return Err(AppError::ApiKeyExpired),
        super::model::KeyState::Active => {}
    }
    if !matches!(
        k.user.status,
        AccountStatus::Active | AccountStatus::Pending
    ) {
        return Err(AppError::AccountInactive);
    }
    if k.last_used_at
        .is_none_or(|t| at - t >= LAST_USED_EVERY_SECS)
    {
        // Losing this write loses a timestamp, never the request.
        if let Err(e) = repo::touch(db, k.id, at).await {
            tracing::warn!(error = %e, "could not record an API key's last use");
        }
    }
    Ok(ApiCaller {
        key_id: k.id,
        key_name: k.name,
        scopes: k.scopes,
        user: k.user,
    })
}
