//! CSRF, body limits, headers, health and metrics.

use reqwest::{header, StatusCode};

use std::time::Duration;

use crate::helpers::{new_client, raw_http, redirected, TestApp, PASSWORD};

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

#[tokio::test]
async fn https_installs_send_hsts_and_plain_ones_do_not() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://vpn.example.com".into()).await;
    for path in ["/", "/health", "/api/v1/nothing"] {
        let res = new_client().get(app.url(path)).send().await.unwrap();
        let hsts = res
            .headers()
            .get("strict-transport-security")
            .unwrap_or_else(|| panic!("{path}: HSTS"));
        assert!(hsts.to_str().unwrap().contains("max-age="), "{path}");
    }
    let plain = TestApp::spawn().await;
    let res = new_client().get(plain.url("/")).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_is_a_413() {
    let app = TestApp::spawn().await;
    let host = app.address.trim_start_matches("http://");
    let chunk = vec![b'a'; 64 * 1024];
    let mut body = Vec::new();
    for _ in 0..20 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /api/auth/register HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.origin
    );
    let answer = raw_http(&app.address, &head, &body, true, Duration::from_secs(30))
        .await
        .expect("an answer");
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // A small chunked form still works.
    let form = b"email=chunk%40example.com&password=correct+horse+battery+staple&first_name=";
    let small = format!(
        "{:x}\r\n{}\r\n0\r\n\r\n",
        form.len(),
        String::from_utf8_lossy(form)
    );
    let answer = raw_http(
        &app.address,
        &head,
        small.as_bytes(),
        true,
        Duration::from_secs(30),
    )
    .await
    .expect("an answer");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

