//! Device churn (security finding 13): device changes are rate-limited per
//! user, and nodes woken by a change share one config build per version.

use reqwest::{header, StatusCode};
use truevault_wire::node::DesiredConfig;

use crate::{
    helpers::{failure, new_client, TestApp},
    vpn::{create_device, node_config, server_with_node},
};

#[tokio::test]
async fn device_changes_are_limited_per_user_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.device_changes_per_minute = 3).await;
    let ada = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    for email in ["ada@example.com", "bob@example.com"] {
        let res = app
            .post_form(
                &admin,
                "/api/admin/vip",
                &[("email", email), ("vip", "true")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let devices = "SELECT COUNT(*) FROM devices";
    let before = app.count(devices).await;
    for n in 0..3 {
        let res = create_device(&app, &ada, &format!("ada-{n}"), "").await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "change {n} is within the limit"
        );
    }
    let refused = create_device(&app, &ada, "ada-3", "").await;
    let retry_after: u64 = refused
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let f = failure(refused).await;
    assert_eq!(
        (f.status, f.code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    assert_eq!(
        app.count(devices).await,
        before + 3,
        "the refused change did nothing"
    );
    // Removing and re-keying count too; reading does not.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM devices WHERE name = 'ada-0'")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    let res = app
        .post_form(&ada, "/api/devices/delete", &[("id", &ids[0].to_string())])
        .await;
    assert_eq!(failure(res).await.code, "RATE_LIMITED");
    let res = app.post_form(&ada, "/api/devices/list", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The limit is per user: Bob is not held up by Ada.
    let res = create_device(&app, &bob, "bob-0", "").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn nodes_woken_by_one_change_share_one_config_build() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("u@example.com").await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, token) = server_with_node(&app, &admin, "eu-1", "10.66.0.0/16").await;
    let cache = app.state.node_configs.clone();
    let first: DesiredConfig = node_config(&app, &token, 0).await.json().await.unwrap();
    let builds = cache.builds();
    // The same version again (a node retrying, or restarting) is not rebuilt.
    let again: DesiredConfig = node_config(&app, &token, 0).await.json().await.unwrap();
    assert_eq!(again.version, first.version);
    assert_eq!(cache.builds(), builds);

    // Three polls held on the same version (a node and its retries, or
    // several portal-side waits) are woken by one change.
    let hits = cache.hits();
    let polls: Vec<_> = (0..3)
        .map(|_| {
            let url = app.url(&format!(
                "/api/v1/nodes/self/config?since={}",
                first.version
            ));
            let token = token.clone();
            tokio::spawn(async move {
                let res = new_client()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                res.json::<DesiredConfig>().await.unwrap()
            })
        })
        .collect();
    // All three are parked before the change is made.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.state.stopping.held() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the three polls are held"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        create_device(&app, &user, "new", "").await.status(),
        StatusCode::OK
    );
    for poll in polls {
        let cfg = poll.await.unwrap();
        assert!(cfg.version > first.version);
        assert_eq!(cfg.peers.len(), 1);
    }
    assert_eq!(
        cache.builds(),
        builds + 1,
        "one build for the three answers"
    );
    assert_eq!(cache.hits(), hits + 2);
}
