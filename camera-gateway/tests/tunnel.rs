//! The gateway against a stand-in portal: the tunnel handshake, camera
//! list, start/stop, fan-out through truevault-relay, re-dials, snapshots
//! and bad input.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use truevault_gateway::backoff::Backoff;
use truevault_gateway::tunnel::{self, TunnelConfig};
use truevault_gateway::GatewayError;
use truevault_relay::{Hub, HubConfig, HubEvent, ViewerItem};
use truevault_wire::gateway::{
    decode_media, CameraSpec, GatewayMessage, MediaKind, PortalMessage, MAX_CONTROL_MESSAGE,
    TUNNEL_PATH,
};

const TOKEN: &str = "gw-token-123";

struct FakePortal {
    listener: TcpListener,
    port: u16,
    connections: Arc<AtomicUsize>,
}

type Ws = WebSocketStream<TcpStream>;

impl FakePortal {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        Self {
            listener,
            port,
            connections: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn config(&self, token: &str) -> TunnelConfig {
        let url = truevault_gateway::config::tunnel_url(&format!("http://127.0.0.1:{}", self.port))
            .expect("url");
        let mut cfg = TunnelConfig::new(url, token.to_string());
        cfg.backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        cfg.camera_backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        cfg
    }

    /// Accepts connections until one carries the right token on the right path.
    async fn accept(&self) -> Ws {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let (tcp, _) = self.listener.accept().await.expect("accept");
                self.connections.fetch_add(1, Ordering::SeqCst);
                #[allow(clippy::result_large_err)] // the signature tungstenite wants
                let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok());
                    if req.uri().path() != TUNNEL_PATH || auth != Some(&format!("Bearer {TOKEN}")) {
                        let mut e = ErrorResponse::new(Some("bad token".into()));
                        *e.status_mut() = StatusCode::UNAUTHORIZED;
                        return Err(e);
                    }
                    Ok(resp)
                };
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await {
                    return ws;
                }
            }
        })
        .await
        .expect("the gateway should connect")
    }
}

async fn next_text(ws: &mut Ws, secs: u64) -> GatewayMessage {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return GatewayMessage::from_json(t.as_str()).expect("valid JSON")
                }
                Some(Ok(_)) => continue,
                other => panic!("tunnel ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a control message in time")
}

async fn send(ws: &mut Ws, m: PortalMessage) {
    ws.send(Message::Text(m.to_json().into()))
        .await
        .expect("send");
}

fn camera(id: i64, url: String) -> CameraSpec {
    CameraSpec {
        id,
        name: format!("cam{id}"),
        rtsp_url: url,
        username: None,
        password: None,
        snapshot_url: None,
        watch: false,
        onvif_url: None,
    }
}

async fn expect_hello(ws: &mut Ws) {
    match next_text(ws, 10).await {
        GatewayMessage::Hello { version, agent } => {
            assert_eq!(version, truevault_wire::gateway::PROTOCOL_VERSION);
            assert!(agent.starts_with("truevault-gateway/"));
        }
        other => panic!("expected hello, got {other:?}"),
    }
}

/// The portal side of one tunnel: publishes media into the hub, hands
/// control messages to the test, sends what the test asks.
fn run_portal(
    mut ws: Ws,
    hub: Hub,
) -> (
    mpsc::Sender<PortalMessage>,
    mpsc::Receiver<GatewayMessage>,
    tokio::task::JoinHandle<()>,
) {
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<PortalMessage>(16);
    let (ctl_tx, ctl_rx) = mpsc::channel::<GatewayMessage>(256);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(cmd) = cmd_rx.recv() => {
                    if ws.send(Message::Text(cmd.to_json().into())).await.is_err() { return; }
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        let m = GatewayMessage::from_json(t.as_str()).expect("valid control message");
                        if let GatewayMessage::StreamError { camera_id, message, .. } = &m {
                            hub.interrupt(*camera_id, message);
                        }
                        let _ = ctl_tx.send(m).await;
                    }
                    Some(Ok(Message::Binary(data))) => {
                        let (h, payload) = decode_media(&data).expect("valid media frame");
                        let payload = data.slice_ref(payload);
                        match h.kind {
                            MediaKind::Init => hub.publish_init(h.camera_id, payload).expect("init"),
                            MediaKind::Fragment => hub.publish_fragment(h.camera_id, payload, h.keyframe).expect("fragment after init"),
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
        }
    });
    (cmd_tx, ctl_rx, task)
}

