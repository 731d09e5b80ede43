//! Inventory flows: scanner tokens and the sync a scanner posts.

use truevault_wire::inventory::{SyncRequest, SyncSummary};

use super::{
    model::{CreatedScannerToken, Inventory},
    repo, rules,
};
use crate::{
    accounts::{model::AccountStatus, tokens},
    audit,
    error::{AppError, AppResult},
    mail::templates::{Mail, NewDevices},
    state::AppState,
};

/// Live scanner tokens a user may hold at once (one per home, a few spare).
pub const MAX_TOKENS: i64 = 10;

pub async fn create_token(
    state: &AppState,
    user_id: i64,
    name: &str,
) -> AppResult<CreatedScannerToken> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "Give the scanner a name of 1 to 64 characters.",
        ));
    }
    if repo::active_token_count(&state.db, user_id).await? >= MAX_TOKENS {
        return Err(AppError::Conflict(format!(
            "You already have {MAX_TOKENS} scanner tokens; revoke one first."
        )));
    }
    let token = tokens::random_token();
    repo::create_token(&state.db, user_id, name, &tokens::hash_token(&token), None).await?;
    audit::record(
        &state.db,
        Some(user_id),
        "scanner.token_created",
        name,
        "",
        "",
    )
    .await;
    Ok(CreatedScannerToken {
        name: name.to_string(),
        token,
    })
}

/// The name of the token every account gets at sign-up.
pub const SIGNUP_TOKEN_NAME: &str = "Home";

/// The scanner token made at sign-up (the brief's onboarding step). Nobody
/// is looking at a page then, so besides its hash a sealed copy is kept
/// until the owner reveals it once ([`reveal_signup_token`]).
pub async fn create_signup_token(state: &AppState, user_id: i64) -> AppResult<()> {
    let token = tokens::random_token();
    let sealed = state.keys.seal(token.as_bytes());
    repo::create_token(
        &state.db,
        user_id,
        SIGNUP_TOKEN_NAME,
        &tokens::hash_token(&token),
        Some(&sealed),
    )
    .await?;
    audit::record(
        &state.db,
        Some(user_id),
        "scanner.token_created",
        SIGNUP_TOKEN_NAME,
        "",
        "made at sign-up",
    )
    .await;
    Ok(())
}

/// Shows the sign-up token once and erases its sealed copy; a second call
/// (or a revoked token) is `NOT_FOUND`.
pub async fn reveal_signup_token(state: &AppState, user_id: i64) -> AppResult<CreatedScannerToken> {
    let (name, sealed) = repo::take_sealed_token(&state.db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let token = state
        .keys
        .open(&sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            tracing::error!(user_id, "a sealed scanner token does not open");
            AppError::Internal("sealed scanner token".into())
        })?;
    audit::record(
        &state.db,
        Some(user_id),
        "scanner.token_revealed",
        &name,
        "",
        "",
    )
    .await;
    Ok(CreatedScannerToken { name, token })
}

pub async fn revoke_token(state: &AppState, user_id: i64, id: i64) -> AppResult<()> {
    if !repo::revoke_token(&state.db, user_id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(user_id),
        "scanner.token_revoked",
        &id.to_string(),
        "",
        "",
    )
    .await;
    Ok(())
}

/// The (token id, user id) behind a scanner's bearer token.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<(i64, i64)> {
    if !tokens::looks_like_token(token) {
        return Err(AppError::InvalidBearer);
    }
    let (token_id, user_id, status) = repo::find_token(&state.db, &tokens::hash_token(token))
        .await?
        .ok_or(AppError::InvalidBearer)?;
    crate::entitlements::service(&state.db.pool, user_id)
        .await?
        .require()?;
    if AccountStatus::parse(&status) != Some(AccountStatus::Active) {
        return Err(AppError::Forbidden);
    }
    Ok((token_id, user_id))
}

/// Applies one scan to the user's inventory in a single transaction.
pub async fn sync(
    state: &AppState,
    token_id: i64,
    user_id: i64,
    req: &SyncRequest,
) -> AppResult<SyncSummary> {
    let hosts = rules::validate(req).map_err(AppError::invalid)?;
    let mut tx = state.db.begin_write().await?;
    // Two scanners of one user syncing at once would both insert the same
    // new MAC; holding the user's row makes the second wait for the first.
    state.db.lock_row(&mut tx, "users", user_id).await?;
    let known = repo::known_devices(&mut tx, user_id).await?;
    let first_scan = known.is_empty();
    let plan = rules::plan(&known, hosts, req.full_scan).map_err(AppError::invalid)?;
    let inserted = repo::apply(&mut tx, user_id, &plan).await?;
    if first_scan {
        repo::acknowledge_alerts(&mut *tx, user_id).await?;
    }
    tx.commit().await?;
    repo::token_used(&state.db, token_id, &req.network).await?;
    if !first_scan && !inserted.is_empty() {
        alert_new_devices(state, user_id, &inserted).await;
    }
    tracing::info!(
        user_id,
        new = plan.summary.new,
        updated = plan.summary.updated,
        offline = plan.summary.offline,
        "inventory synced"
    );
    Ok(plan.summary)
}

async fn alert_new_devices(state: &AppState, user_id: i64, inserted: &[(i64, String)]) {
    let user = match crate::accounts::repo::find_by_id(&state.db, user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "no new-device mail: user lookup failed");
            return;
        }
    };
    let mail = Mail::NewDevices(NewDevices {
        first_name: user.first_name.clone(),
        devices: inserted.iter().map(|(_, d)| d.clone()).collect(),
        link: format!("{}/network", state.config.public_url),
        support: state.config.support_email.clone(),
    });
    state.mailer.send(&user.email, mail).await;
}

pub async fn inventory(state: &AppState, user_id: i64) -> AppResult<Inventory> {
    Ok(Inventory {
        devices: repo::list_devices(&state.db, user_id).await?,
        alerts: repo::open_alerts(&state.db, user_id).await?,
        tokens: repo::list_tokens(&state.db, user_id).await?,
        portal_url: state.config.public_url.trim_end_matches('/').to_string(),
    })
}
