//! The ingest against a real RTSP server (GStreamer) and against bad cameras.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use truevault_gateway::backoff::Backoff;
use truevault_gateway::fmp4::parse;
use truevault_gateway::ingest::{self, CameraSource, IngestEvent, PullTag};
use truevault_gateway::GatewayError;
use truevault_wire::gateway::CameraSpec;

fn source(id: i64, url: &str, user: Option<&str>, pass: Option<&str>) -> CameraSource {
    CameraSource::from_spec(&CameraSpec {
        id,
        name: format!("cam{id}"),
        rtsp_url: url.to_string(),
        username: user.map(Into::into),
        password: pass.map(Into::into),
        snapshot_url: None,
        watch: false,
        onvif_url: None,
    })
    .expect("valid spec")
}

fn tag(id: i64) -> PullTag {
    PullTag {
        camera_id: id,
        pull: 1,
    }
}

fn fast_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(1))
}

/// Collects the init segment and `n` fragments from a running pull.
async fn collect(
    rx: &mut mpsc::Receiver<(PullTag, IngestEvent)>,
    n: usize,
) -> (String, Vec<u8>, Vec<parse::FragmentInfo>, usize) {
    let mut repaired = 0;
    let (_, started) = next_matching(rx, 30, "stream start", |_, e| {
        matches!(e, IngestEvent::Started { .. })
    })
    .await;
    let IngestEvent::Started {
        codec,
        init,
        width,
        height,
    } = started
    else {
        unreachable!()
    };
    assert_eq!((width, height), (320, 240));
    let mut frags = Vec::new();
    while frags.len() < n {
        let (_, e) = next_matching(rx, 20, "fragments", |_, e| {
            !matches!(e, IngestEvent::Error { .. })
        })
        .await;
        match e {
            IngestEvent::Fragment(f) => {
                let info = parse::fragment(&f.data).expect("fragment parses");
                assert_eq!(info.sync, f.keyframe);
                assert_eq!(info.base_decode_time, f.decode_time);
                assert!(f.muxed_at >= f.received_at);
                if f.timestamp_repaired {
                    repaired += 1;
                }
                frags.push(info);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    (codec, init.to_vec(), frags, repaired)
}

fn check_stream(
    codec: &str,
    init: &[u8],
    frags: &[parse::FragmentInfo],
    expect_duration: Option<u32>,
) {
    assert!(
        codec.starts_with("avc1.42"),
        "baseline H.264 expected, got {codec}"
    );
    parse::find(
        init,
        &["moov", "trak", "mdia", "minf", "stbl", "stsd", "avc1"],
    )
    .expect("avc1 sample entry");
    parse::find(init, &["moov", "mvex", "trex"]).expect("trex");
    assert!(frags[0].sync, "first fragment must be a key frame");
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(f.sequence as usize, i + 1, "mfhd sequence numbers");
        assert!(check_length_prefixed(&f.sample) >= 1);
    }
    for w in frags.windows(2) {
        assert!(
            w[1].base_decode_time > w[0].base_decode_time,
            "decode times must increase: {w:?}"
        );
        if let Some(d) = expect_duration {
            let step = w[1].base_decode_time - w[0].base_decode_time;
            assert!(
                step.abs_diff(u64::from(d)) <= u64::from(d) / 2,
                "step {step} vs {d}"
            );
        }
    }
    if frags.len() > 31 {
        assert!(
            frags.iter().skip(1).any(|f| f.sync),
            "a key frame every 30 frames"
        );
    }
}

#[tokio::test]
async fn live_stream_gives_correct_frames_and_timestamps() {
    let server = RtspServer::start(None).await;
    let (tx, mut rx) = mpsc::channel(512);
    let task = tokio::spawn(ingest::pull_forever(
        source(1, &server.url("/live"), None, None),
        tag(1),
        tx,
        fast_backoff(),
    ));
    let (codec, init, frags, repaired) = collect(&mut rx, 45).await;
    assert_eq!(repaired, 0, "good camera timestamps pass through");
    // 30 fps at the 90 kHz RTP clock.
    check_stream(&codec, &init, &frags, Some(3000));
    task.abort();
}

#[tokio::test]
async fn h265_stream_gets_an_hvc1_init_segment() {
    let server = RtspServer::start(None).await;
    let (tx, mut rx) = mpsc::channel(512);
    let task = tokio::spawn(ingest::pull_forever(
        source(7, &server.url("/live265"), None, None),
        tag(7),
        tx,
        fast_backoff(),
    ));
    let (codec, init, frags, repaired) = collect(&mut rx, 10).await;
    assert_eq!(repaired, 0);
    assert!(codec.starts_with("hvc1."), "{codec}");
    parse::find(
        &init,
        &["moov", "trak", "mdia", "minf", "stbl", "stsd", "hvc1"],
    )
    .expect("hvc1 sample entry");
    assert!(frags[0].sync);
    for w in frags.windows(2) {
        assert!(w[1].base_decode_time > w[0].base_decode_time);
        assert_eq!(w[1].sequence, w[0].sequence + 1);
    }
    task.abort();
}

#[tokio::test]
async fn identical_timestamps_are_repaired() {
    let server = RtspServer::start(None).await;
    let (tx, mut rx) = mpsc::channel(1024);
    let task = tokio::spawn(ingest::pull_forever(
        source(2, &server.url("/zero"), None, None),
        tag(2),
        tx,
        fast_backoff(),
    ));
    let (codec, init, frags, repaired) = collect(&mut rx, 60).await;
    // The source really had unusable timestamps.
    assert!(
        repaired > 30,
        "only {repaired} of 60 timestamps needed repair"
    );
    check_stream(&codec, &init, &frags, None);
    task.abort();
}

#[tokio::test]
async fn digest_auth_accepted_and_wrong_password_refused() {
    let server = RtspServer::start(Some(("viewer", "s3cret!"))).await;
    // Credentials inside the URL are moved out of it (retina refuses them there).
    let url = format!("rtsp://viewer:s3cret%21@127.0.0.1:{}/live", server.port);
    let (tx, mut rx) = mpsc::channel(512);
    let task = tokio::spawn(ingest::pull_forever(
        source(3, &url, None, None),
        tag(3),
        tx,
        fast_backoff(),
    ));
    let (codec, init, frags, repaired) = collect(&mut rx, 10).await;
    assert_eq!(repaired, 0, "good camera timestamps pass through");
    check_stream(&codec, &init, &frags, None);
    task.abort();

    let (tx, _rx) = mpsc::channel(16);
    let wrong = ingest::pull_once(
        &source(3, &server.url("/live"), Some("viewer"), Some("nope")),
        tag(3),
        &tx,
    )
    .await;
    match wrong {
        Err(GatewayError::AuthRefused(msg)) => assert!(msg.contains("401"), "{msg}"),
        other => panic!("expected AuthRefused, got {other:?}"),
    }
    let none = ingest::pull_once(&source(3, &server.url("/live"), None, None), tag(3), &tx).await;
    assert!(
        matches!(none, Err(GatewayError::AuthRefused(_))),
        "{none:?}"
    );

    // Retried with growing delays, then given up: cameras lock accounts
    // after a few failures.
    // The three sessions above, once the server has reported them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.clients.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "earlier dials seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = server.clients.load(std::sync::atomic::Ordering::SeqCst);
    let (tx, mut rx) = mpsc::channel(16);
    let policy = ingest::RetryPolicy {
        backoff: fast_backoff(),
        auth_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
        max_auth_attempts: 3,
    };
    let task = tokio::spawn(ingest::pull_forever(
        source(3, &server.url("/live"), Some("viewer"), Some("nope")),
        tag(3),
        tx,
        policy,
    ));
    let mut delays = Vec::new();
    loop {
        let (_, e) = next_matching(&mut rx, 30, "a refusal", |_, _| true).await;
        let IngestEvent::Error {
            code,
            retry_in,
            gave_up,
            ..
        } = e
        else {
            panic!("a refused camera sent media")
        };
        assert_eq!(code, truevault_wire::gateway::StreamErrorCode::AuthRefused);
        if gave_up {
            break;
        }
        delays.push(retry_in);
    }
    assert_eq!(delays.len(), 2, "two retries after the first refusal");
    assert!(delays[1] >= delays[0], "the delay grows: {delays:?}");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the pull ends after giving up")
        .expect("join");
    assert!(rx.recv().await.is_none(), "nothing after giving up");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.clients.load(std::sync::atomic::Ordering::SeqCst) < before + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "three RTSP dials seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.clients.load(std::sync::atomic::Ordering::SeqCst),
        before + 3,
        "exactly three dials with the refused password"
    );
}

#[tokio::test]
async fn redials_after_the_server_restarts() {
    let server = RtspServer::start(None).await;
    let url = server.url("/live");
    let (tx, mut rx) = mpsc::channel(512);
    let task = tokio::spawn(ingest::pull_forever(
        source(4, &url, None, None),
        tag(4),
        tx,
        fast_backoff(),
    ));
    collect(&mut rx, 5).await;
    let port = server.stop().await;
    let (_, err) = next_matching(&mut rx, 30, "an error after the server died", |_, e| {
        matches!(e, IngestEvent::Error { .. })
    })
    .await;
    let IngestEvent::Error {
        message, retry_in, ..
    } = err
    else {
        unreachable!()
    };
    assert!(!message.is_empty() && retry_in <= Duration::from_secs(1));
    let _server = RtspServer::start_on(port, None).await;
    let (codec, init, frags, repaired) = collect(&mut rx, 10).await;
    assert_eq!(repaired, 0, "good camera timestamps pass through");
    check_stream(&codec, &init, &frags, Some(3000));
    task.abort();
}

#[tokio::test]
async fn two_cameras_at_once() {
    let server = RtspServer::start(None).await;
    let (tx, mut rx) = mpsc::channel(512);
    let a = tokio::spawn(ingest::pull_forever(
        source(10, &server.url("/live"), None, None),
        tag(10),
        tx.clone(),
        fast_backoff(),
    ));
    let b = tokio::spawn(ingest::pull_forever(
        source(11, &server.url("/live2"), None, None),
        tag(11),
        tx,
        fast_backoff(),
    ));
    let mut counts = std::collections::HashMap::<i64, usize>::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while counts.get(&10).copied().unwrap_or(0) < 20
            || counts.get(&11).copied().unwrap_or(0) < 20
        {
            match rx.recv().await {
                Some((t, IngestEvent::Fragment(_))) => *counts.entry(t.camera_id).or_default() += 1,
                Some((_, IngestEvent::Error { message, .. })) => panic!("pull failed: {message}"),
                Some(_) => {}
                None => panic!("closed"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("both cameras should stream: {counts:?}"));
    a.abort();
    b.abort();
}

#[tokio::test]
async fn unreachable_camera_is_a_clear_error() {
    let port = free_port();
    let (tx, _rx) = mpsc::channel(16);
    let r = tokio::time::timeout(
        Duration::from_secs(15),
        ingest::pull_once(
            &source(5, &format!("rtsp://127.0.0.1:{port}/live"), None, None),
            tag(5),
            &tx,
        ),
    )
    .await
    .expect("fails fast");
    let msg = r.expect_err("nothing listens there").to_string();
    assert!(
        msg.to_lowercase().contains("refused") || msg.contains("connect"),
        "{msg}"
    );
}

#[tokio::test]
async fn camera_answering_garbage_is_a_clear_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let junk = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s
                .write_all(b"\x00\xffHELLO garbage\r\n\r\n\x13\x37 not RTSP at all\r\n\r\n")
                .await;
            let _ = s.write_all(&[0xAAu8; 4096]).await;
        }
    });
    let (tx, _rx) = mpsc::channel(16);
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        ingest::pull_once(
            &source(6, &format!("rtsp://127.0.0.1:{port}/live"), None, None),
            tag(6),
            &tx,
        ),
    )
    .await
    .expect("fails, does not hang");
    let err = r.expect_err("garbage is not a stream");
    assert!(
        matches!(err, GatewayError::Rtsp(_) | GatewayError::Timeout(_)),
        "{err:?}"
    );
    junk.abort();
}

