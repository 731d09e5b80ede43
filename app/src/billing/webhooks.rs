//! Provider webhooks: `POST /api/v1/billing/webhooks/{stripe,paypal}`.
//! Verified before anything is parsed; every event applied at most once.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use truevault_payments::{paypal, stripe, PaymentEvent, WebhookError};

use super::{
    checkout,
    events::{self, Outcome},
    model::Provider,
};
use crate::{
    api::{self, request_id},
    error::AppError,
    state::AppState,
};

/// Provider events are a few kilobytes.
pub const MAX_BODY: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/billing/webhooks/stripe", post(stripe_webhook))
        .route("/api/v1/billing/webhooks/paypal", post(paypal_webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

fn refused(rid: String, e: &WebhookError) -> Response {
    tracing::warn!(error = %e, "webhook refused");
    if e.is_retryable() {
        // Our side could not verify (PayPal unreachable…): ask for a redelivery.
        return api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "VERIFICATION_UNAVAILABLE",
            "The webhook could not be verified right now.",
            Some(e.to_string()),
            rid,
        );
    }
    api::error(
        StatusCode::BAD_REQUEST,
        "INVALID_SIGNATURE",
        "The webhook could not be verified.",
        Some(e.to_string()),
        rid,
    )
}

async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = request_id();
    let Some(secret) = state.config.billing.stripe_webhook_secret.as_ref() else {
        return AppError::NotFound.into_api_response(rid);
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(e) = stripe::verify_signature(secret.expose(), header, &body, state.clock.now()) {
        return refused(rid, &e);
    }
    apply(&state, Provider::Stripe, stripe::parse_event(&body), rid).await
}

async fn paypal_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = request_id();
    let Some(webhook_id) = state.config.billing.paypal_webhook_id.clone() else {
        return AppError::NotFound.into_api_response(rid);
    };
    let client = match checkout::paypal_client(&state) {
        Ok(c) => c,
        Err(e) => return e.into_api_response(rid),
    };
    let ph = match paypal::PayPalHeaders::from_pairs(headers.iter()) {
        Ok(h) => h,
        Err(e) => return refused(rid, &e),
    };
    if let Err(e) = client.verify_webhook(&webhook_id, &ph, &body).await {
        return refused(rid, &e);
    }
    apply(&state, Provider::Paypal, paypal::parse_event(&body), rid).await
}

/// Applies a verified event (or says why its body could not be read).
async fn apply(
    state: &AppState,
    provider: Provider,
    parsed: Result<PaymentEvent, WebhookError>,
    rid: String,
) -> Response {
    let event = match parsed {
        Ok(event) => event,
        Err(e) => {
            return api::error(
                StatusCode::BAD_REQUEST,
                "INVALID_BODY",
                "The event could not be read.",
                Some(e.to_string()),
                rid,
            )
        }
    };
    match events::apply_event(state, provider, &event).await {
        Ok(Outcome::Applied(what)) => {
            Json(serde_json::json!({ "received": true, "outcome": what })).into_response()
        }
        Ok(Outcome::Duplicate) => {
            Json(serde_json::json!({ "received": true, "outcome": "duplicate" })).into_response()
        }
        // Acknowledged (a retry would be refused the same way) but not applied.
        Ok(Outcome::Rejected(why)) => {
            Json(serde_json::json!({ "received": true, "outcome": "rejected", "reason": why }))
                .into_response()
        }
        // Out of order: a non-2xx makes the provider deliver it again later.
        Ok(Outcome::RetryLater(why)) => api::error(
            StatusCode::CONFLICT,
            "RETRY_LATER",
            "The event arrived before the one it depends on.",
            Some(why),
            rid,
        ),
        Err(e) => e.into_api_response(rid),
    }
}
