//! Account flows: each function is one user-visible action, composed of
//! the pure rules and the repository, with mail and audit side effects.

use super::{
    model::{normalize_name, AccountStatus, CurrentUser, Email, Role, ServiceOff, TotpEnrollment},
    password, repo, tokens, totp,
};
use crate::{
    audit,
    db::is_unique_violation,
    error::{AppError, AppResult},
    mail::{self, Mail},
    state::AppState,
};

/// Who is acting, for the audit log and session records.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

pub enum LoginOutcome {
    /// Signed in: the new session token for the cookie.
    Session(String),
    /// Password was right; a second factor is required. The challenge token
    /// goes in a short-lived cookie.
    NeedsTotp(String),
}

fn link(state: &AppState, path_and_query: &str) -> String {
    format!("{}{}", state.config.public_url_trimmed(), path_and_query)
}

fn support(state: &AppState) -> String {
    state.config.support_email.clone()
}

/// Registers a pending account and mails a verification link. The answer is
/// the same whether or not the address is taken (the owner of a taken
/// address gets a "you already have an account" mail instead).
pub async fn register(
    state: &AppState,
    email: &str,
    pass: &str,
    first_name: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    let email = Email::parse(email).map_err(|e| AppError::invalid_field("email", e))?;
    let first_name =
        normalize_name(first_name).map_err(|e| AppError::invalid_field("first_name", e))?;
    password::check_policy(pass, &email)?;
    let hash = password::hash_off_runtime(pass).await?;
    match repo::insert_user(
        &state.db,
        &email,
        &first_name,
        &hash,
        AccountStatus::Pending,
        Role::User,
    )
    .await
    {
        Ok(user_id) => {
            audit::record(
                &state.db,
                Some(user_id),
                "account.register",
                &email,
                &client.ip,
                "",
            )
            .await;
            send_verification(state, user_id, &email).await?;
        }
        Err(e) if is_unique_violation(&e) => {
            let mail = mail::Mail::AlreadyRegistered(mail::templates::AlreadyRegistered {
                login: link(state, "/login"),
                support: support(state),
            });
            state.mailer.send(&email, mail).await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

async fn send_verification(state: &AppState, user_id: i64, email: &str) -> AppResult<()> {
    repo::expire_tokens(&state.db, user_id, "verify_email").await?;
    let token = tokens::random_token();
    repo::insert_token(
        &state.db,
        user_id,
        "verify_email",
        &tokens::hash_token(&token),
        tokens::VERIFY_EMAIL_TTL,
    )
    .await?;
    // No name: the address has not been confirmed, so the name is text
    // anyone could have typed for anyone's address.
    let mail = Mail::Verify(mail::templates::Verify {
        link: link(state, &format!("/verify?token={token}")),
        support: support(state),
    });
    state.mailer.send(email, mail).await;
    Ok(())
}

pub async fn verify_email(state: &AppState, token: &str) -> AppResult<()> {
    if !tokens::looks_like_token(token) {
        return Err(AppError::InvalidToken);
    }
    let user_id = repo::consume_token(&state.db, "verify_email", &tokens::hash_token(token))
        .await?
        .ok_or(AppError::InvalidToken)?;
    repo::mark_verified(&state.db, user_id).await?;
    if let Some(user) = repo::find_by_id(&state.db, user_id).await? {
        audit::record(
            &state.db,
            Some(user_id),
            "account.verify_email",
            &user.email,
            "",
            "",
        )
        .await;
        welcome(state, &user).await;
    }
    Ok(())
}

/// What follows a verified address: the welcome mail, default identities,
/// the onboarding mails.
async fn welcome(state: &AppState, user: &repo::UserRecord) {
    let user_id = user.id;
    let mail = Mail::Welcome(mail::templates::Welcome {
        first_name: user.first_name.clone(),
        dashboard: link(state, "/dashboard"),
        support: support(state),
    });
    state.mailer.send(&user.email, mail).await;
    // A missing server must not block sign-up; identities can be added later.
    match crate::vpn::devices::create_default_identities(state, &user.current()).await {
        Ok(n) => tracing::info!(
            user_id,
            identities = n,
            "default regional identities created"
        ),
        Err(e) => tracing::warn!(user_id, error = %e, "could not create default identities"),
    }
    if let Err(e) = crate::inventory::service::create_signup_token(state, user_id).await {
        tracing::warn!(user_id, error = %e, "could not make the sign-up scanner token");
    }
    if let Err(e) = super::workflows::schedule_signup(state, user_id).await {
        tracing::warn!(user_id, error = %e, "could not schedule the onboarding mails");
    }
}

/// Signs up an address already proven by a mailed single-use code (a mesh
/// invite): the account starts active and verified, and signed in.
/// Returns the user and the new session token.
pub async fn register_verified(
    state: &AppState,
    email: &str,
    pass: &str,
    first_name: &str,
    client: &ClientInfo,
) -> AppResult<(CurrentUser, String)> {
    let email = Email::parse(email).map_err(AppError::invalid)?;
    let first_name = normalize_name(first_name).map_err(AppError::invalid)?;
    password::check_policy(pass, &email)?;
    let hash = password::hash_off_runtime(pass).await?;
    let user_id = repo::insert_user(
        &state.db,
        &email,
        &first_name,
        &hash,
        AccountStatus::Active,
        Role::User,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::Conflict(
                "An account with this address exists already: sign in, then open the link again."
                    .into(),
            )
        } else {
            e.into()
        }
    })?;
    repo::mark_verified(&state.db, user_id).await?;
    audit::record(
        &state.db,
        Some(user_id),
        "account.register_invited",
        &email,
        &client.ip,
        "",
    )
    .await;
    let user = repo::find_by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| AppError::internal("new user vanished"))?;
    welcome(state, &user).await;
    let session = start_session(state, user_id, client).await?;
    Ok((user.current(), session))
}