async fn next_ctl(
    rx: &mut mpsc::Receiver<GatewayMessage>,
    secs: u64,
    what: &str,
    pred: impl Fn(&GatewayMessage) -> bool,
) -> GatewayMessage {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let m = rx
                .recv()
                .await
                .unwrap_or_else(|| panic!("tunnel closed waiting for {what}"));
            if pred(&m) {
                return m;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn one_pull_fans_out_to_many_viewers_and_stops_after_the_last() {
    let rtsp = RtspServer::start(None).await;
    let portal = FakePortal::start().await;
    let gateway = tokio::spawn(tunnel::run(portal.config(TOKEN)));
    let mut ws = portal.accept().await;
    expect_hello(&mut ws).await;

    let (hub, mut events) = Hub::new(HubConfig {
        viewer_queue_fragments: 45,
        ..HubConfig::default()
    });
    // Three viewers read, one never does.
    let viewers: Vec<_> = (0..3).map(|_| hub.subscribe(1)).collect();
    let slow = hub.subscribe(1);
    assert_eq!(events.recv().await, Some(HubEvent::FirstViewer(1)));

    send(
        &mut ws,
        PortalMessage::Cameras {
            cameras: vec![camera(1, rtsp.url("/live")), camera(2, rtsp.url("/live2"))],
        },
    )
    .await;
    send(&mut ws, PortalMessage::StartStream { camera_id: 1 }).await;
    let (cmd, mut ctl, portal_task) = run_portal(ws, hub.clone());
    match next_ctl(&mut ctl, 30, "stream_started", |m| {
        matches!(m, GatewayMessage::StreamStarted { .. })
    })
    .await
    {
        GatewayMessage::StreamStarted {
            camera_id,
            codec,
            width,
            height,
        } => {
            assert_eq!((camera_id, width, height), (1, 320, 240));
            assert!(codec.starts_with("avc1."), "{codec}");
        }
        _ => unreachable!(),
    }

    let readers: Vec<_> = viewers
        .into_iter()
        .map(|mut v| {
            tokio::spawn(async move {
                let mut got_init = false;
                let mut frags = 0;
                let mut last_dts = None;
                while frags < 60 {
                    match v.recv().await.expect("stream continues") {
                        ViewerItem::Init(init) => {
                            truevault_gateway::fmp4::parse::find(&init, &["moov", "trak"])
                                .expect("init parses");
                            got_init = true;
                        }
                        ViewerItem::Fragment { data, .. } => {
                            assert!(got_init, "init comes first");
                            let f = truevault_gateway::fmp4::parse::fragment(&data)
                                .expect("fragment parses");
                            if let Some(l) = last_dts {
                                assert!(f.base_decode_time > l);
                            }
                            last_dts = Some(f.base_decode_time);
                            frags += 1;
                        }
                        ViewerItem::Interrupted(why) => panic!("interrupted: {why}"),
                    }
                }
                (v, frags)
            })
        })
        .collect();
    let mut kept = Vec::new();
    for r in readers {
        let (v, n) = tokio::time::timeout(Duration::from_secs(30), r)
            .await
            .expect("fast viewers are not held up")
            .expect("join");
        assert_eq!(n, 60);
        assert_eq!(v.stats().skipped, 0);
        kept.push(v);
    }
    // The idle viewer fell behind and was set back to key frames, bounded.
    let s = slow.stats();
    assert!(s.resyncs >= 1 && s.skipped > 0, "{s:?}");

    // A late viewer starts at the cached key frame.
    let mut late = hub.subscribe(1);
    assert!(matches!(late.try_recv(), Some(ViewerItem::Init(_))));
    assert!(matches!(
        late.try_recv(),
        Some(ViewerItem::Fragment { keyframe: true, .. })
    ));

    // One RTSP client for five viewers.
    assert_eq!(rtsp.clients.load(Ordering::SeqCst), 1);

    // Asking again for a running stream re-sends its start and init (a
    // portal that lost them can recover) without a second pull.
    cmd.send(PortalMessage::StartStream { camera_id: 1 })
        .await
        .expect("cmd");
    next_ctl(&mut ctl, 10, "stream_started again", |m| {
        matches!(m, GatewayMessage::StreamStarted { camera_id: 1, .. })
    })
    .await;
    assert_eq!(rtsp.clients.load(Ordering::SeqCst), 1);

    drop(kept);
    drop(slow);
    drop(late);
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("event");
    assert_eq!(ev, Some(HubEvent::LastViewerLeft(1)));
    // (A portal lingers ~10 s here before stopping.)
    cmd.send(PortalMessage::StopStream { camera_id: 1 })
        .await
        .expect("cmd");
    next_ctl(&mut ctl, 10, "stream_stopped", |m| {
        *m == GatewayMessage::StreamStopped { camera_id: 1 }
    })
    .await;
    assert!(hub.remove_if_idle(1));
    gateway.abort();
    portal_task.abort();
}

#[tokio::test]
async fn wrong_token_is_refused_clearly_and_redialled() {
    let portal = FakePortal::start().await;
    let cfg = portal.config("wrong-token");
    let dial = tokio::spawn(async move { tunnel::connect_and_serve(&cfg).await });
    // Refuse it (accept() keeps refusing bad tokens until a good one).
    let accept = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(3), portal.accept()).await;
        portal
    });
    let r = tokio::time::timeout(Duration::from_secs(10), dial)
        .await
        .expect("answer")
        .expect("join");
    match r {
        Err(GatewayError::TunnelRefused(msg)) => assert!(msg.contains("401"), "{msg}"),
        other => panic!("expected TunnelRefused, got {other:?}"),
    }
    let portal = accept.await.expect("join");
    // run() keeps re-dialling with backoff.
    let before = portal.connections.load(Ordering::SeqCst);
    let gw = tokio::spawn(tunnel::run(portal.config("wrong-token")));
    let counter = portal.connections.clone();
    let refuser = tokio::spawn(async move { portal.accept().await });
    tokio::time::timeout(Duration::from_secs(10), async {
        while counter.load(Ordering::SeqCst) < before + 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("re-dials");
    gw.abort();
    refuser.abort();
}

#[tokio::test]
async fn redials_when_the_portal_drops_and_survives_garbage() {
    let portal = FakePortal::start().await;
    let gw = tokio::spawn(tunnel::run(portal.config(TOKEN)));
    let mut ws = portal.accept().await;
    expect_hello(&mut ws).await;
    // Garbage and nonsense are ignored or answered, not fatal.
    ws.send(Message::Text("not json".into()))
        .await
        .expect("send");
    ws.send(Message::Text(r#"{"type":"self_destruct"}"#.into()))
        .await
        .expect("send");
    ws.send(Message::Binary(vec![0xde, 0xad, 0xbe, 0xef].into()))
        .await
        .expect("send");
    send(&mut ws, PortalMessage::StartStream { camera_id: 99 }).await;
    match next_text(&mut ws, 10).await {
        GatewayMessage::StreamError {
            camera_id: 99,
            message,
            ..
        } => assert!(message.contains("unknown camera")),
        other => panic!("{other:?}"),
    }
    send(
        &mut ws,
        PortalMessage::Cameras {
            cameras: vec![camera(5, "http://not-rtsp/".into())],
        },
    )
    .await;
    send(&mut ws, PortalMessage::StartStream { camera_id: 5 }).await;
    match next_text(&mut ws, 10).await {
        GatewayMessage::StreamError {
            camera_id: 5,
            message,
            ..
        } => assert!(message.contains("rtsp"), "{message}"),
        other => panic!("{other:?}"),
    }
    // An oversized message: the gateway drops that connection and dials again.
    let huge = "x".repeat(MAX_CONTROL_MESSAGE * 2 + 10);
    let _ = ws.send(Message::Text(huge.into())).await;
    let mut ws2 = portal.accept().await;
    expect_hello(&mut ws2).await;
    // The portal going away entirely: another re-dial.
    drop(ws2);
    let mut ws3 = portal.accept().await;
    expect_hello(&mut ws3).await;
    assert!(!gw.is_finished());
    gw.abort();
}

/// A camera's HTTP snapshot endpoint with digest auth.
async fn snapshot_server(user: &'static str, pass: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let auth = req.lines().find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                });
                let ok = auth
                    .and_then(|a| digest_auth::AuthorizationHeader::parse(a).ok())
                    .is_some_and(|h| {
                        let mut expect = h.clone();
                        expect.digest(&digest_auth::AuthContext::new(user, pass, h.uri.clone()));
                        expect.response == h.response && h.username == user
                    });
                let resp: Vec<u8> = if req.starts_with("GET /big") {
                    let body = vec![0u8; 3 * 1024 * 1024];
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&body);
                    r
                } else if ok {
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 9\r\nConnection: close\r\n\r\n\xff\xd8JPEG\xff\xd9!".to_vec()
                } else {
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"n0nce42\", qop=\"auth\"\r\nContent-Length: 0\r\n\r\n".to_vec()
                };
                let _ = s.write_all(&resp).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn snapshots_go_through_the_tunnel_with_digest_auth() {
    let cam_port = snapshot_server("admin", "pa55").await;
    let portal = FakePortal::start().await;
    let gw = tokio::spawn(tunnel::run(portal.config(TOKEN)));
    let mut ws = portal.accept().await;
    expect_hello(&mut ws).await;
    let spec = |id: i64, path: &str, pass: &str| CameraSpec {
        snapshot_url: Some(format!("http://127.0.0.1:{cam_port}{path}")),
        watch: false,
        onvif_url: None,
        username: Some("admin".into()),
        password: Some(pass.into()),
        ..camera(id, "rtsp://127.0.0.1:1/x".into())
    };
    send(
        &mut ws,
        PortalMessage::Cameras {
            cameras: vec![
                spec(1, "/snap.jpg", "pa55"),
                spec(2, "/snap.jpg", "bad"),
                spec(3, "/big", "pa55"),
            ],
        },
    )
    .await;
    send(
        &mut ws,
        PortalMessage::Snapshot {
            request_id: 7,
            camera_id: 1,
        },
    )
    .await;
    match next_text(&mut ws, 15).await {
        GatewayMessage::SnapshotResult {
            request_id: 7,
            camera_id: 1,
            content_type,
            data,
        } => {
            use base64::Engine;
            assert_eq!(content_type, "image/jpeg");
            assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .expect("base64"),
                b"\xff\xd8JPEG\xff\xd9!"
            );
        }
        other => panic!("{other:?}"),
    }
    send(
        &mut ws,
        PortalMessage::Snapshot {
            request_id: 8,
            camera_id: 2,
        },
    )
    .await;
    match next_text(&mut ws, 15).await {
        GatewayMessage::SnapshotError {
            request_id: 8,
            message,
            ..
        } => assert!(message.contains("401"), "{message}"),
        other => panic!("{other:?}"),
    }
    send(
        &mut ws,
        PortalMessage::Snapshot {
            request_id: 9,
            camera_id: 3,
        },
    )
    .await;
    match next_text(&mut ws, 15).await {
        GatewayMessage::SnapshotError {
            request_id: 9,
            message,
            ..
        } => assert!(message.contains("larger"), "{message}"),
        other => panic!("{other:?}"),
    }
    gw.abort();
}

#[test]
fn media_payload_shared_with_bytes() {
    // The portal can hand the decoded payload to the relay without copying.
    let h = truevault_wire::gateway::MediaHeader {
        kind: MediaKind::Fragment,
        keyframe: true,
        camera_id: 1,
        sequence: 1,
        received_us: 0,
        muxed_us: 0,
    };
    let frame = Bytes::from(truevault_wire::gateway::encode_media(&h, b"abc").expect("encode"));
    let (_, p) = decode_media(&frame).expect("decode");
    let shared = frame.slice_ref(p);
    assert_eq!(&shared[..], b"abc");
}
