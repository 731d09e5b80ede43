//! The PayPal REST client against a loopback stand-in speaking PayPal's
//! shapes: OAuth2 client-credentials token, subscription creation, and
//! verify-webhook-signature. Never contacts PayPal.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use truevault_payments::paypal::{PayPalClient, PayPalHeaders};
use truevault_payments::{CheckoutRequest, Interval, PaymentError, WebhookError};

// Made-up credentials; the stand-in accepts only these.
const CLIENT_ID: &str = "AeTestClientId-TrueVault";
const SECRET: &str = "EFakeSecretForLoopback-TrueVault";
const BASIC: &str = "QWVUZXN0Q2xpZW50SWQtVHJ1ZVZhdWx0OkVGYWtlU2VjcmV0Rm9yTG9vcGJhY2stVHJ1ZVZhdWx0";
const WEBHOOK_ID: &str = "1JE4291016473214C";
const GOOD_SIG: &str = "bG9vcGJhY2stc2lnbmF0dXJlLWdvb2Q=";

#[derive(Default)]
struct Fx {
    tokens_issued: AtomicUsize,
    token_life: AtomicU64,
    /// When set, the next API call answers 401 (token revoked).
    revoke_once: AtomicBool,
    current_token: Mutex<String>,
    subscriptions: Mutex<Vec<(HeaderMap, Value)>>,
    /// Raw `webhook_event` texts the verify endpoint received.
    verified_events: Mutex<Vec<String>>,
}

type Shared = Arc<Fx>;

fn paypal_error(status: StatusCode, name: &str, message: &str, issue: Option<&str>) -> Response {
    let mut body = json!({"name": name, "message": message, "debug_id": "f00dfeed1234"});
    if let Some(issue) = issue {
        body["details"] = json!([{"issue": issue, "description": "see issue"}]);
    }
    (status, Json(body)).into_response()
}

async fn token(State(fx): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Basic {BASIC}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client Authentication failed"})),
        )
            .into_response();
    }
    if &body[..] != b"grant_type=client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})),
        )
            .into_response();
    }
    let n = fx.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let tok = format!("A21AAFakeAccessToken-{n}");
    *fx.current_token.lock().unwrap() = tok.clone();
    Json(json!({
        "scope": "https://uri.paypal.com/services/subscriptions",
        "access_token": tok,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": fx.token_life.load(Ordering::SeqCst),
        "nonce": "2025-01-01T00:00:00ZfakeNonce",
    }))
    .into_response()
}

/// Bearer check shared by the API routes.
fn bearer_ok(fx: &Fx, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", fx.current_token.lock().unwrap());
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&expected);
    ok && !fx.revoke_once.swap(false, Ordering::SeqCst)
}

fn unauthorized() -> Response {
    paypal_error(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
        None,
    )
}

async fn create_subscription(
    State(fx): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !bearer_ok(&fx, &headers) {
        return unauthorized();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST",
            "bad JSON",
            None,
        );
    };
    fx.subscriptions.lock().unwrap().push((headers, v.clone()));
    let plan = v["plan_id"].as_str().unwrap_or("");
    if plan != "P-TESTPLAN0000000001" {
        return paypal_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed business validation.",
            Some("RESOURCE_NOT_FOUND"),
        );
    }
    if v["custom_id"].as_str().is_none() {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "custom_id missing",
            None,
        );
    }
    let id = "I-TESTSUB0000001";
    (
        StatusCode::CREATED,
        Json(json!({
            "status": "APPROVAL_PENDING",
            "id": id,
            "create_time": "2025-01-01T00:00:00Z",
            "links": [
                {"href": format!("https://www.example.test/webapps/billing/subscriptions?ba_token=BA-TEST{id}"), "rel": "approve", "method": "GET"},
                {"href": format!("https://api.example.test/v1/billing/subscriptions/{id}"), "rel": "edit", "method": "PATCH"},
                {"href": format!("https://api.example.test/v1/billing/subscriptions/{id}"), "rel": "self", "method": "GET"}
            ]
        })),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct VerifyIn<'a> {
    auth_algo: String,
    cert_url: String,
    transmission_id: String,
    transmission_sig: String,
    transmission_time: String,
    webhook_id: String,
    #[serde(borrow)]
    webhook_event: &'a serde_json::value::RawValue,
}

async fn verify(State(fx): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !bearer_ok(&fx, &headers) {
        return unauthorized();
    }
    let v: VerifyIn<'_> = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return paypal_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                &e.to_string(),
                None,
            )
        }
    };
    fx.verified_events
        .lock()
        .unwrap()
        .push(v.webhook_event.get().to_string());
    if v.webhook_id != WEBHOOK_ID {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_RESOURCE_ID",
            "Webhook ID not found",
            None,
        );
    }
    let all_there = v.auth_algo == "SHA256withRSA"
        && v.cert_url.starts_with("https://api.sandbox.paypal.com/")
        && !v.transmission_id.is_empty()
        && !v.transmission_time.is_empty();
    let status = if all_there && v.transmission_sig == GOOD_SIG {
        "SUCCESS"
    } else {
        "FAILURE"
    };
    Json(json!({ "verification_status": status })).into_response()
}

