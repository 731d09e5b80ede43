//! Request bodies without a `Content-Length` (chunked): read up to the cap
//! before the handler runs, so an oversized one is a clean 413 instead of
//! a server function's 500 "length limit exceeded".

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;

use crate::startup::MAX_BODY_BYTES;

pub async fn limit_unsized(req: Request, next: Next) -> Response {
    let sized = req.headers().contains_key(header::CONTENT_LENGTH);
    let bodiless = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Sized bodies are refused up front by the length check downstream.
    if sized || bodiless {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            )
                .into_response();
        }
        buf.extend_from_slice(&chunk);
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(buf.len()));
    parts.headers.remove(header::TRANSFER_ENCODING);
    next.run(Request::from_parts(parts, Body::from(buf))).await
}