/// Sign-in failures count per account *and* client address (IPv6 per /64):
/// a stranger guessing from their address locks only themselves out, never
/// the owner signing in from elsewhere.
fn throttle_key(email: &str, ip: &str) -> String {
    let bucket = ip
        .parse()
        .map(crate::http::client::bucket)
        .unwrap_or_else(|_| ip.to_string());
    format!("{}{bucket}", throttle_prefix(email))
}

fn throttle_prefix(email: &str) -> String {
    format!("login:{email}:")
}

pub async fn login(
    state: &AppState,
    email: &str,
    pass: &str,
    client: &ClientInfo,
) -> AppResult<LoginOutcome> {
    // A malformed address is still run through a hash so timing says nothing.
    let email = Email::parse(email).map(String::from).unwrap_or_default();
    if pass.len() > 4 * password::MAX_LEN {
        return Err(AppError::InvalidCredentials);
    }
    let key = throttle_key(&email, &client.ip);
    if repo::throttle_locked_until(&state.db, &key).await? > crate::db::now() {
        audit::record(&state.db, None, "login.throttled", &email, &client.ip, "").await;
        return Err(AppError::RateLimited);
    }
    let user = if email.is_empty() {
        None
    } else {
        repo::find_by_email(&state.db, &email).await?
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let ok = password::verify_off_runtime(pass, &hash).await?;
    let user = match (user, ok) {
        (Some(u), true) => u,
        (u, _) => {
            repo::throttle_failure(&state.db, &key).await?;
            audit::record(
                &state.db,
                u.map(|u| u.id),
                "login.failed",
                &email,
                &client.ip,
                "",
            )
            .await;
            return Err(AppError::InvalidCredentials);
        }
    };
    match user.status {
        AccountStatus::Active => {}
        AccountStatus::Pending => {
            return Err(AppError::invalid(
                "Please confirm your e-mail address first: we sent you a link.",
            ))
        }
        AccountStatus::Suspended | AccountStatus::Cancelled => {
            audit::record(
                &state.db,
                Some(user.id),
                "login.refused_status",
                &email,
                &client.ip,
                user.status.as_str(),
            )
            .await;
            // The sign-in page says why and what to do, by the code. (A
            // payment overdue signs in: paying is done in the portal.)
            return Err(AppError::ServiceOff(
                if user.status == AccountStatus::Cancelled {
                    ServiceOff::Cancelled
                } else {
                    ServiceOff::Suspended
                },
            ));
        }
    }
    repo::throttle_clear(&state.db, &key).await?;
    if user.totp_enabled {
        let token = tokens::random_token();
        repo::insert_token(
            &state.db,
            user.id,
            "login_2fa",
            &tokens::hash_token(&token),
            tokens::LOGIN_2FA_TTL,
        )
        .await?;
        return Ok(LoginOutcome::NeedsTotp(token));
    }
    let session = start_session(state, user.id, client).await?;
    audit::record(
        &state.db,
        Some(user.id),
        "login.success",
        &email,
        &client.ip,
        "",
    )
    .await;
    Ok(LoginOutcome::Session(session))
}

/// Second login step: a TOTP code or a recovery code.
pub async fn login_second_factor(
    state: &AppState,
    challenge: &str,
    code: &str,
    client: &ClientInfo,
) -> AppResult<String> {
    if !tokens::looks_like_token(challenge) {
        return Err(AppError::InvalidToken);
    }
    let challenge_hash = tokens::hash_token(challenge);
    let user_id = repo::peek_token(&state.db, "login_2fa", &challenge_hash)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let key = format!("totp:{user_id}");
    if repo::throttle_locked_until(&state.db, &key).await? > crate::db::now() {
        return Err(AppError::RateLimited);
    }
    let user = repo::find_by_id(&state.db, user_id)
        .await?
        .ok_or(AppError::InvalidToken)?;
    if !check_second_factor(state, &user, code).await? {
        repo::throttle_failure(&state.db, &key).await?;
        audit::record(
            &state.db,
            Some(user.id),
            "login.totp_failed",
            &user.email,
            &client.ip,
            "",
        )
        .await;
        return Err(AppError::InvalidTotp);
    }
    repo::consume_token(&state.db, "login_2fa", &challenge_hash)
        .await?
        .ok_or(AppError::InvalidToken)?;
    repo::throttle_clear(&state.db, &key).await?;
    let session = start_session(state, user.id, client).await?;
    audit::record(
        &state.db,
        Some(user.id),
        "login.success",
        &user.email,
        &client.ip,
        "totp",
    )
    .await;
    Ok(session)
}

async fn check_second_factor(
    state: &AppState,
    user: &repo::UserRecord,
    code: &str,
) -> AppResult<bool> {
    let code = code.trim();
    if code.len() > 32 {
        return Ok(false);
    }
    let Some(sealed) = user
        .totp_secret_enc
        .as_deref()
        .filter(|_| user.totp_enabled)
    else {
        return Ok(false);
    };
    let secret = state.keys.open(sealed).map_err(AppError::internal)?;
    if let Some(step) = totp::verify(&secret, code, crate::db::now(), user.totp_last_step) {
        return Ok(repo::advance_totp_step(&state.db, user.id, step).await?);
    }
    if code.contains('-') {
        let hash = tokens::hash_token(&totp::normalize_recovery_code(code));
        if repo::use_recovery_code(&state.db, user.id, &hash).await? {
            audit::record(
                &state.db,
                Some(user.id),
                "login.recovery_code_used",
                &user.email,
                "",
                "",
            )
            .await;
            return Ok(true);
        }
    }
    Ok(false)
}

/// A fresh session id at every sign-in (no fixation).
async fn start_session(state: &AppState, user_id: i64, client: &ClientInfo) -> AppResult<String> {
    let token = tokens::random_token();
    let ua: String = client.user_agent.chars().take(200).collect();
    repo::insert_session(
        &state.db,
        &tokens::hash_token(&token),
        user_id,
        tokens::SESSION_TTL,
        &ua,
        &client.ip,
    )
    .await?;
    Ok(token)
}

pub async fn logout(state: &AppState, session_token: &str) -> AppResult<()> {
    repo::delete_session(&state.db, &tokens::hash_token(session_token)).await?;
    Ok(())
}

/// Always answers the same, in the same time: the lookup, the token and the
/// mail (an SMTP round trip) run after the answer, in a background task, so
/// how long the request takes says nothing about whether the account exists.
pub async fn request_password_reset(
    state: &AppState,
    email: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    let email = Email::parse(email).map_err(|e| AppError::invalid_field("email", e))?;
    let (state, client) = (state.clone(), client.clone());
    tokio::spawn(async move {
        if let Err(e) = send_password_reset(&state, &email, &client).await {
            tracing::warn!(error = %e, "password reset mail not sent");
        }
    });
    Ok(())
}

async fn send_password_reset(state: &AppState, email: &str, client: &ClientInfo) -> AppResult<()> {
    let email = email.to_string();
    if let Some(user) = repo::find_by_email(&state.db, &email).await? {
        repo::expire_tokens(&state.db, user.id, "reset_password").await?;
        let token = tokens::random_token();
        repo::insert_token(
            &state.db,
            user.id,
            "reset_password",
            &tokens::hash_token(&token),
            tokens::RESET_PASSWORD_TTL,
        )
        .await?;
        audit::record(
            &state.db,
            Some(user.id),
            "password.reset_requested",
            &email,
            &client.ip,
            "",
        )
        .await;
        // A pending account's name is whatever was typed at sign-up, by
        // anyone, for any address: it is said only once the address has
        // been confirmed by its owner.
        let first_name = if user.status == AccountStatus::Pending {
            String::new()
        } else {
            user.first_name.clone()
        };
        let mail = Mail::Reset(mail::templates::Reset {
            first_name,
            link: link(state, &format!("/reset?token={token}")),
            support: support(state),
        });
        state.mailer.send(&email, mail).await;
    }
    Ok(())
}

pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    if !tokens::looks_like_token(token) {
        return Err(AppError::InvalidToken);
    }
    // Check the policy before consuming the token so a weak password does not burn the link.
    let token_hash = tokens::hash_token(token);
    let user_id = repo::peek_token(&state.db, "reset_password", &token_hash)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let user = repo::find_by_id(&state.db, user_id)
        .await?
        .ok_or(AppError::InvalidToken)?;
    password::check_policy(new_password, &user.email)?;
    let hash = password::hash_off_runtime(new_password).await?;
    repo::consume_token(&state.db, "reset_password", &token_hash)
        .await?
        .ok_or(AppError::InvalidToken)?;
    repo::set_password(&state.db, user.id, &hash).await?;
    // The mailed link proves control of the address.
    repo::mark_verified(&state.db, user.id).await?;
    repo::delete_sessions_except(&state.db, user.id, "").await?;
    repo::throttle_clear_prefix(&state.db, &throttle_prefix(&user.email)).await?;
    audit::record(
        &state.db,
        Some(user.id),
        "password.reset",
        &user.email,
        &client.ip,
        "",
    )
    .await;
    Ok(())
}

