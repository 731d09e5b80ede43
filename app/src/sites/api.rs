//! `POST /api/v1/sites/self/connect`: the home agent, with its site token,
//! sends its public key and gets its WireGuard settings and the mapping.

use axum::{
    extract::{rejection::JsonRejection, DefaultBodyLimit, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use truevault_wire::node::SiteConnectRequest;

use super::service;
use crate::{
    api::{bearer, client_ip, request_id, ApiRejection},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sites/self/connect", post(connect))
        .layer(DefaultBodyLimit::max(4096))
}

async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SiteConnectRequest>, JsonRejection>,
) -> Response {
    let rid = request_id();
    let Some(token) = bearer(&headers) else {
        return ApiRejection::unauthenticated(rid);
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiRejection::bad_json(rid, e),
    };
    match service::connect(
        &state.db,
        &state.keys,
        token,
        &req.public_key,
        &client_ip(&headers),
    )
    .await
    {
        Ok((cfg, changed)) => {
            if changed {
                state.node_changes.notify_waiters();
            }
            Json(cfg).into_response()
        }
        Err(e) => e.into_api_response(rid),
    }
}
