//! The public API (`/api/v1` with a customer's key): keys and the plan,
//! refusals with their codes, devices through the pages' services,
//! idempotency, rate limits, isolation over the whole route table, and the
//! OpenAPI document against the router.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use truevault::vpn::keys;

use crate::{
    helpers::{new_client, TestApp},
    vpn::server_with_node,
};

async fn on_plan(app: &TestApp, email: &str, plan: &str) -> Client {
    let client = app.signed_in_user(email).await;
    sqlx::query(
        "UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = $1) WHERE email = $2",
    )
    .bind(plan)
    .bind(email)
    .execute(&app.state.db.pool)
    .await
    .expect("set plan");
    client
}

/// Makes a key on the account page; the created key (or the refusal).
async fn make_key(
    app: &TestApp,
    client: &Client,
    name: &str,
    scopes: &[&str],
    expires_days: &str,
) -> Result<(i64, String), String> {
    let mut form = vec![("name", name), ("expires_days", expires_days)];
    for s in scopes {
        form.push((
            match *s {
                "read" => "read",
                "devices:write" => "devices_write",
                "cameras:read" => "cameras_read",
                other => other,
            },
            "on",
        ));
    }
    let res = app.post_form(client, "/api/api_keys/create", &form).await;
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    if status != StatusCode::OK {
        return Err(body["code"].as_str().unwrap_or_default().to_string());
    }
    Ok((
        body["info"]["id"].as_i64().expect("id"),
        body["key"].as_str().expect("key").to_string(),
    ))
}

async fn call(
    app: &TestApp,
    key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = new_client().request(method, app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value, headers)
}

/// The error body's code, after checking the body has all four keys.
fn code(body: &Value) -> &str {
    let e = &body["error"];
    assert!(
        e["message"].is_string() && e.get("details").is_some() && e["request_id"].is_string(),
        "not the error shape: {body}"
    );
    assert!(!e["request_id"].as_str().unwrap_or_default().is_empty());
    e["code"].as_str().unwrap_or_default()
}

/// Devices made as devices (sign-up also reserves a regional identity row).
const DEVICES: &str = "SELECT COUNT(*) FROM devices WHERE identity_region IS NULL";

const ALL: &[&str] = &["read", "devices:write", "cameras:read"];

#[tokio::test]
async fn keys_follow_the_plan_are_shown_once_and_stored_hashed() {
    let app = TestApp::spawn().await;
    let free = app.signed_in_user("free@example.com").await;
    assert_eq!(
        make_key(&app, &free, "k", &["read"], "").await,
        Err("SCOPE_NOT_IN_PLAN".into())
    );
    // Personal: the command-line client's scopes, not the camera scope.
    let personal = on_plan(&app, "p@example.com", "personal").await;
    make_key(&app, &personal, "cli", &["read", "devices:write"], "")
        .await
        .expect("client scopes on a paid plan");
    assert_eq!(
        make_key(&app, &personal, "cams", &["cameras:read"], "").await,
        Err("SCOPE_NOT_IN_PLAN".into())
    );
    // Business: every scope. Bad input names its field.
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (id, key) = make_key(&app, &biz, "ci", ALL, "30").await.expect("key");
    assert!(key.starts_with("tvk_") && key.len() == 47, "{key}");
    assert_eq!(
        make_key(&app, &biz, "", ALL, "").await,
        Err("VALIDATION_FAILED".into())
    );
    assert_eq!(
        make_key(&app, &biz, "x", &[], "").await,
        Err("VALIDATION_FAILED".into())
    );
    assert_eq!(
        make_key(&app, &biz, "x", &["read"], "0").await,
        Err("VALIDATION_FAILED".into())
    );

    // Stored as its hash only; the list shows a prefix, never the key.
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, truevault::accounts::tokens::hash_token(&key));
    let res = app.post_form(&biz, "/api/api_keys/list", &[]).await;
    let text = res.text().await.unwrap();
    assert!(!text.contains(&key), "the list must not hold the key");
    let list: Value = serde_json::from_str(&text).unwrap();
    let row = &list[0][0];
    assert_eq!(row["prefix"], json!(&key[..12]));
    assert_eq!(row["scopes"], json!(ALL));
    assert!(row["last_used_at"].is_null());
    assert!(row["expires_at"].as_i64().unwrap() > row["created_at"].as_i64().unwrap());

    // A use sets last used; creation and revocation are audited.
    let (status, _, _) = call(&app, Some(&key), Method::GET, "/api/v1/devices", None).await;
    assert_eq!(status, StatusCode::OK);
    let used: Option<i64> = sqlx::query_scalar("SELECT last_used_at FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert!(used.is_some());
    app.post_form(&biz, "/api/api_keys/revoke", &[("id", &id.to_string())])
        .await;
    for action in ["api_key.created", "api_key.revoked"] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await;
        assert!(n >= 1, "{action} audited");
    }
    // The account page lists it, links the documentation.
    let html = app.get_html(&biz, "/account").await;
    assert!(
        html.contains("href=\"/api/docs\""),
        "account links the docs"
    );
}

