//! Service follows the account's state (`entitlements::service`): an
//! account an admin suspends, or whose subscription the dunning steps
//! suspend on day 8, leaves every node config at once (the long-poll
//! wakes), its agents' tokens are refused with the reason's code, the
//! sign-in page and dashboard say why; reactivation or payment brings the
//! same peer (key and addresses) back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use truevault::billing::rules::DAY;
use truevault_wire::node::{DesiredConfig, DesiredPeer};

use crate::{
    helpers::{failure, new_client, TestApp, PASSWORD},
    inventory::scanner_token,
    vpn::{create_device, node_config, server_with_node},
};

/// The node's config once it moves past `since`, and how long the
/// long-poll took to answer.
async fn next_config(app: &TestApp, token: &str, since: i64) -> (DesiredConfig, Duration) {
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(5), node_config(app, token, since))
        .await
        .expect("the long-poll answers");
    assert_eq!(res.status(), StatusCode::OK);
    (res.json().await.expect("config"), started.elapsed())
}

fn peer<'a>(cfg: &'a DesiredConfig, key: &str) -> Option<&'a DesiredPeer> {
    cfg.peers.iter().find(|p| p.public_key == key)
}

/// One scanner report: the code it is refused with, or `None` when taken.
async fn scanner_refusal(app: &TestApp, token: &str) -> Option<String> {
    let res = new_client()
        .post(app.url("/api/v1/inventory/sync"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "full_scan": false, "network": "192.168.50.0/24", "agent": "test", "hosts": []
        }))
        .send()
        .await
        .expect("request");
    if res.status() == StatusCode::OK {
        return None;
    }
    let status = res.status();
    let body: Value = res.json().await.expect("json error");
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    Some(
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// One public-API call with `key`: the code it is refused with, or `None`.
async fn api_refusal(app: &TestApp, key: &str) -> Option<String> {
    let res = new_client()
        .get(app.url("/api/v1/servers"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    if res.status() == StatusCode::OK {
        return None;
    }
    let body: Value = res.json().await.expect("json error");
    Some(
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    app.count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await
}

#[tokio::test]
async fn suspension_by_an_admin_or_by_dunning_takes_service_away_and_payment_brings_it_back() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.77.0.0/16").await;
    let ada = app.signed_in_user("ada@example.com").await;
    app.subscribe(&ada, "personal", "pay_fail_renewals").await;
    let created: Value = create_device(&app, &ada, "laptop", "")
        .await
        .json()
        .await
        .unwrap();
    let device = created["device"].clone();
    // Another customer on the same node is not touched by any of this.
    let bob = app.signed_in_user("bob@example.com").await;
    let bob_key = truevault::vpn::keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &bob, "phone", &bob_key).await.status(),
        StatusCode::OK
    );
    let scanner = scanner_token(&app, &ada).await;
    assert_eq!(scanner_refusal(&app, &scanner).await, None);
    let res = app
        .post_form(
            &ada,
            "/api/api_keys/create",
            &[("name", "cli"), ("expires_days", ""), ("read", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let api_key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api_refusal(&app, &api_key).await, None);

    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    let key = cfg
        .peers
        .iter()
        .map(|p| p.public_key.clone())
        .find(|k| *k != bob_key)
        .expect("ada's peer");
    let ada_peer = peer(&cfg, &key).unwrap().clone();

    // An admin suspends: the held long-poll answers within a second,
    // without ada's peer.
    let version = cfg.version;
    let poll = tokio::spawn({
        let (url, token) = (
            app.url(&format!("/api/v1/nodes/self/config?since={version}")),
            node.clone(),
        );
        async move {
            let res = new_client().get(url).bearer_auth(token).send().await;
            (Instant::now(), res.unwrap().json::<DesiredConfig>().await)
        }
    });
    app.wait_held(1).await;
    let suspended_at = Instant::now();
    let id = user_id(&app, "ada@example.com").await.to_string();
    let res = app
        .post_form(
            &admin,
            "/api/admin/user_status",
            &[("user_id", &id), ("status", "suspended")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (answered_at, cfg) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    let cfg = cfg.expect("config");
    let took = answered_at.duration_since(suspended_at);
    println!("admin suspension → node config without the peer: {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(peer(&cfg, &key).is_none(), "the suspended peer left");
    assert!(peer(&cfg, &bob_key).is_some(), "other customers stay");
    assert_eq!(
        scanner_refusal(&app, &scanner).await.as_deref(),
        Some("ACCOUNT_SUSPENDED")
    );
    let res = app.login(&new_client(), "ada@example.com", PASSWORD).await;
    assert!(failure(res).await.is("ACCOUNT_SUSPENDED"));

    // Reactivated: the same key and addresses, the scanner is taken again.
    let res = app
        .post_form(
            &admin,
            "/api/admin/user_status",
            &[("user_id", &id), ("status", "active")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (cfg, _) = next_config(&app, &node, cfg.version).await;
    let back = peer(&cfg, &key).expect("the peer is back");
    assert_eq!(back.allowed_ips, ada_peer.allowed_ips);
    assert_eq!(back.preshared_key, ada_peer.preshared_key);
    assert_eq!(scanner_refusal(&app, &scanner).await, None);

    // A failed renewal runs the dunning steps; day 8 suspends the
    // subscription and service with it.
    let ada = new_client();
    app.login(&ada, "ada@example.com", PASSWORD).await;
    let mut version = cfg.version;
    app.state.clock.advance(31 * DAY + 60);
    app.settle_jobs().await;
    for days in [3, 4] {
        app.state.clock.advance(days * DAY);
        app.settle_jobs().await;
    }
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(
        peer(&cfg, &key).is_some(),
        "service runs through the grace days"
    );
    app.state.clock.advance(DAY);
    app.settle_jobs().await;
    let (cfg, _) = next_config(&app, &node, version).await;
    version = cfg.version;
    assert!(peer(&cfg, &key).is_none(), "day 8: the peer left");
    assert!(peer(&cfg, &bob_key).is_some());
    assert_eq!(
        scanner_refusal(&app, &scanner).await.as_deref(),
        Some("PAYMENT_OVERDUE")
    );
    assert_eq!(
        api_refusal(&app, &api_key).await.as_deref(),
        Some("PAYMENT_OVERDUE"),
        "API keys stop too"
    );
    // Ada still signs in (paying is done here) and the dashboard says why.
    let dashboard = app.get_html(&ada, "/dashboard").await;
    assert!(
        dashboard.contains("data-code=\"PAYMENT_OVERDUE\""),
        "the dashboard says why service is paused"
    );

    // Paying restores the same peer.
    app.subscribe(&ada, "personal", "pay").await;
    let (cfg, _) = next_config(&app, &node, version).await;
    let back = peer(&cfg, &key).expect("the peer is back after payment");
    assert_eq!(back.allowed_ips, ada_peer.allowed_ips);
    assert_eq!(scanner_refusal(&app, &scanner).await, None);
    assert_eq!(api_refusal(&app, &api_key).await, None);
    let dashboard = app.get_html(&ada, "/dashboard").await;
    assert!(!dashboard.contains("data-testid=\"service-off\""));
    let devices: Vec<Value> = app
        .post_form(&ada, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        devices.iter().any(|d| d["id"] == device["id"]),
        "the device was never deleted"
    );
}

#[tokio::test]
async fn vips_keep_service_when_their_subscription_is_suspended() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.78.0.0/16").await;
    let vip = app.signed_in_user("vip@example.com").await;
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "vip@example.com"), ("vip", "true")],
    )
    .await;
    let key = truevault::vpn::keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &vip, "laptop", &key).await.status(),
        StatusCode::OK
    );
    // A subscription marked suspended (as a VIP's is never by dunning, but
    // one may be left from before the grant) takes nothing away.
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_id, cycle, status, provider, amount_cents, currency, \
         current_period_start, current_period_end, created_at, updated_at) \
         VALUES ($1, (SELECT id FROM plans WHERE slug = 'personal'), 'monthly', 'suspended', 'test', 999, 'USD', 0, 0, 0, 0)",
    )
    .bind(user_id(&app, "vip@example.com").await)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(peer(&cfg, &key).is_some());
}

