//! Servers, node enrollment and sync, devices, configs, limits, address
//! allocation under concurrency.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use truevault::{
    accounts::{model::CurrentUser, repo as accounts_repo},
    error::AppError,
    vpn::{devices, keys},
};
use truevault_wire::node::{DesiredConfig, EnrollResponse};

use crate::helpers::{failure, new_client, TestApp};

/// Creates a server through the admin function and enrolls a node for it;
/// returns (server id, node token).
pub async fn server_with_node(
    app: &TestApp,
    admin: &reqwest::Client,
    name: &str,
    pool: &str,
) -> (i64, String) {
    let res = app
        .post_form(
            admin,
            "/api/admin/server_create",
            &[
                ("name", name),
                ("region", "eu"),
                ("country", "NL"),
                ("city", "Amsterdam"),
                ("endpoint_host", "203.0.113.10"),
                ("endpoint_port", "51820"),
                ("server_type", "shared"),
                ("vip_email", ""),
                ("capacity", "100000"),
                ("ipv4_pool", pool),
                ("ipv6_pool", "fd00:99::/64"),
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
    let enroll_token: String = res.json().await.unwrap();
    let node_key = keys::generate_keypair();
    let res = new_client()
        .post(app.url("/api/v1/nodes/enroll"))
        .bearer_auth(&enroll_token)
        .json(&serde_json::json!({ "public_key": node_key.public }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let enrolled: EnrollResponse = res.json().await.unwrap();
    assert_eq!(enrolled.interface.listen_port, 51820);
    // The enrollment token is single-use.
    let again = new_client()
        .post(app.url("/api/v1/nodes/enroll"))
        .bearer_auth(&enroll_token)
        .json(&serde_json::json!({ "public_key": keys::generate_keypair().public }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    (enrolled.server_id, enrolled.node_token)
}

pub async fn node_config(app: &TestApp, token: &str, since: i64) -> reqwest::Response {
    new_client()
        .get(app.url(&format!("/api/v1/nodes/self/config?since={since}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub async fn create_device(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    public_key: &str,
) -> reqwest::Response {
    app.post_form(
        client,
        "/api/devices/create",
        &[
            ("name", name),
            ("public_key", public_key),
            ("server_id", "auto"),
            ("region", ""),
        ],
    )
    .await
}

#[tokio::test]
async fn a_device_gets_a_config_and_appears_on_its_node() {
    let app = TestApp::spawn().await;
    // Signed up before any server exists: no default identity takes an address.
    let user = app.signed_in_user("ada@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let cfg: DesiredConfig = node_config(&app, &node_token, 0)
        .await
        .json()
        .await
        .unwrap();
    assert!(cfg.peers.is_empty());
    assert_eq!(
        cfg.interface.addresses,
        vec!["10.66.0.1/16", "fd00:99::1/64"]
    );

    let res = create_device(&app, &user, "Ada's phone", "").await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let created: Value = res.json().await.unwrap();
    let config = created["config"].as_str().unwrap();
    assert!(config.contains("[Interface]\nPrivateKey = "));
    assert!(config.contains("Address = 10.66.0.2/32, fd00:99::2/128"));
    assert!(config.contains("DNS = 10.66.0.1"));
    assert!(config.contains("Endpoint = 203.0.113.10:51820"));
    assert!(config.contains("AllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 25"));
    assert_eq!(created["file_name"], "tv-adas-phone.conf");
    assert!(created["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(created["chosen_because"].as_str().unwrap().contains("eu-1"));
    // The private key in the config matches the public key the node gets,
    // and the server did not keep it.
    let (private, public) = key_pair_in(config);
    let cfg: DesiredConfig = node_config(&app, &node_token, cfg.version)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cfg.peers.len(), 1);
    assert_eq!(cfg.peers[0].public_key, public);
    assert_eq!(
        cfg.peers[0].allowed_ips,
        vec!["10.66.0.2/32", "fd00:99::2/128"]
    );
    assert!(config.contains(&format!("PresharedKey = {}", cfg.peers[0].preshared_key)));
    let stored: i64 = app
        .count(&format!(
            "SELECT COUNT(*) FROM devices WHERE preshared_key_enc LIKE '%{}%'",
            &cfg.peers[0].preshared_key[..10]
        ))
        .await;
    assert_eq!(stored, 0, "the preshared key is sealed at rest");

    // Re-download never carries a private key.
    let id = created["device"]["id"].as_i64().unwrap();
    let (_, again): (String, String) = app
        .post_form(&user, "/api/devices/config", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert!(again.contains("PrivateKey = <private key stays on your device>"));
    assert!(!again.contains(private));
}

/// The private key in a config and the public key it belongs to.
fn key_pair_in(config: &str) -> (&str, String) {
    let private = config
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey = "))
        .expect("a PrivateKey line");
    (
        private,
        keys::keypair_from_private(base64_32(private)).public,
    )
}

fn base64_32(s: &str) -> [u8; 32] {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn bad_device_input_is_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    // Signed up before any server exists: no default identity takes an address.
    let user = app.signed_in_user("bob@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let key = keys::generate_keypair().public;
    let long_name = "x".repeat(1_000_000);
    for (name, pk, expected) in [
        ("laptop", "not-a-key", "public_key"),
        (
            "laptop",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "public_key",
        ),
        (
            "laptop",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "public_key",
        ),
        ("bad\u{1b}[31mname", key.as_str(), "name"),
        ("", key.as_str(), "name"),
        (long_name.as_str(), key.as_str(), "name"),
    ] {
        let res = create_device(&app, &user, name, pk).await;
        assert!(
            !res.status().is_success(),
            "{pk} / {} must fail",
            name.len()
        );
        let f = failure(res).await;
        assert_eq!(f.code, "VALIDATION_FAILED", "{f:?}");
        assert_eq!(f.field.as_deref(), Some(expected), "{f:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM devices").await, 0);
    // A key already in use is refused.
    assert_eq!(
        create_device(&app, &user, "laptop", &key).await.status(),
        StatusCode::OK
    );
    let other = app.signed_in_user("carl@example.com").await;
    let res = create_device(&app, &other, "stolen", &key).await;
    assert!(failure(res).await.is("KEY_IN_USE"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM devices WHERE identity_region IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn plan_limits_vips_and_ownership() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let free = app.signed_in_user("free@example.com").await;
    let res = create_device(&app, &free, "one", "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.json::<Value>().await.unwrap()["device"]["id"]
        .as_i64()
        .unwrap();
    let res = create_device(&app, &free, "two", "").await;
    let f = failure(res).await;
    assert!(f.is("DEVICE_LIMIT_EXCEEDED") && f.limit == Some(1), "{f:?}");

    // Another user can neither read nor delete it.
    let mallory = app.signed_in_user("mallory@example.com").await;
    let res = app
        .post_form(&mallory, "/api/devices/delete", &[("id", &id.to_string())])
        .await;
    assert!(failure(res).await.is("NOT_FOUND"));
    let res = app
        .post_form(&mallory, "/api/devices/config", &[("id", &id.to_string())])
        .await;
    assert!(!res.status().is_success());
    let res = app
        .post_form(
            &mallory,
            "/api/devices/rename",
            &[("id", &id.to_string()), ("name", "pwned")],
        )
        .await;
    assert!(!res.status().is_success());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM devices WHERE name = 'one'")
            .await,
        1
    );

    // A VIP has no device limit.
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "free@example.com"), ("vip", "true")],
    )
    .await;
    for n in 0..3 {
        assert_eq!(
            create_device(&app, &free, &format!("vip-{n}"), "")
                .await
                .status(),
            StatusCode::OK
        );
    }
    // Removing frees the address for reuse.
    let before: i64 = sqlx::query_scalar("SELECT v4_index FROM devices WHERE name = 'one'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        app.post_form(&free, "/api/devices/delete", &[("id", &id.to_string())])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        create_device(&app, &free, "reuse", "").await.status(),
        StatusCode::OK
    );
    let reused: i64 = sqlx::query_scalar("SELECT v4_index FROM devices WHERE name = 'reuse'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(before, reused);
}

#[tokio::test]
async fn a_full_pool_says_network_full() {
    let app = TestApp::spawn().await;
    // Signed up before any server exists: no default identity takes an address.
    let user = app.signed_in_user("v@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    // A /30 holds the server (.1) and one device (.2).
    server_with_node(&app, &admin, "tiny", "10.70.0.0/30").await;
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "v@example.com"), ("vip", "true")],
    )
    .await;
    assert_eq!(
        create_device(&app, &user, "a", "").await.status(),
        StatusCode::OK
    );
    let res = create_device(&app, &user, "b", "").await;
    assert!(failure(res).await.is("NETWORK_FULL"));
    assert_eq!(app.count("SELECT COUNT(*) FROM devices").await, 1);
}

#[tokio::test]
async fn node_tokens_are_checked_and_nodes_see_only_their_peers() {
    let app = TestApp::spawn().await;
    // Signed up before any server exists: no default identity takes an address.
    let user = app.signed_in_user("u@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (a_id, a_token) = server_with_node(&app, &admin, "a", "10.71.0.0/24").await;
    let (_, b_token) = server_with_node(&app, &admin, "b", "10.72.0.0/24").await;
    let res = app
        .post_form(
            &user,
            "/api/devices/create",
            &[
                ("name", "on-a"),
                ("public_key", ""),
                ("server_id", &a_id.to_string()),
                ("region", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let a: DesiredConfig = node_config(&app, &a_token, 0).await.json().await.unwrap();
    let b: DesiredConfig = node_config(&app, &b_token, 0).await.json().await.unwrap();
    assert_eq!(a.peers.len(), 1);
    assert!(b.peers.is_empty());

    for token in ["", "garbage", &"A".repeat(43)] {
        let res = node_config(&app, token, 0).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"]["code"].is_string() && body["error"]["request_id"].is_string(),
            "{body}"
        );
    }
    // Rotating revokes the old token at once.
    let res = app
        .post_form(
            &admin,
            "/api/admin/server_token",
            &[("id", &a_id.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        node_config(&app, &a_token, 0).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Bad JSON to the stats endpoint is a clear JSON error.
    let res = new_client()
        .post(app.url("/api/v1/nodes/self/stats"))
        .bearer_auth(&b_token)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "INVALID_BODY"
    );
}

/// Issue 12, finding 7: the token a rotation shows is an enrollment token
/// only; the config and stats endpoints refuse it until a node enrolls with
/// it, and enrolling with it works again.
#[tokio::test]
async fn a_rotated_node_token_reopens_enrollment_and_is_no_node_credential() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (id, old_token) = server_with_node(&app, &admin, "rot", "10.73.0.0/24").await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/server_token",
            &[("id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh: String = res.json().await.unwrap();
    let stats = |token: String| {
        let url = app.url("/api/v1/nodes/self/stats");
        async move {
            new_client()
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "applied_version": 1, "peers": [] }))
                .send()
                .await
                .unwrap()
        }
    };
    for token in [&old_token, &fresh] {
        let res = node_config(&app, token, 0).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["code"],
            "INVALID_TOKEN"
        );
        let res = stats(token.clone()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["code"],
            "INVALID_TOKEN"
        );
    }
    let servers: Vec<Value> = app
        .post_form(&admin, "/api/admin/servers", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        servers[0]["healthy"], false,
        "unenrolled until a node enrolls again"
    );
    // Enrollment is open again, once.
    let res = new_client()
        .post(app.url("/api/v1/nodes/enroll"))
        .bearer_auth(&fresh)
        .json(&serde_json::json!({ "public_key": keys::generate_keypair().public }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let enrolled: EnrollResponse = res.json().await.unwrap();
    assert_eq!(
        node_config(&app, &enrolled.node_token, 0).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        stats(enrolled.node_token.clone()).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        node_config(&app, &fresh, 0).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn long_poll_answers_within_a_second_of_a_change() {
    let app = TestApp::spawn().await;
    // Signed up before any server exists: no default identity takes an address.
    let user = app.signed_in_user("u@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let first: DesiredConfig = node_config(&app, &token, 0).await.json().await.unwrap();
    let url = app.url(&format!(
        "/api/v1/nodes/self/config?since={}",
        first.version
    ));
    let poll = tokio::spawn({
        let token = token.clone();
        async move {
            let res = new_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (
                Instant::now(),
                res.status(),
                res.json::<DesiredConfig>().await.ok(),
            )
        }
    });
    // The poll is held while nothing changes.
    app.wait_held(1).await;
    assert!(
        !poll.is_finished(),
        "an unchanged set is held, not answered"
    );
    let changed_at = Instant::now();
    assert_eq!(
        create_device(&app, &user, "new", "").await.status(),
        StatusCode::OK
    );
    let (answered_at, status, cfg) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cfg.unwrap().peers.len(), 1);
    assert!(answered_at.duration_since(changed_at) < Duration::from_secs(1));
}

#[tokio::test]
async fn stats_mark_devices_connected_and_count_usage() {
    let app = TestApp::spawn().await;
    // Signed up before any server exists: no default identity takes an address.
    let user = app.signed_in_user("u@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let key = keys::generate_keypair().public;
    assert_eq!(
        create_device(&app, &user, "laptop", &key).await.status(),
        StatusCode::OK
    );
    let now = truevault::db::now();
    let report = |rx: i64, tx: i64| {
        serde_json::json!({"applied_version": 2, "peers": [
            {"public_key": key, "latest_handshake": now - 5, "rx_bytes": rx, "tx_bytes": tx, "endpoint": "198.51.100.7:40000"},
            {"public_key": keys::generate_keypair().public, "latest_handshake": now, "rx_bytes": 1, "tx_bytes": 1}
        ]})
    };
    let post = |body: Value| {
        let token = token.clone();
        let url = app.url("/api/v1/nodes/self/stats");
        async move {
            new_client()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = post(report(1000, 2000)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["accepted"],
        1,
        "peers of other servers are ignored"
    );
    post(report(1500, 2100)).await;
    // The node restarted: counters start again from zero.
    post(report(100, 50)).await;
    let devices: Vec<Value> = app
        .post_form(&user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(devices[0]["connected"], true);
    assert_eq!(devices[0]["rx_bytes"], 100);
    let (rx, tx): (i64, i64) = sqlx::query_as("SELECT rx_bytes, tx_bytes FROM device_usage")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!((rx, tx), (1000 + 500 + 100, 2000 + 100 + 50));
    // Negative counters are refused.
    let res = post(serde_json::json!({"applied_version": 2, "peers": [{"public_key": key, "latest_handshake": 0, "rx_bytes": -1, "tx_bytes": 0}]})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let servers: Vec<Value> = app
        .post_form(&admin, "/api/admin/servers", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(servers[0]["healthy"], true);
    // The admin sees usage per user; a user cannot.
    let usage: Vec<Value> = app
        .post_form(&admin, "/api/admin/usage", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0]["email"], "u@example.com");
    assert_eq!(
        (usage[0]["rx_bytes"].as_i64(), usage[0]["tx_bytes"].as_i64()),
        (Some(1600), Some(2150))
    );
    assert!(!app
        .post_form(&user, "/api/admin/usage", &[])
        .await
        .status()
        .is_success());
}

/// 1,000 concurrent creations by 50 users on the Personal plan (3 devices
/// each): no address is handed out twice and nobody ends over the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_keep_addresses_unique_and_limits_held() {
    // The node reports once, at enrolment, and 1,000 creations take longer
    // than the 90 s staleness window on a loaded machine: this test is about
    // addresses and limits, so the node stays fresh for its whole run.
    let app = TestApp::spawn_with(|c| c.node_stale_after_secs = 3600).await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.80.0.0/16").await;
    let mut users = Vec::new();
    for i in 0..50 {
        let email = format!("u{i}@example.com");
        let id = truevault::accounts::service::create_verified_user(
            &app.state.db,
            &email,
            crate::helpers::PASSWORD,
            truevault::accounts::model::Role::User,
        )
        .await
        .unwrap();
        sqlx::query("UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = 'personal') WHERE id = $1")
            .bind(id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        let u = accounts_repo::find_by_id(&app.state.db, id)
            .await
            .unwrap()
            .unwrap()
            .current();
        users.push(u);
    }
    let mut tasks = Vec::new();
    for n in 0..1000 {
        let state = app.state.clone();
        let user: CurrentUser = users[n % 50].clone();
        tasks.push(tokio::spawn(async move {
            let input = devices::NewDevice {
                name: format!("d{n}"),
                public_key: None,
                server_id: None,
                region: None,
                identity_region: None,
                tunnel_mode: Default::default(),
            };
            devices::create_device(&state, &user, input)
                .await
                .map(|_| ())
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(AppError::DeviceLimitExceeded(3)) => limited += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!((ok, limited), (150, 850));
    assert_eq!(app.count("SELECT COUNT(*) FROM devices").await, 150);
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT v4_index) FROM devices")
            .await,
        150
    );
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT v6_index) FROM devices")
            .await,
        150
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM (SELECT user_id FROM devices GROUP BY user_id HAVING COUNT(*) > 3) x").await, 0);
}

#[tokio::test]
async fn signup_creates_the_plans_default_identities_and_they_stay_put() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    server_with_node(&app, &admin, "eu-2", "10.67.0.0/16").await;
    // Free plan: one identity, made at sign-up (verification).
    let user = app.signed_in_user("ida@example.com").await;
    let devices: Vec<Value> = app
        .post_form(&user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["identity_region"], "eu");
    let (server, address) = (
        devices[0]["server_id"].clone(),
        devices[0]["address_v4"].clone(),
    );
    // A second identity is over the free plan's limit.
    let res = app
        .post_form(
            &user,
            "/api/devices/identity",
            &[("region", "eu"), ("public_key", "")],
        )
        .await;
    assert!(failure(res).await.is("IDENTITY_LIMIT_EXCEEDED"));
    // Setting it up on a device (new keys) keeps the same exit.
    let id = devices[0]["id"].as_i64().unwrap().to_string();
    let key = keys::generate_keypair().public;
    let res = app
        .post_form(
            &user,
            "/api/devices/rekey",
            &[("id", &id), ("public_key", &key)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after: Vec<Value> = app
        .post_form(&user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            after[0]["server_id"].clone(),
            after[0]["address_v4"].clone()
        ),
        (server, address)
    );
    assert_eq!(after[0]["public_key"], key);
    // Identities do not use up the device allowance.
    assert_eq!(
        create_device(&app, &user, "phone", "").await.status(),
        StatusCode::OK
    );
    // A region without servers is a clear error.
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "ida@example.com"), ("vip", "true")],
    )
    .await;
    let res = app
        .post_form(
            &user,
            "/api/devices/identity",
            &[("region", "mars"), ("public_key", "")],
        )
        .await;
    assert!(failure(res).await.is("SERVER_UNAVAILABLE"));
}

#[tokio::test]
async fn without_javascript_the_config_downloads_once_with_a_server_made_key() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("nojs@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let res = app
        .post_form(
            &user,
            "/devices/download",
            &[("name", "Old laptop"), ("region", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("content-disposition").unwrap(),
        "attachment; filename=\"tv-old-laptop.conf\""
    );
    let config = res.text().await.unwrap();
    let (_, public) = key_pair_in(&config);
    let cfg: DesiredConfig = node_config(&app, &node_token, 0)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        cfg.peers.iter().any(|p| p.public_key == public),
        "the node gets the matching public key"
    );
    // The free plan's one device is used: a clear error, nothing created.
    let res = app
        .post_form(
            &user,
            "/devices/download",
            &[("name", "Second"), ("region", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.headers()["x-error-code"], "DEVICE_LIMIT_EXCEEDED");
    // Signed out or from another site: refused.
    let res = app
        .post_form(&new_client(), "/devices/download", &[("name", "x")])
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = user
        .post(app.url("/devices/download"))
        .header("origin", "http://evil.example")
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM devices WHERE identity_region IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn admins_edit_servers_and_pools_stay_while_in_use() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("eve@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (id, token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let id = id.to_string();
    let edit = |port: &'static str, pool: &'static str| {
        let id = id.clone();
        let admin = admin.clone();
        let app = &app;
        async move {
            app.post_form(
                &admin,
                "/api/admin/server_update",
                &[
                    ("id", &id),
                    ("name", "eu-amsterdam"),
                    ("region", "eu"),
                    ("country", "NL"),
                    ("city", "Amsterdam"),
                    ("endpoint_host", "vpn2.example.net"),
                    ("endpoint_port", port),
                    ("server_type", "shared"),
                    ("vip_email", ""),
                    ("capacity", "500"),
                    ("ipv4_pool", pool),
                    ("ipv6_pool", "fd00:99::/64"),
                    ("dns", "10.66.0.1"),
                ],
            )
            .await
        }
    };
    assert_eq!(edit("51900", "10.66.0.0/16").await.status(), StatusCode::OK);
    let cfg: DesiredConfig = node_config(&app, &token, 0).await.json().await.unwrap();
    assert_eq!(cfg.interface.listen_port, 51900, "nodes get the new port");
    assert_eq!(
        create_device(&app, &user, "laptop", "").await.status(),
        StatusCode::OK
    );
    let res = edit("51900", "10.67.0.0/16").await;
    let f = failure(res).await;
    assert_eq!(
        (f.code.as_str(), f.field.as_deref()),
        ("VALIDATION_FAILED", Some("ipv4_pool")),
        "pools cannot change while devices use them"
    );
    let res = edit("70000", "10.66.0.0/16").await;
    assert_eq!(failure(res).await.field.as_deref(), Some("endpoint_port"));
    let servers: Vec<Value> = app
        .post_form(&admin, "/api/admin/servers", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            servers[0]["name"].as_str(),
            servers[0]["ipv4_pool"].as_str()
        ),
        (Some("eu-amsterdam"), Some("10.66.0.0/16"))
    );
}

#[tokio::test]
async fn a_capped_plan_stops_at_its_monthly_data_cap_until_it_lifts() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("u@example.com").await;
    let vip = app.signed_in_user("vip@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "vip@example.com"), ("vip", "true")],
    )
    .await;
    sqlx::query("UPDATE plans SET data_cap_gb = 1 WHERE slug = 'free'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (_, token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let (key, vip_key) = (
        keys::generate_keypair().public,
        keys::generate_keypair().public,
    );
    assert_eq!(
        create_device(&app, &user, "laptop", &key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        create_device(&app, &vip, "vip laptop", &vip_key)
            .await
            .status(),
        StatusCode::OK
    );
    let peers = |cfg: &DesiredConfig| {
        let mut keys: Vec<String> = cfg.peers.iter().map(|p| p.public_key.clone()).collect();
        keys.sort();
        keys
    };
    let before: DesiredConfig = node_config(&app, &token, 0).await.json().await.unwrap();
    assert_eq!(before.peers.len(), 2);

    // 1.1 GiB this month for the free user, 5 GiB for the VIP.
    let now = truevault::db::now();
    let gib = 1_i64 << 30;
    let res = new_client()
        .post(app.url("/api/v1/nodes/self/stats"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"applied_version": before.version, "peers": [
            {"public_key": key, "latest_handshake": now - 5, "rx_bytes": gib / 2, "tx_bytes": gib * 6 / 10},
            {"public_key": vip_key, "latest_handshake": now - 5, "rx_bytes": 5 * gib, "tx_bytes": 0}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let capped: DesiredConfig = node_config(&app, &token, before.version)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        capped.version > before.version,
        "nodes learn of the cap at once"
    );
    assert_eq!(
        peers(&capped),
        vec![vip_key.clone()],
        "the capped user's peer is removed, the VIP's stays"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vpn.data_cap_reached'")
            .await,
        1
    );

    // The next month gives the peer back.
    app.state.clock.advance(32 * 86_400);
    truevault::jobs::run_due(&app.state, "test").await.unwrap();
    let lifted: DesiredConfig = node_config(&app, &token, capped.version)
        .await
        .json()
        .await
        .unwrap();
    let mut both = vec![key.clone(), vip_key.clone()];
    both.sort();
    assert_eq!(peers(&lifted), both);
}
