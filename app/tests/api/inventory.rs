//! Scanner tokens and the inventory sync: upserts by MAC, offline marking,
//! events and alerts, and what a hostile or broken agent cannot do.

use reqwest::StatusCode;
use serde_json::{json, Value};
use truevault_wire::inventory::{DeviceType, ScannedHost, Service, SyncRequest, SyncSummary};

use crate::helpers::{failure, new_client, TestApp};

/// Creates a scanner token through the dashboard's server function.
pub async fn scanner_token(app: &TestApp, user: &reqwest::Client) -> String {
    let res = app
        .post_form(user, "/api/network/token_create", &[("name", "Home Pi")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.expect("json");
    v["token"].as_str().expect("token shown once").to_string()
}

fn host(mac: &str, ip: &str, vendor: &str, t: DeviceType) -> ScannedHost {
    ScannedHost {
        mac: mac.into(),
        ip: ip.into(),
        hostname: None,
        vendor: Some(vendor.into()),
        device_type: t,
        is_camera: t == DeviceType::Camera,
        services: vec![Service {
            kind: "_http._tcp".into(),
            name: Some(format!("{vendor} web")),
            port: Some(80),
        }],
        open_ports: vec![80, 554],
        ..Default::default()
    }
}

fn scan(full: bool, hosts: Vec<ScannedHost>) -> SyncRequest {
    SyncRequest {
        full_scan: full,
        network: "192.168.50.0/24".into(),
        agent: "test".into(),
        hosts,
    }
}

async fn sync(app: &TestApp, token: &str, body: &impl serde::Serialize) -> reqwest::Response {
    new_client()
        .post(app.url("/api/v1/inventory/sync"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn summary(app: &TestApp, token: &str, req: &SyncRequest) -> SyncSummary {
    let res = sync(app, token, req).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.expect("summary")
}

fn lab() -> Vec<ScannedHost> {
    vec![
        host(
            "44:19:b6:00:00:10",
            "192.168.50.10",
            "Hikvision",
            DeviceType::Camera,
        ),
        host(
            "b8:27:eb:00:00:11",
            "192.168.50.11",
            "Raspberry Pi",
            DeviceType::Computer,
        ),
        host(
            "c0:25:e9:00:00:01",
            "192.168.50.1",
            "TP-Link",
            DeviceType::Router,
        ),
    ]
}

#[tokio::test]
async fn a_scan_fills_the_inventory_and_later_scans_tell_what_changed() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    let token = scanner_token(&app, &user).await;
    let mails_before = app.mail_count("ada@example.com").await;

    let first = summary(&app, &token, &scan(true, lab())).await;
    assert_eq!(
        first,
        SyncSummary {
            new: 3,
            updated: 0,
            offline: 0,
            cameras: 1
        }
    );
    let html = app.get_html(&user, "/network").await;
    for needle in [
        "44:19:b6:00:00:10",
        "Hikvision",
        "Raspberry Pi",
        "Camera",
        "_http._tcp",
        "network-map",
        "Add camera",
    ] {
        assert!(html.contains(needle), "the inventory page shows {needle}");
    }
    assert!(
        !html.contains("data-testid=\"new-device-alerts\""),
        "the first scan of a network raises no new-device alert"
    );
    assert_eq!(
        app.mail_count("ada@example.com").await,
        mails_before,
        "no mail for the first scan"
    );

    // The Pi leaves, the camera moves, a phone with a private address joins.
    let mut later = lab();
    later.remove(1);
    later[0].ip = "192.168.50.20".into();
    later.push(host(
        "da:a1:19:00:00:12",
        "192.168.50.12",
        "",
        DeviceType::Phone,
    ));
    let second = summary(&app, &token, &scan(true, later)).await;
    assert_eq!(
        second,
        SyncSummary {
            new: 1,
            updated: 2,
            offline: 1,
            cameras: 1
        }
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM lan_devices WHERE online = 0 AND mac = 'b8:27:eb:00:00:11'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM lan_events WHERE kind = 'ip_changed' AND detail = '192.168.50.10 → 192.168.50.20'").await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM lan_devices WHERE mac = 'da:a1:19:00:00:12' AND randomized_mac = 1").await,
        1,
        "a locally administered MAC is flagged even when the agent did not"
    );
    let (subject, body) = app
        .last_mail_to("ada@example.com")
        .await
        .expect("alert mail");
    assert_eq!(subject, "A new device joined your home network");
    assert!(body.contains("192.168.50.12"), "{body}");
    let html = app.get_html(&user, "/network").await;
    assert!(html.contains("data-testid=\"new-device-alerts\""));
    let dashboard = app.get_html(&user, "/dashboard").await;
    assert!(
        dashboard.contains("data-testid=\"dashboard-new-devices\"")
            && dashboard.contains("192.168.50.12"),
        "the dashboard tells about the new device"
    );

    // Seen again: back online, an event in its history.
    let third = summary(&app, &token, &scan(false, lab()[1..2].to_vec())).await;
    assert_eq!(
        third,
        SyncSummary {
            new: 0,
            updated: 1,
            offline: 0,
            cameras: 0
        }
    );
    let pi: i64 = app
        .count("SELECT id FROM lan_devices WHERE mac = 'b8:27:eb:00:00:11'")
        .await;
    let html = app.get_html(&user, &format!("/network/{pi}")).await;
    assert!(
        html.contains("Back online") && html.contains("Went offline"),
        "history is shown"
    );

    // Dismissing alerts clears them.
    let res = app.post_form(&user, "/api/network/dismiss", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = app.get_html(&user, "/network").await;
    assert!(!html.contains("data-testid=\"new-device-alerts\""));
}

#[tokio::test]
async fn tokens_are_hashed_per_user_and_revocable() {
    let app = TestApp::spawn().await;
    let ada = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let ada_token = scanner_token(&app, &ada).await;
    let bob_token = scanner_token(&app, &bob).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM scanner_tokens WHERE token_hash = '{ada_token}'"
        ))
        .await,
        0,
        "the token itself is not stored"
    );

    summary(&app, &bob_token, &scan(true, lab())).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM lan_devices d JOIN users u ON u.id = d.user_id WHERE u.email = 'bob@example.com'").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM lan_devices d JOIN users u ON u.id = d.user_id WHERE u.email = 'ada@example.com'").await, 0, "Bob's scan lands only in Bob's inventory");
    let ada_page = app.get_html(&ada, "/network").await;
    assert!(!ada_page.contains("44:19:b6:00:00:10"));
    let bob_device = app.count("SELECT MIN(id) FROM lan_devices").await;
    let res = app
        .post_form(
            &ada,
            "/api/network/device",
            &[("id", &bob_device.to_string())],
        )
        .await;
    assert!(!res.status().is_success());
    assert!(
        failure(res).await.is("NOT_FOUND"),
        "Ada cannot read Bob's device"
    );

    for bad in ["", "not-a-token", &"A".repeat(43)] {
        let res = sync(&app, bad, &scan(true, lab())).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let v: Value = res.json().await.expect("json error");
        assert_eq!(v["error"]["code"], "INVALID_TOKEN");
    }

    // The token made here (sign-up made another, "Home").
    let id = app.count("SELECT MIN(t.id) FROM scanner_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = 'ada@example.com' AND t.name = 'Home Pi'").await;
    // Bob cannot revoke Ada's token.
    let res = app
        .post_form(
            &bob,
            "/api/network/token_revoke",
            &[("id", &id.to_string())],
        )
        .await;
    assert!(failure(res).await.is("NOT_FOUND"));
    summary(&app, &ada_token, &scan(true, lab())).await;
    let res = app
        .post_form(
            &ada,
            "/api/network/token_revoke",
            &[("id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = sync(&app, &ada_token, &scan(true, lab())).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('scanner.token_created', 'scanner.token_revoked') AND details <> 'made at sign-up'").await,
        3
    );
}

