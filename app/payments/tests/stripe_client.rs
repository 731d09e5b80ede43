//! The Stripe REST client against a loopback stand-in that checks the
//! form-encoded request the way Stripe does and answers in Stripe's shapes.
//! Never contacts Stripe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use truevault_payments::stripe::StripeClient;
use truevault_payments::{CheckoutRequest, Interval, PaymentError};

// Made-up key in Stripe's format; the stand-in accepts only this one.
const KEY: &str = "sk_test_51TrueVaultFakeKeyForLoopbackOnly";

#[derive(Default)]
struct Seen {
    requests: Vec<(HeaderMap, HashMap<String, String>)>,
}

type Shared = Arc<Mutex<Seen>>;

fn stripe_error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"error": {"type": kind, "code": code, "message": message,
                               "request_log_url": "https://dashboard.example.test/logs/req_x"}}),
        ),
    )
        .into_response()
}

async fn create_session(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    seen.lock()
        .unwrap()
        .requests
        .push((headers.clone(), form.clone()));

    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {KEY}") {
        // Stripe masks the key it was given; this stand-in echoes it in
        // full, to prove the client redacts it.
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            &format!(
                "Invalid API Key provided: {}",
                auth.trim_start_matches("Bearer ")
            ),
        );
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_invalid",
            "form body expected",
        );
    }
    for p in [
        "mode",
        "success_url",
        "line_items[0][price_data][currency]",
        "line_items[0][price_data][unit_amount]",
        "line_items[0][price_data][product_data][name]",
        "line_items[0][price_data][recurring][interval]",
        "line_items[0][quantity]",
    ] {
        if !form.contains_key(p) {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "parameter_missing",
                &format!("Missing required param: {p}."),
            );
        }
    }
    let amount: i64 = match form["line_items[0][price_data][unit_amount]"].parse() {
        Ok(a) => a,
        Err(_) => {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "parameter_invalid_integer",
                "Invalid integer: line_items[0][price_data][unit_amount]",
            )
        }
    };
    if form.get("customer_email").map(String::as_str) == Some("decline@example.test") {
        return stripe_error(
            StatusCode::PAYMENT_REQUIRED,
            "card_error",
            "card_declined",
            "Your card was declined.",
        );
    }
    if form.get("customer_email").map(String::as_str) == Some("no-url@example.test") {
        return (
            StatusCode::OK,
            Json(json!({"id": "cs_test_nourl", "object": "checkout.session", "url": null})),
        )
            .into_response();
    }
    if form.get("customer_email").map(String::as_str) == Some("broken@example.test") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "<html>upstream exploded</html>",
        )
            .into_response();
    }
    let id = format!("cs_test_{:04}", seen.lock().unwrap().requests.len());
    (
        StatusCode::OK,
        Json(json!({
            "id": id,
            "object": "checkout.session",
            "amount_total": amount,
            "client_reference_id": form.get("client_reference_id"),
            "currency": form["line_items[0][price_data][currency]"],
            "mode": form["mode"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
            "url": format!("https://checkout.example.test/c/pay/{id}"),
        })),
    )
        .into_response()
}

async fn stand_in() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/"), seen)
}

fn request(email: &str) -> CheckoutRequest {
    CheckoutRequest {
        reference: "chk_01HZX3TESTREF".into(),
        plan_name: "TrueVault Pro".into(),
        amount_cents: 999,
        currency: "USD".into(),
        interval: Interval::Year,
        customer_email: email.into(),
        success_url: "https://portal.example.test/billing/success?ref=chk_01HZX3TESTREF".into(),
        cancel_url: "https://portal.example.test/billing/cancel".into(),
        provider_plan_id: None,
    }
}