#[tokio::test]
async fn refused_keys_say_why() {
    let app = TestApp::spawn().await;
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (status, body, _) = call(&app, None, Method::GET, "/api/v1/devices", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_API_KEY")
    );
    let fake = format!("tvk_{}", "A".repeat(43));
    let (status, body, _) = call(&app, Some(&fake), Method::GET, "/api/v1/devices", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_API_KEY")
    );

    // Revoked: the very next request is refused (the row is read per request).
    let (id, key) = make_key(&app, &biz, "gone", ALL, "").await.unwrap();
    let (status, _, _) = call(&app, Some(&key), Method::GET, "/api/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    app.post_form(&biz, "/api/api_keys/revoke", &[("id", &id.to_string())])
        .await;
    let (status, body, _) = call(&app, Some(&key), Method::GET, "/api/v1/servers", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "API_KEY_REVOKED")
    );

    // Expired.
    let (id, key) = make_key(&app, &biz, "old", ALL, "1").await.unwrap();
    sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE id = $2")
        .bind(truevault::db::now() - 1)
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (status, body, _) = call(&app, Some(&key), Method::GET, "/api/v1/servers", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "API_KEY_EXPIRED")
    );

    // Without the scope: a read key may not write or see cameras.
    let (_, reader) = make_key(&app, &biz, "reader", &["read"], "").await.unwrap();
    let body = json!({"name": "x", "public_key": keys::generate_keypair().public});
    let (status, res, _) = call(
        &app,
        Some(&reader),
        Method::POST,
        "/api/v1/devices",
        Some(body),
    )
    .await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE")
    );
    let (status, res, _) = call(&app, Some(&reader), Method::GET, "/api/v1/cameras", None).await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM devices").await, 0);

    // A suspended account's keys stop at once.
    let (_, key) = make_key(&app, &biz, "live", ALL, "").await.unwrap();
    sqlx::query("UPDATE users SET status = 'suspended' WHERE email = 'b@example.com'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (status, body, _) = call(&app, Some(&key), Method::GET, "/api/v1/servers", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "ACCOUNT_SUSPENDED")
    );
}

