//! Security finding 17: `__Host-` cookies on https, no sign-up text in mail
//! to unconfirmed addresses, one-time links in the outbox marked and erased
//! when they expire. (The live-view cap is with the camera tests.)

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};
use serde_json::Value;
use truevault::accounts::{model::Role, service};

use crate::helpers::{new_client, TestApp, PASSWORD};

#[tokio::test]
async fn https_sessions_use_host_prefixed_cookies() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://vpn.example.com".into()).await;
    service::create_verified_user(&app.state.db, "h@example.com", PASSWORD, Role::User)
        .await
        .unwrap();
    let res = app.login(&new_client(), "h@example.com", PASSWORD).await;
    let cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("tv_session="))
        .expect("a session cookie")
        .to_string();
    assert!(cookie.starts_with("__Host-tv_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("; Path=/;"),
        "{cookie}"
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let token = cookie
        .trim_start_matches("__Host-tv_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let me = |cookie: String| {
        let app = &app;
        async move {
            let res = new_client()
                .post(app.url("/api/account/me"))
                .header(header::ORIGIN, &app.origin)
                .header(header::COOKIE, cookie)
                .send()
                .await
                .unwrap();
            res.json::<Value>()
                .await
                .ok()
                .and_then(|v| v["email"].as_str().map(String::from))
        }
    };
    assert_eq!(
        me(format!("__Host-tv_session={token}")).await.as_deref(),
        Some("h@example.com")
    );
    // The unprefixed name is what a sibling subdomain or a plain-http page
    // could set: it is not read on an https install.
    assert_eq!(me(format!("tv_session={token}")).await, None);
}

async fn wait_for_mail(app: &TestApp, to: &str, template: &str) {
    let sql = format!(
        "SELECT COUNT(*) FROM mail_outbox WHERE to_addr = '{to}' AND template = '{template}'"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.count(&sql).await == 0 {
        assert!(Instant::now() < deadline, "no {template} mail to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sign_up_text_reaches_no_unconfirmed_address() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let bait = "Your account is frozen, call +1 555 0100 now";
    let res = app
        .post_form(
            &client,
            "/api/auth/register",
            &[
                ("email", "victim@example.com"),
                ("password", PASSWORD),
                ("first_name", bait),
            ],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let (_, verify) = app
        .last_mail_to("victim@example.com")
        .await
        .expect("verification mail");
    assert!(verify.contains("/verify?token="));
    assert!(
        !verify.contains("frozen") && !verify.contains("555"),
        "{verify}"
    );
    // Nor does a reset mail to the still-unconfirmed account carry it.
    app.post_form(
        &client,
        "/api/auth/forgot",
        &[("email", "victim@example.com")],
    )
    .await;
    wait_for_mail(&app, "victim@example.com", "reset").await;
    let (_, reset) = app.last_mail_to("victim@example.com").await.unwrap();
    assert!(reset.contains("/reset?token="));
    assert!(!reset.contains("frozen"), "{reset}");
}

#[tokio::test]
async fn one_time_links_in_the_outbox_are_marked_and_erased_when_they_expire() {
    let app = TestApp::spawn().await;
    let _user = app.signed_in_user("o@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    app.post_form(
        &new_client(),
        "/api/auth/forgot",
        &[("email", "o@example.com")],
    )
    .await;
    wait_for_mail(&app, "o@example.com", "reset").await;

    let outbox = || async {
        let res = app.post_form(&admin, "/api/admin/outbox", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Vec<Value>>().await.unwrap()
    };
    let find = |list: &[Value], template_subject: &str| {
        list.iter()
            .find(|m| m["to_addr"] == "o@example.com" && m["subject"] == template_subject)
            .cloned()
            .expect("the mail")
    };
    let list = outbox().await;
    let reset = find(&list, "Reset your TrueVault password");
    let created = reset["created_at"].as_i64().unwrap();
    assert_eq!(
        reset["link_expires_at"].as_i64(),
        Some(created + 3600),
        "marked with its expiry"
    );
    assert!(reset["body_text"]
        .as_str()
        .unwrap()
        .contains("/reset?token="));
    let welcome = find(&list, "Welcome to TrueVault");
    assert!(
        welcome["link_expires_at"].is_null(),
        "no one-time link, no mark"
    );

    // An hour later (the token's life) the link is gone from the outbox.
    sqlx::query("UPDATE mail_outbox SET created_at = created_at - 3600 WHERE template = 'reset'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let list = outbox().await;
    let reset = find(&list, "Reset your TrueVault password");
    assert!(reset["body_text"].is_null(), "{reset}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM mail_outbox WHERE template = 'reset' AND body_text IS NOT NULL"
        )
        .await,
        0,
        "erased in the database, not only hidden"
    );
    // The verification mail (24 hours) is still kept, marked.
    let verify = find(&list, "Confirm your e-mail address");
    assert!(verify["body_text"]
        .as_str()
        .is_some_and(|b| b.contains("/verify?token=")));
    assert!(verify["link_expires_at"].as_i64().is_some());
}

/// Node stats are outside input (a node, or whoever holds its token): any
/// report is applied or refused with a 4xx, never a 500, and no counter it
/// leaves behind is negative. Reports are drawn by proptest: 48 by default,
/// `PROPTEST_CASES=…` for a longer run.
#[tokio::test]
async fn any_node_stats_report_is_applied_or_refused_cleanly() {
    use proptest::{
        prelude::*,
        strategy::ValueTree,
        test_runner::{Config, TestRunner},
    };
    use truevault::vpn::keys;

    let app = TestApp::spawn().await;
    let user = app.signed_in_user("stats@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, token) = crate::vpn::server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let key = keys::generate_keypair().public;
    let res = crate::vpn::create_device(&app, &user, "phone", &key).await;
    assert_eq!(res.status(), StatusCode::OK);

    let counter = prop_oneof![
        Just(0i64),
        0i64..1_000_000,
        Just(i64::MAX),
        Just(i64::MAX - 1),
        Just(-1i64),
        any::<i64>(),
    ];
    let peer = (
        prop_oneof![Just(key.clone()), ".{0,80}"],
        counter.clone(),
        counter.clone(),
        counter,
        proptest::option::of(".{0,120}"),
    )
        .prop_map(
            |(public_key, latest_handshake, rx_bytes, tx_bytes, endpoint)| {
                serde_json::json!({
                    "public_key": public_key,
                    "latest_handshake": latest_handshake,
                    "rx_bytes": rx_bytes,
                    "tx_bytes": tx_bytes,
                    "endpoint": endpoint,
                })
            },
        );
    let report = (any::<i64>(), proptest::collection::vec(peer, 0..4)).prop_map(|(v, peers)| {
        serde_json::json!({ "applied_version": v, "peers": peers }).to_string()
    });
    let body = prop_oneof![4 => report, 1 => ".{0,200}"];
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let url = app.url("/api/v1/nodes/self/stats");
    for _ in 0..cases {
        let body = body.new_tree(&mut runner).expect("a case").current();
        let res = new_client()
            .post(&url)
            .bearer_auth(&token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(
            status == StatusCode::OK || status.is_client_error(),
            "{status} for {body}: {}",
            res.text().await.unwrap_or_default()
        );
    }
    let negative = app
        .count(
            "SELECT (SELECT COUNT(*) FROM devices WHERE rx_bytes < 0 OR tx_bytes < 0) \
             + (SELECT COUNT(*) FROM device_usage WHERE rx_bytes < 0 OR tx_bytes < 0 OR connected_seconds < 0)",
        )
        .await;
    assert_eq!(negative, 0, "no counter went negative");
}
