//! The JSON API under `/api/v1`: agents' and nodes' endpoints, the public
//! API for customers' keys (`v1`, documented by `docs`), bearer tokens,
//! request ids and the error shape every endpoint shares.

use axum::{
    extract::{rejection::JsonRejection, Request},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use rand::RngCore;
use truevault_wire::{ApiError, ApiErrorBody};

use crate::{error::AppError, state::AppState};

pub mod docs;
pub mod platform;
pub mod v1;

pub fn router(state: AppState) -> axum::Router<AppState> {
    let state_for_keys = state.clone();
    crate::vpn::node_api::router()
        .merge(crate::inventory::api::router())
        .layer(axum::middleware::from_fn_with_state(
            state,
            token_before_body,
        ))
        .merge(crate::billing::webhooks::router())
        .merge(crate::cameras::tunnel::router())
        .merge(crate::sites::api::router())
        .merge(v1::router(state_for_keys))
        .route("/api/v1/{*rest}", axum::routing::any(unknown_path))
        .layer(axum::middleware::from_fn(json_errors))
}

async fn unknown_path() -> Response {
    AppError::NotFound.into_api_response(request_id())
}

/// Agents' bodies can be megabytes: a request whose bearer token is not
/// valid for the route is refused before any of its body is read.
async fn token_before_body(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let Some(token) = bearer(req.headers()) else {
        return ApiRejection::unauthenticated(request_id());
    };
    let checked = if path.starts_with("/api/v1/nodes/self/") {
        crate::vpn::nodes::authenticate(&state, token)
            .await
            .map(|_| ())
    } else if path.starts_with("/api/v1/inventory/") {
        crate::inventory::service::authenticate(&state, token)
            .await
            .map(|_| ())
    } else {
        // Enrollment tokens are single-use and checked with the (small) body.
        Ok(())
    };
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_api_response(request_id()),
    }
}

/// Every `/api/v1` failure has the JSON error shape, including the ones
/// axum answers itself (405, a 413 from a body extractor, an empty 404).
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let error = match status {
        StatusCode::NOT_FOUND => AppError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        StatusCode::UNAUTHORIZED => AppError::InvalidBearer,
        StatusCode::TOO_MANY_REQUESTS => AppError::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => AppError::ServerUnavailable,
        s if s.is_server_error() => AppError::Internal(format!("{s} without a body")),
        _ => AppError::invalid("The request was not understood."),
    };
    let mut out = error.into_api_response(request_id());
    // Keep the status axum chose (e.g. 400 vs 422) and headers like `Allow`.
    *out.status_mut() = status;
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
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

/// The client address for the audit log: `http::client` has rewritten the
/// header to the one address it trusts.
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
