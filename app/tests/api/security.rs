//! CSRF, body limits, headers, health and metrics.

use reqwest::{header, StatusCode};

use crate::helpers::{new_client, redirected, TestApp, PASSWORD};

#[tokio::test]
async fn state_changing_requests_need_our_origin() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let form = [
        ("email", "mallory@example.com"),
        ("password", PASSWORD),
        ("first_name", ""),
    ];
    let foreign = client
        .post(app.url("/api/auth/register"))
        .header(header::ORIGIN, "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(foreign
        .text()
        .await
        .unwrap()
        .contains("Cross-site request refused"));
    let missing = client
        .post(app.url("/api/auth/register"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let cross_site = client
        .post(app.url("/api/auth/register"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    // Same-origin fetch metadata without Origin is accepted.
    let ok = client
        .post(app.url("/api/auth/register"))
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused() {
    let app = TestApp::spawn().await;
    let big = "a".repeat(10 * 1024 * 1024);
    let res = new_client()
        .post(app.url("/api/auth/register"))
        .header(header::ORIGIN, &app.address)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "email=big%40example.com&password={big}&first_name="
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_nonce() {
    let app = TestApp::spawn().await;
    let res = app.get(&new_client(), "/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let csp = h
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self' 'nonce-") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert!(h.get("referrer-policy").is_some());
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "inline scripts carry this response's nonce"
    );
    // Each response gets a fresh nonce.
    let again = app.get(&new_client(), "/").await;
    assert!(!again
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains(&nonce));
}

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::spawn().await;
    let res = app.get(&new_client(), "/health").await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["database"], "ok");
    app.get(&new_client(), "/pricing").await;
    let text = app
        .get(&new_client(), "/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "truevault_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("truevault_http_request_duration_seconds_bucket"));
    assert!(text.contains("truevault_database_up 1"));
}

#[tokio::test]
async fn pricing_lists_plans_from_the_database() {
    let app = TestApp::spawn().await;
    let html = app.get_html(&new_client(), "/pricing").await;
    for needle in [
        "Free",
        "Personal",
        "$9.99",
        "Family",
        "$14.99",
        "Business",
        "$29.99",
        "$99.90 / year",
    ] {
        assert!(html.contains(needle), "pricing shows {needle}");
    }
    sqlx::query("UPDATE plans SET price_monthly_cents = 1234 WHERE slug = 'personal'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert!(app
        .get_html(&new_client(), "/pricing")
        .await
        .contains("$12.34"));
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let res = app.get(&new_client(), "/dashboard").await;
    assert!(redirected(&res), "{}", res.status());
    assert_eq!(res.headers().get("location").unwrap(), "/login");
    let res = app.get(&new_client(), "/no-such-page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_javascript_a_form_error_is_shown_on_the_form_page() {
    let app = TestApp::spawn().await;
    let _ = app.signed_in_user("nojs@example.com").await;
    let client = new_client();
    let post = |password: &'static str| {
        client
            .post(app.url("/api/auth/login"))
            .header(header::ORIGIN, &app.address)
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, app.url("/login"))
            .form(&[("email", "nojs@example.com"), ("password", password)])
            .send()
    };
    let res = post("wrong password!!").await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let path = location
        .strip_prefix(&app.address)
        .expect("back to our own page");
    assert!(
        path.starts_with("/login?__path=%2Fapi%2Fauth%2Flogin&__err="),
        "{location}"
    );
    let html = app.get_html(&client, path).await;
    assert!(
        html.contains(r#"data-code="INVALID_CREDENTIALS""#),
        "the error is rendered by the server"
    );
    // Success still goes where the server function sends it.
    let res = post(PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers().get("location").unwrap(), "/dashboard");
}