/// One node report for `peers`: (public key, rx, tx) counters.
async fn report(app: &TestApp, node: &str, version: i64, peers: &[(&str, i64, i64)]) {
    let now = truevault::db::now();
    let peers: Vec<Value> = peers
        .iter()
        .map(|(k, rx, tx)| {
            serde_json::json!({"public_key": k, "latest_handshake": now - 5, "rx_bytes": rx, "tx_bytes": tx})
        })
        .collect();
    let res = new_client()
        .post(app.url("/api/v1/nodes/self/stats"))
        .bearer_auth(node)
        .json(&serde_json::json!({"applied_version": version, "peers": peers}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn month_bytes(app: &TestApp, user: &reqwest::Client) -> i64 {
    let v: Value = app
        .post_form(user, "/api/portal/month_traffic", &[])
        .await
        .json()
        .await
        .unwrap();
    v["sent"].as_i64().unwrap() + v["received"].as_i64().unwrap()
}

async fn delete_only_device(app: &TestApp, user: &reqwest::Client, key: &str) {
    let devices: Vec<Value> = app
        .post_form(user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    let id = devices
        .iter()
        .find(|d| d["public_key"] == key)
        .and_then(|d| d["id"].as_i64())
        .expect("the device");
    let res = app
        .post_form(user, "/api/devices/delete", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_and_adding_a_device_again_keeps_the_months_usage_and_cap() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    sqlx::query("UPDATE plans SET data_cap_gb = 1 WHERE slug = 'free'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.79.0.0/16").await;
    let user = app.signed_in_user("u@example.com").await;
    let gib = 1_i64 << 30;
    let first = truevault::vpn::keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &user, "laptop", &first).await.status(),
        StatusCode::OK
    );
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    report(&app, &node, cfg.version, &[(&first, gib / 2, gib / 10)]).await;
    let used = month_bytes(&app, &user).await;
    assert_eq!(used, gib * 6 / 10);

    // Deleted and added again: the month still counts what the first used.
    delete_only_device(&app, &user, &first).await;
    assert_eq!(month_bytes(&app, &user).await, used, "the month survives");
    let second = truevault::vpn::keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &user, "laptop", &second).await.status(),
        StatusCode::OK
    );
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(peer(&cfg, &second).is_some());
    // 0.5 GiB more reaches the 1 GiB cap only with the first device's share.
    report(&app, &node, cfg.version, &[(&second, gib / 2, 0)]).await;
    let (cfg, _) = next_config(&app, &node, cfg.version).await;
    assert!(peer(&cfg, &second).is_none(), "capped on the month's total");
    assert_eq!(month_bytes(&app, &user).await, gib * 11 / 10);

    // A capped user who deletes and re-adds stays capped.
    delete_only_device(&app, &user, &second).await;
    let third = truevault::vpn::keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &user, "laptop", &third).await.status(),
        StatusCode::OK
    );
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(peer(&cfg, &third).is_none(), "still capped");
    assert_eq!(month_bytes(&app, &user).await, gib * 11 / 10);
}

