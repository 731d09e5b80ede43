//! Mesh networks: plans, invites (mailed link, single use, expiry, not for
//! someone else), the member limit under concurrent invites and accepts,
//! roles, leaving and removal (the node's long-poll wakes), shares of what
//! the owner has (and refusals of what they have not), shared cameras for
//! members only, the allow rules `grants_for_server` hands the data plane,
//! and a member who cannot see another network. Refusals are matched on
//! their codes.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;
use truevault::{
    accounts::{model::CurrentUser, model::Role, repo as accounts_repo, service as accounts},
    error::AppError,
    mesh::{
        model::{Access, InviteState, MeshRole, NetworkId},
        policy::{self, Cidr, Grant, Ports},
        rules::{InviteForm, NetworkForm, NewInvite, NewNetwork, NewShare, ShareForm},
        service::{self, Links},
    },
    vpn::{devices as vpn, model::DeviceInfo},
};
use truevault_wire::inventory::{DeviceType, ScannedHost, SyncRequest};

use crate::helpers::{new_client, token_from, TestApp, PASSWORD};

const DAY: i64 = 86_400;

/// A verified user on `plan`, signed in: (client, the user).
async fn user(app: &TestApp, email: &str, plan: &str) -> (reqwest::Client, CurrentUser) {
    accounts::create_verified_user(&app.state.db, email, PASSWORD, Role::User)
        .await
        .expect("create user");
    sqlx::query(
        "UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = $1) WHERE email = $2",
    )
    .bind(plan)
    .bind(email)
    .execute(&app.state.db.pool)
    .await
    .expect("set plan");
    let client = new_client();
    app.login(&client, email, PASSWORD).await;
    let u = accounts_repo::find_by_email(&app.state.db, email)
        .await
        .expect("find")
        .expect("user")
        .current();
    (client, u)
}

fn code(r: Result<impl std::fmt::Debug, AppError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e.code(),
    }
}

async fn set_mesh_limit(app: &TestApp, plan: &str, limit: i64) {
    sqlx::query("UPDATE plans SET max_mesh_members = $1 WHERE slug = $2")
        .bind(limit)
        .bind(plan)
        .execute(&app.state.db.pool)
        .await
        .expect("set limit");
}

fn links(app: &TestApp) -> (String, String) {
    (app.address.clone(), "support@truevault.test".into())
}

async fn network(app: &TestApp, owner: &CurrentUser, name: &str) -> NetworkId {
    let new = NewNetwork::try_from(NetworkForm {
        name: name.into(),
        ..Default::default()
    })
    .expect("form");
    service::create_network(&app.state.db, &app.state.clock, owner, new)
        .await
        .expect("create network")
}

async fn invite(
    app: &TestApp,
    by: &CurrentUser,
    net: NetworkId,
    email: &str,
    role: &str,
) -> Result<String, AppError> {
    let new = NewInvite::try_from(InviteForm {
        network_id: net.0,
        email: email.into(),
        role: role.into(),
    })
    .map_err(AppError::invalid)?;
    let (base, support) = links(app);
    let l = Links {
        base_url: &base,
        support: &support,
    };
    service::invite(
        &app.state.db,
        &app.state.clock,
        &app.state.mailer,
        &l,
        by,
        new,
    )
    .await?;
    let (_, body) = app.last_mail_to(email).await.expect("invite mail");
    Ok(token_from(&body, "/mesh/invite?code="))
}

async fn accept(app: &TestApp, u: &CurrentUser, code: &str) -> Result<NetworkId, AppError> {
    service::accept_invite(
        &app.state.db,
        &app.state.clock,
        &app.state.node_changes,
        u,
        code,
    )
    .await
}

/// `by` invites `u` and `u` accepts: the set-up every test that needs a
/// member shares.
async fn join(app: &TestApp, by: &CurrentUser, net: NetworkId, u: &CurrentUser, role: &str) {
    let c = invite(app, by, net, &u.email, role).await.expect("invite");
    accept(app, u, &c).await.expect("accept");
}

