//! Cameras: CRUD and plan limits, credentials never echoed, gateway tokens
//! (hashed, revoked → 401), viewer refusals (foreign Origin, someone else's
//! camera), bad tunnel input, snapshots through a gateway, and the real
//! chain: GStreamer RTSP server → truevault-gateway → portal tunnel → two
//! WebSocket viewers from one pull.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::{header, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use truevault::accounts::{model::Role, service as accounts};
use truevault_wire::gateway::{
    encode_media, GatewayMessage, MediaHeader, MediaKind, PortalMessage, MAX_MEDIA_FRAME,
    TUNNEL_PATH,
};

use crate::helpers::{new_client, Failure, TestApp, PASSWORD};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A user on `plan`, with a cookie-keeping client and the raw session
/// cookie (for WebSocket handshakes).
async fn user(app: &TestApp, email: &str, plan: &str) -> (reqwest::Client, String) {
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
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = app
        .post_form(
            &raw,
            "/api/auth/login",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    let cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ");
    assert!(!cookie.is_empty(), "login set no cookie");
    let client = new_client();
    app.login(&client, email, PASSWORD).await;
    (client, cookie)
}

fn camera_form<'a>(name: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("name", name),
        ("vendor", "hikvision"),
        ("ip", "192.168.1.20"),
    ];
    f.extend_from_slice(extra);
    f
}

async fn add_camera(
    app: &TestApp,
    c: &reqwest::Client,
    form: &[(&str, &str)],
) -> Result<i64, Failure> {
    let res = app.post_form(c, "/api/cameras/add", form).await;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status == StatusCode::OK {
        Ok(body.trim().parse().expect("the new camera's id"))
    } else {
        Err(Failure::from_body(status, &body))
    }
}

async fn overview(app: &TestApp, c: &reqwest::Client) -> (Value, String) {
    let res = app.post_form(c, "/api/cameras/overview", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    (serde_json::from_str(&text).expect("json"), text)
}

async fn create_gateway(app: &TestApp, c: &reqwest::Client) -> (i64, String) {
    let res = app
        .post_form(c, "/api/cameras/gateway_create", &[("name", "Home")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.expect("json");
    (
        v["id"].as_i64().expect("id"),
        v["token"].as_str().expect("token shown once").to_string(),
    )
}

fn ws_url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address.replacen("http://", "ws://", 1))
}

async fn dial(url: &str, headers: &[(&str, String)]) -> Result<Ws, StatusCode> {
    let mut req = url.into_client_request().expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => {
            Err(StatusCode::from_u16(resp.status().as_u16()).expect("status"))
        }
        Err(e) => panic!("dial {url}: {e}"),
    }
}

async fn dial_gateway(app: &TestApp, token: &str) -> Result<Ws, StatusCode> {
    dial(
        &ws_url(app, TUNNEL_PATH),
        &[("authorization", format!("Bearer {token}"))],
    )
    .await
}

async fn dial_viewer(
    app: &TestApp,
    cookie: &str,
    origin: &str,
    camera: i64,
) -> Result<Ws, StatusCode> {
    dial_stream(app, cookie, origin, &format!("{camera}/live")).await
}

/// `path` after `/cameras/`, e.g. `7/live?stream=sub`.
async fn dial_stream(
    app: &TestApp,
    cookie: &str,
    origin: &str,
    path: &str,
) -> Result<Ws, StatusCode> {
    dial(
        &ws_url(app, &format!("/cameras/{path}")),
        &[
            ("cookie", cookie.to_string()),
            ("origin", origin.to_string()),
        ],
    )
    .await
}

/// The next portal → gateway control message.
async fn next_portal_msg(ws: &mut Ws) -> PortalMessage {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return PortalMessage::from_json(t.as_str()).expect("valid")
                }
                Some(Ok(_)) => continue,
                other => panic!("tunnel ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a control message in time")
}

/// Polls `cond` until it holds or `secs` pass.
async fn wait_for<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn camera_crud_limits_and_credentials_never_echoed() {
    let app = TestApp::spawn().await;

    // Free plan: no cameras, refused by the form's endpoint and shown on the page.
    let (free, _) = user(&app, "free@example.com", "free").await;
    let err = add_camera(&app, &free, &camera_form("Porch", &[]))
        .await
        .unwrap_err();
    assert!(
        err.is("CAMERA_LIMIT_EXCEEDED") && err.limit == Some(0),
        "{err:?}"
    );
    let html = app.get_html(&free, "/cameras").await;
    assert!(
        html.contains("camera-limit-reached"),
        "page shows the limit"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM cameras").await, 0);

    // Personal plan: three cameras, the fourth refused.
    let (pers, _) = user(&app, "p@example.com", "personal").await;
    let secret = "Sup3r-s3cret pw";
    let id = add_camera(
        &app,
        &pers,
        &camera_form("Porch", &[("username", "admin"), ("password", secret)]),
    )
    .await
    .expect("first camera");
    for n in 2..=3 {
        add_camera(&app, &pers, &camera_form(&format!("cam{n}"), &[]))
            .await
            .expect("within plan");
    }
    let err = add_camera(&app, &pers, &camera_form("cam4", &[]))
        .await
        .unwrap_err();
    assert!(
        err.is("CAMERA_LIMIT_EXCEEDED") && err.limit == Some(3),
        "{err:?}"
    );

    // Stored sealed; never sent back, not by the API nor the pages.
    let sealed: String = sqlx::query_scalar("SELECT password_enc FROM cameras WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .expect("row");
    assert!(!sealed.contains(secret));
    assert_eq!(
        app.state.keys.open(&sealed).expect("opens"),
        secret.as_bytes()
    );
    let (v, raw) = overview(&app, &pers).await;
    assert!(!raw.contains(secret) && !raw.contains(&sealed));
    let cam = &v["cameras"][0];
    assert_eq!(cam["has_password"], true);
    assert_eq!(
        cam["main_stream_url"],
        "rtsp://192.168.1.20:554/Streaming/Channels/101"
    );
    assert_eq!(
        cam["sub_stream_url"],
        "rtsp://192.168.1.20:554/Streaming/Channels/102"
    );
    assert_eq!(v["camera_limit"], 3);
    for path in ["/cameras".to_string(), format!("/cameras/{id}")] {
        let html = app.get_html(&pers, &path).await;
        assert!(html.contains("Porch"), "{path} shows the camera");
        assert!(!html.contains(secret), "{path} leaks the password");
    }
    let res = app
        .post_form(&pers, "/api/cameras/detail", &[("id", &id.to_string())])
        .await;
    assert!(!res.text().await.unwrap().contains(secret));

    // Credentials inside a URL are refused (they would be stored in clear).
    let err = add_camera(
        &app,
        &pers,
        &camera_form("x", &[("main_stream_url", "rtsp://admin:pw@10.0.0.2/live")]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("main_stream_url"), "{err:?}");

    let ids = id.to_string();
    let stored = || async {
        use sqlx::Row;
        let r =
            sqlx::query("SELECT name, main_stream_url, password_enc FROM cameras WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db.pool)
                .await
                .expect("row");
        (
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<Option<String>, _>(2),
        )
    };
    let edit = |form: Vec<(&'static str, String)>| {
        let pers = &pers;
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app.post_form(pers, "/api/cameras/update", &form).await;
            assert_eq!(
                res.status(),
                StatusCode::OK,
                "{}",
                res.text().await.unwrap_or_default()
            );
        }
    };
    // An edit on the same host with an empty password keeps the stored one.
    edit(vec![
        ("id", ids.clone()),
        ("name", "Porch cam".into()),
        ("vendor", "hikvision".into()),
        ("ip", "192.168.1.20".into()),
        ("username", "admin".into()),
    ])
    .await;
    let row = stored().await;
    assert_eq!(row.0, "Porch cam");
    assert_eq!(row.2.as_deref(), Some(sealed.as_str()));

    // Another host (or port) without the password re-entered: the stored
    // one is dropped, so the old credentials are never sent to the new host.
    edit(vec![
        ("id", ids.clone()),
        ("name", "Front door".into()),
        ("vendor", "reolink".into()),
        ("ip", "192.168.1.21".into()),
        ("username", "admin".into()),
    ])
    .await;
    let row = stored().await;
    assert_eq!(row.0, "Front door");
    assert_eq!(row.1, "rtsp://192.168.1.21:554/h264Preview_01_main");
    assert_eq!(
        row.2, None,
        "the password does not follow the camera to a new host"
    );
    // Same for a snapshot URL pointed elsewhere, after the password is re-entered.
    edit(vec![
        ("id", ids.clone()),
        ("name", "Front door".into()),
        ("vendor", "reolink".into()),
        ("ip", "192.168.1.21".into()),
        ("username", "admin".into()),
        ("password", secret.to_string()),
    ])
    .await;
    assert!(stored().await.2.is_some(), "re-entered");
    edit(vec![
        ("id", ids.clone()),
        ("name", "Front door".into()),
        ("vendor", "reolink".into()),
        ("ip", "192.168.1.21".into()),
        ("username", "admin".into()),
        ("snapshot_url", "http://203.0.113.50/grab.jpg".into()),
    ])
    .await;
    assert_eq!(stored().await.2, None, "a new snapshot host drops it too");

    // Someone else's camera: not visible, not editable, not deletable.
    let (other, _) = user(&app, "o@example.com", "personal").await;
    let res = app
        .post_form(&other, "/api/cameras/detail", &[("id", &ids)])
        .await;
    assert!(!res.status().is_success());
    let res = app
        .post_form(&other, "/api/cameras/delete", &[("id", &ids)])
        .await;
    assert!(!res.status().is_success());
    let res = app
        .post_form(
            &other,
            "/api/cameras/update",
            &[("id", &ids), ("name", "mine"), ("ip", "10.0.0.9")],
        )
        .await;
    assert!(!res.status().is_success());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cameras WHERE name = 'Front door'")
            .await,
        1
    );

    // Delete frees a slot.
    let res = app
        .post_form(&pers, "/api/cameras/delete", &[("id", &ids)])
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    add_camera(&app, &pers, &camera_form("cam4", &[]))
        .await
        .expect("slot freed");

    // A VIP on the free plan is unlimited.
    let admin = app.signed_in_admin("admin@example.com").await;
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "free@example.com"), ("vip", "true")],
    )
    .await;
    for n in 0..4 {
        add_camera(&app, &free, &camera_form(&format!("vip{n}"), &[]))
            .await
            .expect("VIP unlimited");
    }
}