#[tokio::test]
async fn bad_payloads_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    let token = scanner_token(&app, &user).await;

    let mut bad_mac = lab();
    bad_mac[2].mac = "ff:ff:ff:ff:ff:ff".into();
    let mut bad_ip = lab();
    bad_ip[1].ip = "192.168.50.300".into();
    let mut dup = lab();
    dup[2].mac = dup[0].mac.to_uppercase();
    let mut long = lab();
    long[0].hostname = Some("x".repeat(300));
    let mut script = lab();
    script[0].stream_url = Some("javascript:alert(1)".into());
    let too_many: Vec<ScannedHost> = (0..1025)
        .map(|i| {
            host(
                &format!("44:19:b6:01:{:02x}:{:02x}", i / 256, i % 256),
                "192.168.50.9",
                "Hikvision",
                DeviceType::Camera,
            )
        })
        .collect();
    for (what, hosts) in [
        ("broadcast MAC", bad_mac),
        ("bad IP", bad_ip),
        ("duplicate MAC", dup),
        ("long hostname", long),
        ("script URL", script),
        ("too many hosts", too_many),
    ] {
        let res = sync(&app, &token, &scan(true, hosts)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{what}");
        let v: Value = res.json().await.expect("json error");
        assert_eq!(v["error"]["code"], "VALIDATION_FAILED", "{what}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    for body in [
        json!({"hosts": "nope"}),
        json!([1, 2, 3]),
        json!({"full_scan": true, "network": "x", "hosts": [{"mac": 5}]}),
    ] {
        let res = sync(&app, &token, &body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let v: Value = res.json().await.expect("json error");
        assert_eq!(v["error"]["code"], "INVALID_BODY");
    }
    let huge = "x".repeat(3 * 1024 * 1024);
    let res = new_client()
        .post(app.url("/api/v1/inventory/sync"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"pad\":\"{huge}\"}}"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM lan_devices").await,
        0,
        "nothing stored"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM lan_events").await, 0);
    // A good sync still works afterwards.
    summary(&app, &token, &scan(true, lab())).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM lan_devices").await, 3);
}

#[tokio::test]
async fn concurrent_syncs_of_one_user_keep_one_row_per_mac() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    let token = scanner_token(&app, &user).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = app.url("/api/v1/inventory/sync");
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            new_client()
                .post(url)
                .bearer_auth(token)
                .json(&scan(true, lab()))
                .send()
                .await
                .expect("request")
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::OK);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM lan_devices").await, 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM lan_events WHERE kind = 'new'")
            .await,
        3,
        "each device is new exactly once"
    );
}