#[tokio::test]
async fn creates_a_checkout_session_with_the_expected_form() {
    let (base, seen) = stand_in().await;
    let client = StripeClient::new(&base, KEY);
    let s = client
        .create_checkout_session(&request("alice@example.test"))
        .await
        .unwrap();
    assert_eq!(s.id, "cs_test_0001");
    assert_eq!(s.url, "https://checkout.example.test/c/pay/cs_test_0001");

    let seen = seen.lock().unwrap();
    let (headers, form) = &seen.requests[0];
    assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(
        headers["idempotency-key"],
        "truevault-checkout-chk_01HZX3TESTREF"
    );
    assert_eq!(form["mode"], "subscription");
    assert_eq!(form["client_reference_id"], "chk_01HZX3TESTREF");
    assert_eq!(form["customer_email"], "alice@example.test");
    // '?' and '=' in the URL survive form encoding.
    assert_eq!(
        form["success_url"],
        "https://portal.example.test/billing/success?ref=chk_01HZX3TESTREF"
    );
    assert_eq!(
        form["cancel_url"],
        "https://portal.example.test/billing/cancel"
    );
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "999");
    assert_eq!(form["line_items[0][price_data][currency]"], "usd");
    assert_eq!(
        form["line_items[0][price_data][recurring][interval]"],
        "year"
    );
    assert_eq!(
        form["line_items[0][price_data][product_data][name]"],
        "TrueVault Pro"
    );
    assert_eq!(form["line_items[0][quantity]"], "1");
    assert_eq!(
        form["subscription_data[metadata][truevault_reference]"],
        "chk_01HZX3TESTREF"
    );
}

#[tokio::test]
async fn empty_email_is_left_out() {
    let (base, seen) = stand_in().await;
    StripeClient::new(&base, KEY)
        .create_checkout_session(&request(""))
        .await
        .unwrap();
    assert!(!seen.lock().unwrap().requests[0]
        .1
        .contains_key("customer_email"));
}

#[tokio::test]
async fn card_declined_is_a_clear_refusal() {
    let (base, _) = stand_in().await;
    let err = StripeClient::new(&base, KEY)
        .create_checkout_session(&request("decline@example.test"))
        .await
        .unwrap_err();
    match &err {
        PaymentError::Refused {
            provider,
            status,
            code,
            message,
        } => {
            assert_eq!((*provider, *status), ("stripe", 402));
            assert_eq!(code.as_deref(), Some("card_declined"));
            assert_eq!(message, "Your card was declined.");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "stripe refused the request (HTTP 402, card_declined): Your card was declined."
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn wrong_key_is_refused_and_never_echoed() {
    let (base, _) = stand_in().await;
    let wrong = "sk_test_51SomeOtherKeyThatMustNotLeak";
    let err = StripeClient::new(&base, wrong)
        .create_checkout_session(&request("alice@example.test"))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        matches!(err, PaymentError::Refused { status: 401, .. }),
        "{text}"
    );
    assert!(!text.contains(wrong), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    // Debug of the client hides the key too.
    let dbg = format!("{:?}", StripeClient::new(&base, wrong));
    assert!(!dbg.contains(wrong), "{dbg}");
}

#[tokio::test]
async fn server_error_without_json_is_retryable() {
    let (base, _) = stand_in().await;
    let err = StripeClient::new(&base, KEY)
        .create_checkout_session(&request("broken@example.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PaymentError::Refused { status: 500, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("upstream exploded"), "{err}");
}

#[tokio::test]
async fn session_without_url_is_a_bad_response() {
    let (base, _) = stand_in().await;
    let err = StripeClient::new(&base, KEY)
        .create_checkout_session(&request("no-url@example.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::BadResponse { .. }), "{err}");
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let (base, seen) = stand_in().await;
    let client = StripeClient::new(&base, KEY);
    let mut r = request("alice@example.test");
    r.amount_cents = 0;
    assert!(matches!(
        client.create_checkout_session(&r).await,
        Err(PaymentError::InvalidRequest(_))
    ));
    let mut r = request("alice@example.test");
    r.currency = "dollars".into();
    assert!(matches!(
        client.create_checkout_session(&r).await,
        Err(PaymentError::InvalidRequest(_))
    ));
    let mut r = request("alice@example.test");
    r.reference = String::new();
    assert!(matches!(
        client.create_checkout_session(&r).await,
        Err(PaymentError::InvalidRequest(_))
    ));
    assert!(seen.lock().unwrap().requests.is_empty());
}

#[tokio::test]
async fn unreachable_stripe_is_reported_as_such() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = StripeClient::new(&format!("http://127.0.0.1:{port}"), KEY)
        .create_checkout_session(&request("alice@example.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::Unreachable { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains(KEY));
}