#[tokio::test]
async fn camera_limit_holds_under_concurrent_adds() {
    let app = TestApp::spawn().await;
    let (c, _) = user(&app, "race@example.com", "personal").await;
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let c = c.clone();
            let url = app.url("/api/cameras/add");
            let origin = app.address.clone();
            tokio::spawn(async move {
                c.post(url)
                    .header(header::ORIGIN, origin)
                    .form(&[
                        ("name", format!("c{n}")),
                        ("vendor", "tapo".into()),
                        ("ip", "10.0.0.3".into()),
                    ])
                    .send()
                    .await
                    .expect("request")
                    .status()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("task") == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM cameras").await, 3);
}

#[tokio::test]
async fn prefills_from_a_scanner_finding() {
    let app = TestApp::spawn().await;
    let (c, _) = user(&app, "scan@example.com", "personal").await;
    let uid: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'scan@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("uid");
    let dev: i64 = sqlx::query_scalar(
        "INSERT INTO lan_devices (user_id, mac, ip, vendor, device_type, is_camera, first_seen, last_seen) \
         VALUES ($1, '44:19:b6:00:00:10', '192.168.50.10', 'Hangzhou Hikvision', 'camera', 1, 0, 0) RETURNING id",
    )
    .bind(uid)
    .fetch_one(&app.state.db.pool)
    .await
    .expect("device");
    let html = app
        .get_html(&c, &format!("/cameras?from_device={dev}"))
        .await;
    assert!(
        html.contains("rtsp://192.168.50.10:554/Streaming/Channels/101"),
        "stream URL prefilled"
    );
    assert!(html.contains("192.168.50.10"));
    assert!(
        html.contains(r#"value="hikvision" selected"#),
        "vendor preselected"
    );
    // Linking it stores the device; someone else's device is refused.
    let ds = dev.to_string();
    add_camera(&app, &c, &camera_form("Cam", &[("lan_device_id", &ds)]))
        .await
        .expect("linked");
    let (o, _) = user(&app, "o2@example.com", "personal").await;
    let err = add_camera(&app, &o, &camera_form("Cam", &[("lan_device_id", &ds)]))
        .await
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("lan_device_id"), "{err:?}");
    // Someone else's finding prefills nothing and leaks nothing.
    let html = app
        .get_html(&o, &format!("/cameras?from_device={dev}"))
        .await;
    assert!(html.contains("data-testid=\"add-camera\""));
    assert!(!html.contains("192.168.50.10"));
}

#[tokio::test]
async fn gateway_tokens_are_hashed_and_revocable_and_snapshots_proxy() {
    let app = TestApp::spawn().await;
    let (c, cookie) = user(&app, "gw@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM camera_gateways WHERE id = $1")
        .bind(gw)
        .fetch_one(&app.state.db.pool)
        .await
        .expect("row");
    assert_ne!(stored, token);
    assert!(
        !app.get_html(&c, "/cameras").await.contains(&token),
        "token shown once only"
    );
    let gws = gw.to_string();
    let cam = add_camera(
        &app,
        &c,
        &camera_form(
            "Door",
            &[
                ("gateway_id", &gws),
                ("username", "u"),
                ("password", "camera-pass"),
            ],
        ),
    )
    .await
    .expect("camera");

    // No token, a wrong one: 401 with the JSON error before any upgrade.
    assert_eq!(
        dial_gateway(&app, "not-a-real-token").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let res = new_client()
        .get(app.url(TUNNEL_PATH))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let v: Value = res.json().await.expect("json error");
    assert_eq!(v["error"]["code"], "INVALID_TOKEN");

    // The right token: the camera list with the credentials, for the gateway only.
    let mut ws = dial_gateway(&app, &token).await.expect("tunnel");
    match next_portal_msg(&mut ws).await {
        PortalMessage::Cameras { cameras } => {
            // The main stream, and the sub stream as a source of its own.
            assert_eq!(cameras.len(), 2);
            assert_eq!(cameras[0].id, cam);
            assert_eq!(cameras[0].password.as_deref(), Some("camera-pass"));
            assert_eq!(
                cameras[0].rtsp_url,
                "rtsp://192.168.1.20:554/Streaming/Channels/101"
            );
            assert_eq!(
                cameras[1].id,
                truevault::cameras::model::StreamKind::Sub.channel(cam)
            );
            assert_eq!(cameras[1].password.as_deref(), Some("camera-pass"));
            assert_eq!(
                cameras[1].rtsp_url,
                "rtsp://192.168.1.20:554/Streaming/Channels/102"
            );
            assert_eq!(cameras[1].snapshot_url, None);
        }
        other => panic!("expected cameras, got {other:?}"),
    }
    ws.send(Message::Text(
        GatewayMessage::Hello {
            version: 1,
            agent: "test-gw/1".into(),
        }
        .to_json()
        .into(),
    ))
    .await
    .expect("hello");
    wait_for(10, "gateway online", || async {
        app.state.cameras.is_online(gw)
    })
    .await;
    let (v, _) = overview(&app, &c).await;
    assert_eq!(v["gateways"][0]["online"], true);
    assert_eq!(v["gateways"][0]["cameras"], 1);

    // A snapshot goes through the tunnel and back, images only.
    let snap = {
        let c = c.clone();
        let url = app.url(&format!("/cameras/{cam}/snapshot"));
        tokio::spawn(async move { c.get(url).send().await.expect("snapshot") })
    };
    let request_id = loop {
        if let PortalMessage::Snapshot {
            request_id,
            camera_id,
        } = next_portal_msg(&mut ws).await
        {
            assert_eq!(camera_id, cam);
            break request_id;
        }
    };
    use base64::Engine as _;
    let jpeg = b"\xff\xd8\xff\xe0fake-jpeg".to_vec();
    ws.send(Message::Text(
        GatewayMessage::SnapshotResult {
            request_id,
            camera_id: cam,
            content_type: "image/jpeg".into(),
            data: base64::engine::general_purpose::STANDARD.encode(&jpeg),
        }
        .to_json()
        .into(),
    ))
    .await
    .expect("result");
    let res = snap.await.expect("task");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(res.bytes().await.expect("body").to_vec(), jpeg);
    // Someone else cannot ask for it.
    let (o, _) = user(&app, "snoop@example.com", "personal").await;
    let res = o
        .get(app.url(&format!("/cameras/{cam}/snapshot")))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Revoking ends the live tunnel and refuses the token from then on.
    let res = app
        .post_form(&c, "/api/cameras/gateway_revoke", &[("id", &gws)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "revoked tunnel closed");
    assert_eq!(
        dial_gateway(&app, &token).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    wait_for(10, "gateway offline", || async {
        !app.state.cameras.is_online(gw)
    })
    .await;
    let _ = cookie;
}

#[tokio::test]
async fn viewers_are_refused_foreign_origins_and_other_peoples_cameras() {
    let app = TestApp::spawn().await;
    let (c, cookie) = user(&app, "v@example.com", "personal").await;
    let cam = add_camera(&app, &c, &camera_form("Yard", &[]))
        .await
        .expect("camera");
    let (_, other_cookie) = user(&app, "w@example.com", "personal").await;

    assert_eq!(
        dial_viewer(&app, &cookie, "https://evil.example", cam)
            .await
            .err(),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        dial_viewer(&app, &other_cookie, &app.address, cam)
            .await
            .err(),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        dial_viewer(&app, "tv_session=nope", &app.address, cam)
            .await
            .err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    // The owner from our own page: no gateway → told "offline" at once.
    let mut ws = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer");
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            let v: Value = serde_json::from_str(t.as_str()).expect("json");
            assert_eq!(v["state"], "offline");
        }
        other => panic!("expected a status, got {other:?}"),
    }
    // An oversized viewer message closes that socket, nothing else.
    let _ = ws.send(Message::Text("x".repeat(64 * 1024).into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "oversized viewer message ends the socket");
    assert!(dial_viewer(&app, &cookie, &app.address, cam).await.is_ok());
}

#[tokio::test]
async fn tunnel_survives_garbage_and_drops_oversized_frames() {
    let app = TestApp::spawn().await;
    let (c, _) = user(&app, "g@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let gws = gw.to_string();
    let cam = add_camera(&app, &c, &camera_form("Cam", &[("gateway_id", &gws)]))
        .await
        .expect("cam");
    let mine = add_camera(&app, &c, &camera_form("Other", &[]))
        .await
        .expect("cam");
    let mut ws = dial_gateway(&app, &token).await.expect("tunnel");
    assert!(matches!(
        next_portal_msg(&mut ws).await,
        PortalMessage::Cameras { .. }
    ));

    // Garbage text, garbage binary, media for a camera it does not serve:
    // logged and ignored; the tunnel stays up.
    ws.send(Message::Text("{\"type\":\"launch_missiles\"}".into()))
        .await
        .expect("send");
    ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .expect("send");
    let header = |camera_id| MediaHeader {
        kind: MediaKind::Init,
        keyframe: false,
        camera_id,
        sequence: 0,
        received_us: 0,
        muxed_us: 0,
    };
    ws.send(Message::Binary(
        encode_media(&header(mine), b"ftyp").expect("frame").into(),
    ))
    .await
    .expect("send");
    ws.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .expect("ping");
    let pong = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(p))) => return p.to_vec(),
                Some(Ok(_)) => continue,
                other => panic!("tunnel ended after garbage: {other:?}"),
            }
        }
    })
    .await
    .expect("pong");
    assert_eq!(pong, b"still there?");
    assert!(app.state.cameras.is_online(gw));
    assert_eq!(app.state.cameras.hub.viewer_count(mine), 0);
    let _ = cam;

    // Past the frame limit: the portal closes the tunnel and stays healthy.
    let _ = ws
        .send(Message::Binary(vec![0u8; MAX_MEDIA_FRAME + 1024].into()))
        .await;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "oversized frame ends the tunnel");
    wait_for(10, "gateway offline", || async {
        !app.state.cameras.is_online(gw)
    })
    .await;
    let res = new_client()
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert!(res.status().is_success());
    assert!(
        dial_gateway(&app, &token).await.is_ok(),
        "it may dial again"
    );
}

