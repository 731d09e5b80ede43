//! Live updates (`truevault::live`): a node's stats report reaches the
//! owner's open event stream, and only the owner's; with two portal
//! instances on one PostgreSQL database, a report on one reaches a stream
//! held by the other (LISTEN/NOTIFY).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use truevault_wire::node::DesiredConfig;

use crate::{
    helpers::{new_client, TestApp, PASSWORD},
    vpn::{create_device, node_config, server_with_node},
};

/// The next `event: device` of an SSE response, within `within`.
async fn next_device_event(
    res: &mut reqwest::Response,
    buf: &mut String,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut event = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if event == "device" {
                return serde_json::from_str(&data).expect("event data");
            }
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, res.chunk())
            .await
            .expect("an event arrives in time")
            .expect("stream")
            .expect("stream still open");
        buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
}

async fn report(app: &TestApp, node: &str, version: i64, key: &str, rx: i64, tx: i64) {
    let now = truevault::db::now();
    let res = new_client()
        .post(app.url("/api/v1/nodes/self/stats"))
        .bearer_auth(node)
        .json(&serde_json::json!({"applied_version": version, "peers": [
            {"public_key": key, "latest_handshake": now - 3, "rx_bytes": rx, "tx_bytes": tx}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_node_report_reaches_the_owners_live_stream_on_any_instance() {
    let app = TestApp::spawn().await;
    let on_pg = app.state.db.engine == truevault::db::Engine::Postgres;
    // PostgreSQL: a second portal instance on the same database (and the
    // same keys) holds the page's stream. SQLite is one instance.
    let second = if on_pg {
        let url = app.state.config.database_url.clone();
        let dir = app.dir.clone();
        Some(
            TestApp::spawn_with(move |c| {
                c.database_url = url;
                c.data_dir = dir;
            })
            .await,
        )
    } else {
        None
    };
    let viewer_app = second.as_ref().unwrap_or(&app);
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node) = server_with_node(&app, &admin, "eu-1", "10.83.0.0/16").await;
    let ada = app.signed_in_user("ada@example.com").await;
    let key = truevault::vpn::keys::generate_keypair().public;
    let created: Value = create_device(&app, &ada, "laptop", &key)
        .await
        .json()
        .await
        .unwrap();
    let device_id = created["device"]["id"].as_i64().unwrap();
    let bob = app.signed_in_user("bob@example.com").await;

    // Ada's page, on the other instance: her own session cookie there.
    let ada_there = new_client();
    let res = viewer_app
        .login(&ada_there, "ada@example.com", PASSWORD)
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let mut ada_stream = viewer_app.get(&ada_there, "/live/events").await;
    assert_eq!(ada_stream.status(), StatusCode::OK);
    assert!(ada_stream
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    let mut bob_stream = viewer_app.get(&bob, "/live/events").await;
    assert_eq!(bob_stream.status(), StatusCode::OK);
    // Signed out: no stream.
    let res = viewer_app.get(&new_client(), "/live/events").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    let started = Instant::now();
    report(&app, &node, cfg.version, &key, 1_000, 500).await;
    let mut buf = String::new();
    let event = next_device_event(&mut ada_stream, &mut buf, Duration::from_secs(5)).await;
    println!(
        "stats report → event on {} instance: {:?}",
        if on_pg { "the other" } else { "the same" },
        started.elapsed()
    );
    assert_eq!(event["id"], device_id);
    assert_eq!(event["connected"], true);
    assert_eq!(event["rx_bytes"], 1_000);
    assert_eq!(event["tx_bytes"], 500);
    // Counters grow: the next event says so.
    report(&app, &node, cfg.version, &key, 5_000, 900).await;
    let event = next_device_event(&mut ada_stream, &mut buf, Duration::from_secs(5)).await;
    assert_eq!(event["rx_bytes"], 5_000);

    // Bob's stream carries nothing of Ada's: the next thing it gets is his
    // own device's event.
    let bob_key = truevault::vpn::keys::generate_keypair().public;
    let created: Value = create_device(&app, &bob, "phone", &bob_key)
        .await
        .json()
        .await
        .unwrap();
    let cfg: DesiredConfig = node_config(&app, &node, 0).await.json().await.unwrap();
    report(&app, &node, cfg.version, &bob_key, 7, 7).await;
    let mut bob_buf = String::new();
    let event = next_device_event(&mut bob_stream, &mut bob_buf, Duration::from_secs(5)).await;
    assert_eq!(event["id"], created["device"]["id"], "only his own devices");
    drop(second);
}
