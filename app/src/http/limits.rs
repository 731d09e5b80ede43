//! Limits on what one client can hold: a request timeout (the header-read
//! timeout and the connection cap live in the accept loop, `startup::serve`).

use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::AppError, state::AppState};

/// A request without a response in `http.request_timeout_ms` gets a 503
/// (JSON under `/api/v1`). WebSockets and the node long-poll run long by
/// design and bound themselves.
pub async fn request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade || req.uri().path() == "/api/v1/nodes/self/config" {
        return next.run(req).await;
    }
    let api = req.uri().path().starts_with("/api/v1/");
    let limit = Duration::from_millis(state.config.http.request_timeout_ms);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            let e = AppError::RequestTimeout;
            if api {
                e.into_api_response(crate::api::request_id())
            } else {
                (e.status(), e.to_string()).into_response()
            }
        }
    }
}

/// The accept loop's view of its connections, for the metrics and for tests
/// that check the cap without waiting to see that nothing happens.
#[derive(Default)]
pub struct Connections {
    open: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
    at_cap: std::sync::atomic::AtomicBool,
}

impl Connections {
    pub(crate) fn opened(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.open.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
    }

    pub(crate) fn closed(&self) {
        self.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn set_at_cap(&self, v: bool) {
        self.at_cap.store(v, std::sync::atomic::Ordering::SeqCst);
    }

    /// Connections being served now.
    pub fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most ever served at once.
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the loop is waiting for a free slot (not accepting).
    pub fn at_cap(&self) -> bool {
        self.at_cap.load(std::sync::atomic::Ordering::SeqCst)
    }
}
