//! Home sites: validation with codes, own sites never overlap while other
//! customers' may, unique ranges, hashed tokens, the home agent's connect,
//! and what the node gets (the site peer, grants only for the owner's
//! devices), split-tunnel configs, audit entries.

use reqwest::StatusCode;
use serde_json::Value;
use truevault::{
    accounts::{model::CurrentUser, repo as accounts_repo},
    sites::service::{self, SiteForm},
    vpn::keys,
};
use truevault_wire::node::{DesiredConfig, Ports, SiteConfig};

use crate::{
    helpers::{new_client, TestApp},
    vpn::server_with_node,
};

async fn current(app: &TestApp, email: &str) -> CurrentUser {
    accounts_repo::find_by_email(&app.state.db, email)
        .await
        .unwrap()
        .unwrap()
        .current()
}

fn form(name: &str, lan: &str) -> SiteForm {
    SiteForm {
        name: name.into(),
        lan: lan.into(),
    }
}

async fn connect(app: &TestApp, token: &str, public_key: &str) -> reqwest::Response {
    new_client()
        .post(app.url("/api/v1/sites/self/connect"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "public_key": public_key }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sites_are_validated_get_unique_ranges_and_reach_only_their_owners_devices() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (_, node_token) = server_with_node(&app, &admin, "s-1", "10.81.0.0/24").await;
    let ada_client = app.signed_in_user("ada@example.com").await;
    let _bob_client = app.signed_in_user("bob@example.com").await;
    let (ada, bob) = (
        current(&app, "ada@example.com").await,
        current(&app, "bob@example.com").await,
    );
    let (db, k) = (&app.state.db, &app.state.keys);
    let nodes = truevault::vpn::servers::NodeFreshness::of(&app.state);

    // Bad input: a clear code each, nothing stored.
    for (lan, code) in [
        ("192.168.1.0", "SITE_SUBNET_MALFORMED"),
        ("192.168.1.300/24", "SITE_SUBNET_MALFORMED"),
        ("192.168.1.7/24", "SITE_SUBNET_HOST_BITS"),
        ("192.168.0.0/16", "SITE_SUBNET_SIZE"),
        ("198.51.100.0/24", "SITE_SUBNET_NOT_PRIVATE"),
    ] {
        let err = service::create_site(db, k, nodes, &ada, form("home", lan))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{lan}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM home_sites").await, 0);

    let home = service::create_site(db, k, nodes, &ada, form("home", "192.168.1.0/24"))
        .await
        .unwrap();
    // Overlapping one of her own sites is refused; another customer's same
    // LAN is normal and gets a range of its own.
    let err = service::create_site(db, k, nodes, &ada, form("flat", "192.168.1.128/25"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SITE_SUBNET_OVERLAP");
    let bobs = service::create_site(db, k, nodes, &bob, form("home", "192.168.1.0/24"))
        .await
        .unwrap();
    assert_ne!(home.site.range, bobs.site.range);
    assert_eq!(home.site.range, "10.240.0.0/24");
    assert_eq!(bobs.site.range, "10.240.1.0/24");
    // The token is stored hashed only.
    let stored: i64 = app
        .count(&format!(
            "SELECT COUNT(*) FROM home_sites WHERE token_hash = '{}'",
            home.token
        ))
        .await;
    assert_eq!(stored, 0);
    let hashed = truevault::accounts::tokens::hash_token(&home.token);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM home_sites WHERE token_hash = '{hashed}'"
        ))
        .await,
        1
    );

    // Ada's device, created through the page's server function, on the same server.
    let res = app
        .post_form(
            &ada_client,
            "/api/devices/create",
            &[
                ("name", "laptop"),
                ("public_key", ""),
                ("server_id", "auto"),
                ("region", ""),
                ("tunnel", "split"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let created: Value = res.json().await.unwrap();
    let config = created["config"].as_str().unwrap();
    let allowed = config
        .lines()
        .find_map(|l| l.strip_prefix("AllowedIPs = "))
        .unwrap();
    assert_eq!(
        allowed, "10.81.0.0/24, fd00:99::/64, 10.240.0.0/24, 10.81.0.1/32",
        "split: the VPN, her site, the tunnel DNS"
    );
    let ada_addr = created["device"]["address_v4"]
        .as_str()
        .unwrap()
        .to_string();

    // Not connected yet: no site peer, no grant.
    let cfg: DesiredConfig = new_client()
        .get(app.url("/api/v1/nodes/self/config?since=0"))
        .bearer_auth(&node_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cfg.data_plane.grants.is_empty());
    assert!(cfg.data_plane.egress);

    // The home agent connects: bad tokens and keys are refused.
    let key = keys::generate_keypair();
    assert_eq!(
        connect(&app, "garbage", &key.public).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        connect(&app, &home.token, "not a key").await.status(),
        StatusCode::BAD_REQUEST
    );
    let res = connect(&app, &home.token, &key.public).await;
    assert_eq!(res.status(), StatusCode::OK);
    let site: SiteConfig = res.json().await.unwrap();
    assert_eq!(
        (site.lan.to_string(), site.range.to_string()),
        ("192.168.1.0/24".into(), "10.240.0.0/24".into())
    );
    assert_eq!(site.endpoint, "203.0.113.10:51820");
    assert_eq!(site.allowed_ips[0].to_string(), "10.81.0.0/24");
    assert!(site.address.to_string().starts_with("10.81.0."));

    // The node now carries the site peer (routing its range) and exactly
    // one grant: Ada's device → Ada's site. Bob's site is not connected.
    let cfg: DesiredConfig = new_client()
        .get(app.url("/api/v1/nodes/self/config?since=0"))
        .bearer_auth(&node_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let peer = cfg
        .peers
        .iter()
        .find(|p| p.public_key == key.public)
        .expect("site peer");
    assert_eq!(
        peer.allowed_ips,
        vec![site.address.to_string(), "10.240.0.0/24".to_string()]
    );
    // (Ada's signup also made her a regional identity on this server: a
    // device of hers too, so it gets the same grant.)
    assert!(cfg
        .data_plane
        .grants
        .iter()
        .all(|g| g.destination.to_string() == "10.240.0.0/24" && g.ports == Ports::All));
    let ada_devices: Vec<Value> = app
        .post_form(&ada_client, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cfg.data_plane.grants.len(), ada_devices.len());
    assert!(cfg
        .data_plane
        .grants
        .iter()
        .any(|g| g.source.to_string() == ada_addr));

    // The site list shows it waiting for a handshake, with its range.
    let list: Vec<Value> = app
        .post_form(&ada_client, "/api/sites/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["range"], "10.240.0.0/24");
    assert_eq!(list[0]["status"], "Waiting");

    // A new token: the old one stops, the agent's key is forgotten.
    let fresh = service::rotate_token(db, &ada, home.site.id).await.unwrap();
    assert_eq!(
        connect(&app, &home.token, &key.public).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        connect(&app, &fresh, &key.public).await.status(),
        StatusCode::OK
    );
    // Bob cannot remove Ada's site; Ada can, and its slot is free again.
    assert_eq!(
        service::delete_site(db, &bob, home.site.id)
            .await
            .unwrap_err()
            .code(),
        "NOT_FOUND"
    );
    service::delete_site(db, &ada, home.site.id).await.unwrap();
    let again = service::create_site(db, k, nodes, &ada, form("home", "192.168.1.0/24"))
        .await
        .unwrap();
    assert_eq!(again.site.range, "10.240.0.0/24");

    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('site.created', 'site.connected', 'site.token_rotated', 'site.deleted')").await,
        3 + 2 + 1 + 1
    );
}