// ---- the real chain ----

const PYTHON: &str = "/usr/bin/python3";

/// GStreamer's RTSP server (camera-gateway/tests/rtsp_server.py) on a free
/// port; killed by the PID we started when dropped.
struct RtspServer {
    port: u16,
    child: tokio::process::Child,
    workdir: std::path::PathBuf,
    clients: Arc<AtomicUsize>,
    /// The mount of every DESCRIBE, in order.
    described: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RtspServer {
    /// Every mount needs digest auth with `user` / `password`.
    async fn start(user: &str, password: &str) -> Self {
        Self::start_on(0, user, password).await
    }

    /// On `port` (0: a free one), e.g. again on the port of a stopped one.
    async fn start_on(port: u16, user: &str, password: &str) -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../camera-gateway/tests/rtsp_server.py"
        );
        let workdir =
            std::env::temp_dir().join(format!("tv-cam-rtsp-{}", crate::helpers::random_suffix()));
        let mut child = tokio::process::Command::new(PYTHON)
            .arg(script)
            .args(["--port", &port.to_string(), "--workdir"])
            .arg(&workdir)
            .args(["--user", user, "--password", password])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {PYTHON} {script}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(p) = line.strip_prefix("READY ") {
                    return p.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("RTSP server up (GStreamer RTSP server installed?)");
        let clients = Arc::new(AtomicUsize::new(0));
        let described = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (counter, paths) = (clients.clone(), described.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("CLIENT") {
                    counter.fetch_add(1, Ordering::SeqCst);
                } else if let Some(p) = line.strip_prefix("DESCRIBE ") {
                    paths
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(p.trim().to_string());
                }
            }
        });
        Self {
            port,
            child,
            workdir,
            clients,
            described,
        }
    }

    /// Kills the server (by the PID we started) and waits for it to exit.
    async fn stop(mut self) -> u16 {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        self.port
    }

    fn described(&self, path: &str) -> bool {
        self.described
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|p| p == path)
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

