//! The outbound WebSocket to the portal: dial, say hello, follow the
//! portal's camera list and start/stop requests, send media; ping, and
//! re-dial with backoff when anything breaks.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use truevault_wire::gateway::{
    encode_media, CameraId, CameraSpec, GatewayMessage, MediaHeader, MediaKind, PortalMessage,
    StreamErrorCode, IDLE_TIMEOUT_SECS, MAX_CONTROL_MESSAGE, MAX_MEDIA_FRAME, PING_INTERVAL_SECS,
    PROTOCOL_VERSION,
};
use url::Url;

use crate::backoff::Backoff;
use crate::ingest::{self, CameraSource, IngestEvent, PullTag};
use crate::{snapshot, unix_micros, GatewayError};

#[derive(Clone)]
pub struct TunnelConfig {
    pub url: Url,
    pub token: String,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    /// Re-dialling the portal.
    pub backoff: Backoff,
    /// Re-dialling a camera.
    pub camera_backoff: Backoff,
    /// Re-dialling a camera that refused the credentials, and how many
    /// refusals in a row end the pull.
    pub camera_auth_backoff: Backoff,
    pub camera_auth_attempts: u32,
    /// Watching cameras (reachability, ONVIF events) while nobody views them.
    pub watch: crate::watch::WatchConfig,
}

impl std::fmt::Debug for TunnelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelConfig")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl TunnelConfig {
    pub fn new(url: Url, token: String) -> Self {
        Self {
            url,
            token,
            ping_interval: Duration::from_secs(PING_INTERVAL_SECS),
            idle_timeout: Duration::from_secs(IDLE_TIMEOUT_SECS),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
            camera_backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            camera_auth_backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(60)),
            camera_auth_attempts: 3,
            watch: crate::watch::WatchConfig::default(),
        }
    }
}

/// Media waiting for the socket; past this the cameras skip to key frames.
const MEDIA_QUEUE: usize = 256;
const MAX_SNAPSHOTS_IN_FLIGHT: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs forever: dial, serve, back off, dial again.
pub async fn run(mut cfg: TunnelConfig) {
    loop {
        let started = Instant::now();
        let result = connect_and_serve(&cfg).await;
        if started.elapsed() > Duration::from_secs(30) {
            cfg.backoff.reset();
        }
        let delay = cfg.backoff.next_delay();
        match result {
            Err(GatewayError::TunnelRefused(msg)) => {
                tracing::error!(error = %msg, retry_in_ms = delay.as_millis() as u64, "portal refused the gateway; check the token")
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "tunnel down; re-dialling")
            }
            Ok(()) => tracing::info!(
                retry_in_ms = delay.as_millis() as u64,
                "portal closed the tunnel; re-dialling"
            ),
        }
        tokio::time::sleep(delay).await;
    }
}

pub async fn connect_and_serve(cfg: &TunnelConfig) -> Result<(), GatewayError> {
    // wss needs a process-wide rustls provider; when other crates compile in
    // a second one, rustls cannot pick by itself. Already installed: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = cfg
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| GatewayError::Config(format!("portal URL: {e}")))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", cfg.token))
        .map_err(|_| GatewayError::Config("token has characters not allowed in a header".into()))?;
    request.headers_mut().insert("authorization", bearer);
    request
        .headers_mut()
        .insert("user-agent", HeaderValue::from_static(crate::AGENT));
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_CONTROL_MESSAGE.max(MAX_MEDIA_FRAME)))
        .max_frame_size(Some(MAX_CONTROL_MESSAGE.max(MAX_MEDIA_FRAME)));
    let dial =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config), true, None);
    let (ws, _resp) = match tokio::time::timeout(CONNECT_TIMEOUT, dial).await {
        Err(_) => return Err(GatewayError::Timeout(format!("connecting to {}", cfg.url))),
        Ok(Err(tungstenite::Error::Http(resp))) => {
            let status = resp.status();
            return Err(if status.as_u16() == 401 || status.as_u16() == 403 {
                GatewayError::TunnelRefused(format!("HTTP {status}: token wrong or revoked"))
            } else {
                GatewayError::Tunnel(format!("HTTP {status} from {}", cfg.url))
            });
        }
        Ok(Err(e)) => return Err(GatewayError::Tunnel(format!("{}: {e}", cfg.url))),
        Ok(Ok(ok)) => ok,
    };
    tracing::info!(url = %cfg.url, "tunnel up");
    Session::new(cfg).serve(ws).await
}

struct Pull {
    tag: PullTag,
    task: JoinHandle<()>,
    /// The last `stream_started` + init segment, re-sent when the portal
    /// asks for a stream that is already running (it may have lost them).
    started: Vec<Message>,
}

