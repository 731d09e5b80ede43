//! The platform for businesses: tenants signing up, their isolated user
//! pools, credentials as headers and as HMAC signatures (fresh, once),
//! refresh-token rotation with reuse detection, the tenant's limits under
//! concurrent registrations, isolation generated over every platform route,
//! and the operator's suspension stopping the tenant's users' service.

use hmac::{Hmac, Mac};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use truevault::vpn::keys;

use crate::{
    helpers::{new_client, TestApp, PASSWORD},
    vpn::{node_config, server_with_node},
};

/// A tenant's credential.
#[derive(Clone)]
struct Cred {
    key_id: String,
    secret: String,
}

async fn business(app: &TestApp, email: &str) -> Client {
    let client = app.signed_in_user(email).await;
    sqlx::query(
        "UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = 'business') WHERE email = $1",
    )
    .bind(email)
    .execute(&app.state.db.pool)
    .await
    .expect("set plan");
    client
}

/// A business signed up from the developer section, with one credential.
async fn tenant(app: &TestApp, email: &str, name: &str) -> (Client, i64, Cred) {
    let owner = business(app, email).await;
    let res = app
        .post_form(
            &owner,
            "/api/developer/tenant_signup",
            &[("name", name), ("contact_email", email)],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let t: Value = res.json().await.unwrap();
    let cred = make_credential(app, &owner, "backend").await;
    (owner, t["id"].as_i64().unwrap(), cred)
}

async fn make_credential(app: &TestApp, owner: &Client, name: &str) -> Cred {
    let res = app
        .post_form(owner, "/api/developer/credential_create", &[("name", name)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let c: Value = res.json().await.unwrap();
    Cred {
        key_id: c["info"]["key_id"].as_str().unwrap().to_string(),
        secret: c["secret"].as_str().unwrap().to_string(),
    }
}

async fn answer(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A call with the credential as headers (and a user's access token).
async fn pcall(
    app: &TestApp,
    cred: Option<&Cred>,
    user: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = new_client().request(method, app.url(path));
    if let Some(c) = cred {
        req = req
            .header("X-TrueVault-Key", &c.key_id)
            .header("X-TrueVault-Secret", &c.secret);
    }
    if let Some(u) = user {
        req = req.header("X-TrueVault-User-Token", u);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    answer(req.send().await.expect("request")).await
}

/// The signature a client makes, as the document describes it.
fn sign(secret: &str, ts: &str, method: &str, path: &str, body: &[u8]) -> String {
    let key = hex::encode(Sha256::digest(secret.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(
        format!(
            "{ts}\n{method}\n{path}\n{}",
            hex::encode(Sha256::digest(body))
        )
        .as_bytes(),
    );
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn signed(
    app: &TestApp,
    cred: &Cred,
    ts: i64,
    method: Method,
    path: &str,
    body: &[u8],
    signature: Option<String>,
) -> (StatusCode, Value) {
    let ts = ts.to_string();
    let sig = signature.unwrap_or_else(|| sign(&cred.secret, &ts, method.as_str(), path, body));
    let res = new_client()
        .request(method, app.url(path))
        .header("X-TrueVault-Key", &cred.key_id)
        .header("X-TrueVault-Timestamp", &ts)
        .header("X-TrueVault-Signature", sig)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("request");
    answer(res).await
}

fn code(body: &Value) -> &str {
    let e = &body["error"];
    assert!(
        e["message"].is_string() && e.get("details").is_some() && e["request_id"].is_string(),
        "not the error shape: {body}"
    );
    e["code"].as_str().unwrap_or_default()
}

/// Registers a tenant user; (tenant user id, access token, refresh token).
async fn register(app: &TestApp, cred: &Cred, email: &str) -> (i64, String, String) {
    let (status, body) = pcall(
        app,
        Some(cred),
        None,
        Method::POST,
        "/api/v1/platform/users",
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["user_id"].as_i64().unwrap(),
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

fn now() -> i64 {
    truevault::db::now()
}

#[tokio::test]
async fn a_business_signs_up_and_its_users_are_its_own() {
    let app = TestApp::spawn().await;
    // The free plan hosts no tenants.
    let free = app.signed_in_user("free@example.com").await;
    let res = app
        .post_form(
            &free,
            "/api/developer/tenant_signup",
            &[("name", "Free Co"), ("contact_email", "free@example.com")],
        )
        .await;
    let (_, body) = answer(res).await;
    assert_eq!(body["code"], json!("TENANTS_NOT_IN_PLAN"));

    let (owner_a, tenant_a, cred_a) = tenant(&app, "a@example.com", "Acme").await;
    let (_, _, cred_b) = tenant(&app, "b@example.com", "Bravo").await;
    // One tenant per account; bad input names its field.
    let res = app
        .post_form(
            &owner_a,
            "/api/developer/tenant_signup",
            &[("name", "Again"), ("contact_email", "a@example.com")],
        )
        .await;
    assert_eq!(answer(res).await.1["code"], json!("TENANT_EXISTS"));
    let other = business(&app, "c@example.com").await;
    let res = app
        .post_form(
            &other,
            "/api/developer/tenant_signup",
            &[("name", ""), ("contact_email", "c@example.com")],
        )
        .await;
    let (status, body) = answer(res).await;
    assert_eq!(
        (status, body["code"].clone(), body["field"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("VALIDATION_FAILED"),
            json!("name")
        )
    );

    // The secret is shown once and stored only as its hash.
    assert!(cred_a.key_id.starts_with("tvtk_") && cred_a.secret.starts_with("tvts_"));
    let stored: String =
        sqlx::query_scalar("SELECT secret_hash FROM tenant_credentials WHERE key_id = $1")
            .bind(&cred_a.key_id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        truevault::accounts::tokens::hash_token(&cred_a.secret)
    );
    let res = app
        .post_form(&owner_a, "/api/developer/credentials", &[])
        .await;
    let text = res.text().await.unwrap();
    assert!(text.contains(&cred_a.key_id) && !text.contains(&cred_a.secret));

    // The same e-mail in two tenants is two unrelated users, and a third
    // person with that address as a consumer is a third.
    let consumer = app.signed_in_user("shared@example.com").await;
    let (ua, _, _) = register(&app, &cred_a, "shared@example.com").await;
    let (ub, _, _) = register(&app, &cred_b, "shared@example.com").await;
    let (status, body) = pcall(
        &app,
        Some(&cred_a),
        None,
        Method::POST,
        "/api/v1/platform/users",
        Some(json!({"email": "Shared@Example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "EMAIL_TAKEN"));
    let accounts: Vec<i64> =
        sqlx::query_scalar("SELECT user_id FROM tenant_users WHERE id IN ($1, $2)")
            .bind(ua)
            .bind(ub)
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(accounts.len(), 2);
    assert_ne!(accounts[0], accounts[1]);
    // Each tenant signs in its own user with the same password.
    for cred in [&cred_a, &cred_b] {
        let (status, body) = pcall(
            &app,
            Some(cred),
            None,
            Method::POST,
            "/api/v1/platform/sessions",
            Some(json!({"email": "shared@example.com", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["user_id"] == json!(ua) || body["user_id"] == json!(ub));
    }
    // The consumer is untouched and still signs in as themselves.
    assert_eq!(
        app.whoami(&consumer).await.as_deref(),
        Some("shared@example.com")
    );
    // Tenant users never appear among consumer accounts.
    let admin = app.signed_in_admin("admin@example.com").await;
    let res = app
        .post_form(&admin, "/api/admin/users", &[("q", "")])
        .await;
    let users: Value = res.json().await.unwrap();
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert!(
        !emails.iter().any(|e| e.ends_with("@tenants.invalid")),
        "{emails:?}"
    );
    assert_eq!(
        emails
            .iter()
            .filter(|e| **e == "shared@example.com")
            .count(),
        1
    );
    // A tenant user's address and password do not sign in as a consumer
    // (register a fresh address only a tenant has).
    register(&app, &cred_a, "only-tenant@example.com").await;
    let c = new_client();
    let res = app.login(&c, "only-tenant@example.com", PASSWORD).await;
    assert!(!crate::helpers::redirected(&res) || app.whoami(&c).await.is_none());
    assert_eq!(app.whoami(&c).await, None);

    // Branding: a published theme and an https logo.
    let res = app
        .post_form(
            &owner_a,
            "/api/developer/branding",
            &[
                ("brand_name", "Acme VPN"),
                ("logo_url", "javascript:alert(1)"),
                ("theme_id", ""),
            ],
        )
        .await;
    assert_eq!(answer(res).await.1["field"], json!("logo_url"));
    let res = app
        .post_form(
            &owner_a,
            "/api/developer/branding",
            &[
                ("brand_name", "Acme VPN"),
                ("logo_url", "https://acme.example/logo.png"),
                ("theme_id", "1"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let res = app.post_form(&owner_a, "/api/developer/tenant", &[]).await;
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["id"], json!(tenant_a));
    assert_eq!(t["branding"]["brand_name"], json!("Acme VPN"));
    assert_eq!(t["branding"]["theme_id"], json!(1));
    assert_eq!(t["usage"]["users"], json!(2));
    assert_eq!(t["limits"]["users"], json!(1000));
    // The developer section on the account page shows it, and the key id
    // but never the secret.
    let html = app.get_html(&owner_a, "/account").await;
    assert!(html.contains("data-testid=\"tenant\"") && html.contains("Acme"));
    assert!(html.contains(&cred_a.key_id) && !html.contains(&cred_a.secret));
    let html = app.get_html(&other, "/account").await;
    assert!(html.contains("data-testid=\"tenant-signup\""));
}

#[tokio::test]
async fn signatures_are_checked_fresh_and_once_and_secrets_stay_out_of_logs() {
    let logs = capture_logs();
    let app = TestApp::spawn().await;
    let (owner, _, cred) = tenant(&app, "a@example.com", "Acme").await;
    let path = "/api/v1/platform/users";
    let body = json!({"email": "u@example.com", "password": PASSWORD}).to_string();

    let (status, b) = signed(
        &app,
        &cred,
        now(),
        Method::POST,
        path,
        body.as_bytes(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let (status, b) = signed(
        &app,
        &cred,
        now(),
        Method::GET,
        "/api/v1/platform/users?limit=5",
        b"",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["items"].as_array().unwrap().len(), 1);

    // Wrong: another body under the signature, a signature by another
    // secret, garbage.
    let ts = now();
    let good = sign(&cred.secret, &ts.to_string(), "POST", path, body.as_bytes());
    let (status, b) = signed(
        &app,
        &cred,
        ts,
        Method::POST,
        path,
        b"{}",
        Some(good.clone()),
    )
    .await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "SIGNATURE_INVALID")
    );
    let other = format!("tvts_{}", "x".repeat(43));
    let forged = sign(
        &other,
        &ts.to_string(),
        "GET",
        "/api/v1/platform/usage",
        b"",
    );
    let (status, b) = signed(
        &app,
        &cred,
        ts,
        Method::GET,
        "/api/v1/platform/usage",
        b"",
        Some(forged),
    )
    .await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "SIGNATURE_INVALID")
    );
    let (status, b) = signed(
        &app,
        &cred,
        ts,
        Method::GET,
        "/api/v1/platform/usage",
        b"",
        Some("v1=zz".into()),
    )
    .await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "SIGNATURE_INVALID")
    );
    // Stale and early: more than five minutes either way.
    for skew in [-301, 301] {
        let (status, b) = signed(
            &app,
            &cred,
            now() + skew,
            Method::GET,
            "/api/v1/platform/usage",
            b"",
            None,
        )
        .await;
        assert_eq!(
            (status, code(&b)),
            (StatusCode::UNAUTHORIZED, "SIGNATURE_EXPIRED"),
            "{skew}"
        );
    }
    // Replayed: the same signed request twice.
    let ts = now() - 10;
    let sig = sign(
        &cred.secret,
        &ts.to_string(),
        "GET",
        "/api/v1/platform/usage",
        b"",
    );
    let (status, _) = signed(
        &app,
        &cred,
        ts,
        Method::GET,
        "/api/v1/platform/usage",
        b"",
        Some(sig.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, b) = signed(
        &app,
        &cred,
        ts,
        Method::GET,
        "/api/v1/platform/usage",
        b"",
        Some(sig),
    )
    .await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "SIGNATURE_REPLAYED")
    );

    // Headers: a wrong secret, no credential.
    let wrong = Cred {
        key_id: cred.key_id.clone(),
        secret: other.clone(),
    };
    for c in [Some(&wrong), None] {
        let (status, b) = pcall(&app, c, None, Method::GET, "/api/v1/platform/usage", None).await;
        assert_eq!(
            (status, code(&b)),
            (StatusCode::UNAUTHORIZED, "INVALID_TENANT_CREDENTIAL")
        );
    }
    // Calls are counted per credential and month: the four accepted ones
    // (two signed, the first of the replayed pair, this one), no refusal.
    let (status, usage) = pcall(
        &app,
        Some(&cred),
        None,
        Method::GET,
        "/api/v1/platform/usage",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usage["api_calls"], json!(4), "{usage}");
    let res = app
        .post_form(&owner, "/api/developer/credentials", &[])
        .await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list[0]["calls_this_month"], json!(4));
    assert!(list[0]["last_used_at"].is_i64());

    // Regenerate: the old pair stops at once, the new one works; revoke.
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let res = app
        .post_form(
            &owner,
            "/api/developer/credential_regenerate",
            &[("id", &id)],
        )
        .await;
    let fresh: Value = res.json().await.unwrap();
    let fresh = Cred {
        key_id: fresh["info"]["key_id"].as_str().unwrap().into(),
        secret: fresh["secret"].as_str().unwrap().into(),
    };
    let (status, b) = pcall(
        &app,
        Some(&cred),
        None,
        Method::GET,
        "/api/v1/platform/usage",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "INVALID_TENANT_CREDENTIAL")
    );
    let (status, _) = signed(
        &app,
        &fresh,
        now(),
        Method::GET,
        "/api/v1/platform/usage",
        b"",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .post_form(&owner, "/api/developer/credentials", &[])
        .await;
    let list: Value = res.json().await.unwrap();
    let fresh_id = list[0]["id"].as_i64().unwrap().to_string();
    app.post_form(
        &owner,
        "/api/developer/credential_revoke",
        &[("id", &fresh_id)],
    )
    .await;
    let (status, _) = pcall(
        &app,
        Some(&fresh),
        None,
        Method::GET,
        "/api/v1/platform/usage",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // No secret, signature or token reached the logs (everything, at
    // trace level, from this process).
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!text.is_empty(), "the log capture works");
    for secret in [&cred.secret, &fresh.secret, &other] {
        assert!(!text.contains(secret.as_str()), "a secret in the logs");
    }
}

/// Every log line of this process (nextest runs a process per test), at
/// trace level, into a buffer.
fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Default::default());
    let out = buf.0.clone();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || buf.clone())
        .try_init();
    out
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let app = TestApp::spawn().await;
    let (_, _, cred) = tenant(&app, "a@example.com", "Acme").await;
    let (_, access1, refresh1) = register(&app, &cred, "u@example.com").await;
    let me = "/api/v1/platform/me/devices";
    let (status, _) = pcall(&app, Some(&cred), Some(&access1), Method::GET, me, None).await;
    assert_eq!(status, StatusCode::OK);

    let rotate = |token: String| {
        let app = &app;
        let cred = &cred;
        async move {
            pcall(
                app,
                Some(cred),
                None,
                Method::POST,
                "/api/v1/platform/sessions/refresh",
                Some(json!({ "refresh_token": token })),
            )
            .await
        }
    };
    let (status, pair2) = rotate(refresh1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{pair2}");
    let access2 = pair2["access_token"].as_str().unwrap().to_string();
    let refresh2 = pair2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh1);
    let (status, pair3) = rotate(refresh2.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let access3 = pair3["access_token"].as_str().unwrap().to_string();
    let refresh3 = pair3["refresh_token"].as_str().unwrap().to_string();
    // Every access token of the family works until a reuse.
    for a in [&access1, &access2, &access3] {
        let (status, _) = pcall(&app, Some(&cred), Some(a), Method::GET, me, None).await;
        assert_eq!(status, StatusCode::OK);
    }
    // A second sign-in is another family, untouched by what follows.
    let (status, other) = pcall(
        &app,
        Some(&cred),
        None,
        Method::POST,
        "/api/v1/platform/sessions",
        Some(json!({"email": "u@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let other_access = other["access_token"].as_str().unwrap().to_string();

    // The spent refresh token again: the family is revoked, the live
    // refresh token and every access token of it stop.
    let (status, b) = rotate(refresh1.clone()).await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_REUSED")
    );
    let (status, b) = rotate(refresh3).await;
    assert_eq!(
        (status, code(&b)),
        (StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN")
    );
    for a in [&access1, &access2, &access3] {
        let (status, b) = pcall(&app, Some(&cred), Some(a), Method::GET, me, None).await;
        assert_eq!(
            (status, code(&b)),
            (StatusCode::UNAUTHORIZED, "INVALID_ACCESS_TOKEN")
        );
    }
    let (status, _) = pcall(
        &app,
        Some(&cred),
        Some(&other_access),
        Method::GET,
        me,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.refresh_reused'")
            .await,
        1
    );
    // A wrong password and an unknown address answer alike.
    for email in ["u@example.com", "nobody@example.com"] {
        let (status, b) = pcall(
            &app,
            Some(&cred),
            None,
            Method::POST,
            "/api/v1/platform/sessions",
            Some(json!({"email": email, "password": "not the password at all"})),
        )
        .await;
        assert_eq!(
            (status, code(&b)),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
    }
}

#[tokio::test]
async fn a_tenants_user_and_device_limits_hold_under_concurrent_registrations() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.79.0.0/16").await;
    let (_, _, cred) = tenant(&app, "a@example.com", "Acme").await;
    sqlx::query(
        "UPDATE plans SET tenant_max_users = 3, tenant_max_devices = 4 WHERE slug = 'business'",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let regs = (0..8).map(|i| {
        let app = &app;
        let cred = &cred;
        async move {
            pcall(
                app,
                Some(cred),
                None,
                Method::POST,
                "/api/v1/platform/users",
                Some(json!({"email": format!("u{i}@example.com"), "password": PASSWORD})),
            )
            .await
        }
    });
    let results = futures::future::join_all(regs).await;
    let mut tokens = Vec::new();
    for (status, body) in &results {
        if *status == StatusCode::CREATED {
            tokens.push(body["access_token"].as_str().unwrap().to_string());
        } else {
            assert_eq!(
                (*status, code(body)),
                (StatusCode::CONFLICT, "TENANT_USER_LIMIT")
            );
        }
    }
    assert_eq!(tokens.len(), 3, "exactly the plan's users");
    assert_eq!(app.count("SELECT COUNT(*) FROM tenant_users").await, 3);

    // Three users, three devices each, at once: four in all.
    let creates = tokens.iter().flat_map(|t| {
        (0..3).map(move |i| (t.clone(), i))
    }).map(|(t, i)| {
        let app = &app;
        let cred = &cred;
        async move {
            pcall(
                app,
                Some(cred),
                Some(&t),
                Method::POST,
                "/api/v1/platform/me/devices",
                Some(json!({"name": format!("d{i}"), "public_key": keys::generate_keypair().public})),
            )
            .await
        }
    });
    let results = futures::future::join_all(creates).await;
    let made = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    for (status, body) in &results {
        if *status != StatusCode::CREATED {
            assert_eq!(
                (*status, code(body)),
                (StatusCode::CONFLICT, "DEVICE_LIMIT_EXCEEDED"),
                "{body}"
            );
        }
    }
    assert_eq!(made, 4, "exactly the tenant's devices");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM devices d JOIN users u ON u.id = d.user_id WHERE u.tenant_id IS NOT NULL")
            .await,
        4
    );
}

#[tokio::test]
async fn no_platform_route_reaches_another_tenants_objects() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.79.0.0/16").await;
    let (_, _, cred_a) = tenant(&app, "a@example.com", "Acme").await;
    let (_, _, cred_b) = tenant(&app, "b@example.com", "Bravo").await;
    let (ua, token_a, _) = register(&app, &cred_a, "a-user@example.com").await;
    let (ub, token_b, _) = register(&app, &cred_b, "b-user@example.com").await;
    let b_key = keys::generate_keypair().public;
    let (status, made) = pcall(
        &app,
        Some(&cred_b),
        Some(&token_b),
        Method::POST,
        "/api/v1/platform/me/devices",
        Some(json!({"name": "b's", "public_key": b_key})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let b_device = made["device"]["id"].as_i64().unwrap();
    // B's object for each kind of id a platform path names.
    let object_of = |path: &str| -> i64 {
        if path.starts_with("/api/v1/platform/users/{id}") {
            ub
        } else if path.starts_with("/api/v1/platform/me/devices/{id}") {
            b_device
        } else {
            panic!("no object of tenant B for {path}: add one to this test")
        }
    };
    let doc = crate::helpers::openapi_document(&app).await;
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/platform/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let needs_user = op["security"].to_string().contains("tenant_user");
            // No credential: refused before anything.
            let url = path.replace("{id}", "1");
            let (status, body) = pcall(&app, None, None, method.clone(), &url, None).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNAUTHORIZED, "INVALID_TENANT_CREDENTIAL"),
                "{method} {path} without a credential"
            );
            if needs_user {
                // A's credential with B's user's token: not A's user.
                let (status, body) = pcall(
                    &app,
                    Some(&cred_a),
                    Some(&token_b),
                    method.clone(),
                    &url,
                    None,
                )
                .await;
                assert_eq!(
                    (status, code(&body)),
                    (StatusCode::UNAUTHORIZED, "INVALID_ACCESS_TOKEN"),
                    "{method} {path} with another tenant's user"
                );
            }
            if path.contains('{') {
                // A (and A's user) on B's object.
                let url = path.replace("{id}", &object_of(path).to_string());
                let body = (method == Method::POST)
                    .then(|| json!({"name": "x", "public_key": keys::generate_keypair().public}));
                let (status, body) = pcall(
                    &app,
                    Some(&cred_a),
                    Some(&token_a),
                    method.clone(),
                    &url,
                    body,
                )
                .await;
                assert_eq!(
                    (status, code(&body)),
                    (StatusCode::NOT_FOUND, "NOT_FOUND"),
                    "{method} {path} with A's credential on B's object"
                );
            } else if method == Method::GET {
                // A's lists hold nothing of B's.
                let (status, body) = pcall(
                    &app,
                    Some(&cred_a),
                    Some(&token_a),
                    method.clone(),
                    path,
                    None,
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{method} {path}");
                let text = body.to_string();
                assert!(
                    !text.contains("b-user@example.com") && !text.contains(&b_key),
                    "{path} shows B's: {text}"
                );
            }
            probed += 1;
        }
    }
    assert!(probed >= 12, "every platform operation probed ({probed})");
    // A's user list is A's only; B's device is as it was.
    let (_, users) = pcall(
        &app,
        Some(&cred_a),
        None,
        Method::GET,
        "/api/v1/platform/users",
        None,
    )
    .await;
    let ids: Vec<i64> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![ua]);
    let (status, list) = pcall(
        &app,
        Some(&cred_b),
        Some(&token_b),
        Method::GET,
        "/api/v1/platform/me/devices",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["public_key"], json!(b_key));

    // A tenant user's token reaches no consumer route or page.
    let res = new_client()
        .get(app.url("/api/v1/devices"))
        .bearer_auth(&token_b)
        .send()
        .await
        .unwrap();
    let (status, body) = answer(res).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_API_KEY")
    );
    // As a session cookie: the dashboard is the signed-out answer and the
    // account endpoint knows nobody.
    let res = new_client()
        .get(app.url("/dashboard"))
        .header("cookie", format!("tv_session={token_b}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = res.status();
    let html = res.text().await.unwrap();
    assert!(
        status.is_redirection() || !html.contains("b-user@example.com"),
        "a tenant token opened the dashboard"
    );
    let res = new_client()
        .post(app.url("/api/account/me"))
        .header("cookie", format!("tv_session={token_b}"))
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(res).await;
    assert!(body.get("email").is_none(), "{status} {body}");
}

#[tokio::test]
async fn the_operator_suspends_a_tenant_and_its_users_lose_service() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_token) = server_with_node(&app, &admin, "eu-1", "10.79.0.0/16").await;
    let (_, tenant_id, cred) = tenant(&app, "a@example.com", "Acme").await;
    let (_, token, _) = register(&app, &cred, "u@example.com").await;
    let key = keys::generate_keypair().public;
    let (status, _) = pcall(
        &app,
        Some(&cred),
        Some(&token),
        Method::POST,
        "/api/v1/platform/me/devices",
        Some(json!({"name": "phone", "public_key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let peers = || async {
        node_config(&app, &node_token, 0)
            .await
            .text()
            .await
            .unwrap()
    };
    assert!(peers().await.contains(&key), "the device is a peer");

    // The operator's list: usage, limits, status.
    let res = app.post_form(&admin, "/api/admin/tenants", &[]).await;
    let list: Value = res.json().await.unwrap();
    let t = &list.as_array().unwrap()[0];
    assert_eq!(t["id"], json!(tenant_id));
    assert_eq!(t["status"], json!("active"));
    assert_eq!(
        (t["usage"]["users"].clone(), t["usage"]["devices"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(t["limits"]["devices"], json!(3000));

    let html = app.get_html(&admin, "/admin/tenants").await;
    assert!(
        html.contains("data-testid=\"tenant-row\" data-status=\"active\"") && html.contains("Acme"),
        "the operator's page lists the tenant"
    );

    // Only an operator may suspend.
    let owner = app.signed_in_user("someone@example.com").await;
    let id = tenant_id.to_string();
    let res = app
        .post_form(
            &owner,
            "/api/admin/tenant_status",
            &[("id", &id), ("status", "suspended")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post_form(
            &admin,
            "/api/admin/tenant_status",
            &[("id", &id), ("status", "suspended")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // Its users' peers leave the node, its credentials are refused.
    assert!(
        !peers().await.contains(&key),
        "a suspended tenant's peer stays"
    );
    let (status, body) = pcall(
        &app,
        Some(&cred),
        None,
        Method::GET,
        "/api/v1/platform/usage",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "TENANT_SUSPENDED")
    );
    let user_id: i64 = sqlx::query_scalar("SELECT user_id FROM tenant_users")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        truevault::entitlements::service(&app.state.db.pool, user_id)
            .await
            .unwrap(),
        truevault::entitlements::Service::Off(truevault::accounts::model::ServiceOff::Suspended)
    );

    // Resumed: the same device is back.
    let res = app
        .post_form(
            &admin,
            "/api/admin/tenant_status",
            &[("id", &id), ("status", "active")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(peers().await.contains(&key));
    let (status, _) = pcall(
        &app,
        Some(&cred),
        None,
        Method::GET,
        "/api/v1/platform/usage",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The tenant's audit: its creation, credential, calls and both changes.
    let res = app
        .post_form(&admin, "/api/admin/tenant_audit", &[("id", &id)])
        .await;
    let audit: Value = res.json().await.unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "tenant.created",
        "tenant.credential_created",
        "tenant.user_registered",
        "tenant.call",
        "tenant.status",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| **a == "tenant.status").count(), 2);
    let text = audit.to_string();
    assert!(!text.contains(&cred.secret));

    // An operator can also create one, on a plan that hosts tenants.
    let res = app
        .post_form(
            &admin,
            "/api/admin/tenant_create",
            &[
                ("name", "Ops Made"),
                ("contact_email", "ops@example.com"),
                ("plan", "free"),
            ],
        )
        .await;
    assert_eq!(answer(res).await.1["code"], json!("TENANTS_NOT_IN_PLAN"));
    let res = app
        .post_form(
            &admin,
            "/api/admin/tenant_create",
            &[
                ("name", "Ops Made"),
                ("contact_email", "ops@example.com"),
                ("plan", "business"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}