/// Reads a viewer until it has the init segment and `fragments` fragments.
/// Also returns when the first fragment arrived.
async fn watch(ws: &mut Ws, fragments: usize) -> (bool, usize, Vec<String>, std::time::Instant) {
    let mut first = None;
    let mut init = false;
    let mut frags = 0;
    let mut states = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while frags < fragments {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => {
                    if b.len() > 8 && &b[4..8] == b"ftyp" {
                        init = true;
                    } else {
                        assert!(init, "a fragment before the init segment");
                        assert_eq!(&b[4..8], b"moof", "fragments are moof+mdat");
                        frags += 1;
                        first.get_or_insert_with(std::time::Instant::now);
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("status json");
                    states.push(v["state"].as_str().unwrap_or_default().to_string());
                }
                Some(Ok(_)) => {}
                other => panic!("viewer socket ended: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no live video in time (states {states:?}, {frags} fragments)"));
    let first = first.unwrap_or_else(std::time::Instant::now);
    (init, frags, states, first)
}

/// The next status text a viewer gets, skipping media.
async fn next_status(ws: &mut Ws, secs: u64) -> Value {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str()).expect("status json")
                }
                Some(Ok(_)) => continue,
                other => panic!("viewer socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a status in time")
}

/// Waits for a status with `state`, returning it (earlier ones are kept).
async fn status_until(ws: &mut Ws, state: &str, seen: &mut Vec<Value>) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "no {state:?} status (saw {seen:?})");
        let v = next_status(ws, left.as_secs().max(1)).await;
        if v["state"] == state {
            return v;
        }
        seen.push(v);
    }
}

