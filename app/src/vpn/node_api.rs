//! `/api/v1/nodes/…`: the JSON API VPN nodes call with their bearer token.

use std::time::Duration;

use axum::{
    extract::{DefaultBodyLimit, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use truevault_wire::node::{EnrollRequest, StatsReport, StatsResponse};

use super::nodes as service;
use crate::{
    api::{bearer, client_ip, request_id, ApiRejection},
    audit,
    state::AppState,
};

/// How long a config request waits for a change before answering 304.
pub const LONG_POLL: Duration = Duration::from_secs(25);
/// How long a woken long-poll waits for the rest of a burst of changes.
pub const COALESCE: Duration = Duration::from_millis(100);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes/enroll", post(enroll))
        .route("/api/v1/nodes/self/config", get(config))
        .route("/api/v1/nodes/self/stats", post(stats))
        // A report for tens of thousands of peers is a few MB.
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
}

async fn enroll(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<EnrollRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let rid = request_id();
    let Some(token) = bearer(&headers) else {
        return ApiRejection::unauthenticated(rid);
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiRejection::bad_json(rid, e),
    };
    match service::enroll(&state, token, &req.public_key, &client_ip(&headers)).await {
        Ok(res) => Json(res).into_response(),
        Err(e) => e.into_api_response(rid),
    }
}

/// The server behind the request's node token, or the error response.
async fn authenticated_node(
    state: &AppState,
    headers: &HeaderMap,
    rid: &str,
) -> Result<crate::vpn::model::ServerInfo, Response> {
    let Some(token) = bearer(headers) else {
        return Err(ApiRejection::unauthenticated(rid.to_string()));
    };
    service::authenticate(state, token)
        .await
        .map_err(|e| e.into_api_response(rid.to_string()))
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: i64,
}

/// Answers at once when the desired set moved past `since`, else holds the
/// request until a change (or ~25 s) and answers 304 Not Modified.
async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Since>,
) -> Response {
    let rid = request_id();
    let server = match authenticated_node(&state, &headers, &rid).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    let _held = state.stopping.hold();
    loop {
        // Register for the wake-up before reading the version, so a change
        // between the read and the wait is not missed.
        let changed = state.node_changes.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match crate::vpn::repo::peers_version(&state.db, server.id).await {
            Ok(v) if v > q.since => break,
            Ok(_) => {}
            Err(e) => return crate::error::AppError::from(e).into_api_response(rid),
        }
        let now = tokio::time::Instant::now();
        // A stopping portal answers "nothing new"; the node asks again
        // (another instance, or this one once it is back).
        if now >= deadline || state.stopping.is_stopping() {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        // Other portal instances change the database without waking us:
        // re-check at least every second.
        let wait = (deadline - now).min(Duration::from_secs(1));
        tokio::select! {
            _ = &mut changed => {
                // Coalesce: changes come in bursts (a user adding several
                // devices, a plan change touching all of them). Answering
                // the first would send this node one config per change;
                // waiting a moment sends one for the whole burst.
                tokio::select! {
                    _ = tokio::time::sleep(COALESCE) => {},
                    _ = state.stopping.wait() => {},
                }
            },
            _ = tokio::time::sleep(wait) => {},
            _ = state.stopping.wait() => {},
        }
    }
    match service::desired_config(&state, &server).await {
        Ok(cfg) => Json(&*cfg).into_response(),
        Err(e) => e.into_api_response(rid),
    }
}

async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<StatsReport>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let rid = request_id();
    let server = match authenticated_node(&state, &headers, &rid).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let Json(report) = match body {
        Ok(b) => b,
        Err(e) => return ApiRejection::bad_json(rid, e),
    };
    match service::ingest_stats(&state, &server, report.applied_version, &report.peers).await {
        Ok(accepted) => {
            if let Some(host) = &report.host {
                if let Err(e) = crate::vpn::repo::set_host_health(&state.db, server.id, host).await
                {
                    return crate::error::AppError::from(e).into_api_response(rid);
                }
            }
            Json(StatsResponse { accepted }).into_response()
        }
        Err(e) => {
            audit::record(
                &state.db,
                None,
                "node.stats_rejected",
                &server.name,
                &client_ip(&headers),
                &e.to_string(),
            )
            .await;
            e.into_api_response(rid)
        }
    }
}
