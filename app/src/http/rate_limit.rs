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
        let Ok(mut map) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_window
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let l = RateLimiter::new(3);
        assert!(l.allow("a") && l.allow("a") && l.allow("a"));
        assert!(!l.allow("a"));
        assert!(l.allow("b"));
    }
}