/// The fMP4 we make is read back by an independent demuxer and decoder
/// (GStreamer's qtdemux + openh264dec), frame for frame.
#[tokio::test]
async fn fmp4_output_decodes_with_an_independent_demuxer() {
    let server = RtspServer::start(None).await;
    let (tx, mut rx) = mpsc::channel(512);
    let task = tokio::spawn(ingest::pull_forever(
        source(20, &server.url("/live"), None, None),
        tag(20),
        tx,
        fast_backoff(),
    ));
    let (_, started) = next_matching(&mut rx, 30, "stream start", |_, e| {
        matches!(e, IngestEvent::Started { .. })
    })
    .await;
    let IngestEvent::Started { init, .. } = started else {
        unreachable!()
    };
    let mut file = init.to_vec();
    let mut n = 0;
    while n < 45 {
        if let (_, IngestEvent::Fragment(f)) =
            next_matching(&mut rx, 20, "fragments", |_, _| true).await
        {
            file.extend_from_slice(&f.data);
            n += 1;
        }
    }
    task.abort();
    let dir = std::env::temp_dir().join(format!("tvgw-fmp4-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("out.mp4");
    std::fs::write(&path, &file).expect("write");
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("gst-launch-1.0")
            .args(["filesrc", &format!("location={}", path.display())])
            .args(["!", "qtdemux", "!", "h264parse", "!", "openh264dec"])
            .args(["!", "fakesink", "sync=false", "silent=false", "-v"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("gst-launch finishes")
    .expect("gst-launch runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gst-launch failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    // fakesink -v prints one "chain" line per decoded frame.
    let decoded = stdout.lines().filter(|l| l.contains("chain")).count();
    assert_eq!(decoded, 45, "decoded frames");
}