pub async fn change_password(
    state: &AppState,
    user: &CurrentUser,
    current: &str,
    new: &str,
    keep_session: &str,
) -> AppResult<()> {
    let record = repo::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !password::verify_off_runtime(current, &record.password_hash).await? {
        return Err(AppError::invalid("Your current password is not correct."));
    }
    password::check_policy(new, &record.email)?;
    repo::set_password(&state.db, user.id, &password::hash_off_runtime(new).await?).await?;
    repo::delete_sessions_except(&state.db, user.id, keep_session).await?;
    audit::record(
        &state.db,
        Some(user.id),
        "password.changed",
        &user.email,
        "",
        "",
    )
    .await;
    Ok(())
}

pub async fn begin_totp(state: &AppState, user: &CurrentUser) -> AppResult<TotpEnrollment> {
    if user.totp_enabled {
        return Err(AppError::Conflict(
            "Two-factor authentication is already on.".into(),
        ));
    }
    let secret = totp::generate_secret();
    repo::set_totp_pending(&state.db, user.id, &state.keys.seal(&secret)).await?;
    Ok(TotpEnrollment {
        secret_base32: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, &user.email),
    })
}

/// Turns two-factor on once the user proves the app works; returns the
/// recovery codes (shown once, stored hashed).
pub async fn confirm_totp(
    state: &AppState,
    user: &CurrentUser,
    code: &str,
) -> AppResult<Vec<String>> {
    let record = repo::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if record.totp_enabled {
        return Err(AppError::Conflict(
            "Two-factor authentication is already on.".into(),
        ));
    }
    let sealed = record
        .totp_secret_enc
        .ok_or_else(|| AppError::invalid("Start the set-up first."))?;
    let secret = state.keys.open(&sealed).map_err(AppError::internal)?;
    let step = totp::verify(&secret, code, crate::db::now(), 0).ok_or(AppError::InvalidTotp)?;
    let codes = totp::generate_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| tokens::hash_token(c)).collect();
    repo::enable_totp(&state.db, user.id, step, &hashes).await?;
    audit::record(&state.db, Some(user.id), "2fa.enabled", &user.email, "", "").await;
    let mail = Mail::TwoFactorChanged(mail::templates::TwoFactorChanged {
        first_name: record.first_name.clone(),
        change: "turned on",
        support: support(state),
    });
    state.mailer.send(&record.email, mail).await;
    Ok(codes)
}

