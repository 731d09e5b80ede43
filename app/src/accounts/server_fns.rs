//! Server functions for sign-up, sign-in, two-factor, password reset and
//! account settings. Endpoints under `/api/auth/` are rate limited per
//! client address by the middleware.

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{CurrentUser, SessionInfo, TotpEnrollment};
#[cfg(feature = "ssr")]
use {
    super::{service, tokens},
    crate::{http::cookies, sfn},
};

/// The signed-in user, if any.
#[server(endpoint = "account/me")]
pub async fn whoami() -> Result<Option<CurrentUser>, AppError> {
    Ok(sfn::request_context()?.user)
}

#[server(endpoint = "auth/register")]
pub async fn register(
    email: String,
    password: String,
    first_name: String,
) -> Result<String, AppError> {
    sfn::limit("email", "E-mail", &email, 254)?;
    sfn::limit("password", "Password", &password, 128)?;
    sfn::limit("first_name", "Name", &first_name, 100)?;
    let ctx = sfn::request_context()?;
    service::register(&sfn::state(), &email, &password, &first_name, &ctx.client).await?;
    Ok("Check your inbox: we sent you a link to confirm your e-mail address.".into())
}

#[server(endpoint = "auth/verify")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    service::verify_email(&sfn::state(), &token).await?;
    leptos_axum::redirect("/login?verified=1");
    Ok(())
}

#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    sfn::limit("email", "E-mail", &email, 254)?;
    let ctx = sfn::request_context()?;
    let state = sfn::state();
    match service::login(&state, &email, &password, &ctx.client).await? {
        service::LoginOutcome::Session(token) => {
            // A new session id at sign-in; the old one (if any) ends.
            if let Some(old) = ctx.session_token.as_deref() {
                let _ = service::logout(&state, old).await;
            }
            sfn::set_cookie(cookies::SESSION, &token, tokens::SESSION_TTL);
            leptos_axum::redirect("/dashboard");
        }
        service::LoginOutcome::NeedsTotp(challenge) => {
            sfn::set_cookie(cookies::LOGIN_CHALLENGE, &challenge, tokens::LOGIN_2FA_TTL);
            leptos_axum::redirect("/login/totp");
        }
    }
    Ok(())
}

#[server(endpoint = "auth/login_totp")]
pub async fn login_totp(code: String) -> Result<(), AppError> {
    sfn::limit("code", "Code", &code, 32)?;
    let ctx = sfn::request_context()?;
    let challenge = sfn::cookie(cookies::LOGIN_CHALLENGE).ok_or(AppError::InvalidToken)?;
    let token = service::login_second_factor(&sfn::state(), &challenge, &code, &ctx.client).await?;
    sfn::clear_cookie(cookies::LOGIN_CHALLENGE);
    sfn::set_cookie(cookies::SESSION, &token, tokens::SESSION_TTL);
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[server(endpoint = "auth/forgot")]
pub async fn forgot_password(email: String) -> Result<String, AppError> {
    sfn::limit("email", "E-mail", &email, 254)?;
    let ctx = sfn::request_context()?;
    service::request_password_reset(&sfn::state(), &email, &ctx.client).await?;
    Ok("If an account exists for that address, we sent it a link to reset the password.".into())
}

#[server(endpoint = "auth/reset")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    sfn::limit("password", "Password", &password, 128)?;
    let ctx = sfn::request_context()?;
    service::reset_password(&sfn::state(), &token, &password, &ctx.client).await?;
    leptos_axum::redirect("/login?reset=1");
    Ok(())
}

#[server(endpoint = "account/logout")]
pub async fn logout() -> Result<(), AppError> {
    let ctx = sfn::request_context()?;
    if let Some(token) = ctx.session_token.as_deref() {
        service::logout(&sfn::state(), token).await?;
    }
    sfn::clear_cookie(cookies::SESSION);
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(endpoint = "account/profile")]
pub async fn update_profile(first_name: String) -> Result<String, AppError> {
    let user = sfn::user()?;
    let name = super::model::normalize_name(&first_name)
        .map_err(|e| AppError::invalid_field("first_name", e))?;
    super::repo::set_first_name(&sfn::state().db, user.id, &name).await?;
    Ok("Profile saved.".into())
}

#[server(endpoint = "account/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<String, AppError> {
    sfn::limit("new_password", "Password", &new_password, 128)?;
    sfn::limit("current_password", "Password", &current_password, 512)?;
    let ctx = sfn::request_context()?;
    let user = ctx.user.clone().ok_or(AppError::Unauthenticated)?;
    let keep = ctx.session_hash().unwrap_or_default();
    service::change_password(
        &sfn::state(),
        &user,
        &current_password,
        &new_password,
        &keep,
    )
    .await?;
    Ok("Password changed. Your other sessions were signed out.".into())
}

#[server(endpoint = "account/totp_begin")]
pub async fn totp_begin() -> Result<TotpEnrollment, AppError> {
    let user = sfn::user()?;
    service::begin_totp(&sfn::state(), &user).await
}

#[server(endpoint = "account/totp_confirm")]
pub async fn totp_confirm(code: String) -> Result<Vec<String>, AppError> {
    sfn::limit("code", "Code", &code, 32)?;
    let user = sfn::user()?;
    service::confirm_totp(&sfn::state(), &user, &code).await
}

#[server(endpoint = "account/totp_disable")]
pub async fn totp_disable(password: String) -> Result<String, AppError> {
    sfn::limit("password", "Password", &password, 512)?;
    let user = sfn::user()?;
    service::disable_totp(&sfn::state(), &user, &password).await?;
    Ok("Two-factor authentication is off.".into())
}

#[server(endpoint = "account/sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    let ctx = sfn::request_context()?;
    let user = ctx.user.clone().ok_or(AppError::Unauthenticated)?;
    let current = ctx.session_hash().unwrap_or_default();
    Ok(super::repo::list_sessions(&sfn::state().db, user.id, &current).await?)
}

#[server(endpoint = "account/sessions_revoke")]
pub async fn revoke_other_sessions() -> Result<String, AppError> {
    let ctx = sfn::request_context()?;
    let user = ctx.user.clone().ok_or(AppError::Unauthenticated)?;
    let keep = ctx.session_hash().unwrap_or_default();
    let state = sfn::state();
    let n = super::repo::delete_sessions_except(&state.db, user.id, &keep).await?;
    crate::audit::record(
        &state.db,
        Some(user.id),
        "sessions.revoked_others",
        &user.email,
        &ctx.client.ip,
        &n.to_string(),
    )
    .await;
    Ok(format!("Signed out {n} other session(s)."))
}

/// First run: creates the administrator with the one-time link's token.
#[server(endpoint = "auth/setup_admin")]
pub async fn setup_admin(token: String, email: String, password: String) -> Result<(), AppError> {
    sfn::limit("email", "E-mail", &email, 254)?;
    sfn::limit("password", "Password", &password, 128)?;
    super::bootstrap::create_admin(&sfn::state(), &token, &email, &password).await?;
    leptos_axum::redirect("/login");
    Ok(())
}