#[tokio::test]
async fn devices_through_the_api_follow_the_pages_rules() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (server_id, _) = server_with_node(&app, &admin, "eu-1", "10.77.0.0/16").await;
    let personal = on_plan(&app, "p@example.com", "personal").await;
    let (_, key) = make_key(&app, &personal, "cli", &["read", "devices:write"], "")
        .await
        .unwrap();
    let k = Some(key.as_str());

    let (status, servers, _) = call(&app, k, Method::GET, "/api/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(servers["items"][0]["id"], json!(server_id));
    assert!(servers["next_cursor"].is_null());

    let pair = keys::generate_keypair();
    let (status, made, _) = call(
        &app,
        k,
        Method::POST,
        "/api/v1/devices",
        Some(json!({"name": "laptop", "public_key": pair.public, "tunnel": "split"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["device"]["id"].as_i64().unwrap();
    assert_eq!(made["device"]["public_key"], json!(pair.public));
    assert_eq!(made["device"]["tunnel"], json!("split"));
    let config = made["config"].as_str().unwrap();
    assert!(config.contains("[Peer]") && !config.contains(&pair.private));

    // The plan's device limit is the pages' (personal: 3).
    for n in 0..2 {
        let body = json!({"name": format!("d{n}"), "public_key": keys::generate_keypair().public});
        let (status, _, _) = call(&app, k, Method::POST, "/api/v1/devices", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let body = json!({"name": "one too many", "public_key": keys::generate_keypair().public});
    let (status, res, _) = call(&app, k, Method::POST, "/api/v1/devices", Some(body)).await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::CONFLICT, "DEVICE_LIMIT_EXCEEDED")
    );
    // A bad body loses nothing and names the problem.
    let body = json!({"name": "bad", "public_key": "not a key"});
    let (status, res, _) = call(&app, k, Method::POST, "/api/v1/devices", Some(body)).await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    let (status, res, _) = call(
        &app,
        k,
        Method::POST,
        "/api/v1/devices",
        Some(json!({"nam": 1})),
    )
    .await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    // (Sign-up also reserved the plan's regional identity: a device row.)
    let rows = app.count("SELECT COUNT(*) FROM devices").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM devices WHERE identity_region IS NULL")
            .await,
        3
    );

    // Cursor pages cover every device once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = match cursor.as_str() {
            "" => "/api/v1/devices?limit=2".to_string(),
            c => format!("/api/v1/devices?limit=2&cursor={c}"),
        };
        let (status, page, _) = call(&app, k, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        for d in page["items"].as_array().unwrap() {
            seen.push(d["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    seen.dedup();
    assert_eq!(seen.len() as i64, rows, "each device once: {seen:?}");
    let (_, page, _) = call(
        &app,
        k,
        Method::GET,
        &format!("/api/v1/devices?server_id={}", server_id + 1),
        None,
    )
    .await;
    assert_eq!(page["items"], json!([]));
    let (status, res, _) = call(&app, k, Method::GET, "/api/v1/devices?limit=0", None).await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );

    // Rename, read, config (text and QR), usage, rekey, delete.
    let path = format!("/api/v1/devices/{id}");
    let (status, d, _) = call(
        &app,
        k,
        Method::PATCH,
        &path,
        Some(json!({"name": "work laptop"})),
    )
    .await;
    assert_eq!(
        (status, d["name"].clone()),
        (StatusCode::OK, json!("work laptop"))
    );
    let (_, d, _) = call(&app, k, Method::GET, &path, None).await;
    assert_eq!(d["name"], json!("work laptop"));
    let (status, text, headers) = call(&app, k, Method::GET, &format!("{path}/config"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(text.as_str().unwrap().contains("[Interface]"));
    let (status, svg, headers) =
        call(&app, k, Method::GET, &format!("{path}/config/qr"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "image/svg+xml");
    assert!(svg.as_str().unwrap().contains("<svg"));
    let (status, usage, _) =
        call(&app, k, Method::GET, &format!("{path}/usage?days=7"), None).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert!(usage["items"].is_array());
    let new_key = keys::generate_keypair().public;
    let (status, rekeyed, _) = call(
        &app,
        k,
        Method::POST,
        &format!("{path}/rekey"),
        Some(json!({"public_key": new_key})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rekeyed}");
    assert_eq!(rekeyed["device"]["public_key"], json!(new_key));
    assert_eq!(
        rekeyed["device"]["address_v4"],
        made["device"]["address_v4"]
    );
    let (status, _, _) = call(&app, k, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, res, _) = call(&app, k, Method::GET, &path, None).await;
    assert_eq!((status, code(&res)), (StatusCode::NOT_FOUND, "NOT_FOUND"));

    // The pages' own device actions and these calls are audited.
    let calls = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'api_key.call'")
        .await;
    assert!(calls >= 6, "mutating calls audited: {calls}");
    let reads = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'api_key.call' AND target LIKE 'GET %'",
        )
        .await;
    assert_eq!(reads, 0, "reads are not audited row by row");
}

#[tokio::test]
async fn the_same_post_twice_makes_one_device_and_another_body_conflicts() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.78.0.0/16").await;
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (_, key) = make_key(&app, &biz, "ci", ALL, "").await.unwrap();
    let body = json!({"name": "phone", "public_key": keys::generate_keypair().public});
    let post = |body: Value, idem: &'static str| {
        new_client()
            .post(app.url("/api/v1/devices"))
            .bearer_auth(&key)
            .header("Idempotency-Key", idem)
            .json(&body)
            .send()
    };
    let first = post(body.clone(), "req-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = post(body.clone(), "req-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the same answer");
    assert_eq!(app.count(DEVICES).await, 1);

    let other = json!({"name": "tablet", "public_key": keys::generate_keypair().public});
    let res = post(other.clone(), "req-1").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res: Value = res.json().await.unwrap();
    assert_eq!(code(&res), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.count(DEVICES).await, 1);
    // Another Idempotency-Key is another request.
    assert_eq!(
        post(other, "req-2").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(app.count(DEVICES).await, 2);
    // Kept answers are sealed at rest (they hold a preshared key).
    let kept: Vec<String> = sqlx::query_scalar("SELECT response_sealed FROM api_idempotency")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert!(kept.iter().all(|k| !k.contains("PresharedKey")));
}

#[tokio::test]
async fn answers_older_than_a_day_are_removed_by_the_scheduler_and_fresh_ones_stay() {
    use truevault::apikeys::workflows::{ApiHousekeeping, PRUNE_EVERY_SECS};
    use truevault::jobs::Workflow;
    let app = TestApp::spawn().await;
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (_, key) = make_key(&app, &biz, "ci", ALL, "").await.unwrap();
    let pending = format!(
        "SELECT COUNT(*) FROM jobs WHERE workflow = '{}' AND status = 'pending'",
        ApiHousekeeping::NAME
    );
    assert_eq!(app.count(&pending).await, 1, "scheduled at start-up");
    // A refused body is an answer too (kept, replayed), and needs no server.
    let post = |idem: &'static str| {
        new_client()
            .post(app.url("/api/v1/devices"))
            .bearer_auth(&key)
            .header("Idempotency-Key", idem)
            .json(&json!({"name": "phone", "public_key": "not a key"}))
            .send()
    };
    let kept = |idem: &'static str| {
        let sql = format!("SELECT COUNT(*) FROM api_idempotency WHERE idem_key = '{idem}'");
        let app = &app;
        async move { app.count(&sql).await }
    };
    assert_eq!(post("old").await.unwrap().status(), StatusCode::BAD_REQUEST);
    app.state.clock.advance(23 * 3600);
    assert_eq!(
        post("fresh").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!((kept("old").await, kept("fresh").await), (1, 1));
    // "old" is now 25 hours old, "fresh" 2.
    app.state.clock.advance(2 * 3600);
    app.settle_jobs().await;
    assert_eq!(kept("old").await, 0, "older than a day: removed");
    assert_eq!(kept("fresh").await, 1, "younger than a day: kept");
    let replay = post("fresh").await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    // One chain: the next round is due an hour on, and only one is pending.
    assert_eq!(app.count(&pending).await, 1);
    let next = app
        .count(&format!(
            "SELECT due_at FROM jobs WHERE workflow = '{}' AND status = 'pending'",
            ApiHousekeeping::NAME
        ))
        .await;
    let ahead = next - app.state.clock.now();
    assert!(
        (PRUNE_EVERY_SECS - 5..=PRUNE_EVERY_SECS).contains(&ahead),
        "{ahead}"
    );
}

#[tokio::test]
async fn a_key_over_its_rate_is_told_when_to_retry() {
    let app = TestApp::spawn_with(|c| c.api_requests_per_minute = 3).await;
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (_, key) = make_key(&app, &biz, "ci", ALL, "").await.unwrap();
    let (_, other) = make_key(&app, &biz, "other", ALL, "").await.unwrap();
    for _ in 0..3 {
        let (status, _, _) = call(&app, Some(&key), Method::GET, "/api/v1/servers", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body, headers) =
        call(&app, Some(&key), Method::GET, "/api/v1/servers", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    // Per key: another key of the same account is not held up.
    let (status, _, _) = call(&app, Some(&other), Method::GET, "/api/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
}

/// A VIP's dedicated server (only they may use it); its id.
async fn dedicated_server(app: &TestApp, admin: &Client, vip: &str) -> i64 {
    let res = app
        .post_form(
            admin,
            "/api/admin/server_create",
            &[
                ("name", "vip-1"),
                ("region", "us"),
                ("country", "US"),
                ("city", "Boston"),
                ("endpoint_host", "203.0.113.20"),
                ("endpoint_port", "51820"),
                ("server_type", "vip_dedicated"),
                ("vip_email", vip),
                ("capacity", "10"),
                ("ipv4_pool", "10.88.0.0/24"),
                ("ipv6_pool", ""),
                ("dns", ""),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    sqlx::query_scalar("SELECT id FROM vpn_servers WHERE name = 'vip-1'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reported_latency_decides_between_equally_loaded_servers() {
    let app = TestApp::spawn().await;
    // The user first: sign-up would reserve an identity on a server, and
    // then the two would not be equally loaded.
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (_, key) = make_key(&app, &biz, "cli", &["read", "devices:write"], "")
        .await
        .unwrap();
    let admin = app.signed_in_admin("admin@example.com").await;
    let (near_not, _) = server_with_node(&app, &admin, "eu-1", "10.81.0.0/16").await;
    let (near, _) = server_with_node(&app, &admin, "eu-2", "10.82.0.0/16").await;
    let k = Some(key.as_str());
    for (server, ms) in [(near_not, 80), (near, 20)] {
        let (status, body, _) = call(
            &app,
            k,
            Method::POST,
            &format!("/api/v1/servers/{server}/latency"),
            Some(json!({"latency_ms": ms})),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, res, _) = call(
        &app,
        k,
        Method::POST,
        &format!("/api/v1/servers/{near}/latency"),
        Some(json!({"latency_ms": -1})),
    )
    .await;
    assert_eq!(
        (status, code(&res)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    // Both are empty: without the reports the lower id (eu-1) would win.
    let body = json!({"name": "laptop", "public_key": keys::generate_keypair().public});
    let (status, made, _) = call(&app, k, Method::POST, "/api/v1/devices", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(
        made["device"]["server_id"],
        json!(near),
        "{}",
        made["chosen_because"]
    );
    assert!(made["chosen_because"].as_str().unwrap().contains("20 ms"));
}

/// A body for an operation, made from its schema: a fresh key for a
/// `public_key`, a name otherwise.
fn body_for(doc: &Value, op: &Value) -> Option<Value> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let name = schema["$ref"].as_str()?.rsplit('/').next()?;
    let s = &doc["components"]["schemas"][name];
    let mut body = serde_json::Map::new();
    for field in s["required"].as_array()? {
        let f = field.as_str()?;
        let v = if f == "public_key" {
            json!(keys::generate_keypair().public)
        } else if s["properties"][f]["type"] == "integer" {
            json!(1)
        } else {
            json!("probe")
        };
        body.insert(f.to_string(), v);
    }
    Some(Value::Object(body))
}

#[tokio::test]
async fn no_route_that_takes_an_id_reaches_another_accounts_object() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.79.0.0/16").await;
    let a = on_plan(&app, "a@example.com", "business").await;
    let b = on_plan(&app, "b@example.com", "business").await;
    let (_, key_a) = make_key(&app, &a, "a", ALL, "").await.unwrap();
    let (_, key_b) = make_key(&app, &b, "b", ALL, "").await.unwrap();
    let b_key = keys::generate_keypair().public;
    let (status, made, _) = call(
        &app,
        Some(&key_b),
        Method::POST,
        "/api/v1/devices",
        Some(json!({"name": "b's", "public_key": b_key})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let b_device = made["device"]["id"].as_i64().unwrap();
    let b_server = dedicated_server(&app, &admin, "b@example.com").await;
    let b_camera: i64 = app
        .post_form(
            &b,
            "/api/cameras/add",
            &[
                ("name", "b's"),
                ("vendor", "hikvision"),
                ("ip", "192.168.1.20"),
            ],
        )
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .parse()
        .expect("B's camera");
    // B's object for each kind of id a path names.
    let object_of = |path: &str| -> i64 {
        if path.starts_with("/api/v1/devices/{id}") {
            b_device
        } else if path.starts_with("/api/v1/servers/{id}") {
            b_server
        } else if path.starts_with("/api/v1/cameras/{id}") {
            b_camera
        } else {
            panic!("no object of user B for {path}: add one to this test")
        }
    };

    let doc = crate::helpers::openapi_document(&app).await;
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // The platform's routes take a tenant credential, not a key: their
        // isolation is generated in `platform.rs`.
        if !path.contains('{') || path.starts_with("/api/v1/platform/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let url = path.replace("{id}", &object_of(path).to_string());
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body, _) =
                call(&app, Some(&key_a), method.clone(), &url, body_for(&doc, op)).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::NOT_FOUND, "NOT_FOUND"),
                "{method} {path} with A's key on B's object"
            );
            probed += 1;
        }
    }
    assert!(probed >= 9, "every id route probed ({probed})");
    let reports = app.count("SELECT COUNT(*) FROM server_latency").await;
    assert_eq!(reports, 0, "no latency recorded for B's server");
    // B's device is as it was.
    let (status, d, _) = call(
        &app,
        Some(&key_b),
        Method::GET,
        &format!("/api/v1/devices/{b_device}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (d["name"].clone(), d["public_key"].clone()),
        (json!("b's"), json!(b_key))
    );
}

#[tokio::test]
async fn the_document_lists_exactly_the_keyed_routes() {
    let app = TestApp::spawn().await;
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (_, key) = make_key(&app, &biz, "ci", ALL, "").await.unwrap();
    let doc = crate::helpers::openapi_document(&app).await;
    assert_eq!(doc["openapi"], json!("3.1.0"));
    // The served document is the one the router was built with.
    let built = serde_json::to_value(truevault::api::v1::openapi()).unwrap();
    assert_eq!(doc, built);

    // Every documented operation is routed and needs a key (an undocumented
    // or unrouted one would answer the catch-all's 404 or 405).
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for method in item.as_object().unwrap().keys() {
            let url = path.replace("{id}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body, _) = call(&app, None, method.clone(), &url, None).await;
            // The platform's routes need a tenant credential instead.
            let needed = if path.starts_with("/api/v1/platform/") {
                "INVALID_TENANT_CREDENTIAL"
            } else {
                "INVALID_API_KEY"
            };
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNAUTHORIZED, needed),
                "{method} {path}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 14, "{operations} operations");
    // The agents' endpoints are not the key's and are not listed.
    for agent in [
        "/api/v1/nodes/enroll",
        "/api/v1/nodes/self/config",
        "/api/v1/inventory/sync",
        "/api/v1/sites/self/connect",
        "/api/v1/billing/webhooks/stripe",
    ] {
        assert!(doc["paths"].get(agent).is_none(), "{agent} listed");
    }
    // A keyed request to a path the document does not have is a plain 404.
    let (status, body, _) = call(
        &app,
        Some(&key),
        Method::GET,
        "/api/v1/devices/1/nothing",
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));

    // The documentation page is the portal's own, one section per operation.
    let res = new_client().get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("http"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert_eq!(
        html.matches("data-testid=\"operation\"").count(),
        operations
    );
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing from elsewhere"
    );
}

#[tokio::test]
async fn the_command_line_client_logs_in_measures_and_provisions_with_a_local_key() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    let personal = on_plan(&app, "p@example.com", "personal").await;
    let (_, key) = make_key(&app, &personal, "cli", &["read", "devices:write"], "")
        .await
        .unwrap();
    let admin = app.signed_in_admin("admin@example.com").await;
    let (server, _) = server_with_node(&app, &admin, "eu-1", "10.83.0.0/16").await;
    // A closed TCP port on loopback answers at once: the latency is measurable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    sqlx::query(
        "UPDATE vpn_servers SET endpoint_host = '127.0.0.1', endpoint_port = $1 WHERE id = $2",
    )
    .bind(i64::from(port))
    .bind(server)
    .execute(&app.state.db.pool)
    .await
    .unwrap();

    let dir = app.dir.join("client");
    let client = truevault_client::Client::new(&dir);
    let refused = client
        .login(&app.address, "tvk_wrong", false)
        .await
        .unwrap_err();
    assert_eq!(refused.exit_code(), 2, "{refused}");
    assert!(refused.to_string().starts_with("INVALID_API_KEY"));
    client.login(&app.address, &key, false).await.unwrap();
    let mode = std::fs::metadata(dir.join("login.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let rows = client.servers().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].latency_ms.is_some(), "{rows:?}");
    let reported = app
        .count(&format!(
            "SELECT COUNT(*) FROM server_latency WHERE server_id = {server}"
        ))
        .await;
    assert_eq!(reported, 1, "the latency reached the portal");

    // A key made here: the portal has its public half, the config its private half.
    let made = client.up(None, None, false).await.unwrap();
    let config = std::fs::read_to_string(&made.config_path).unwrap();
    let mode = std::fs::metadata(&made.config_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let private = config
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey = "))
        .unwrap()
        .to_string();
    let public: String = sqlx::query_scalar("SELECT public_key FROM devices WHERE id = $1")
        .bind(made.device_id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(public_of(&private), public);
    // `up` again reuses it; `rotate` moves it onto a new key made here.
    assert_eq!(
        client.up(None, None, false).await.unwrap().device_id,
        made.device_id
    );
    assert_eq!(app.count(DEVICES).await, 1);
    client.rotate(false).await.unwrap();
    let rotated: String = sqlx::query_scalar("SELECT public_key FROM devices WHERE id = $1")
        .bind(made.device_id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_ne!(rotated, public);
    let config = std::fs::read_to_string(&made.config_path).unwrap();
    let private = config
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey = "))
        .unwrap();
    assert_eq!(public_of(private), rotated);
}

/// The public half of a base64 WireGuard private key.
fn public_of(private: &str) -> String {
    use base64::Engine;
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(private)
        .unwrap()
        .try_into()
        .unwrap();
    keys::keypair_from_private(bytes).public
}

#[tokio::test]
async fn identities_and_camera_snapshots_through_the_api_follow_the_pages_rules() {
    let app = TestApp::spawn().await;
    let biz = on_plan(&app, "b@example.com", "business").await;
    let (_, key) = make_key(&app, &biz, "ci", ALL, "").await.unwrap();
    let (_, no_cameras) = make_key(&app, &biz, "ro", &["read", "devices:write"], "")
        .await
        .unwrap();
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.85.0.0/16").await;
    let k = Some(key.as_str());

    // An identity in a region: a device pinned to that region's server.
    let public = keys::generate_keypair().public;
    let (status, made, _) = call(
        &app,
        k,
        Method::POST,
        "/api/v1/identities",
        Some(json!({"region": "EU", "public_key": public})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["device"]["identity_region"], "eu");
    assert!(made["config"].as_str().unwrap().contains("[Peer]"));
    let (status, body, _) = call(
        &app,
        k,
        Method::POST,
        "/api/v1/identities",
        Some(json!({"region": "mars", "public_key": keys::generate_keypair().public})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        "a region without a server is the caller's mistake"
    );
    // The list holds identities only, filtered and paged like every list.
    let (status, plain, _) = call(
        &app,
        k,
        Method::POST,
        "/api/v1/devices",
        Some(json!({"name": "laptop", "public_key": keys::generate_keypair().public})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    let (status, list, _) = call(&app, k, Method::GET, "/api/v1/identities", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.contains(&made["device"]["id"].as_i64().unwrap()),
        "{list}"
    );
    assert!(
        !ids.contains(&plain["device"]["id"].as_i64().unwrap()),
        "{list}"
    );
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["identity_region"].is_string()));
    let (_, none, _) = call(&app, k, Method::GET, "/api/v1/identities?region=us", None).await;
    assert_eq!(none["items"], json!([]));

    // A camera's snapshot goes through the cameras service: without a
    // connected gateway, its code; without the scope, refused.
    let camera: i64 = app
        .post_form(
            &biz,
            "/api/cameras/add",
            &[
                ("name", "porch"),
                ("vendor", "hikvision"),
                ("ip", "192.168.1.20"),
            ],
        )
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .parse()
        .expect("a camera");
    let path = format!("/api/v1/cameras/{camera}/snapshot");
    let (status, body, _) = call(&app, k, Method::GET, &path, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "CAMERA_GATEWAY_OFFLINE")
    );
    let (status, body, _) = call(&app, Some(&no_cameras), Method::GET, &path, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE")
    );
}