pub async fn disable_totp(
    state: &AppState,
    user: &CurrentUser,
    current_password: &str,
) -> AppResult<()> {
    let record = repo::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !password::verify_off_runtime(current_password, &record.password_hash).await? {
        return Err(AppError::invalid("Your password is not correct."));
    }
    repo::disable_totp(&state.db, user.id).await?;
    audit::record(
        &state.db,
        Some(user.id),
        "2fa.disabled",
        &user.email,
        "",
        "",
    )
    .await;
    let mail = Mail::TwoFactorChanged(mail::templates::TwoFactorChanged {
        first_name: record.first_name.clone(),
        change: "turned off",
        support: support(state),
    });
    state.mailer.send(&record.email, mail).await;
    Ok(())
}

/// Creates an active, verified account (admin CLI and first-run set-up).
pub async fn create_verified_user(
    state_db: &crate::db::Db,
    email: &str,
    pass: &str,
    role: Role,
) -> AppResult<i64> {
    let email = Email::parse(email).map_err(|e| AppError::invalid_field("email", e))?;
    password::check_policy(pass, &email)?;
    let hash = password::hash_off_runtime(pass).await?;
    let id = repo::insert_user(state_db, &email, "", &hash, AccountStatus::Active, role)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Conflict("An account with that e-mail already exists.".into())
            } else {
                e.into()
            }
        })?;
    repo::mark_verified(state_db, id).await?;
    audit::record(
        state_db,
        None,
        "account.created_by_admin",
        &email,
        "",
        role.as_str(),
    )
    .await;
    Ok(id)
}

pub async fn admin_set_password(db: &crate::db::Db, email: &str, pass: &str) -> AppResult<()> {
    let email = Email::parse(email).map_err(|e| AppError::invalid_field("email", e))?;
    let user = repo::find_by_email(db, &email)
        .await?
        .ok_or(AppError::NotFound)?;
    password::check_policy(pass, &email)?;
    repo::set_password(db, user.id, &password::hash_off_runtime(pass).await?).await?;
    repo::delete_sessions_except(db, user.id, "").await?;
    audit::record(db, None, "password.reset_by_admin", &email, "", "").await;
    Ok(())
}