impl Drop for Pull {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Session<'a> {
    cfg: &'a TunnelConfig,
    cameras: HashMap<CameraId, CameraSpec>,
    pulls: HashMap<CameraId, Pull>,
    /// Cameras that refused their credentials, with the settings that were
    /// refused: not dialled again until the portal sends different ones.
    refused: HashMap<CameraId, CameraSpec>,
    /// Cameras the portal asked to watch, by id.
    watchers: HashMap<CameraId, crate::watch::Watcher>,
    /// PTZ workers, started by the first command for a camera.
    ptz: HashMap<CameraId, crate::ptz::PtzWorker>,
    next_pull: u64,
    media_tx: mpsc::Sender<(PullTag, IngestEvent)>,
    media_rx: mpsc::Receiver<(PullTag, IngestEvent)>,
    snap_tx: mpsc::Sender<GatewayMessage>,
    snap_rx: mpsc::Receiver<GatewayMessage>,
    http: reqwest::Client,
    /// Snapshots in flight; more requests are refused, not queued.
    snapshots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl<'a> Session<'a> {
    fn new(cfg: &'a TunnelConfig) -> Self {
        let (media_tx, media_rx) = mpsc::channel(MEDIA_QUEUE);
        let (snap_tx, snap_rx) = mpsc::channel(64);
        Self {
            cfg,
            cameras: HashMap::new(),
            pulls: HashMap::new(),
            refused: HashMap::new(),
            watchers: HashMap::new(),
            ptz: HashMap::new(),
            next_pull: 0,
            media_tx,
            media_rx,
            snap_tx,
            snap_rx,
            http: reqwest::Client::new(),
            snapshots: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_SNAPSHOTS_IN_FLIGHT)),
        }
    }

    async fn serve<S>(mut self, ws: S) -> Result<(), GatewayError>
    where
        S: futures::Stream<Item = Result<Message, tungstenite::Error>>
            + futures::Sink<Message, Error = tungstenite::Error>
            + Unpin,
    {
        let (mut sink, mut stream) = ws.split();
        let hello = GatewayMessage::Hello {
            version: PROTOCOL_VERSION,
            agent: crate::AGENT.to_string(),
        };
        send(&mut sink, Message::Text(hello.to_json().into())).await?;
        let mut ping = tokio::time::interval(self.cfg.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                msg = stream.next() => {
                    last_heard = Instant::now();
                    match msg {
                        None => return Ok(()),
                        Some(Err(e)) => return Err(GatewayError::Tunnel(e.to_string())),
                        Some(Ok(Message::Close(_))) => return Ok(()),
                        Some(Ok(Message::Text(text))) => {
                            let msg = match PortalMessage::from_json(text.as_str()) {
                                Ok(m) => m,
                                Err(e) => {
                                    tracing::warn!(error = %e, "ignoring a bad control message from the portal");
                                    continue;
                                }
                            };
                            let resend = self.already_started(&msg);
                            for reply in self.handle(msg) {
                                send(&mut sink, Message::Text(reply.to_json().into())).await?;
                            }
                            for m in resend {
                                send(&mut sink, m).await?;
                            }
                        }
                        Some(Ok(Message::Binary(b))) => {
                            tracing::warn!(len = b.len(), "ignoring a binary message from the portal");
                        }
                        Some(Ok(_)) => {} // ping (answered by tungstenite), pong
                    }
                }
                Some((tag, event)) = self.media_rx.recv() => {
                    // Late events of a stopped or replaced pull are dropped.
                    if self.pulls.get(&tag.camera_id).map(|p| p.tag) != Some(tag) {
                        continue;
                    }
                    let is_start = matches!(event, IngestEvent::Started { .. });
                    let refused = matches!(event, IngestEvent::Error { gave_up: true, code: StreamErrorCode::AuthRefused, .. });
                    let msgs = media_messages(tag.camera_id, event)?;
                    if is_start {
                        if let Some(p) = self.pulls.get_mut(&tag.camera_id) {
                            p.started = msgs.clone();
                        }
                    }
                    if refused {
                        // The pull has ended; remember what was refused.
                        self.pulls.remove(&tag.camera_id);
                        if let Some(spec) = self.cameras.get(&tag.camera_id) {
                            self.refused.insert(tag.camera_id, spec.clone());
                        }
                    }
                    for m in msgs {
                        send(&mut sink, m).await?;
                    }
                }
                Some(reply) = self.snap_rx.recv() => {
                    send(&mut sink, Message::Text(reply.to_json().into())).await?;
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > self.cfg.idle_timeout {
                        return Err(GatewayError::Timeout(format!("nothing from the portal for {:?}", self.cfg.idle_timeout)));
                    }
                    send(&mut sink, Message::Ping(Vec::new().into())).await?;
                }
            }
        }
    }

    /// For a `start_stream` of a running pull: what the portal needs to
    /// (re)initialise its players.
    fn already_started(&self, msg: &PortalMessage) -> Vec<Message> {
        match msg {
            PortalMessage::StartStream { camera_id } => self
                .pulls
                .get(camera_id)
                .map(|p| p.started.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// A control message from the portal; returns the replies to send now.
    fn handle(&mut self, msg: PortalMessage) -> Vec<GatewayMessage> {
        match msg {
            PortalMessage::Cameras { cameras } => {
                let new: HashMap<_, _> = cameras.into_iter().map(|c| (c.id, c)).collect();
                let mut replies = Vec::new();
                // A pull whose camera is gone or changed stops; the portal
                // asks again for a changed one.
                let stale: Vec<CameraId> = self
                    .pulls
                    .keys()
                    .filter(|id| new.get(id) != self.cameras.get(id))
                    .copied()
                    .collect();
                for id in stale {
                    self.pulls.remove(&id);
                    replies.push(GatewayMessage::StreamStopped { camera_id: id });
                }
                tracing::info!(cameras = new.len(), "camera list from the portal");
                self.refused.retain(|id, spec| new.get(id) == Some(spec));
                // Watchers of changed or removed cameras stop; new and
                // changed ones start (and report their state at once).
                self.watchers.retain(|id, _| {
                    new.get(id).is_some_and(|s| s.watch) && new.get(id) == self.cameras.get(id)
                });
                self.ptz
                    .retain(|id, _| new.contains_key(id) && new.get(id) == self.cameras.get(id));
                for (id, spec) in &new {
                    if spec.watch && self.cfg.watch.enabled && !self.watchers.contains_key(id) {
                        self.watchers.insert(
                            *id,
                            crate::watch::spawn(
                                spec.clone(),
                                self.cfg.watch.clone(),
                                self.http.clone(),
                                self.snap_tx.clone(),
                            ),
                        );
                    }
                }
                self.cameras = new;
                replies
            }
            PortalMessage::StartStream { camera_id } => {
                if self.pulls.contains_key(&camera_id) {
                    return Vec::new();
                }
                let Some(spec) = self.cameras.get(&camera_id) else {
                    return vec![GatewayMessage::StreamError {
                        camera_id,
                        message: "unknown camera (not in the list the portal sent)".into(),
                        retry_in_ms: 0,
                        code: StreamErrorCode::UnknownCamera,
                        // The portal asks again once it has sent the list.
                        gave_up: false,
                    }];
                };
                if self.refused.get(&camera_id) == Some(spec) {
                    return vec![GatewayMessage::StreamError {
                        camera_id,
                        message: "the camera refused these credentials; not retrying until the camera is edited".into(),
                        retry_in_ms: 0,
                        code: StreamErrorCode::AuthRefused,
                        gave_up: true,
                    }];
                }
                let src = match CameraSource::from_spec(spec) {
                    Ok(s) => s,
                    Err(e) => {
                        return vec![GatewayMessage::StreamError {
                            camera_id,
                            message: e.to_string(),
                            retry_in_ms: 0,
                            code: e.stream_code(),
                            gave_up: true,
                        }]
                    }
                };
                self.next_pull += 1;
                let tag = PullTag {
                    camera_id,
                    pull: self.next_pull,
                };
                let task = tokio::spawn(ingest::pull_forever(
                    src,
                    tag,
                    self.media_tx.clone(),
                    ingest::RetryPolicy {
                        backoff: self.cfg.camera_backoff.clone(),
                        auth_backoff: self.cfg.camera_auth_backoff.clone(),
                        max_auth_attempts: self.cfg.camera_auth_attempts,
                    },
                ));
                self.pulls.insert(
                    camera_id,
                    Pull {
                        tag,
                        task,
                        started: Vec::new(),
                    },
                );
                Vec::new()
            }
            PortalMessage::StopStream { camera_id } => {
                self.pulls.remove(&camera_id);
                vec![GatewayMessage::StreamStopped { camera_id }]
            }
            PortalMessage::OnvifProbe {
                request_id,
                device_url,
                login,
            } => {
                // Shares the snapshots' bound: both are one-off HTTP asks.
                let Ok(permit) = self.snapshots.clone().try_acquire_owned() else {
                    return vec![GatewayMessage::OnvifError {
                        request_id,
                        message: "busy: too many requests in flight".into(),
                    }];
                };
                let tx = self.snap_tx.clone();
                tokio::spawn(async move {
                    let reply = match crate::onvif::probe(&device_url, login.as_ref()).await {
                        Ok(s) => GatewayMessage::OnvifResult {
                            request_id,
                            main_stream_url: s.main_stream_url,
                            sub_stream_url: s.sub_stream_url,
                            snapshot_url: s.snapshot_url,
                        },
                        Err(e) => {
                            tracing::info!(error = %e, "ONVIF probe failed");
                            GatewayMessage::OnvifError {
                                request_id,
                                message: e.to_string(),
                            }
                        }
                    };
                    drop(permit);
                    let _ = tx.send(reply).await;
                });
                Vec::new()
            }
            PortalMessage::Ptz {
                request_id,
                camera_id,
                command,
            } => {
                let refuse = |message: &str| {
                    vec![GatewayMessage::PtzResult {
                        request_id,
                        camera_id,
                        presets: None,
                        error: Some(message.into()),
                    }]
                };
                let Some(spec) = self.cameras.get(&camera_id) else {
                    return refuse("unknown camera");
                };
                if spec.onvif_url.is_none() {
                    return refuse("the camera has no ONVIF address");
                }
                let worker = self.ptz.entry(camera_id).or_insert_with(|| {
                    crate::ptz::PtzWorker::spawn(spec.clone(), self.snap_tx.clone())
                });
                if !worker.submit(request_id, command) {
                    return refuse("busy: too many PTZ commands queued");
                }
                Vec::new()
            }
            PortalMessage::Snapshot {
                request_id,
                camera_id,
            } => {
                let Some(spec) = self.cameras.get(&camera_id) else {
                    return vec![GatewayMessage::SnapshotError {
                        request_id,
                        camera_id,
                        message: "unknown camera".into(),
                    }];
                };
                let Some(url) = spec.snapshot_url.clone() else {
                    return vec![GatewayMessage::SnapshotError {
                        request_id,
                        camera_id,
                        message: "camera has no snapshot URL".into(),
                    }];
                };
                let Ok(permit) = self.snapshots.clone().try_acquire_owned() else {
                    return vec![GatewayMessage::SnapshotError {
                        request_id,
                        camera_id,
                        message: format!(
                            "busy: {MAX_SNAPSHOTS_IN_FLIGHT} snapshots already in flight"
                        ),
                    }];
                };
                let (user, pass) = (spec.username.clone(), spec.password.clone());
                let (http, tx) = (self.http.clone(), self.snap_tx.clone());
                tokio::spawn(async move {
                    let reply = match snapshot::fetch(
                        &http,
                        &url,
                        user.as_deref(),
                        pass.as_deref(),
                        truevault_wire::gateway::MAX_SNAPSHOT_BYTES,
                    )
                    .await
                    {
                        Ok(s) => {
                            use base64::Engine;
                            GatewayMessage::SnapshotResult {
                                request_id,
                                camera_id,
                                content_type: s.content_type,
                                data: base64::engine::general_purpose::STANDARD.encode(&s.data),
                            }
                        }
                        Err(e) => GatewayMessage::SnapshotError {
                            request_id,
                            camera_id,
                            message: e.to_string(),
                        },
                    };
                    drop(permit);
                    let _ = tx.send(reply).await;
                });
                Vec::new()
            }
        }
    }
}

async fn send<S>(sink: &mut S, m: Message) -> Result<(), GatewayError>
where
    S: futures::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    sink.send(m)
        .await
        .map_err(|e| GatewayError::Tunnel(e.to_string()))
}

/// The tunnel messages for one ingest event.
pub fn media_messages(
    camera_id: CameraId,
    event: IngestEvent,
) -> Result<Vec<Message>, GatewayError> {
    Ok(match event {
        IngestEvent::Started {
            codec,
            width,
            height,
            init,
        } => {
            let now = unix_micros(SystemTime::now());
            let header = MediaHeader {
                kind: MediaKind::Init,
                keyframe: false,
                camera_id,
                sequence: 0,
                received_us: now,
                muxed_us: now,
            };
            vec![
                Message::Text(
                    GatewayMessage::StreamStarted {
                        camera_id,
                        codec,
                        width,
                        height,
                    }
                    .to_json()
                    .into(),
                ),
                Message::Binary(encode_media(&header, &init)?.into()),
            ]
        }
        IngestEvent::Fragment(f) => {
            let header = MediaHeader {
                kind: MediaKind::Fragment,
                keyframe: f.keyframe,
                camera_id,
                sequence: f.sequence,
                received_us: unix_micros(f.received_wall),
                muxed_us: unix_micros(f.muxed_wall),
            };
            match encode_media(&header, &f.data) {
                Ok(frame) => vec![Message::Binary(frame.into())],
                // One oversized frame is dropped, not the tunnel.
                Err(e) => {
                    tracing::warn!(camera = camera_id, error = %e, "dropping a fragment");
                    Vec::new()
                }
            }
        }
        IngestEvent::Error {
            message,
            code,
            retry_in,
            gave_up,
        } => vec![Message::Text(
            GatewayMessage::StreamError {
                camera_id,
                message,
                retry_in_ms: retry_in.as_millis() as u64,
                code,
                gave_up,
            }
            .to_json()
            .into(),
        )],
    })
}