async fn stand_in(token_life: u64) -> (String, Shared) {
    let fx: Shared = Arc::default();
    fx.token_life.store(token_life, Ordering::SeqCst);
    let app = Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v1/billing/subscriptions", post(create_subscription))
        .route("/v1/notifications/verify-webhook-signature", post(verify))
        .with_state(fx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), fx)
}

fn request(plan: Option<&str>) -> CheckoutRequest {
    CheckoutRequest {
        reference: "chk_01HZX3PAYPALREF".into(),
        plan_name: "TrueVault Pro".into(),
        amount_cents: 999,
        currency: "USD".into(),
        interval: Interval::Month,
        customer_email: "bob@example.test".into(),
        success_url: "https://portal.example.test/billing/success".into(),
        cancel_url: "https://portal.example.test/billing/cancel".into(),
        provider_plan_id: plan.map(str::to_string),
    }
}

fn headers(sig: &str) -> PayPalHeaders {
    PayPalHeaders {
        transmission_id: "69cd13f0-d67a-11e5-baa3-778b53f4ae55".into(),
        transmission_time: "2025-01-01T00:05:01Z".into(),
        transmission_sig: sig.into(),
        cert_url:
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
                .into(),
        auth_algo: "SHA256withRSA".into(),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn creates_a_subscription_and_returns_the_approve_link() {
    let (base, fx) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    let s = client
        .create_subscription(&request(Some("P-TESTPLAN0000000001")))
        .await
        .unwrap();
    assert_eq!(s.id, "I-TESTSUB0000001");
    assert_eq!(
        s.url,
        "https://www.example.test/webapps/billing/subscriptions?ba_token=BA-TESTI-TESTSUB0000001"
    );
    let subs = fx.subscriptions.lock().unwrap();
    let (h, body) = &subs[0];
    assert_eq!(h["paypal-request-id"], "chk_01HZX3PAYPALREF");
    assert_eq!(body["plan_id"], "P-TESTPLAN0000000001");
    assert_eq!(body["custom_id"], "chk_01HZX3PAYPALREF");
    assert_eq!(body["subscriber"]["email_address"], "bob@example.test");
    assert_eq!(
        body["application_context"]["return_url"],
        "https://portal.example.test/billing/success"
    );
    assert_eq!(
        body["application_context"]["cancel_url"],
        "https://portal.example.test/billing/cancel"
    );
}

#[tokio::test]
async fn token_is_cached_until_expiry() {
    let (base, fx) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    for _ in 0..3 {
        client
            .create_subscription(&request(Some("P-TESTPLAN0000000001")))
            .await
            .unwrap();
    }
    client
        .verify_webhook(
            WEBHOOK_ID,
            &headers(GOOD_SIG),
            &fixture("paypal_sale_completed.json"),
        )
        .await
        .unwrap();
    assert_eq!(fx.tokens_issued.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn short_lived_token_is_renewed() {
    // expires_in below the renewal margin: every call needs a new token.
    let (base, fx) = stand_in(30).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    for _ in 0..2 {
        client
            .create_subscription(&request(Some("P-TESTPLAN0000000001")))
            .await
            .unwrap();
    }
    assert_eq!(fx.tokens_issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn revoked_token_is_replaced_once() {
    let (base, fx) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    client
        .create_subscription(&request(Some("P-TESTPLAN0000000001")))
        .await
        .unwrap();
    fx.revoke_once.store(true, Ordering::SeqCst);
    client
        .create_subscription(&request(Some("P-TESTPLAN0000000001")))
        .await
        .unwrap();
    assert_eq!(fx.tokens_issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bad_credentials_are_refused_without_leaking_the_secret() {
    let (base, _) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, "wrong-secret-value");
    let err = client
        .create_subscription(&request(Some("P-TESTPLAN0000000001")))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?} {client:?}");
    assert!(
        matches!(err, PaymentError::Refused { status: 401, .. }),
        "{text}"
    );
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
}

#[tokio::test]
async fn unknown_plan_is_a_clear_refusal() {
    let (base, _) = stand_in(32400).await;
    let err = PayPalClient::new(&base, CLIENT_ID, SECRET)
        .create_subscription(&request(Some("P-NOSUCHPLAN")))
        .await
        .unwrap_err();
    match &err {
        PaymentError::Refused {
            provider: "paypal",
            status: 422,
            code,
            message,
        } => {
            assert_eq!(code.as_deref(), Some("UNPROCESSABLE_ENTITY"));
            assert!(message.contains("RESOURCE_NOT_FOUND"), "{message}");
            assert!(message.contains("f00dfeed1234"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn missing_plan_id_is_refused_before_sending() {
    let (base, fx) = stand_in(32400).await;
    let err = PayPalClient::new(&base, CLIENT_ID, SECRET)
        .create_subscription(&request(None))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::InvalidRequest(_)), "{err}");
    assert_eq!(fx.tokens_issued.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn verify_success_passes_the_event_byte_for_byte() {
    let (base, fx) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    // Pretty-printed fixture with spaces and newlines: must arrive as is.
    let body = fixture("paypal_subscription_activated.json");
    client
        .verify_webhook(WEBHOOK_ID, &headers(GOOD_SIG), &body)
        .await
        .unwrap();
    let seen = fx.verified_events.lock().unwrap();
    assert_eq!(
        seen[0].as_bytes(),
        std::str::from_utf8(&body).unwrap().trim().as_bytes()
    );
}

#[tokio::test]
async fn verify_failure_is_refused() {
    let (base, _) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    let err = client
        .verify_webhook(
            WEBHOOK_ID,
            &headers("Zm9yZ2VkLXNpZ25hdHVyZQ=="),
            &fixture("paypal_sale_completed.json"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WebhookError::VerificationRefused(s) if s == "FAILURE"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    // Errors never echo the transmitted signature.
    assert!(!format!("{err} {err:?}").contains("Zm9yZ2VkLXNpZ25hdHVyZQ"));
}

#[tokio::test]
async fn verify_with_unknown_webhook_id_is_refused() {
    let (base, _) = stand_in(32400).await;
    let err = PayPalClient::new(&base, CLIENT_ID, SECRET)
        .verify_webhook(
            "WRONG",
            &headers(GOOD_SIG),
            &fixture("paypal_sale_completed.json"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            WebhookError::Provider(PaymentError::Refused { status: 400, .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn untrusted_cert_url_is_refused_before_any_call() {
    let (base, fx) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    for url in [
        "https://evil.example/cert.pem",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://paypal.com.evil.example/cert",
        "https://api.paypal.com@evil.example/cert",
        "https://evilpaypal.com/cert",
        "not a url",
    ] {
        let mut h = headers(GOOD_SIG);
        h.cert_url = url.into();
        let err = client
            .verify_webhook(WEBHOOK_ID, &h, &fixture("paypal_sale_completed.json"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::UntrustedCertUrl),
            "{url}: {err:?}"
        );
    }
    assert_eq!(fx.tokens_issued.load(Ordering::SeqCst), 0);
    assert!(truevault_payments::paypal::is_trusted_cert_url(
        "https://api.paypal.com/v1/notifications/certs/CERT-1"
    ));
}

#[tokio::test]
async fn verify_refuses_bad_bodies_before_any_call() {
    let (base, fx) = stand_in(32400).await;
    let client = PayPalClient::new(&base, CLIENT_ID, SECRET);
    for (body, want) in [
        (&b""[..], "empty"),
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
    ] {
        let err = client
            .verify_webhook(WEBHOOK_ID, &headers(GOOD_SIG), body)
            .await
            .unwrap_err();
        match (want, &err) {
            ("empty", WebhookError::EmptyBody) | ("malformed", WebhookError::MalformedBody(_)) => {}
            _ => panic!("{want}: {err:?}"),
        }
    }
    assert_eq!(fx.tokens_issued.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn unreachable_paypal_is_retryable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = PayPalClient::new(&format!("http://127.0.0.1:{port}"), CLIENT_ID, SECRET)
        .verify_webhook(
            WEBHOOK_ID,
            &headers(GOOD_SIG),
            &fixture("paypal_sale_completed.json"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            WebhookError::Provider(PaymentError::Unreachable { .. })
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[test]
fn headers_from_pairs() {
    let pairs = vec![
        ("content-type", "application/json".as_bytes()),
        (
            "paypal-transmission-id",
            "69cd13f0-d67a-11e5-baa3-778b53f4ae55".as_bytes(),
        ),
        (
            "PAYPAL-TRANSMISSION-TIME",
            "2025-01-01T00:05:01Z".as_bytes(),
        ),
        ("Paypal-Transmission-Sig", GOOD_SIG.as_bytes()),
        (
            "paypal-cert-url",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
                .as_bytes(),
        ),
        ("paypal-auth-algo", "SHA256withRSA".as_bytes()),
    ];
    assert_eq!(
        PayPalHeaders::from_pairs(pairs.clone()).unwrap(),
        headers(GOOD_SIG)
    );

    // Works with http::HeaderMap as the portal has it.
    let mut map = HeaderMap::new();
    for (k, v) in &pairs {
        map.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_bytes(v).unwrap(),
        );
    }
    assert_eq!(
        PayPalHeaders::from_pairs(map.iter()).unwrap(),
        headers(GOOD_SIG)
    );

    let missing: Vec<_> = pairs
        .iter()
        .filter(|(k, _)| *k != "paypal-auth-algo")
        .cloned()
        .collect();
    assert!(matches!(
        PayPalHeaders::from_pairs(missing),
        Err(WebhookError::MissingHeader("PAYPAL-AUTH-ALGO"))
    ));
    let mut non_utf8 = pairs.clone();
    non_utf8[1].1 = b"\xff";
    assert!(matches!(
        PayPalHeaders::from_pairs(non_utf8),
        Err(WebhookError::MalformedHeader { .. })
    ));
}