#[tokio::test]
async fn a_stale_node_is_not_chosen_degrades_health_and_deregistering_revokes_its_token() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_a) = server_with_node(&app, &admin, "eu-1", "10.80.0.0/16").await;
    let (b, node_b) = server_with_node(&app, &admin, "eu-2", "10.81.0.0/16").await;
    report(&app, &node_a, 1, &[]).await;
    report(&app, &node_b, 1, &[]).await;
    let health: Value = new_client()
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");

    // eu-1 stops reporting; past the stale time only eu-2 has reported.
    let stale_after = i64::from(app.state.config.node_stale_after_secs);
    app.state.clock.advance(stale_after + 1);
    report(&app, &node_b, 1, &[]).await;
    let res = new_client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a stale node degrades, not fails"
    );
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["nodes"]["stale"], serde_json::json!(["eu-1"]));
    let servers: Vec<Value> = app
        .post_form(&admin, "/api/admin/servers", &[])
        .await
        .json()
        .await
        .unwrap();
    let healthy = |name: &str| {
        servers
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["healthy"] == true)
    };
    assert_eq!(
        (healthy("eu-1"), healthy("eu-2")),
        (Some(false), Some(true))
    );
    let page = app.get_html(&admin, "/admin/servers").await;
    assert_eq!(page.matches("data-testid=\"node-stale\"").count(), 1);

    // New devices all go to the fresh node, also when eu-1 is asked for.
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "vip@example.com"), ("vip", "true")],
    )
    .await;
    let vip = app.signed_in_user("vip@example.com").await;
    for i in 0..3 {
        let created: Value = create_device(&app, &vip, &format!("d{i}"), "")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(created["device"]["server_name"], "eu-2", "{created}");
    }

    // Deregistered: eu-2's node token is refused from now on.
    let res = app
        .post_form(
            &admin,
            "/api/admin/server_deregister",
            &[("id", &b.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        node_config(&app, &node_b, 0).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn nodes_report_host_health_and_older_agents_still_report() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.82.0.0/16").await;
    // An older agent: no host field.
    report(&app, &node, 1, &[]).await;
    let page = app.get_html(&admin, "/admin/servers").await;
    assert!(!page.contains("data-testid=\"node-host\""));
    let res = new_client()
        .post(app.url("/api/v1/nodes/self/stats"))
        .bearer_auth(&node)
        .json(&serde_json::json!({"applied_version": 1, "peers": [], "host": {
            "load1_centi": 52, "memory_total_bytes": 2_u64 << 30, "memory_available_bytes": 1_u64 << 30,
            "uptime_secs": 3 * 86_400 + 5, "wireguard": "wireguard-go"
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = app.get_html(&admin, "/admin/servers").await;
    assert!(
        page.contains("load 0.52 · 1.0 of 2.0 GiB free · up 3 d · wireguard-go"),
        "the admin page shows the host"
    );
    // An unknown implementation is a malformed report.
    let res = new_client()
        .post(app.url("/api/v1/nodes/self/stats"))
        .bearer_auth(&node)
        .json(
            &serde_json::json!({"applied_version": 1, "peers": [], "host": {
                "load1_centi": 1, "memory_total_bytes": 1, "memory_available_bytes": 1,
                "uptime_secs": 1, "wireguard": "boringtun"
            }}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sign_up_makes_a_scanner_token_shown_once_with_set_up_steps_that_keep_it_off_the_command_line(
) {
    let app = TestApp::spawn().await;
    let ada = app.signed_in_user("ada@example.com").await;
    let id = user_id(&app, "ada@example.com").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM scanner_tokens WHERE user_id = {id} AND revoked_at IS NULL \
             AND token_sealed IS NOT NULL AND token_hash <> token_sealed"
        ))
        .await,
        1,
        "verifying the address made one token, kept hashed and sealed"
    );
    let page = app.get_html(&ada, "/network").await;
    assert!(page.contains("data-testid=\"signup-scanner-token\""));
    let portal = app.url("");
    let portal = portal.trim_end_matches('/');
    assert!(
        page.contains(&format!(
            "truevault-scanner sync --portal {portal} --token-file /etc/truevault/scanner.token"
        )),
        "the steps name this portal and read the token from a file"
    );
    assert!(!page.contains("--token="), "no token on a command line");

    let res = app.post_form(&ada, "/api/network/token_reveal", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let shown: Value = res.json().await.unwrap();
    assert_eq!(shown["name"], "Home");
    let token = shown["token"].as_str().unwrap().to_string();
    assert_eq!(
        scanner_refusal(&app, &token).await,
        None,
        "the sign-up token syncs"
    );
    let res = app.post_form(&ada, "/api/network/token_reveal", &[]).await;
    assert!(failure(res).await.is("NOT_FOUND"), "shown only once");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM scanner_tokens WHERE user_id = {id} AND token_sealed IS NOT NULL"
        ))
        .await,
        0,
        "the sealed copy is gone"
    );
    let page = app.get_html(&ada, "/network").await;
    assert!(!page.contains("data-testid=\"signup-scanner-token\""));
    // Another user cannot take it.
    let bob = app.signed_in_user("bob@example.com").await;
    let res = app.post_form(&bob, "/api/network/token_reveal", &[]).await;
    let bobs: Value = res.json().await.unwrap();
    assert_ne!(bobs["token"], shown["token"]);
}

/// The user's devices by public key: (id, paused).
async fn devices_by_key(app: &TestApp, user: &reqwest::Client) -> Vec<(String, i64, bool)> {
    let devices: Vec<Value> = app
        .post_form(user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    devices
        .iter()
        .filter(|d| d["identity_region"].is_null())
        .map(|d| {
            (
                d["public_key"].as_str().unwrap().to_string(),
                d["id"].as_i64().unwrap(),
                d["paused"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn kept_marker(state: &str, id: i64) -> String {
    format!("data-keep=\"{state}\" data-kind=\"device\" data-id=\"{id}\"")
}

#[tokio::test]
async fn a_downgrade_pauses_what_the_smaller_plan_lacks_as_the_user_chose_and_an_upgrade_resumes_it(
) {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.77.0.0/16").await;
    let ada = app.signed_in_user("ada@example.com").await;
    app.subscribe(&ada, "personal", "pay").await;
    let keys: Vec<String> = (0..3)
        .map(|_| truevault::vpn::keys::generate_keypair().public)
        .collect();
    for (name, key) in ["laptop", "phone", "tablet"].iter().zip(&keys) {
        assert_eq!(
            create_device(&app, &ada, name, key).await.status(),
            StatusCode::OK
        );
    }
    let id_of = |list: &[(String, i64, bool)], key: &str| {
        list.iter().find(|d| d.0 == key).map(|d| d.1).unwrap()
    };
    let list = devices_by_key(&app, &ada).await;
    let (laptop, phone, tablet) = (
        id_of(&list, &keys[0]),
        id_of(&list, &keys[1]),
        id_of(&list, &keys[2]),
    );
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    let before: Vec<DesiredPeer> = keys
        .iter()
        .map(|k| peer(&cfg, k).expect("every device is a peer").clone())
        .collect();
    // The phone was used last: it is what a smaller plan keeps unless Ada
    // says otherwise.
    report(&app, &node, cfg.version, &[(&keys[1], 100, 100)]).await;

    let free = app
        .count("SELECT id FROM plans WHERE slug = 'free'")
        .await
        .to_string();
    let res = app
        .post_form(
            &ada,
            "/api/billing/checkout",
            &[
                ("plan_id", &free),
                ("cycle", "monthly"),
                ("provider", "test"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the downgrade is scheduled");
    let page = app.get_html(&ada, "/billing").await;
    assert!(page.contains("data-testid=\"keep-choice\""));
    assert!(
        page.contains(&kept_marker("kept", phone)),
        "pre-selected: the most recently used"
    );
    assert!(page.contains(&kept_marker("paused", laptop)));
    assert!(page.contains(&kept_marker("paused", tablet)));

    // Ada keeps the laptop. Nothing changes before the period ends.
    let res = app
        .post_form(
            &ada,
            "/api/plan/keep",
            &[("kind", "device"), ("id", &laptop.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = app.get_html(&ada, "/billing").await;
    assert!(page.contains(&kept_marker("kept", laptop)));
    assert!(page.contains(&kept_marker("paused", phone)));
    assert!(devices_by_key(&app, &ada).await.iter().all(|d| !d.2));
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(keys.iter().all(|k| peer(&cfg, k).is_some()));
    // Nobody else's device can be chosen, nor an unknown kind.
    let bob = app.signed_in_user("bob@example.com").await;
    let res = app
        .post_form(
            &bob,
            "/api/plan/keep",
            &[("kind", "device"), ("id", &laptop.to_string())],
        )
        .await;
    assert!(failure(res).await.is("NOT_FOUND"));
    let res = app
        .post_form(&ada, "/api/plan/keep", &[("kind", "router"), ("id", "1")])
        .await;
    assert!(failure(res).await.is("VALIDATION_FAILED"));

    // The period ends: Free keeps the laptop, the other two are paused,
    // not deleted, and are in no node config.
    app.state.clock.advance(31 * DAY + 60);
    app.settle_jobs().await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users u JOIN plans p ON p.id = u.plan_id \
             WHERE u.email = 'ada@example.com' AND p.slug = 'free'"
        )
        .await,
        1
    );
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(peer(&cfg, &keys[0]).is_some(), "the kept laptop stays");
    assert!(peer(&cfg, &keys[1]).is_none(), "the phone is paused");
    assert!(peer(&cfg, &keys[2]).is_none(), "the tablet is paused");
    let list = devices_by_key(&app, &ada).await;
    assert_eq!(list.len(), 3, "nothing was deleted");
    assert_eq!(
        list.iter()
            .filter(|d| d.2)
            .map(|d| d.1)
            .collect::<std::collections::BTreeSet<_>>(),
        [phone, tablet].into_iter().collect()
    );
    let page = app.get_html(&ada, "/devices").await;
    assert_eq!(
        page.matches("data-paused=\"true\"").count(),
        2,
        "the page shows both as paused"
    );
    // The free plan's one device is the laptop: no room for another (the
    // node reports again first: a month passed on the clock).
    report(&app, &node, cfg.version, &[]).await;
    let extra = truevault::vpn::keys::generate_keypair().public;
    let res = create_device(&app, &ada, "spare", &extra).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(body.contains("DEVICE_LIMIT_EXCEEDED"), "{status} {body}");

    // On the full plan a keep choice swaps at once.
    let res = app
        .post_form(
            &ada,
            "/api/plan/keep",
            &[("kind", "device"), ("id", &phone.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(peer(&cfg, &keys[1]).is_some(), "the phone is back");
    assert!(peer(&cfg, &keys[0]).is_none(), "the laptop is paused");

    // An upgrade resumes everything with the same keys and addresses.
    app.subscribe(&ada, "personal", "pay").await;
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    for (key, was) in keys.iter().zip(&before) {
        let back = peer(&cfg, key).expect("resumed after the upgrade");
        assert_eq!(back.allowed_ips, was.allowed_ips);
        assert_eq!(back.preshared_key, was.preshared_key);
    }
    assert!(devices_by_key(&app, &ada).await.iter().all(|d| !d.2));
    let page = app.get_html(&ada, "/billing").await;
    assert!(!page.contains("data-testid=\"keep-choice\""));
}

#[tokio::test]
async fn the_usage_meter_warns_at_80_percent_and_when_capped_once_a_month_and_an_admin_lifts_the_cap(
) {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    sqlx::query("UPDATE plans SET data_cap_gb = 10 WHERE slug = 'free'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.81.0.0/16").await;
    let email = "meter@example.com";
    let user = app.signed_in_user(email).await;
    let gib = 1_i64 << 30;
    let key = truevault::vpn::keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &user, "laptop", &key).await.status(),
        StatusCode::OK
    );
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    // Counters are the peer's totals; the portal counts what they grew by.
    report(&app, &node, cfg.version, &[(&key, 4 * gib, 0)]).await;
    app.settle_jobs().await;
    let mails = app.mail_count(email).await;
    let page = app.get_html(&user, "/dashboard").await;
    assert!(
        page.contains(">4.0 of 10 GB<"),
        "the dashboard's meter reads the month against the cap"
    );

    report(&app, &node, cfg.version, &[(&key, 8 * gib + gib / 5, 0)]).await;
    app.settle_jobs().await;
    assert_eq!(app.mail_count(email).await, mails + 1, "the 80 % mail");
    let (subject, body) = app.last_mail_to(email).await.unwrap();
    assert!(subject.contains("80 %"), "{subject}");
    assert!(body.contains("/dashboard"));
    let page = app.get_html(&user, "/dashboard").await;
    assert!(page.contains(">8.2 of 10 GB<"));
    assert!(!page.contains("data-testid=\"data-capped\""));
    // Once a month: more traffic below the cap sends nothing more.
    report(&app, &node, cfg.version, &[(&key, 9 * gib, 0)]).await;
    app.settle_jobs().await;
    assert_eq!(app.mail_count(email).await, mails + 1);

    // Past the cap: the peer leaves the node, one mail says so, and the
    // dashboard shows the banner with the upgrade link.
    report(&app, &node, cfg.version, &[(&key, 10 * gib + gib / 2, 0)]).await;
    let (cfg, _) = next_config(&app, &node, cfg.version).await;
    assert!(peer(&cfg, &key).is_none(), "capped");
    app.settle_jobs().await;
    assert_eq!(app.mail_count(email).await, mails + 2, "the capped mail");
    let (subject, body) = app.last_mail_to(email).await.unwrap();
    assert!(subject.contains("used up"), "{subject}");
    assert!(body.contains("/billing"));
    let page = app.get_html(&user, "/dashboard").await;
    assert!(page.contains("data-testid=\"data-capped\""));
    assert!(page.contains("href=\"/billing\">Upgrade your plan"));

    // The admin sees it and lifts the cap for this month.
    let users = app.get_html(&admin, "/admin/users?q=meter").await;
    assert!(users.contains("data-testid=\"data-capped\""));
    let id = user_id(&app, email).await.to_string();
    let res = app
        .post_form(&admin, "/api/admin/lift_data_cap", &[("user_id", &id)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post_form(&user, "/api/admin/lift_data_cap", &[("user_id", &id)])
        .await;
    assert!(failure(res).await.is("FORBIDDEN"), "admins only");
    let (cfg, _) = next_config(&app, &node, cfg.version).await;
    assert!(peer(&cfg, &key).is_some(), "the peer is back");
    let page = app.get_html(&user, "/dashboard").await;
    assert!(!page.contains("data-testid=\"data-capped\""));
    // The rest of the month's traffic caps (and mails) no more.
    report(&app, &node, cfg.version, &[(&key, 12 * gib, 0)]).await;
    app.settle_jobs().await;
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    assert!(peer(&cfg, &key).is_some(), "not capped again this month");
    assert_eq!(app.mail_count(email).await, mails + 2);
}
