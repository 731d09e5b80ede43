//! `POST /api/v1/inventory/sync`: what a scanner saw, with its bearer token.

use axum::{
    extract::{rejection::JsonRejection, DefaultBodyLimit, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use truevault_wire::inventory::SyncRequest;

use super::service;
use crate::{
    api::{bearer, client_ip, request_id, ApiRejection},
    audit,
    state::AppState,
};

/// A full payload (1,024 hosts with services and ports) is well under this.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/inventory/sync", post(sync))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SyncRequest>, JsonRejection>,
) -> Response {
    let rid = request_id();
    let Some(token) = bearer(&headers) else {
        return ApiRejection::unauthenticated(rid);
    };
    // The token is checked before body errors are reported, so a stranger
    // learns nothing about what we would accept.
    let (token_id, user_id) = match service::authenticate(&state, token).await {
        Ok(ids) => ids,
        Err(e) => return e.into_api_response(rid),
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiRejection::bad_json(rid, e),
    };
    match service::sync(&state, token_id, user_id, &req).await {
        Ok(summary) => Json(summary).into_response(),
        Err(e) => {
            audit::record(
                &state.db,
                Some(user_id),
                "scanner.sync_rejected",
                &token_id.to_string(),
                &client_ip(&headers),
                &e.to_string(),
            )
            .await;
            e.into_api_response(rid)
        }
    }
}
