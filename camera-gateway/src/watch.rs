//! Watching a camera whether or not anyone views it: its reachability (an
//! RTSP `OPTIONS` on its stream's address, any answer counts, a 401
//! included) and, when it speaks ONVIF, its events (a pull-point
//! subscription, `PullMessages` long-polls). What changes goes to the
//! portal as `camera_status` and `camera_event`; an event carries a
//! snapshot taken at that moment when the camera has a snapshot URL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use oxvif::{NotificationMessage, OnvifClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use truevault_wire::gateway::{
    CameraId, CameraSpec, DetectedKind, GatewayMessage, Thumbnail, MAX_THUMBNAIL_BYTES,
};
use url::Url;

use crate::backoff::Backoff;

#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Off: cameras are only seen while pulled (tests that count a
    /// camera's connections turn it off).
    pub enabled: bool,
    /// Between reachability checks.
    pub interval: Duration,
    /// One check's connect + answer.
    pub probe_timeout: Duration,
    /// Re-subscribing after the camera's events service failed.
    pub onvif_backoff: Backoff,
    /// The same kind of event from one camera is sent at most this often.
    pub event_cooldown: Duration,
    /// `PullMessages` timeout the camera may hold the request for.
    pub pull_timeout: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(5),
            onvif_backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(300)),
            event_cooldown: Duration::from_secs(30),
            pull_timeout: Duration::from_secs(10),
        }
    }
}

