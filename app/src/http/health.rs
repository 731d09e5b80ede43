//! `GET /health`: 200 when the database answers, 503 otherwise; with the
//! nodes' freshness ("degraded" while an active server's node is stale).

use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde_json::json;

use crate::state::AppState;

pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => {
            // A stale node degrades the service but not the portal: still 200,
            // so a load balancer keeps sending customers here.
            let fresh = crate::vpn::servers::NodeFreshness::of(&state);
            match crate::vpn::servers::stale_nodes(&state.db, fresh).await {
                Ok(stale) => (
                    StatusCode::OK,
                    Json(json!({
                        "status": if stale.is_empty() { "ok" } else { "degraded" },
                        "database": "ok",
                        "nodes": {
                            "status": if stale.is_empty() { "ok" } else { "stale" },
                            "stale": stale,
                            "stale_after_secs": fresh.stale_after,
                        },
                    })),
                ),
                Err(e) => {
                    tracing::error!(error = %e, "health check: reading node freshness");
                    (
                        StatusCode::OK,
                        Json(
                            json!({"status": "degraded", "database": "ok", "nodes": {"status": "unknown"}}),
                        ),
                    )
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "error", "database": "unreachable"})),
            )
        }
    }
}
