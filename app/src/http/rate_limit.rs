//! Fixed-window request limits per client address, for the authentication
//! endpoints. In memory: each portal instance limits on its own, which is
//! enough to blunt guessing; per-account lockout lives in the database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::state::AppState;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct RateLimiter {
    per_window: u32,
    buckets: Arc<Mutex<HashMap<String, (Instant, u32)>>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_window: per_minute.max(1),
            buckets: Arc::default(),
        }
    }

    /// Counts one request for `key`; false when over the limit.
    pub fn allow(&self, key: &str) -> bool {
        self.check(key).is_ok()
    }

    /// Counts one request for `key`; over the limit, how long until its
    /// window ends (what `Retry-After` says).
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 <= self.per_window {
            Ok(())
        } else {
            Err(WINDOW.saturating_sub(now.duration_since(entry.0)))
        }
    }
}

/// Account endpoints that run argon2 or check a second factor: each call
/// costs real CPU, so they share the sign-in limit.
const COSTLY_ACCOUNT_ENDPOINTS: [&str; 4] = [
    "/api/account/password",
    "/api/account/totp_begin",
    "/api/account/totp_confirm",
    "/api/account/totp_disable",
];

/// Server functions under `/api/auth/` are the sign-in, sign-up and reset
/// endpoints.
pub async fn auth_endpoints(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/auth/") || COSTLY_ACCOUNT_ENDPOINTS.contains(&path) {
        let bucket = req
            .extensions()
            .get::<super::client::ClientIp>()
            .map(|c| super::client::bucket(c.0))
            .unwrap_or_default();
        if !state.auth_limiter.allow(&bucket) {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts. Please wait a minute and try again.",
            )
                .into_response();
        }
    }
    next.run(req).await
}

/// The server functions that change a user's devices. Each one bumps a
/// node's desired version, wakes its long-poll and makes it re-read every
/// peer, so a script looping on them would keep every node busy.
const DEVICE_CHANGE_ENDPOINTS: [&str; 6] = [
    "/api/devices/create",
    "/api/devices/identity",
    "/api/devices/rekey",
    "/api/devices/delete",
    "/api/devices/tunnel",
    "/devices/download",
];

/// Per-user limit on device changes, checked before the request reaches the
/// device code: over it, 429 `RATE_LIMITED` with `Retry-After`. Runs inside
/// the context middleware, which has found the signed-in user; anonymous
/// requests pass (the server function refuses them itself).
pub async fn device_changes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::POST
        && DEVICE_CHANGE_ENDPOINTS.contains(&req.uri().path())
    {
        let user = req
            .extensions()
            .get::<super::context::RequestContext>()
            .and_then(|c| c.user.as_ref())
            .map(|u| u.id.to_string());
        if let Some(user) = user {
            if let Err(wait) = state.device_limiter.check(&user) {
                tracing::info!(user, "device changes rate-limited");
                let secs = wait.as_secs().max(1);
                let body =
                    serde_json::to_vec(&crate::error::AppError::RateLimited).unwrap_or_default();
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        (axum::http::header::RETRY_AFTER, secs.to_string()),
                        (
                            axum::http::header::CONTENT_TYPE,
                            "application/json".to_string(),
                        ),
                    ],
                    body,
                )
                    .into_response();
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let l = RateLimiter::new(3);
        assert!(l.allow("a") && l.allow("a") && l.allow("a"));
        assert!(!l.allow("a"));
        assert!(l.allow("b"));
        let wait = l.check("a").expect_err("still over");
        assert!(wait <= WINDOW && wait > Duration::from_secs(50));
    }
}