/// Asserts the four-key JSON error shape and returns the code.
async fn api_error(res: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status, "{}", res.url());
    assert!(res.headers().get("content-security-policy").is_some());
    let v: serde_json::Value = res.json().await.expect("JSON error body");
    let e = v["error"].as_object().expect("error object");
    for key in ["code", "message", "details", "request_id"] {
        assert!(e.contains_key(key), "{key} in {v}");
    }
    e["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn every_api_failure_has_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let res = client
        .get(app.url("/api/v1/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(res, StatusCode::NOT_FOUND).await, "NOT_FOUND");
    let res = client
        .delete(app.url("/api/v1/billing/webhooks/stripe"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(res, StatusCode::METHOD_NOT_ALLOWED).await,
        "METHOD_NOT_ALLOWED"
    );
    // Stripe is not configured here.
    let res = client
        .post(app.url("/api/v1/billing/webhooks/stripe"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(res, StatusCode::NOT_FOUND).await, "NOT_FOUND");
    let res = client
        .post(app.url("/api/v1/inventory/sync"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(res, StatusCode::UNAUTHORIZED).await,
        "INVALID_TOKEN"
    );
}

#[tokio::test]
async fn an_oversized_webhook_is_a_json_413() {
    let app = TestApp::spawn_with(|c| {
        c.billing.stripe_secret_key = Some(truevault::secrets::SecretString::new("sk_test_x"));
        c.billing.stripe_webhook_secret =
            Some(truevault::secrets::SecretString::new("whsec_test_x"));
    })
    .await;
    let res = new_client()
        .post(app.url("/api/v1/billing/webhooks/stripe"))
        .body("a".repeat(512 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(res, StatusCode::PAYLOAD_TOO_LARGE).await,
        "PAYLOAD_TOO_LARGE"
    );
}

#[tokio::test]
async fn agent_routes_check_the_token_before_reading_the_body() {
    let app = TestApp::spawn().await;
    let host = app.address.trim_start_matches("http://");
    for path in ["/api/v1/inventory/sync", "/api/v1/nodes/self/stats"] {
        // A body announced as 8 MB of which one byte ever arrives: only a
        // server that answers before reading it can answer at all.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 8000000\r\n\r\n",
            "x".repeat(43)
        );
        let answer = raw_http(&app.address, &head, b"{", true, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{path}: no answer while the body is pending"));
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
}

#[tokio::test]
async fn a_new_sqlite_file_named_by_the_user_is_created() {
    let dir = std::env::temp_dir().join(format!("tv-sqlite-{}", crate::helpers::random_suffix()));
    let file = dir.join("nested").join("fresh.db");
    let db = truevault::db::Db::connect(&format!("sqlite://{}", file.display()), 1)
        .await
        .expect("a new file is created, as with the default URL");
    db.migrate().await.expect("migrate");
    assert!(file.exists());
    db.pool.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_origin_check_trusts_public_url_and_the_allow_list_not_the_host() {
    let app =
        TestApp::spawn_with(|c| c.allowed_origins = vec!["https://other-name.example.com".into()])
            .await;
    let form = "email=m%40example.com&password=correct+horse+battery+staple&first_name=";
    let send = |host: &str, origin: &str| {
        format!(
            "POST /api/auth/register HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )
    };
    // An attacker's page whose Host header (DNS rebinding, a proxy) matches its Origin.
    let answer = raw_http(
        &app.address,
        &send("evil.example", "http://evil.example"),
        b"",
        true,
        Duration::from_secs(10),
    )
    .await
    .expect("answer");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    let answer = raw_http(
        &app.address,
        &send("other-name.example.com", "https://other-name.example.com"),
        b"",
        true,
        Duration::from_secs(10),
    )
    .await
    .expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "allow-listed: {answer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| {
        c.http.header_read_timeout_ms = 300;
        c.http.request_timeout_ms = 500;
        c.http.max_connections = 3;
    })
    .await;
    let host = app.address.trim_start_matches("http://").to_string();

    // Half a request head, then nothing: the server closes the socket.
    let mut slow = tokio::net::TcpStream::connect(&host).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow request head is not held open");

    // A body that never completes: a 503 once the request timeout passes.
    let head = format!(
        "POST /api/auth/register HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
        app.origin
    );
    let answer = raw_http(&app.address, &head, b"email=", true, Duration::from_secs(5))
        .await
        .expect("answered while the body is pending");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");

    // Three connections held (idle keep-alives, within the header timeout):
    // a fourth waits until one goes away.
    let app = TestApp::spawn_with(|c| {
        c.http.header_read_timeout_ms = 60_000;
        c.http.max_connections = 3;
    })
    .await;
    let host = app.address.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
        // A complete request keeps each one open as an idle keep-alive.
        s.write_all(format!("GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let _ = s.read(&mut buf).await.unwrap();
        held.push(s);
    }
    // The loop stops accepting once three are open: it says so, and while
    // it waits the fourth (connected, in the kernel's backlog) is not served.
    let conns = app.state.connections.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !conns.at_cap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the accept loop reaches its cap"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fourth = tokio::spawn({
        let url = app.url("/health");
        async move { new_client().get(url).send().await.map(|r| r.status()) }
    });
    assert_eq!(conns.open(), 3);
    held.clear();
    let status = tokio::time::timeout(Duration::from_secs(10), fourth)
        .await
        .expect("answered once a slot is free")
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(conns.peak(), 3, "never more than the cap at once");
}

#[tokio::test]
async fn metrics_are_for_loopback_or_the_token_and_invented_methods_are_one_label() {
    let app = TestApp::spawn().await;
    let client = new_client();
    for i in 0..20 {
        let m = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let _ = client.request(m, app.url("/health")).send().await.unwrap();
    }
    let text = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("INVENTED"), "{text}");
    assert!(text.contains("method=\"OTHER\""), "{text}");
    let proxied = client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxied.status(),
        StatusCode::NOT_FOUND,
        "a proxy on loopback relaying the internet is not a local reader"
    );

    let app = TestApp::spawn_with(|c| {
        c.metrics.token = Some(truevault::secrets::SecretString::new(
            "metrics-reader-secret",
        ))
    })
    .await;
    let res = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "the token is required");
    let res = client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-reader-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