/// The watching tasks of one camera; dropped (and stopped) when the camera
/// leaves the portal's list or changes.
pub struct Watcher {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub fn spawn(
    spec: CameraSpec,
    cfg: WatchConfig,
    http: reqwest::Client,
    tx: mpsc::Sender<GatewayMessage>,
) -> Watcher {
    let mut tasks = vec![tokio::spawn(reachability(
        spec.id,
        spec.rtsp_url.clone(),
        cfg.clone(),
        tx.clone(),
    ))];
    if spec.onvif_url.is_some() {
        tasks.push(tokio::spawn(events_forever(spec, cfg, http, tx)));
    }
    Watcher { tasks }
}

async fn reachability(
    camera_id: CameraId,
    url: String,
    cfg: WatchConfig,
    tx: mpsc::Sender<GatewayMessage>,
) {
    let mut last = None;
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let reachable = rtsp_answers(&url, cfg.probe_timeout).await;
        if last != Some(reachable) {
            last = Some(reachable);
            tracing::info!(camera = camera_id, reachable, "camera reachability");
            if tx
                .send(GatewayMessage::CameraStatus {
                    camera_id,
                    reachable,
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Whether an RTSP server answers `OPTIONS` at the URL's host and port.
pub async fn rtsp_answers(url: &str, timeout: Duration) -> bool {
    let Ok(parsed) = Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port().unwrap_or(554);
    // Credentials never go on the wire for a reachability check.
    let mut target = parsed.clone();
    let _ = target.set_username("");
    let _ = target.set_password(None);
    let work = async {
        let mut s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let req = format!(
            "OPTIONS {target} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: {}\r\n\r\n",
            crate::AGENT
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = [0u8; 9];
        s.read_exact(&mut buf).await?;
        std::io::Result::Ok(&buf[..5] == b"RTSP/")
    };
    matches!(tokio::time::timeout(timeout, work).await, Ok(Ok(true)))
}

/// What an ONVIF notification is about, from its topic (the namespace
/// prefixes of each segment are ignored: vendors use their own).
pub fn classify_topic(topic: &str) -> Option<DetectedKind> {
    let plain: String = topic
        .split('/')
        .map(|seg| seg.rsplit(':').next().unwrap_or(seg))
        .collect::<Vec<_>>()
        .join("/")
        .to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| plain.contains(w));
    // The specific kinds first: many vendors put "Motion" in a people or
    // vehicle detector's path as well.
    if has(&["people", "person", "human", "pedestrian", "face"]) {
        Some(DetectedKind::Person)
    } else if has(&["vehicle", "licenseplate", "/car"]) {
        Some(DetectedKind::Vehicle)
    } else if has(&["sound", "audio", "noise", "scream"]) {
        Some(DetectedKind::Sound)
    } else if has(&[
        "motion",
        "fielddetector",
        "linedetector",
        "intrusion",
        "tamper",
    ]) {
        // Tampering is not motion, but it is "something happened at the
        // camera"; it has no kind of its own yet.
        (!plain.contains("tamper")).then_some(DetectedKind::Motion)
    } else {
        None
    }
}

/// Whether the notification says its condition is on. Data items such as
/// `IsMotion`, `State`, `IsPeople`, `LogicalState` carry it; an event with
/// no boolean item at all is a one-shot and counts as on.
pub fn is_active(msg: &NotificationMessage) -> bool {
    let mut saw_bool = false;
    for v in msg.data.values() {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "active" => return true,
            "false" | "0" | "inactive" => saw_bool = true,
            _ => {}
        }
    }
    !saw_bool
}

/// Rising edges per (topic, source), and a cooldown per kind.
#[derive(Default)]
pub struct EdgeFilter {
    on: HashMap<String, bool>,
    last_sent: HashMap<DetectedKind, Instant>,
}

impl EdgeFilter {
    /// The kind to report for this notification, if any.
    pub fn accept(
        &mut self,
        msg: &NotificationMessage,
        now: Instant,
        cooldown: Duration,
    ) -> Option<DetectedKind> {
        let kind = classify_topic(&msg.topic)?;
        let mut source: Vec<_> = msg.source.iter().collect();
        source.sort();
        let key = format!("{}|{source:?}", msg.topic);
        let active = is_active(msg);
        let was = self.on.insert(key, active).unwrap_or(false);
        // "Initialized" is the state at subscription time, re-sent on every
        // re-subscription: it sets the edge's level but is not news.
        if !active || was || msg.property_operation.eq_ignore_ascii_case("initialized") {
            return None;
        }
        if let Some(at) = self.last_sent.get(&kind) {
            if now.duration_since(*at) < cooldown {
                return None;
            }
        }
        self.last_sent.insert(kind, now);
        Some(kind)
    }
}

async fn events_forever(
    spec: CameraSpec,
    mut cfg: WatchConfig,
    http: reqwest::Client,
    tx: mpsc::Sender<GatewayMessage>,
) {
    let mut edges = EdgeFilter::default();
    loop {
        let started = Instant::now();
        let why = follow_events(&spec, &cfg, &http, &tx, &mut edges).await;
        if tx.is_closed() {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            cfg.onvif_backoff.reset();
        }
        let delay = cfg.onvif_backoff.next_delay();
        tracing::info!(camera = spec.id, error = %why, retry_in_ms = delay.as_millis() as u64, "ONVIF events: re-subscribing");
        tokio::time::sleep(delay).await;
    }
}

/// Subscribes and pulls until something fails; returns why.
async fn follow_events(
    spec: &CameraSpec,
    cfg: &WatchConfig,
    http: &reqwest::Client,
    tx: &mpsc::Sender<GatewayMessage>,
    edges: &mut EdgeFilter,
) -> String {
    let Some(device_url) = spec.onvif_url.as_deref() else {
        return "no ONVIF URL".into();
    };
    let mut client = OnvifClient::new(device_url);
    if let (Some(u), Some(p)) = (&spec.username, &spec.password) {
        client = client.with_credentials(u, p);
    }
    let ask = crate::onvif::ONVIF_TIMEOUT;
    let caps = match tokio::time::timeout(ask, client.get_capabilities()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return format!("GetCapabilities: {e}"),
        Err(_) => return "GetCapabilities: no answer".into(),
    };
    let Some(events_url) = caps.events.url else {
        return "the camera has no events service".into();
    };
    let sub = match tokio::time::timeout(
        ask,
        client.create_pull_point_subscription(&events_url, None, Some("PT300S")),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return format!("CreatePullPointSubscription: {e}"),
        Err(_) => return "CreatePullPointSubscription: no answer".into(),
    };
    let subscribed = Instant::now();
    let pull_timeout = format!("PT{}S", cfg.pull_timeout.as_secs().max(1));
    loop {
        // Renewed well before its 5 minutes; a camera that refuses Renew
        // gets a fresh subscription instead.
        if subscribed.elapsed() > Duration::from_secs(120) {
            let renewed =
                tokio::time::timeout(ask, client.renew_subscription(&sub.reference_url, "PT300S"))
                    .await;
            if !matches!(renewed, Ok(Ok(_))) {
                let _ = tokio::time::timeout(ask, client.unsubscribe(&sub.reference_url)).await;
                return "subscription due for renewal".into();
            }
        }
        let pulled_at = Instant::now();
        let msgs = match tokio::time::timeout(
            cfg.pull_timeout + ask,
            client.pull_messages(&sub.reference_url, &pull_timeout, 16),
        )
        .await
        {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return format!("PullMessages: {e}"),
            Err(_) => return "PullMessages: no answer".into(),
        };
        for m in &msgs {
            let Some(kind) = edges.accept(m, Instant::now(), cfg.event_cooldown) else {
                continue;
            };
            tracing::info!(camera = spec.id, topic = %m.topic, ?kind, "camera event");
            let thumbnail = thumbnail(spec, http).await;
            let event = GatewayMessage::CameraEvent {
                camera_id: spec.id,
                kind,
                topic: m.topic.chars().take(200).collect(),
                thumbnail,
            };
            if tx.send(event).await.is_err() {
                return "tunnel gone".into();
            }
        }
        // A camera that answers at once with nothing must not be spun on.
        let floor = Duration::from_millis(250);
        if msgs.is_empty() && pulled_at.elapsed() < floor {
            tokio::time::sleep(floor).await;
        }
    }
}

/// A snapshot at the event, if the camera has a snapshot URL and the
/// image fits [`MAX_THUMBNAIL_BYTES`].
async fn thumbnail(spec: &CameraSpec, http: &reqwest::Client) -> Option<Thumbnail> {
    use base64::Engine;
    let url = spec.snapshot_url.as_deref()?;
    match crate::snapshot::fetch(
        http,
        url,
        spec.username.as_deref(),
        spec.password.as_deref(),
        MAX_THUMBNAIL_BYTES,
    )
    .await
    {
        Ok(s) => Some(Thumbnail {
            content_type: s.content_type,
            data: base64::engine::general_purpose::STANDARD.encode(&s.data),
        }),
        Err(e) => {
            tracing::info!(camera = spec.id, error = %e, "no thumbnail for the event");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, op: &str, data: &[(&str, &str)]) -> NotificationMessage {
        NotificationMessage {
            topic: topic.into(),
            utc_time: String::new(),
            property_operation: op.into(),
            source: [("VideoSourceToken".to_string(), "VS_1".to_string())].into(),
            data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn usual_topics_map_to_kinds() {
        use DetectedKind::*;
        for (topic, kind) in [
            ("tns1:VideoSource/MotionAlarm", Some(Motion)),
            ("tns1:RuleEngine/CellMotionDetector/Motion", Some(Motion)),
            ("tns1:RuleEngine/FieldDetector/ObjectsInside", Some(Motion)),
            ("tns1:RuleEngine/PeopleDetector/People", Some(Person)),
            ("tns1:RuleEngine/MyRuleDetector/PeopleDetect", Some(Person)),
            (
                "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Human",
                Some(Person),
            ),
            (
                "tns1:RuleEngine/MyRuleDetector/VehicleDetect",
                Some(Vehicle),
            ),
            (
                "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent/Vehicle",
                Some(Vehicle),
            ),
            ("tns1:AudioAnalytics/Audio/DetectedSound", Some(Sound)),
            ("tns1:VideoSource/GlobalSceneChange/ImagingService", None),
            ("tns1:VideoSource/ImageTooDark/ImagingService", None),
            ("tns1:RuleEngine/TamperDetector/Tamper", None),
            ("tns1:Device/Trigger/DigitalInput", None),
        ] {
            assert_eq!(classify_topic(topic), kind, "{topic}");
        }
    }

    #[test]
    fn only_rising_edges_count_and_a_kind_cools_down() {
        let mut f = EdgeFilter::default();
        let t0 = Instant::now();
        let cd = Duration::from_secs(30);
        let motion = |v: &str| {
            msg(
                "tns1:VideoSource/MotionAlarm",
                "Changed",
                &[("IsMotion", v)],
            )
        };
        // The state at subscription is not news.
        assert_eq!(
            f.accept(
                &msg(
                    "tns1:VideoSource/MotionAlarm",
                    "Initialized",
                    &[("IsMotion", "true")]
                ),
                t0,
                cd
            ),
            None
        );
        assert_eq!(f.accept(&motion("false"), t0, cd), None);
        assert_eq!(
            f.accept(&motion("true"), t0, cd),
            Some(DetectedKind::Motion)
        );
        assert_eq!(f.accept(&motion("true"), t0, cd), None, "still on");
        assert_eq!(f.accept(&motion("false"), t0, cd), None);
        assert_eq!(
            f.accept(&motion("true"), t0 + Duration::from_secs(5), cd),
            None,
            "within the cooldown"
        );
        assert_eq!(f.accept(&motion("false"), t0, cd), None);
        assert_eq!(
            f.accept(&motion("true"), t0 + Duration::from_secs(31), cd),
            Some(DetectedKind::Motion)
        );
        // Another kind has its own cooldown; a one-shot (no boolean) counts.
        assert_eq!(
            f.accept(
                &msg(
                    "tns1:RuleEngine/PeopleDetector/People",
                    "Changed",
                    &[("ObjectId", "4")]
                ),
                t0 + Duration::from_secs(32),
                cd
            ),
            Some(DetectedKind::Person)
        );
    }

    #[tokio::test]
    async fn reachability_needs_an_rtsp_answer() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n")
                    .await;
            }
        });
        let t = Duration::from_secs(2);
        assert!(rtsp_answers(&format!("rtsp://u:p@127.0.0.1:{port}/live"), t).await);
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_port = dead.local_addr().unwrap().port();
        drop(dead);
        assert!(!rtsp_answers(&format!("rtsp://127.0.0.1:{dead_port}/live"), t).await);
        assert!(!rtsp_answers("not a url", t).await);
    }
}
