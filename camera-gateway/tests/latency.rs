//! Figures, not a test: run with
//! `cargo test -p truevault-gateway --release --test latency -- --ignored --nocapture`.
//!
//! A live 30 fps camera (GStreamer) → gateway → WebSocket on loopback → a
//! stand-in portal that publishes into truevault-relay → a viewer. Reports
//! p50/p99 of:
//! * gateway: the frame's last RTP packet read → its fMP4 fragment muxed;
//! * tunnel: the same start → the binary frame decoded at the portal;
//! * viewer: the same start → the fragment handed to a viewer by the relay;
//!
//! and the time to first key frame for a viewer joining a running pull and
//! for one whose pull must start first.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use truevault_gateway::tunnel::{self, TunnelConfig};
use truevault_gateway::unix_micros;
use truevault_relay::{Hub, HubConfig, ViewerItem};
use truevault_wire::gateway::{decode_media, CameraSpec, MediaKind, PortalMessage};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly"]
async fn gateway_latency_figures() {
    let frames: usize = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rtsp = RtspServer::start(None).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let url =
        truevault_gateway::config::tunnel_url(&format!("http://127.0.0.1:{port}")).expect("url");
    let gw = tokio::spawn(tunnel::run(TunnelConfig::new(url, "t".into())));
    let (tcp, _) = listener.accept().await.expect("accept");
    let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("ws");
    let _hello = ws.next().await;

    let (hub, _events) = Hub::new(HubConfig::default());
    let mut viewer = hub.subscribe(1);
    let spec = CameraSpec {
        id: 1,
        name: "bench".into(),
        rtsp_url: rtsp.url("/live"),
        username: None,
        password: None,
        snapshot_url: None,
        watch: false,
        onvif_url: None,
    };
    ws.send(Message::Text(
        PortalMessage::Cameras {
            cameras: vec![spec],
        }
        .to_json()
        .into(),
    ))
    .await
    .expect("send");
    let asked = Instant::now();
    ws.send(Message::Text(
        PortalMessage::StartStream { camera_id: 1 }.to_json().into(),
    ))
    .await
    .expect("send");

    // The portal side: every binary frame goes into the hub whole, so the
    // viewer can read the gateway's timestamps from the header.
    let (tun_tx, mut tun_rx) = tokio::sync::mpsc::unbounded_channel::<(f64, f64)>();
    let hub2 = hub.clone();
    let portal = tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(data) = msg {
                let now = unix_micros(SystemTime::now());
                let Ok((h, _)) = decode_media(&data) else {
                    continue;
                };
                match h.kind {
                    MediaKind::Init => hub2.publish_init(1, data).ok(),
                    MediaKind::Fragment => {
                        let _ = tun_tx.send((
                            (h.muxed_us.saturating_sub(h.received_us)) as f64 / 1000.0,
                            (now.saturating_sub(h.received_us)) as f64 / 1000.0,
                        ));
                        hub2.publish_fragment(1, data, h.keyframe).ok()
                    }
                };
            }
        }
    });

    let mut first_picture_cold = None;
    let mut viewer_ms = Vec::new();
    while viewer_ms.len() < frames {
        let item = tokio::time::timeout(Duration::from_secs(20), viewer.recv())
            .await
            .expect("media flows")
            .expect("open");
        if let ViewerItem::Fragment { data, keyframe } = item {
            let now = unix_micros(SystemTime::now());
            if keyframe && first_picture_cold.is_none() {
                first_picture_cold = Some(asked.elapsed());
            }
            let (h, _) = decode_media(&data).expect("header");
            viewer_ms.push((now.saturating_sub(h.received_us)) as f64 / 1000.0);
        }
    }
    // A second viewer joining the running pull.
    let joined = Instant::now();
    let mut warm = hub.subscribe(1);
    let first_picture_warm = loop {
        if let Some(ViewerItem::Fragment { keyframe: true, .. }) = warm.recv().await {
            break joined.elapsed();
        }
    };
    let (mut mux_ms, mut tunnel_ms): (Vec<f64>, Vec<f64>) =
        std::iter::from_fn(|| tun_rx.try_recv().ok()).unzip();
    println!("frames measured: {}", viewer_ms.len());
    println!(
        "gateway (RTP in -> fMP4 out):      p50 {:.2} ms  p99 {:.2} ms",
        pct(&mut mux_ms, 0.5),
        pct(&mut mux_ms, 0.99)
    );
    println!(
        "tunnel  (RTP in -> portal):        p50 {:.2} ms  p99 {:.2} ms",
        pct(&mut tunnel_ms, 0.5),
        pct(&mut tunnel_ms, 0.99)
    );
    println!(
        "viewer  (RTP in -> relay to viewer): p50 {:.2} ms  p99 {:.2} ms",
        pct(&mut viewer_ms, 0.5),
        pct(&mut viewer_ms, 0.99)
    );
    println!(
        "first key frame, pull already running: {:.1} ms",
        first_picture_warm.as_secs_f64() * 1000.0
    );
    println!(
        "first key frame, pull started on demand: {:.1} ms",
        first_picture_cold.unwrap_or_default().as_secs_f64() * 1000.0
    );
    gw.abort();
    portal.abort();
}