#[tokio::test]
async fn rtsp_to_gateway_to_portal_to_two_viewers_with_one_pull() {
    let rtsp = RtspServer::start("viewer", "s3cret").await;
    // Long enough that a viewer reloading the page is sure to come back
    // within it (the join below relies on it).
    let app = TestApp::spawn_with(|c| c.camera_linger_ms = 2_000).await;
    let (c, cookie) = user(&app, "live@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let url = format!("rtsp://127.0.0.1:{}/live", rtsp.port);
    let sub_url = format!("rtsp://127.0.0.1:{}/live2", rtsp.port);
    let gws = gw.to_string();
    let cam = add_camera(
        &app,
        &c,
        &[
            ("name", "Live"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("main_stream_url", &url),
            ("sub_stream_url", &sub_url),
            ("username", "viewer"),
            ("password", "s3cret"),
            ("gateway_id", &gws),
        ],
    )
    .await
    .expect("camera");

    // The real gateway, in-process, dialling the portal like it would from home.
    let tunnel_url = truevault_gateway::config::tunnel_url(&app.address).expect("url");
    let mut cfg = truevault_gateway::tunnel::TunnelConfig::new(tunnel_url, token);
    cfg.backoff = truevault_gateway::backoff::Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(500),
    );
    cfg.camera_auth_backoff = truevault_gateway::backoff::Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(400),
    );
    cfg.camera_auth_attempts = 3;
    // This test counts the RTSP connections pulls make; the watcher's own
    // probes (and its online/offline) are `cameras_are_watched_…`'s.
    cfg.watch.enabled = false;
    let gateway = tokio::spawn(truevault_gateway::tunnel::run(cfg));
    wait_for(20, "the gateway to connect", || async {
        app.state.cameras.is_online(gw)
    })
    .await;

    let started = std::time::Instant::now();
    let mut a = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer a");
    let (init_a, frags_a, states_a, first_a) = watch(&mut a, 10).await;
    let cold = first_a - started;
    let started = std::time::Instant::now();
    let mut b = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer b");
    let (init_b, frags_b, states_b, first_b) = watch(&mut b, 10).await;
    // Figures for the notes (loopback, debug build), not assertions.
    eprintln!(
        "first picture: {cold:?} when the pull must start, {:?} when already pulled",
        first_b - started
    );
    assert!(init_a && init_b && frags_a == 10 && frags_b == 10);
    assert!(states_a.contains(&"live".to_string()), "{states_a:?}");
    assert!(states_b.contains(&"live".to_string()), "{states_b:?}");
    // One pull for both viewers.
    assert_eq!(app.state.cameras.start_requests(cam), 1);
    assert_eq!(rtsp.clients.load(Ordering::SeqCst), 1, "one RTSP session");

    // Both leave and one comes back within the linger (a page reload): the
    // portal asks again, the gateway re-announces the running pull, and the
    // joining viewer still gets exactly one init, then the cached GOP from
    // its key frame, and no reset while it plays.
    drop(a);
    drop(b);
    wait_for(10, "both viewers gone", || async {
        app.state.cameras.hub.viewer_count(cam) == 0
    })
    .await;
    let started = std::time::Instant::now();
    let mut j = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("joining viewer");
    wait_for(10, "the re-announced init to reach the hub", || async {
        app.state.cameras.inits_received(cam) == 2
    })
    .await;
    assert_eq!(app.state.cameras.start_requests(cam), 2);
    let (mut inits, mut keyframes, mut frags, mut first) = (0, 0, 0, None);
    let mut lives = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        // Three key frames: past anything queued when the gateway answered.
        while keyframes < 3 {
            match j.next().await {
                Some(Ok(Message::Binary(b))) if &b[4..8] == b"ftyp" => inits += 1,
                Some(Ok(Message::Binary(b))) => {
                    let f = truevault_gateway::fmp4::parse::fragment(&b).expect("a fragment");
                    if frags == 0 {
                        assert!(f.sync, "the joining viewer starts at a key frame");
                        first = Some(started.elapsed());
                    }
                    frags += 1;
                    keyframes += usize::from(f.sync);
                }
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("status");
                    lives += usize::from(v["state"] == "live");
                }
                Some(Ok(_)) => {}
                other => panic!("viewer socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the joining viewer plays");
    assert_eq!(inits, 1, "exactly one init segment for a joining viewer");
    assert_eq!(lives, 1, "one \"live\" (the player resets on each)");
    assert_eq!(
        rtsp.clients.load(Ordering::SeqCst),
        1,
        "it joined the running pull"
    );
    eprintln!("joining a running pull: first fragment after {first:?}");

    // It leaves too: after the linger the pull is released…
    drop(j);
    wait_for(20, "the pull to be released", || async {
        !app.state.cameras.hub.cameras().contains(&cam)
    })
    .await;
    // …so the next viewer makes the gateway start a new pull (a stopped
    // pull is re-dialled; a running one would only be re-announced).
    let mut v = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer c");
    let (init, frags, _, _) = watch(&mut v, 3).await;
    assert!(init && frags == 3);
    assert_eq!(app.state.cameras.start_requests(cam), 3);
    wait_for(10, "a second RTSP session", || async {
        rtsp.clients.load(Ordering::SeqCst) == 2
    })
    .await;
    drop(v);
    assert!(
        !rtsp.described("/live2"),
        "nobody asked for the sub stream yet"
    );

    // The grid plays the sub stream, the camera's own page the main one
    // with a quality switch; the gateway pulls the sub stream's own URL,
    // once for all its viewers.
    let grid = app.get_html(&c, "/cameras").await;
    assert!(
        grid.contains(r#"data-camera-stream="sub""#),
        "the grid tile asks for the sub stream"
    );
    let single = app.get_html(&c, &format!("/cameras/{cam}")).await;
    assert!(
        single.contains(r#"data-camera-stream="main""#) && single.contains("data-camera-quality"),
        "the single view plays the main stream and offers the switch"
    );
    let mut s1 = dial_stream(
        &app,
        &cookie,
        &app.address,
        &format!("{cam}/live?stream=sub"),
    )
    .await
    .expect("grid viewer");
    let mut s2 = dial_stream(
        &app,
        &cookie,
        &app.address,
        &format!("{cam}/live?stream=sub"),
    )
    .await
    .expect("second grid viewer");
    for s in [&mut s1, &mut s2] {
        let (init, frags, _, _) = watch(s, 3).await;
        assert!(init && frags == 3);
    }
    assert!(
        rtsp.described("/live2"),
        "the gateway pulled the sub stream's URL"
    );
    let sub_channel = truevault::cameras::model::StreamKind::Sub.channel(cam);
    assert_eq!(
        app.state.cameras.start_requests(sub_channel),
        1,
        "one pull for both"
    );
    assert_eq!(
        rtsp.clients.load(Ordering::SeqCst),
        3,
        "one more RTSP session"
    );
    drop(s1);
    drop(s2);

    // A wrong password: the tile says so by code, after a bounded number
    // of tries, and a later viewer is told without the camera being dialled.
    let url2 = format!("rtsp://127.0.0.1:{}/live265", rtsp.port);
    let refused = add_camera(
        &app,
        &c,
        &[
            ("name", "Refused"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("main_stream_url", &url2),
            ("username", "viewer"),
            ("password", "wrong"),
            ("gateway_id", &gws),
        ],
    )
    .await
    .expect("camera");
    let refused_s = refused.to_string();
    let dials_before = rtsp.clients.load(Ordering::SeqCst);
    let mut r = dial_viewer(&app, &cookie, &app.address, refused)
        .await
        .expect("viewer of the refused camera");
    let mut seen = Vec::new();
    let failed = status_until(&mut r, "failed", &mut seen).await;
    assert_eq!(failed["code"], "CAMERA_AUTH_REFUSED", "{failed}");
    assert!(
        seen.iter()
            .filter(|v| v["state"] == "reconnecting")
            .all(|v| v["code"] == "CAMERA_AUTH_REFUSED"),
        "{seen:?}"
    );
    wait_for(10, "three dials with the wrong password", || async {
        rtsp.clients.load(Ordering::SeqCst) == dials_before + 3
    })
    .await;
    // Another viewer now is told at once; after the linger, a new viewer
    // makes the portal ask again and the gateway answers without dialling.
    let mut r2 = dial_viewer(&app, &cookie, &app.address, refused)
        .await
        .expect("second viewer");
    let v = status_until(&mut r2, "failed", &mut Vec::new()).await;
    assert_eq!(v["code"], "CAMERA_AUTH_REFUSED");
    drop(r2);
    drop(r);
    wait_for(20, "the refused pull to be released", || async {
        !app.state.cameras.hub.cameras().contains(&refused)
    })
    .await;
    let mut r3 = dial_viewer(&app, &cookie, &app.address, refused)
        .await
        .expect("third viewer");
    let v = status_until(&mut r3, "failed", &mut Vec::new()).await;
    assert_eq!(v["code"], "CAMERA_AUTH_REFUSED");
    assert_eq!(
        rtsp.clients.load(Ordering::SeqCst),
        dials_before + 3,
        "refused credentials are not dialled again"
    );
    // Editing the camera with the right password tries again and plays.
    let res = app
        .post_form(
            &c,
            "/api/cameras/update",
            &[
                ("id", refused_s.as_str()),
                ("name", "Refused"),
                ("vendor", "generic"),
                ("ip", "127.0.0.1"),
                ("main_stream_url", &url2),
                ("username", "viewer"),
                ("password", "s3cret"),
                ("gateway_id", &gws),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    status_until(&mut r3, "live", &mut Vec::new()).await;

    // The camera stops answering (its RTSP server stops) and comes back on
    // the same port: one offline and one online event, as the gateway saw.
    let kinds = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, v) = events(&app, &c, &refused_s, "", "").await;
    assert_eq!(kinds(&v), ["online"], "it came online once it played");
    let port = rtsp.stop().await;
    status_until(&mut r3, "reconnecting", &mut Vec::new()).await;
    wait_for(20, "an offline event", || async {
        kinds(&events(&app, &c, &refused_s, "", "").await.1) == ["offline", "online"]
    })
    .await;
    let rtsp = RtspServer::start_on(port, "viewer", "s3cret").await;
    status_until(&mut r3, "live", &mut Vec::new()).await;
    wait_for(20, "an online event", || async {
        kinds(&events(&app, &c, &refused_s, "", "").await.1) == ["online", "offline", "online"]
    })
    .await;
    // Filtered by type and by (UTC) day; a bad filter is a field error.
    let today = {
        let secs = truevault::db::now();
        let (y, m, d) = civil(secs / 86_400);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let (_, v) = events(&app, &c, &refused_s, "offline", &today).await;
    assert_eq!(kinds(&v), ["offline"]);
    assert_eq!(v[0]["camera_name"], "Refused");
    let (_, v) = events(&app, &c, &refused_s, "online", "1999-01-01").await;
    assert_eq!(kinds(&v), Vec::<String>::new());
    let (status, v) = events(&app, &c, &refused_s, "exploded", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["field"], "kind", "{v}");
    // The page shows them.
    let page = app
        .get_html(&c, &format!("/camera-events?camera={refused}&kind=offline"))
        .await;
    assert_eq!(page.matches(r#"data-testid="camera-event""#).count(), 1);
    drop(rtsp);
    gateway.abort();
}

/// The camera's events through the events server function.
async fn events(
    app: &TestApp,
    c: &reqwest::Client,
    camera: &str,
    kind: &str,
    day: &str,
) -> (StatusCode, Value) {
    let res = app
        .post_form(
            c,
            "/api/cameras/events",
            &[("camera", camera), ("kind", kind), ("day", day)],
        )
        .await;
    let status = res.status();
    (status, res.json().await.expect("json"))
}

/// (year, month, day) of a day number since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Waits (bounded) for a viewer socket to be closed by the server.
async fn closed_within(
    ws: &mut (impl futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
              + Unpin),
    secs: u64,
) -> bool {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn live_views_end_with_their_session() {
    let app = TestApp::spawn().await;
    let (c, cookie) = user(&app, "s@example.com", "personal").await;
    let cam = add_camera(&app, &c, &camera_form("Hall", &[]))
        .await
        .expect("camera");
    let mut ws = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer");
    let res = new_client()
        .post(app.url("/api/account/logout"))
        .header(header::ORIGIN, &app.origin)
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("logout");
    assert!(res.status().is_success() || res.status().is_redirection());
    assert!(
        closed_within(&mut ws, 10).await,
        "signing out ends the live view"
    );

    // Suspension (straight in the database, where an admin's action ends up).
    let (tc, tcookie) = user(&app, "t@example.com", "personal").await;
    let cam = add_camera(&app, &tc, &camera_form("Yard", &[]))
        .await
        .expect("camera");
    let mut ws = dial_viewer(&app, &tcookie, &app.address, cam)
        .await
        .expect("viewer");
    sqlx::query("UPDATE users SET status = 'suspended' WHERE email = 't@example.com'")
        .execute(&app.state.db.pool)
        .await
        .expect("suspend");
    assert!(
        closed_within(&mut ws, 10).await,
        "suspending the account ends the live view"
    );
}

#[tokio::test]
async fn live_views_are_capped_per_user() {
    let app = TestApp::spawn_with(|c| c.max_live_viewers_per_user = 2).await;
    let (c, cookie) = user(&app, "cap@example.com", "personal").await;
    let cam = add_camera(&app, &c, &camera_form("Porch", &[]))
        .await
        .expect("camera");
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'cap@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let mut first = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("first view");
    let _second = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("second view");
    assert_eq!(
        dial_viewer(&app, &cookie, &app.address, cam).await.err(),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "a third view is over the cap"
    );
    // Closing a view gives its slot back.
    first.close(None).await.expect("close");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.cameras.viewers.open(user_id) >= 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed view frees its slot"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dial_viewer(&app, &cookie, &app.address, cam).await.is_ok());
}

/// The in-process gateway for `token`, dialling the portal; aborted by the caller.
async fn run_gateway(app: &TestApp, gw: i64, token: String) -> tokio::task::JoinHandle<()> {
    let tunnel_url = truevault_gateway::config::tunnel_url(&app.address).expect("url");
    let mut cfg = truevault_gateway::tunnel::TunnelConfig::new(tunnel_url, token);
    cfg.backoff = truevault_gateway::backoff::Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(500),
    );
    let task = tokio::spawn(truevault_gateway::tunnel::run(cfg));
    wait_for(20, "the gateway to connect", || async {
        app.state.cameras.is_online(gw)
    })
    .await;
    task
}

/// A generic ONVIF camera added without URLs gets them from the camera,
/// asked through the gateway (oxvif's mock device: GetCapabilities,
/// GetProfiles, GetStreamUri and GetSnapshotUri with WS-UsernameToken);
/// its snapshot then comes through the gateway, and a failing snapshot is
/// a coded JSON error the page shows in place.
#[tokio::test]
async fn onvif_cameras_fill_their_urls_through_the_gateway_and_snapshots_fail_clearly() {
    let camera = oxvif::mock::MockServer::builder()
        .enforce_auth(true)
        .start()
        .await
        .expect("mock ONVIF camera");
    let app = TestApp::spawn().await;
    let (c, _) = user(&app, "onvif@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let gateway = run_gateway(&app, gw, token).await;
    let gws = gw.to_string();
    let port = camera.port().to_string();
    let form = |password: &'static str| {
        vec![
            ("name", "Garden"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("http_port", port.as_str()),
            ("username", "admin"),
            ("password", password),
            ("gateway_id", gws.as_str()),
        ]
    };

    // A wrong password: refused with a code, nothing saved.
    let err = add_camera(&app, &c, &form("wrong"))
        .await
        .expect_err("the camera refuses the login");
    assert_eq!(err.code, "CAMERA_ONVIF_FAILED", "{err:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM cameras").await, 0);

    let id = add_camera(&app, &c, &form("admin")).await.expect("camera");
    let (row_main, row_snap): (String, Option<String>) =
        sqlx::query_as("SELECT main_stream_url, snapshot_url FROM cameras WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .expect("row");
    // The mock answers 127.0.0.1 for itself; the gateway keeps the host it reached.
    assert_eq!(row_main, "rtsp://127.0.0.1:554/mock/stream");
    assert_eq!(
        row_snap.as_deref(),
        Some(format!("http://127.0.0.1:{port}/mock/snapshot.jpg").as_str())
    );
    let res = c
        .get(app.url(&format!("/cameras/{id}/snapshot")))
        .send()
        .await
        .expect("snapshot");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("image/"));
    assert!(!res.bytes().await.expect("body").is_empty());

    // A snapshot URL nothing answers: a coded error, not a raw 502 text.
    let dead = format!("http://127.0.0.1:{}/snap.jpg", free_tcp_port());
    let broken = add_camera(
        &app,
        &c,
        &[
            ("name", "Shed"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("main_stream_url", "rtsp://127.0.0.1:554/shed"),
            ("snapshot_url", dead.as_str()),
            ("gateway_id", gws.as_str()),
        ],
    )
    .await
    .expect("camera");
    // The gateway's camera list is refreshed before this request reaches it.
    let res = c
        .get(app.url(&format!("/cameras/{broken}/snapshot")))
        .send()
        .await
        .expect("snapshot");
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let v: Value = res.json().await.expect("a JSON error");
    assert_eq!(v["error"]["code"], "CAMERA_SNAPSHOT_FAILED", "{v}");
    gateway.abort();
    let _ = camera.shutdown().await;
}

/// A port nothing listens on.
fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A fresh session's raw cookie (for WebSocket handshakes).
async fn session_cookie(app: &TestApp, email: &str) -> String {
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = app
        .post_form(
            &raw,
            "/api/auth/login",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn an_account_without_service_loses_its_gateway_tunnels_and_live_views() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let (c, cookie) = user(&app, "gw@example.com", "personal").await;
    let cam = add_camera(&app, &c, &camera_form("Door", &[]))
        .await
        .expect("camera");
    let (_, token) = create_gateway(&app, &c).await;
    let mut gateway = dial_gateway(&app, &token).await.expect("tunnel");
    let mut viewer = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer");
    let id = app
        .count("SELECT id FROM users WHERE email = 'gw@example.com'")
        .await
        .to_string();
    let res = app
        .post_form(
            &admin,
            "/api/admin/user_status",
            &[("user_id", &id), ("status", "suspended")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        closed_within(&mut gateway, 2).await,
        "suspension ends the gateway's tunnel at once"
    );
    assert!(closed_within(&mut viewer, 5).await, "and the live view");
    assert_eq!(
        dial_gateway(&app, &token).await.err(),
        Some(StatusCode::FORBIDDEN),
        "a suspended account's gateway is refused"
    );

    // Back to active, then the subscription is suspended for an unpaid
    // invoice (where the dunning steps end up): the live view of a signed-in
    // customer ends too, and the gateway stays refused until paid.
    let res = app
        .post_form(
            &admin,
            "/api/admin/user_status",
            &[("user_id", &id), ("status", "active")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = session_cookie(&app, "gw@example.com").await;
    let _gateway = dial_gateway(&app, &token).await.expect("tunnel again");
    let mut viewer = dial_viewer(&app, &cookie, &app.address, cam)
        .await
        .expect("viewer again");
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_id, cycle, status, provider, amount_cents, currency, \
         current_period_start, current_period_end, created_at, updated_at) \
         VALUES ($1, (SELECT id FROM plans WHERE slug = 'personal'), 'monthly', 'suspended', 'test', 999, 'USD', 0, 0, 0, 0)",
    )
    .bind(id.parse::<i64>().unwrap())
    .execute(&app.state.db.pool)
    .await
    .expect("suspend the subscription");
    assert!(
        closed_within(&mut viewer, 5).await,
        "a payment overdue ends the live view"
    );
    assert_eq!(
        dial_gateway(&app, &token).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
}

/// The in-process gateway with a watcher that checks every 200 ms and
/// pulls ONVIF events with a 1 s hold.
async fn run_gateway_watching(
    app: &TestApp,
    gw: i64,
    token: String,
) -> tokio::task::JoinHandle<()> {
    let tunnel_url = truevault_gateway::config::tunnel_url(&app.address).expect("url");
    let mut cfg = truevault_gateway::tunnel::TunnelConfig::new(tunnel_url, token);
    cfg.backoff = truevault_gateway::backoff::Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(500),
    );
    cfg.watch.interval = Duration::from_millis(200);
    cfg.watch.probe_timeout = Duration::from_secs(2);
    cfg.watch.pull_timeout = Duration::from_secs(1);
    cfg.watch.onvif_backoff = truevault_gateway::backoff::Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(500),
    );
    // Every pushed event counts here; the cooldown is a unit test's.
    cfg.watch.event_cooldown = Duration::ZERO;
    let task = tokio::spawn(truevault_gateway::tunnel::run(cfg));
    wait_for(20, "the gateway to connect", || async {
        app.state.cameras.is_online(gw)
    })
    .await;
    task
}

fn event_kinds(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Nobody views the camera: its gateway still sees it go offline and come
/// back (RTSP server stopped and restarted), and the camera's own ONVIF
/// events (our recording proxy in front of oxvif's mock device, see
/// `onvif_device.rs`) become motion/person/vehicle/sound events, each with
/// the snapshot the gateway took at that moment, on the timeline and the
/// events page; nobody else gets the thumbnails.
#[tokio::test]
async fn cameras_are_watched_without_viewers_and_onvif_events_come_with_thumbnails() {
    let rtsp = RtspServer::start("viewer", "s3cret").await;
    let device = crate::onvif_device::OnvifDevice::start().await;
    let app = TestApp::spawn().await;
    let (c, _) = user(&app, "watch@example.com", "personal").await;
    let (stranger, _) = user(&app, "stranger@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let url = format!("rtsp://127.0.0.1:{}/live", rtsp.port);
    let (gws, http_port, snap) = (
        gw.to_string(),
        device.port.to_string(),
        device.snapshot_url(),
    );
    let cam = add_camera(
        &app,
        &c,
        &[
            ("name", "Porch"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("http_port", &http_port),
            ("main_stream_url", &url),
            ("snapshot_url", &snap),
            ("username", "viewer"),
            ("password", "s3cret"),
            ("gateway_id", &gws),
        ],
    )
    .await
    .expect("camera");
    let cams = cam.to_string();
    let gateway = run_gateway_watching(&app, gw, token).await;

    // Online, offline, online, with no viewer and no pull.
    wait_for(20, "an online event without a viewer", || async {
        event_kinds(&events(&app, &c, &cams, "", "").await.1) == ["online"]
    })
    .await;
    let port = rtsp.stop().await;
    wait_for(20, "an offline event without a viewer", || async {
        event_kinds(&events(&app, &c, &cams, "", "").await.1) == ["offline", "online"]
    })
    .await;
    let rtsp = RtspServer::start_on(port, "viewer", "s3cret").await;
    wait_for(20, "online again", || async {
        event_kinds(&events(&app, &c, &cams, "", "").await.1) == ["online", "offline", "online"]
    })
    .await;
    assert_eq!(
        app.state.cameras.start_requests(cam),
        0,
        "nobody asked for a pull"
    );
    assert!(!rtsp.described("/live"), "the camera was never pulled");

    // The gateway subscribed to the camera's events by itself.
    wait_for(20, "a pull-point subscription", || async {
        !device.requests("PullMessagesRequest").is_empty()
    })
    .await;
    // The camera's full picture (640×360 uncompressed, 675 KiB) is over
    // the thumbnail cap: the event is kept without one.
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "true");
    wait_for(20, "a motion event", || async {
        event_kinds(&events(&app, &c, &cams, "motion", "").await.1) == ["motion"]
    })
    .await;
    let (_, v) = events(&app, &c, &cams, "motion", "").await;
    assert_eq!(v[0]["has_thumbnail"], false, "{v}");
    device.small_snapshots(true);
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "false");
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "true");
    wait_for(20, "a second motion event", || async {
        event_kinds(&events(&app, &c, &cams, "motion", "").await.1) == ["motion", "motion"]
    })
    .await;
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "false");
    device.push_event("tns1:RuleEngine/PeopleDetector/People", "IsPeople", "true");
    device.push_event(
        "tns1:RuleEngine/MyRuleDetector/VehicleDetect",
        "State",
        "true",
    );
    device.push_event(
        "tns1:AudioAnalytics/Audio/DetectedSound",
        "IsSoundDetected",
        "true",
    );
    // Not a kind we show: ignored.
    device.push_event(
        "tns1:VideoSource/ImageTooDark/ImagingService",
        "State",
        "true",
    );
    wait_for(20, "person, vehicle and sound events", || async {
        let v = events(&app, &c, &cams, "", "").await.1;
        let k = event_kinds(&v);
        ["person", "vehicle", "sound"]
            .iter()
            .all(|w| k.iter().any(|x| x == w))
    })
    .await;
    let (_, v) = events(&app, &c, &cams, "", "").await;
    let detections: Vec<&Value> = v
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| !matches!(e["kind"].as_str(), Some("online" | "offline")))
        .collect();
    assert_eq!(
        detections.len(),
        5,
        "motion's end and the dark image are not events: {v}"
    );
    for e in &detections[..4] {
        assert_eq!(e["has_thumbnail"], true, "{e}");
    }

    // Each thumbnail is the snapshot the gateway took, for the owner only.
    let motion = &events(&app, &c, &cams, "motion", "").await.1[0];
    let thumb = format!("/cameras/{cam}/events/{}/thumbnail", motion["id"]);
    let res = c.get(app.url(&thumb)).send().await.expect("thumbnail");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("image/"));
    let bytes = res.bytes().await.expect("body");
    assert!(bytes.starts_with(b"BM"), "the camera's picture (a BMP)");
    assert!(bytes.len() <= truevault_wire::gateway::MAX_THUMBNAIL_BYTES);
    let res = stranger
        .get(app.url(&thumb))
        .send()
        .await
        .expect("thumbnail");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (_, v) = events(&app, &stranger, &cams, "", "").await;
    assert_eq!(event_kinds(&v), Vec::<String>::new());

    // The timeline and the events page show them with their pictures.
    let page = app.get_html(&c, &format!("/cameras/{cam}")).await;
    assert!(
        page.contains(r#"data-kind="person""#),
        "timeline lists the person"
    );
    assert!(page.contains(&thumb), "timeline shows the thumbnail");
    let page = app
        .get_html(&c, &format!("/camera-events?camera={cam}&kind=vehicle"))
        .await;
    assert_eq!(page.matches(r#"data-testid="camera-event""#).count(), 1);
    assert!(page.contains("data-testid=\"camera-event-thumbnail\""));
    gateway.abort();
    drop(rtsp);
}

/// PTZ through the gateway to the camera's PTZ service (oxvif's mock
/// behind our recording proxy): a press is a ContinuousMove with the
/// button's velocity, the release a Stop, in that order; presets list, go
/// to and save. Nobody but the owner moves it: every command on someone
/// else's camera reads "not found" and reaches nothing.
#[tokio::test]
async fn ptz_moves_while_held_and_stops_on_release_for_the_owner_only() {
    let device = crate::onvif_device::OnvifDevice::start().await;
    let app = TestApp::spawn().await;
    let (c, _) = user(&app, "ptz@example.com", "personal").await;
    let (stranger, _) = user(&app, "nosy@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let (gws, http_port) = (gw.to_string(), device.port.to_string());
    let cam = add_camera(
        &app,
        &c,
        &[
            ("name", "Drive"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("http_port", &http_port),
            ("main_stream_url", "rtsp://127.0.0.1:554/drive"),
            ("gateway_id", &gws),
        ],
    )
    .await
    .expect("camera");
    let cams = cam.to_string();
    let gateway = run_gateway(&app, gw, token).await;
    let ptz = |who: reqwest::Client, form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app.post_form(&who, "/api/cameras/ptz", &form).await;
            let status = res.status();
            let v: Value = res.json().await.expect("json");
            (status, v)
        }
    };
    let op = |op: &str, extra: &[(&'static str, &str)]| {
        let mut f = vec![("camera", cams.clone()), ("op", op.to_string())];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };

    // Press (right arrow) and release.
    let (s, v) = ptz(
        c.clone(),
        op("move", &[("pan", "0.5"), ("tilt", "0"), ("zoom", "0")]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = ptz(c.clone(), op("stop", &[])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let moves = device.requests("/ContinuousMove");
    assert_eq!(moves.len(), 1);
    assert!(
        moves[0].body.contains(r#"<tt:PanTilt x="0.5" y="0"/>"#)
            && moves[0].body.contains(r#"<tt:Zoom x="0"/>"#),
        "{}",
        moves[0].body
    );
    let stops = device.requests("/Stop");
    assert_eq!(stops.len(), 1);
    let all = device.requests("");
    let at = |suffix: &str| all.iter().position(|r| r.action.ends_with(suffix));
    assert!(
        at("/ContinuousMove") < at("/Stop"),
        "the Stop follows the move"
    );
    assert!(stops[0]
        .body
        .contains("<tptz:ProfileToken>Profile_1</tptz:ProfileToken>"));

    // Presets: the mock's two, a saved one, and going to one.
    let (s, v) = ptz(c.clone(), op("presets", &[])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<&str> = v
        .as_array()
        .expect("presets")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"Home") && names.contains(&"Door"), "{v}");
    let (s, v) = ptz(c.clone(), op("save", &[("name", "Porch")])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let saved = v[0]["token"]
        .as_str()
        .expect("the new preset's token")
        .to_string();
    let (_, v) = ptz(c.clone(), op("presets", &[])).await;
    assert!(
        v.as_array()
            .expect("presets")
            .iter()
            .any(|p| p["name"] == "Porch"),
        "{v}"
    );
    let (s, v) = ptz(c.clone(), op("goto", &[("token", &saved)])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let gotos = device.requests("/GotoPreset");
    assert_eq!(gotos.len(), 1);
    assert!(gotos[0]
        .body
        .contains(&format!("<tptz:PresetToken>{saved}</tptz:PresetToken>")));

    // Bad input is a field error and reaches nothing.
    let before = device.requests("").len();
    for (form, field) in [
        (op("move", &[("pan", "2")]), "pan"),
        (op("move", &[]), "pan"),
        (op("goto", &[]), "token"),
        (op("save", &[("name", "")]), "name"),
        (op("launch", &[]), "op"),
        (
            vec![("camera", "x".to_string()), ("op", "stop".to_string())],
            "camera",
        ),
    ] {
        let (s, v) = ptz(c.clone(), form).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["field"], field, "{v}");
    }
    // Another customer: every command on this camera's id is "not found".
    for form in [
        op("move", &[("tilt", "-0.3")]),
        op("stop", &[]),
        op("presets", &[]),
        op("goto", &[("token", &saved)]),
        op("save", &[("name", "Mine")]),
    ] {
        let (s, v) = ptz(stranger.clone(), form).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["code"], "NOT_FOUND", "{v}");
    }
    assert_eq!(
        device.requests("").len(),
        before,
        "nothing reached the camera"
    );

    // With its gateway gone, a command says so by code.
    gateway.abort();
    wait_for(20, "the gateway to be offline", || async {
        !app.state.cameras.is_online(gw)
    })
    .await;
    let (s, v) = ptz(c.clone(), op("stop", &[])).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["code"], "CAMERA_GATEWAY_OFFLINE", "{v}");
}

/// The owner asked for motion and person mails: the first event's mail
/// reaches a real SMTP server (aiosmtpd), the next within 10 minutes is
/// held back, one after the gap (the portal's clock moved on) goes out;
/// quiet hours and "only picked cameras" hold mail back too. Offline was
/// not asked for and sends nothing.
#[tokio::test]
async fn camera_event_mail_arrives_once_then_is_rate_limited() {
    let maildir = std::env::temp_dir().join(format!(
        "tv-cam-maildir-{}",
        crate::helpers::random_suffix()
    ));
    let (_smtp, smtp_port) = crate::smtp::start_smtp(&maildir);
    let device = crate::onvif_device::OnvifDevice::start().await;
    device.small_snapshots(true);
    let app = TestApp::spawn_with(|c| {
        c.smtp = Some(truevault::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp_port,
            username: None,
            password: None,
            security: "none".into(),
        });
    })
    .await;
    let (c, _) = user(&app, "alerts@example.com", "personal").await;
    let (gw, token) = create_gateway(&app, &c).await;
    let (gws, http_port, snap) = (
        gw.to_string(),
        device.port.to_string(),
        device.snapshot_url(),
    );
    let dead = format!("rtsp://127.0.0.1:{}/yard", free_tcp_port());
    let cam = add_camera(
        &app,
        &c,
        &[
            ("name", "Yard"),
            ("vendor", "generic"),
            ("ip", "127.0.0.1"),
            ("http_port", &http_port),
            ("main_stream_url", &dead),
            ("snapshot_url", &snap),
            ("gateway_id", &gws),
        ],
    )
    .await
    .expect("camera");
    let cams = cam.to_string();
    let save = |form: Vec<(&'static str, String)>| {
        let (app, c) = (&app, &c);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app.post_form(c, "/api/cameras/notify_save", &form).await;
            let status = res.status();
            (status, res.text().await.unwrap_or_default())
        }
    };
    let (s, body) = save(vec![
        ("motion", "on".into()),
        ("quiet_from", "25:00".into()),
        ("quiet_to", "07:00".into()),
    ])
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains(r#""field":"quiet_from""#), "{body}");
    let (s, body) = save(vec![
        ("motion", "on".into()),
        ("person", "on".into()),
        ("cameras", "all".into()),
    ])
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let mails = || {
        crate::smtp::read_maildir(&maildir)
            .into_iter()
            .filter(|m| m.contains("alerts@example.com"))
            .collect::<Vec<_>>()
    };
    let decided = |n: u64| {
        let app = &app;
        async move {
            wait_for(20, &format!("{n} mail decisions"), || async {
                app.state.cameras.notify_decisions(cam) >= n
            })
            .await;
        }
    };
    let gateway = run_gateway_watching(&app, gw, token).await;

    // Offline (nothing answers at the stream's address): not asked for.
    decided(1).await;
    assert_eq!(
        event_kinds(&events(&app, &c, &cams, "", "").await.1),
        ["offline"]
    );
    wait_for(20, "the event subscription", || async {
        !device.requests("PullMessagesRequest").is_empty()
    })
    .await;
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "true");
    decided(2).await;
    wait_for(20, "the motion mail over SMTP", || async {
        mails().len() == 1
    })
    .await;
    assert!(
        mails()[0].contains("Subject: Yard: Motion"),
        "{}",
        mails()[0]
    );

    // A person a minute later: within 10 minutes of the last mail.
    app.state.clock.advance(60);
    device.push_event("tns1:RuleEngine/PeopleDetector/People", "IsPeople", "true");
    decided(3).await;
    assert_eq!(
        app.mail_count("alerts@example.com").await,
        1,
        "rate-limited"
    );
    // Past the gap: mailed again.
    app.state.clock.advance(MAIL_GAP);
    device.push_event("tns1:RuleEngine/PeopleDetector/People", "IsPeople", "false");
    device.push_event("tns1:RuleEngine/PeopleDetector/People", "IsPeople", "true");
    decided(4).await;
    wait_for(20, "the person mail", || async { mails().len() == 2 }).await;

    // Quiet hours around the portal's now: held back.
    let minute = (app.state.clock.now() + MAIL_GAP).rem_euclid(86_400) / 60;
    let hhmm = |m: i64| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    let (s, body) = save(vec![
        ("motion", "on".into()),
        ("person", "on".into()),
        ("quiet_from", hhmm(minute)),
        ("quiet_to", hhmm((minute + 5) % 1440)),
    ])
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    app.state.clock.advance(MAIL_GAP);
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "false");
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "true");
    decided(5).await;
    // Only picked cameras, and this one is not picked: held back; picked: mailed.
    let (s, body) = save(vec![("motion", "on".into()), ("cameras", "chosen".into())]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "false");
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "true");
    decided(6).await;
    assert_eq!(
        app.mail_count("alerts@example.com").await,
        2,
        "quiet, then not picked"
    );
    let res = app
        .post_form(
            &c,
            "/api/cameras/notify_choose",
            &[("camera", &cams), ("on", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "false");
    device.push_event("tns1:VideoSource/MotionAlarm", "IsMotion", "true");
    decided(7).await;
    wait_for(20, "the picked camera's mail", || async {
        mails().len() == 3
    })
    .await;
    // The settings page shows what was saved.
    let page = app.get_html(&c, "/camera-events").await;
    assert!(page.contains(r#"data-testid="camera-notify""#));
    gateway.abort();
    let _ = std::fs::remove_dir_all(&maildir);
}

const MAIL_GAP: i64 = truevault::cameras::notify::MAIL_GAP_SECS + 1;