async fn device(app: &TestApp, u: &CurrentUser, server: i64, name: &str) -> DeviceInfo {
    vpn::create_device(
        &app.state,
        u,
        vpn::NewDevice {
            name: name.into(),
            public_key: None,
            server_id: Some(server),
            region: None,
            identity_region: None,
            tunnel_mode: Default::default(),
        },
    )
    .await
    .expect("device")
    .device
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn pair(grants: &[Grant], from: &DeviceInfo, to: &DeviceInfo) -> bool {
    grants.iter().any(|g| {
        g.source == ip(&from.address_v4)
            && g.destination == Cidr::host(ip(&to.address_v4))
            && g.ports == Ports::All
    })
}

fn touches(grants: &[Grant], d: &DeviceInfo) -> bool {
    let a = ip(&d.address_v4);
    grants
        .iter()
        .any(|g| g.source == a || g.destination == Cidr::host(a))
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.state.db.pool)
        .await
        .expect("audit")
}

/// A scanner token and one sync of `hosts` for the signed-in `client`'s
/// home network; returns the inventory device ids by IP.
async fn home_devices(
    app: &TestApp,
    client: &reqwest::Client,
    user_id: i64,
    hosts: &[(&str, &str, DeviceType, Vec<u16>)],
) -> Vec<i64> {
    let token = crate::inventory::scanner_token(app, client).await;
    let req = SyncRequest {
        full_scan: true,
        network: "192.168.1.0/24".into(),
        agent: "test".into(),
        hosts: hosts
            .iter()
            .map(|(mac, ip, t, ports)| ScannedHost {
                mac: (*mac).into(),
                ip: (*ip).into(),
                device_type: *t,
                is_camera: *t == DeviceType::Camera,
                open_ports: ports.clone(),
                ..Default::default()
            })
            .collect(),
    };
    let res = new_client()
        .post(app.url("/api/v1/inventory/sync"))
        .bearer_auth(&token)
        .json(&req)
        .send()
        .await
        .expect("sync");
    assert_eq!(res.status(), StatusCode::OK);
    let mut ids = Vec::new();
    for (_, ip, _, _) in hosts {
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM lan_devices WHERE user_id = $1 AND ip = $2")
                .bind(user_id)
                .bind(*ip)
                .fetch_one(&app.state.db.pool)
                .await
                .expect("inventory device");
        ids.push(id);
    }
    ids
}

async fn share(
    app: &TestApp,
    owner: &CurrentUser,
    net: NetworkId,
    target: &str,
    access: &str,
    ports: &str,
) -> Result<i64, AppError> {
    let new = NewShare::try_from(ShareForm {
        network_id: net.0,
        target: target.into(),
        // Read only for a site's host.
        host_ip: "192.168.1.40".into(),
        access: access.into(),
        ports: ports.into(),
        ..Default::default()
    })
    .map_err(AppError::invalid)?;
    service::share(
        &app.state.db,
        &app.state.clock,
        &app.state.node_changes,
        owner,
        new,
    )
    .await
    .map(|id| id.0)
}

/// A home site row for `user` on `server` (LAN, slot), as the site flows store it.
async fn home_site(app: &TestApp, user_id: i64, server: i64, lan: &str, slot: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO home_sites (user_id, name, lan_cidr, range_slot, server_id, v4_index, preshared_key_enc, \
         token_hash, created_at, updated_at) VALUES ($1, 'Home', $2, $3, $4, $5, 'sealed', $6, 0, 0) RETURNING id",
    )
    .bind(user_id)
    .bind(lan)
    .bind(slot)
    .bind(server)
    .bind(60_000 + slot)
    .bind(format!("hash-{user_id}-{slot}"))
    .fetch_one(&app.state.db.pool)
    .await
    .expect("home site")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `email`'s live-view WebSocket for `camera`, as the cameras page opens it.
