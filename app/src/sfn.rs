//! Helpers for server-function bodies: the app state, the request context
//! computed by the middleware, the signed-in user, cookies and redirects.

use axum::http::{header, request::Parts, HeaderValue};
use leptos::prelude::{expect_context, use_context};
use leptos_axum::ResponseOptions;

use crate::{
    accounts::model::CurrentUser,
    error::AppError,
    http::{context::RequestContext, cookies},
    state::AppState,
};

pub fn state() -> AppState {
    expect_context::<AppState>()
}

pub fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

pub fn request_context() -> Result<RequestContext, AppError> {
    parts()
        .and_then(|p| p.extensions.get::<RequestContext>().cloned())
        .ok_or_else(|| AppError::internal("request context missing"))
}

pub fn user() -> Result<CurrentUser, AppError> {
    request_context()?.user.ok_or(AppError::Unauthenticated)
}

pub fn admin() -> Result<CurrentUser, AppError> {
    let user = user()?;
    if user.is_admin() {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

pub fn cookie(name: &str) -> Option<String> {
    let parts = parts()?;
    let header = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    cookies::get(
        header,
        &cookies::name(name, state().config.secure_cookies()),
    )
    .map(String::from)
}

pub fn set_cookie(name: &str, value: &str, max_age: i64) {
    let secure = state().config.secure_cookies();
    if let Ok(v) = HeaderValue::from_str(&cookies::set(name, value, max_age, secure)) {
        expect_context::<ResponseOptions>().append_header(header::SET_COOKIE, v);
    }
}

pub fn clear_cookie(name: &str) {
    let secure = state().config.secure_cookies();
    if let Ok(v) = HeaderValue::from_str(&cookies::clear(name, secure)) {
        expect_context::<ResponseOptions>().append_header(header::SET_COOKIE, v);
    }
}

/// Rejects oversized free-text arguments before any work is done.
/// `field` is the form's name for the value, `label` what the user reads.
pub fn limit(field: &str, label: &str, value: &str, max_chars: usize) -> Result<(), AppError> {
    if value.chars().count() > max_chars {
        return Err(AppError::invalid_field(
            field,
            format!("{label} must be at most {max_chars} characters."),
        ));
    }
    Ok(())
}
