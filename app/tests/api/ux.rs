//! What a new customer and operator run into: the 404 page's nonce, config
//! fields that would break a line, the identity made at sign-up, and the
//! portal stopping promptly.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use truevault::vpn::{keys, model::PRIVATE_KEY_PLACEHOLDER};

use crate::{
    helpers::{new_client, TestApp},
    vpn::server_with_node,
};

async fn node_config(app: &TestApp, token: &str, since: i64) -> reqwest::Response {
    new_client()
        .get(app.url(&format!("/api/v1/nodes/self/config?since={since}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn node_peer_keys(app: &TestApp, token: &str) -> Vec<String> {
    let cfg: Value = node_config(app, token, 0).await.json().await.unwrap();
    cfg["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["public_key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_not_found_page_carries_one_nonce_on_every_script() {
    let app = TestApp::spawn().await;
    let res = app.get(&new_client(), "/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let csp = res
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_string();
    let html = res.text().await.unwrap();
    let tags: Vec<&str> = html
        .split("<script")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or_default())
        .collect();
    assert!(!tags.is_empty(), "the page loads its bundle");
    for tag in &tags {
        // External scripts are allowed by 'self'; inline ones need the nonce.
        assert!(
            tag.contains(" src=") || tag.contains(&format!("nonce=\"{nonce}\"")),
            "<script{tag}> lacks this response's nonce {nonce}"
        );
    }
    assert!(html.contains("Page not found"));
}

#[tokio::test]
async fn line_and_paragraph_separators_never_reach_a_config() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("sep@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let before = app.count("SELECT COUNT(*) FROM devices").await;
    let key = keys::generate_keypair().public;
    for name in ["phone\u{2028}[Peer]", "phone\u{2029}x", "phone\u{85}x"] {
        let res = app
            .post_form(
                &user,
                "/api/devices/create",
                &[
                    ("name", name),
                    ("public_key", &key),
                    ("server_id", "auto"),
                    ("region", ""),
                ],
            )
            .await;
        assert!(!res.status().is_success(), "{name:?} was accepted");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM devices").await, before);
    // Server names and regions reach the configs' first line too.
    let res = app
        .post_form(
            &admin,
            "/api/admin/server_create",
            &[
                ("name", "eu\u{2028}2"),
                ("region", "eu"),
                ("country", ""),
                ("city", ""),
                ("endpoint_host", "203.0.113.11"),
                ("endpoint_port", "51820"),
                ("server_type", "shared"),
                ("vip_email", ""),
                ("capacity", "10"),
                ("ipv4_pool", "10.67.0.0/16"),
                ("ipv6_pool", ""),
                ("dns", ""),
            ],
        )
        .await;
    assert!(!res.status().is_success());
    assert_eq!(app.count("SELECT COUNT(*) FROM vpn_servers").await, 1);
}

#[tokio::test]
async fn the_sign_up_identity_is_no_peer_until_it_is_set_up() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let user = app.signed_in_user("ida@example.com").await;
    let devices: Vec<Value> = app
        .post_form(&user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["identity_region"], "eu");
    assert_eq!(devices[0]["awaiting_key"], true);
    // Nobody holds a key for it, so no node carries it.
    assert!(node_peer_keys(&app, &node_token).await.is_empty());

    // Set up on a device: a key made there; the peer appears, same exit.
    let key = keys::generate_keypair().public;
    let id = devices[0]["id"].as_i64().unwrap().to_string();
    let res = app
        .post_form(
            &user,
            "/api/devices/rekey",
            &[("id", &id), ("public_key", &key)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let created: Value = res.json().await.unwrap();
    assert!(
        created["config"]
            .as_str()
            .unwrap()
            .contains(&format!("PrivateKey = {PRIVATE_KEY_PLACEHOLDER}")),
        "the server made no private key: the device holds it"
    );
    assert_eq!(node_peer_keys(&app, &node_token).await, vec![key.clone()]);
    let after: Vec<Value> = app
        .post_form(&user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after[0]["awaiting_key"], false);
    assert_eq!(after[0]["address_v4"], devices[0]["address_v4"]);
}

#[tokio::test]
async fn stopping_answers_held_long_polls_at_once() {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (app, server) = TestApp::spawn_until(|_| {}, async move {
        let _ = stop_rx.await;
    })
    .await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let current: Value = node_config(&app, &node_token, 0)
        .await
        .json()
        .await
        .unwrap();
    let version = current["version"].as_i64().unwrap();

    // A node waiting for changes (it would wait ~25 s).
    let poll = {
        let url = app.url(&format!("/api/v1/nodes/self/config?since={version}"));
        let token = node_token.clone();
        tokio::spawn(async move {
            new_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status())
        })
    };
    let parked = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.state.stopping.held() == 0 {
        assert!(
            tokio::time::Instant::now() < parked,
            "the long-poll never parked"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    stop_tx.send(()).unwrap();
    // Both well inside the long-poll's own 25 s: the poll is answered, not
    // waited out, and the server stops.
    let status = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the held long-poll was answered")
        .unwrap()
        .expect("answered, not cut off");
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}