async fn live_view(app: &TestApp, email: &str, camera: i64) -> Ws {
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue};
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = app.login(&raw, email, PASSWORD).await;
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ");
    let url = format!(
        "{}/cameras/{camera}/live",
        app.address.replacen("http://", "ws://", 1)
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    req.headers_mut()
        .insert("origin", HeaderValue::from_str(&app.address).unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("live view opens for a member")
        .0
}

/// The next JSON status text (binary media is skipped); `None` when closed.
async fn next_text(ws: &mut Ws) -> Option<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

async fn admin_server(app: &TestApp, name: &str, pool: &str) -> (i64, String) {
    let admin = app
        .signed_in_admin(&format!("admin-{name}@example.com"))
        .await;
    crate::vpn::server_with_node(app, &admin, name, pool).await
}

#[tokio::test]
async fn mesh_create_network_and_plan_refusal() {
    let app = TestApp::spawn().await;
    admin_server(&app, "mesh-a", "10.60.0.0/16").await;
    let (free_c, free) = user(&app, "free@example.com", "free").await;
    let (_, personal) = user(&app, "personal@example.com", "personal").await;
    let (fam_c, _fam) = user(&app, "fam@example.com", "family").await;

    for u in [&free, &personal] {
        let new = NewNetwork::try_from(NetworkForm {
            name: "Home".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            code(service::create_network(&app.state.db, &app.state.clock, u, new).await),
            "MESH_NOT_IN_PLAN"
        );
    }
    // Over HTTP too: refused, and nothing is stored.
    let res = app
        .post_form(&free_c, "/api/mesh/create", &[("form[name]", "Home")])
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM mesh_networks").await, 0);

    let res = app
        .post_form(
            &fam_c,
            "/api/mesh/create",
            &[
                ("form[name]", "Family"),
                ("form[description]", "the four of us"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let id: i64 = res.text().await.unwrap().trim().parse().expect("id");
    let res = app.post_form(&fam_c, "/api/mesh/networks", &[]).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["networks"][0]["id"], id);
    assert_eq!(page["networks"][0]["my_role"], "owner");
    assert_eq!(page["can_create"], true);
    // The same name twice is refused; bad input is refused.
    let res = app
        .post_form(&fam_c, "/api/mesh/create", &[("form[name]", "Family")])
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    let res = app
        .post_form(&fam_c, "/api/mesh/create", &[("form[name]", "   ")])
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM mesh_networks").await, 1);
    assert_eq!(audit_count(&app, "mesh.network_created").await, 1);
    // The pages render.
    let html = app.get_html(&fam_c, &format!("/mesh/{id}")).await;
    assert!(html.contains("data-testid=\"members\""), "{html}");
    let html = app.get_html(&free_c, "/mesh").await;
    assert!(html.contains("mesh-not-in-plan"), "{html}");
}

#[tokio::test]
async fn mesh_invite_accept_signup_and_single_use() {
    let app = TestApp::spawn().await;
    admin_server(&app, "mesh-b", "10.61.0.0/16").await;
    let (owner_c, owner) = user(&app, "owner@example.com", "family").await;
    let (bob_c, bob) = user(&app, "bob@example.com", "free").await;
    let net = network(&app, &owner, "Family").await;

    // Invite through the page's server function; the code is mailed, stored hashed.
    let res = app
        .post_form(
            &owner_c,
            "/api/mesh/invite",
            &[
                ("form[network_id]", &net.0.to_string()),
                ("form[email]", "Bob@Example.com"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (subject, body) = app.last_mail_to("bob@example.com").await.expect("mail");
    assert!(subject.contains("Family"), "{subject}");
    assert!(
        body.contains(&format!("{}/mesh/invite?code=", app.address)),
        "{body}"
    );
    let c = token_from(&body, "/mesh/invite?code=");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mesh_invites WHERE code_hash = $1")
        .bind(&c)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "the code itself is never stored");

    // The link's page, then accept from it.
    let html = app
        .get_html(&bob_c, &format!("/mesh/invite?code={c}"))
        .await;
    assert!(html.contains("accept-invite"), "{html}");
    let res = app
        .post_form(&bob_c, "/api/mesh/accept", &[("code", &c)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        service::detail(&app.state.db, &app.state.clock, &bob, net)
            .await
            .unwrap()
            .my_role,
        MeshRole::Member
    );
    // Single use: a second accept (by anyone) is refused.
    assert_eq!(code(accept(&app, &bob, &c).await), "INVITE_USED");
    let res = app
        .post_form(&bob_c, "/api/mesh/accept", &[("code", &c)])
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    let html = app
        .get_html(&bob_c, &format!("/mesh/invite?code={c}"))
        .await;
    assert!(html.contains("invite-used"), "{html}");
    assert_eq!(
        code(accept(&app, &bob, "not-a-code").await),
        "INVITE_INVALID"
    );

    // A new person signs up through the link and is a member, signed in.
    let c = invite(&app, &owner, net, "carol@example.com", "member")
        .await
        .unwrap();
    let anon = new_client();
    let html = app.get_html(&anon, &format!("/mesh/invite?code={c}")).await;
    assert!(html.contains("signup-join"), "{html}");
    let res = app
        .post_form(
            &anon,
            "/api/auth/mesh_signup",
            &[
                ("code", &c),
                ("first_name", "Carol"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap_or_default()
    );
    assert_eq!(
        app.whoami(&anon).await.as_deref(),
        Some("carol@example.com")
    );
    let carol = accounts_repo::find_by_email(&app.state.db, "carol@example.com")
        .await
        .unwrap()
        .unwrap()
        .current();
    assert!(
        service::detail(&app.state.db, &app.state.clock, &carol, net)
            .await
            .is_ok()
    );
    // The used link cannot make a second account.
    let res = app
        .post_form(
            &new_client(),
            "/api/auth/mesh_signup",
            &[("code", &c), ("first_name", "Eve"), ("password", PASSWORD)],
        )
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    assert_eq!(audit_count(&app, "mesh.invite_sent").await, 2);
    assert_eq!(audit_count(&app, "mesh.member_joined").await, 2);
}

#[tokio::test]
async fn mesh_expired_and_not_for_you_invites() {
    let app = TestApp::spawn().await;
    admin_server(&app, "mesh-c", "10.62.0.0/16").await;
    let (_, owner) = user(&app, "owner@example.com", "family").await;
    let (bob_c, bob) = user(&app, "bob@example.com", "free").await;
    let (dave_c, dave) = user(&app, "dave@example.com", "free").await;
    let net = network(&app, &owner, "Family").await;

    let c = invite(&app, &owner, net, "bob@example.com", "member")
        .await
        .unwrap();
    // Someone else holding Bob's link cannot use it.
    assert_eq!(code(accept(&app, &dave, &c).await), "INVITE_NOT_FOR_YOU");
    let html = app
        .get_html(&dave_c, &format!("/mesh/invite?code={c}"))
        .await;
    assert!(html.contains("invite-not-for-you"), "{html}");
    // Seven days later it is expired.
    app.state.clock.advance(7 * DAY + 1);
    assert_eq!(code(accept(&app, &bob, &c).await), "INVITE_EXPIRED");
    let p = service::preview_invite(&app.state.db, &app.state.clock, Some(&bob), &c)
        .await
        .unwrap();
    assert_eq!(p.state, InviteState::Expired);
    let html = app
        .get_html(&bob_c, &format!("/mesh/invite?code={c}"))
        .await;
    assert!(html.contains("invite-expired"), "{html}");
    // A fresh invite works; the new one replaces any pending one.
    let c1 = invite(&app, &owner, net, "bob@example.com", "member")
        .await
        .unwrap();
    let c2 = invite(&app, &owner, net, "bob@example.com", "member")
        .await
        .unwrap();
    assert_eq!(code(accept(&app, &bob, &c1).await), "INVITE_REVOKED");
    accept(&app, &bob, &c2).await.unwrap();
}

#[tokio::test]
async fn mesh_member_limit_holds_under_concurrent_invites_and_accepts() {
    let app = TestApp::spawn().await;
    admin_server(&app, "mesh-d", "10.63.0.0/16").await;
    // Owner plus two.
    set_mesh_limit(&app, "family", 3).await;
    let (_, owner) = user(&app, "owner@example.com", "family").await;
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(user(&app, &format!("p{i}@example.com"), "free").await.1);
    }
    let net = network(&app, &owner, "Family").await;

    // Five invites at once: pending invites hold a place, so two get through.
    let results = futures::future::join_all(
        people
            .iter()
            .map(|p| invite(&app, &owner, net, &p.email, "member")),
    )
    .await;
    let ok: Vec<(usize, String)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|c| (i, c.clone())))
        .collect();
    assert_eq!(ok.len(), 2, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r.as_ref().unwrap_err().code(), "MESH_MEMBER_LIMIT");
    }
    // The plan shrinks to owner plus one; both invitees accept at once.
    set_mesh_limit(&app, "family", 2).await;
    let accepts =
        futures::future::join_all(ok.iter().map(|(i, c)| accept(&app, &people[*i], c))).await;
    assert_eq!(
        accepts.iter().filter(|r| r.is_ok()).count(),
        1,
        "{accepts:?}"
    );
    let refused = accepts.iter().find(|r| r.is_err()).unwrap();
    assert_eq!(refused.as_ref().unwrap_err().code(), "MESH_MEMBER_LIMIT");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mesh_members").await,
        2,
        "owner and one member"
    );
    // A second network of the same owner shares the limit (for someone
    // who holds no place yet).
    let net2 = network(&app, &owner, "Work").await;
    assert_eq!(
        code(invite(&app, &owner, net2, "newcomer@example.com", "member").await),
        "MESH_MEMBER_LIMIT"
    );
    // VIP owners have no limit.
    sqlx::query(
        "INSERT INTO vip_accounts (email, note, created_at) VALUES ('owner@example.com', '', 0)",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    invite(&app, &owner, net2, "newcomer@example.com", "member")
        .await
        .expect("VIP: unlimited");
}

#[tokio::test]
async fn mesh_roles_leave_and_remove() {
    let app = TestApp::spawn().await;
    let (server, node_token) = admin_server(&app, "mesh-e", "10.64.0.0/16").await;
    let (_, owner) = user(&app, "owner@example.com", "family").await;
    let (_, admin) = user(&app, "admin@example.com", "free").await;
    let (_, bob) = user(&app, "bob@example.com", "free").await;
    let (_, carol) = user(&app, "carol@example.com", "free").await;
    let net = network(&app, &owner, "Family").await;
    join(&app, &owner, net, &admin, "admin").await;
    join(&app, &owner, net, &bob, "member").await;

    // A member cannot invite; an admin invites members but not admins.
    assert_eq!(
        code(invite(&app, &bob, net, "carol@example.com", "member").await),
        "MESH_ROLE_REQUIRED"
    );
    assert_eq!(
        code(invite(&app, &admin, net, "carol@example.com", "admin").await),
        "MESH_ROLE_REQUIRED"
    );
    // An admin may invite members.
    join(&app, &admin, net, &carol, "member").await;
    let db = &app.state.db;
    let nodes = &app.state.node_changes;
    // A member removes nobody; nobody removes the owner; the owner cannot leave.
    assert_eq!(
        code(service::remove_member(db, nodes, &bob, net, carol.id).await),
        "MESH_ROLE_REQUIRED"
    );
    assert_eq!(
        code(service::remove_member(db, nodes, &admin, net, owner.id).await),
        "MESH_OWNER_STAYS"
    );
    assert_eq!(
        code(service::leave(db, nodes, &owner, net).await),
        "MESH_OWNER_STAYS"
    );

    // Devices on the network's server mesh; removal takes effect on the node.
    let d_owner = device(&app, &owner, server, "owner-laptop").await;
    let d_bob = device(&app, &bob, server, "bob-phone").await;
    let grants = policy::grants_for_server(db, truevault::typed::ServerId(server))
        .await
        .unwrap();
    assert!(pair(&grants, &d_owner, &d_bob) && pair(&grants, &d_bob, &d_owner));
    let version: i64 = sqlx::query_scalar("SELECT peers_version FROM vpn_servers WHERE id = $1")
        .bind(server)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // The node is waiting on its long-poll when the admin removes Bob.
    let poll = {
        let url = app.url(&format!("/api/v1/nodes/self/config?since={version}"));
        let token = node_token.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let res = new_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("poll");
            (res.status(), started.elapsed())
        })
    };
    // Whether the removal lands before the poll parks or after, the node
    // is answered at once with the new version (no sleeping here).
    service::remove_member(db, nodes, &admin, net, bob.id)
        .await
        .unwrap();
    let (status, took) = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the node's poll answered")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let grants = policy::grants_for_server(db, truevault::typed::ServerId(server))
        .await
        .unwrap();
    assert!(!touches(&grants, &d_bob), "{grants:?}");
    assert_eq!(audit_count(&app, "mesh.member_removed").await, 1);
    // Removed means out: Bob's page view of the network is gone.
    assert_eq!(
        code(service::detail(db, &app.state.clock, &bob, net).await),
        "NOT_FOUND"
    );

    // Carol leaves.
    service::leave(db, nodes, &carol, net).await.unwrap();
    assert_eq!(
        code(service::detail(db, &app.state.clock, &carol, net).await),
        "NOT_FOUND"
    );
    assert_eq!(audit_count(&app, "mesh.member_left").await, 1);
    // The owner demotes the admin (who then cannot invite), promotes back,
    // and cannot be demoted; only the owner changes roles.
    service::set_role(db, &owner, net, admin.id, MeshRole::Member)
        .await
        .unwrap();
    assert_eq!(
        code(invite(&app, &admin, net, "dora@example.com", "member").await),
        "MESH_ROLE_REQUIRED"
    );
    assert_eq!(
        code(service::set_role(db, &admin, net, admin.id, MeshRole::Admin).await),
        "MESH_ROLE_REQUIRED"
    );
    service::set_role(db, &owner, net, admin.id, MeshRole::Admin)
        .await
        .unwrap();
    assert_eq!(
        code(service::set_role(db, &owner, net, owner.id, MeshRole::Member).await),
        "MESH_OWNER_STAYS"
    );
    assert_eq!(audit_count(&app, "mesh.role_changed").await, 2);
    // The owner removes the admin.
    service::remove_member(db, nodes, &owner, net, admin.id)
        .await
        .unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM mesh_members").await, 1);
}

#[tokio::test]
async fn mesh_shares_cameras_and_grants() {
    let app = TestApp::spawn().await;
    let (server, _) = admin_server(&app, "mesh-f", "10.65.0.0/16").await;
    let (other, _) = admin_server(&app, "mesh-g", "10.66.0.0/16").await;
    let (owner_c, owner) = user(&app, "owner@example.com", "family").await;
    let (bob_c, bob) = user(&app, "bob@example.com", "family").await;
    let (carol_c, carol) = user(&app, "carol@example.com", "family").await;
    let net = network(&app, &owner, "Family").await;
    join(&app, &owner, net, &bob, "member").await;

    let home = home_devices(
        &app,
        &owner_c,
        owner.id,
        &[
            (
                "aa:bb:cc:00:00:01",
                "192.168.1.40",
                DeviceType::Printer,
                vec![22, 631],
            ),
            (
                "aa:bb:cc:00:00:02",
                "192.168.1.50",
                DeviceType::Nas,
                vec![445],
            ),
            (
                "aa:bb:cc:00:00:03",
                "192.168.1.60",
                DeviceType::Camera,
                vec![554],
            ),
        ],
    )
    .await;
    let carol_home = home_devices(
        &app,
        &carol_c,
        carol.id,
        &[(
            "aa:bb:cc:00:00:09",
            "192.168.1.40",
            DeviceType::Printer,
            vec![631],
        )],
    )
    .await;
    // A camera linked to the inventory camera.
    let res = app
        .post_form(
            &owner_c,
            "/api/cameras/add",
            &[
                ("name", "Porch"),
                ("vendor", "hikvision"),
                ("ip", "192.168.1.60"),
                ("username", "admin"),
                ("password", "cam-secret"),
                ("lan_device_id", &home[2].to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let camera: i64 = res.text().await.unwrap().trim().parse().unwrap();

    // Refusals: someone else's device, a bad form, view of a non-camera, a member sharing.
    assert_eq!(
        code(
            share(
                &app,
                &owner,
                net,
                &format!("lan_device:{}", carol_home[0]),
                "use",
                "631"
            )
            .await
        ),
        "SHARE_NOT_OWNED"
    );
    assert_eq!(
        code(share(&app, &owner, net, "camera:999999", "view", "").await),
        "SHARE_NOT_OWNED"
    );
    assert_eq!(
        code(share(&app, &owner, net, "site:1", "use", "631").await),
        "SHARE_NOT_OWNED"
    );
    assert_eq!(
        code(
            share(
                &app,
                &owner,
                net,
                &format!("lan_device:{}", home[0]),
                "use",
                ""
            )
            .await
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        code(
            share(
                &app,
                &owner,
                net,
                &format!("lan_device:{}", home[0]),
                "view",
                ""
            )
            .await
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        code(
            share(
                &app,
                &bob,
                net,
                &format!("lan_device:{}", home[0]),
                "full",
                ""
            )
            .await
        ),
        "MESH_ROLE_REQUIRED"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM mesh_shares").await, 0);

    // The printer at use on 631, the NAS at full, the camera at view.
    share(
        &app,
        &owner,
        net,
        &format!("lan_device:{}", home[0]),
        "use",
        "631",
    )
    .await
    .unwrap();
    share(
        &app,
        &owner,
        net,
        &format!("lan_device:{}", home[1]),
        "full",
        "",
    )
    .await
    .unwrap();
    share(&app, &owner, net, &format!("camera:{camera}"), "view", "")
        .await
        .unwrap();
    assert_eq!(audit_count(&app, "mesh.share_created").await, 3);
    let d = service::detail(&app.state.db, &app.state.clock, &bob, net)
        .await
        .unwrap();
    let accesses: Vec<(Access, Vec<u16>)> = d
        .shares
        .iter()
        .map(|s| (s.access, s.ports.clone()))
        .collect();
    assert_eq!(
        accesses,
        vec![
            (Access::Use, vec![631]),
            (Access::Full, vec![]),
            (Access::View, vec![])
        ]
    );
    assert!(
        d.shareable.is_empty() && d.invites.is_empty(),
        "members see no owner lists"
    );

    // The shared camera is in Bob's grid, without its LAN details or credentials.
    let res = app.post_form(&bob_c, "/api/cameras/overview", &[]).await;
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["shared"][0]["id"], camera);
    assert_eq!(v["shared"][0]["name"], "Porch");
    assert!(
        !text.contains("192.168.1.60") && !text.contains("\"admin\""),
        "{text}"
    );
    // Bob passes the viewer's owner check (the gateway is what is missing);
    // Carol, not a member, gets "not found" like any foreign camera.
    let res = bob_c
        .get(app.url(&format!("/cameras/{camera}/snapshot")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = carol_c
        .get(app.url(&format!("/cameras/{camera}/snapshot")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.post_form(&carol_c, "/api/cameras/overview", &[]).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["shared"].as_array().map(Vec::len), Some(0));
    // PTZ: Bob may only view the camera, so he may not move it (403);
    // Carol, not a member, gets "not found".
    let cam = camera.to_string();
    for (who, status, code) in [
        (&bob_c, StatusCode::FORBIDDEN, "FORBIDDEN"),
        (&carol_c, StatusCode::NOT_FOUND, "NOT_FOUND"),
    ] {
        let res = app
            .post_form(
                who,
                "/api/cameras/ptz",
                &[("camera", &cam), ("op", "move"), ("pan", "0.5")],
            )
            .await;
        assert_eq!(res.status(), status);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["code"], code, "{v}");
    }

    // Grants: members' devices on the network's server meet; Carol's does
    // not; Bob's device on another server gets nothing there.
    let d_owner = device(&app, &owner, server, "owner-laptop").await;
    let d_bob = device(&app, &bob, server, "bob-phone").await;
    let d_carol = device(&app, &carol, server, "carol-phone").await;
    let d_bob_elsewhere = device(&app, &bob, other, "bob-tablet").await;
    let grants = policy::grants_for_server(&app.state.db, truevault::typed::ServerId(server))
        .await
        .unwrap();
    assert!(pair(&grants, &d_owner, &d_bob) && pair(&grants, &d_bob, &d_owner));
    assert!(!touches(&grants, &d_carol), "{grants:?}");
    assert!(
        policy::grants_for_server(&app.state.db, truevault::typed::ServerId(other))
            .await
            .unwrap()
            .iter()
            .all(|g| g.source != ip(&d_bob_elsewhere.address_v4))
    );
    // IPv6 tunnel addresses mesh too.
    let (a6, b6) = (
        d_owner.address_v6.clone().expect("v6"),
        d_bob.address_v6.clone().expect("v6"),
    );
    assert!(grants
        .iter()
        .any(|g| g.source == ip(&a6) && g.destination == Cidr::host(ip(&b6))));
    // Until the owner's home is a site, shares have no address to open:
    // only the member pairs (v4 and v6, both ways).
    assert!(grants.iter().all(|g| g.ports == Ports::All));
    assert_eq!(grants.len(), 4, "{grants:?}");

    // The owner's home becomes a site on the network's server (the site
    // flows are the data plane's; its row is what the policy reads).
    let site = home_site(&app, owner.id, server, "192.168.1.0/24", 7).await;
    let elsewhere = home_site(&app, carol.id, other, "192.168.1.0/24", 8).await;
    share(&app, &owner, net, &format!("site:{site}"), "use", "22")
        .await
        .expect("an address on the owner's site");
    assert_eq!(
        code(share(&app, &owner, net, &format!("site:{elsewhere}"), "use", "22").await),
        "SHARE_NOT_OWNED"
    );
    let grants = policy::grants_for_server(&app.state.db, truevault::typed::ServerId(server))
        .await
        .unwrap();
    let to = |addr: &str| -> Vec<(IpAddr, Ports)> {
        grants
            .iter()
            .filter(|g| g.destination == Cidr::host(ip(addr)))
            .map(|g| (g.source, g.ports.clone()))
            .collect()
    };
    let members = [ip(&d_owner.address_v4), ip(&d_bob.address_v4)];
    let expect = |ports: Ports| -> Vec<(IpAddr, Ports)> {
        let mut v: Vec<_> = members.iter().map(|m| (*m, ports.clone())).collect();
        v.sort();
        v
    };
    // Printer 192.168.1.40 at use 631 → 10.240.7.40 TCP 631; NAS at full;
    // the hand-typed 192.168.1.40 at use 22 from the site share.
    let mut printer = to("10.240.7.40");
    printer.sort();
    let mut want = expect(Ports::Tcp(vec![22]));
    want.extend(expect(Ports::Tcp(vec![631])));
    want.sort();
    assert_eq!(printer, want);
    assert_eq!(to("10.240.7.50"), expect(Ports::All));
    // View never opens a path to the camera.
    assert!(to("10.240.7.60").is_empty(), "{grants:?}");
    assert!(!touches(&grants, &d_carol));
    assert_eq!(grants.len(), 4 + 6, "{grants:?}");
    // Nothing of this reaches the other server's node.
    assert!(
        policy::grants_for_server(&app.state.db, truevault::typed::ServerId(other))
            .await
            .unwrap()
            .is_empty()
    );

    // Unsharing the camera takes it out of Bob's grid.
    let camera_share = d
        .shares
        .iter()
        .find(|s| s.access == Access::View)
        .unwrap()
        .id;
    // Bob is watching when it is unshared: his stream ends within seconds.
    let mut ws = live_view(&app, "bob@example.com", camera).await;
    let first = next_text(&mut ws).await.expect("first status");
    assert_eq!(first["state"], "offline", "{first}");
    let unshared_at = Instant::now();
    service::unshare(
        &app.state.db,
        &app.state.node_changes,
        &owner,
        net,
        camera_share,
    )
    .await
    .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(v) = next_text(&mut ws).await {
            if v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("no longer shared"))
            {
                return true;
            }
        }
        false
    })
    .await
    .expect("the live view ended in time");
    assert!(ended);
    eprintln!(
        "shared camera: unshare → member's live view closed in {:?}",
        unshared_at.elapsed()
    );
    let res = app.post_form(&bob_c, "/api/cameras/overview", &[]).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["shared"].as_array().map(Vec::len), Some(0));
    let res = bob_c
        .get(app.url(&format!("/cameras/{camera}/snapshot")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A member may move a shared camera only with full access: with the
    // camera's inventory device shared at full, Bob passes the PTZ check
    // (the camera has no gateway, which is what stops him then).
    share(
        &app,
        &owner,
        net,
        &format!("lan_device:{}", home[2]),
        "full",
        "",
    )
    .await
    .expect("full share of the camera's device");
    let cam = camera.to_string();
    let res = app
        .post_form(
            &bob_c,
            "/api/cameras/ptz",
            &[("camera", &cam), ("op", "stop")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["code"], "CAMERA_GATEWAY_OFFLINE", "{v}");
}

#[tokio::test]
async fn mesh_member_cannot_see_another_network() {
    let app = TestApp::spawn().await;
    admin_server(&app, "mesh-h", "10.67.0.0/16").await;
    let (_, owner) = user(&app, "owner@example.com", "family").await;
    let (_, other_owner) = user(&app, "other@example.com", "business").await;
    let (bob_c, bob) = user(&app, "bob@example.com", "free").await;
    let mine = network(&app, &owner, "Family").await;
    let theirs = network(&app, &other_owner, "Office").await;
    join(&app, &owner, mine, &bob, "member").await;

    assert_eq!(
        code(service::detail(&app.state.db, &app.state.clock, &bob, theirs).await),
        "NOT_FOUND"
    );
    let res = app
        .post_form(
            &bob_c,
            "/api/mesh/network",
            &[("id", &theirs.0.to_string())],
        )
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    let res = app.post_form(&bob_c, "/api/mesh/networks", &[]).await;
    let v: Value = res.json().await.unwrap();
    let ids: Vec<i64> = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.0]);
    // Nor can an outsider invite into, share into, or remove from it.
    assert_eq!(
        code(invite(&app, &bob, theirs, "x@example.com", "member").await),
        "NOT_FOUND"
    );
    assert_eq!(
        code(
            service::remove_member(
                &app.state.db,
                &app.state.node_changes,
                &bob,
                theirs,
                other_owner.id
            )
            .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        code(service::leave(&app.state.db, &app.state.node_changes, &bob, theirs).await),
        "NOT_FOUND"
    );
}
