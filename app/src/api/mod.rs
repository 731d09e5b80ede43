//! The JSON API under `/api/v1` for agents and nodes: bearer tokens,
//! request ids and the error shape every endpoint shares.

use axum::{
    extract::rejection::JsonRejection,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use rand::RngCore;
use truevault_wire::{ApiError, ApiErrorBody};

use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    crate::vpn::node_api::router()
        .merge(crate::inventory::api::router())
        .merge(crate::billing::webhooks::router())
        .merge(crate::cameras::tunnel::router())
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

pub fn request_id() -> String {
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Best-effort client address for the audit log (set by a proxy, if any).
pub fn client_ip(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().chars().take(45).collect())
        .unwrap_or_default()
}

pub struct ApiRejection;

impl ApiRejection {
    pub fn unauthenticated(request_id: String) -> Response {
        error(
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
            "A valid bearer token is required.",
            None,
            request_id,
        )
    }

    pub fn bad_json(request_id: String, e: JsonRejection) -> Response {
        let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            e.status()
        } else {
            StatusCode::BAD_REQUEST
        };
        error(
            status,
            "INVALID_BODY",
            "The request body is not valid JSON of the expected shape.",
            Some(e.body_text()),
            request_id,
        )
    }
}

pub fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<String>,
    request_id: String,
) -> Response {
    let body = ApiErrorBody {
        error: ApiError {
            code: code.into(),
            message: message.into(),
            details,
            request_id,
        },
    };
    (status, Json(body)).into_response()
}
