//! `GET /api/v1/gateways/tunnel`: the camera gateway's one outbound
//! WebSocket (protocol in `truevault_wire::gateway`). The bearer token is
//! checked before the upgrade; the session then sends the gateway its
//! camera list, relays viewer demand as start/stop requests, feeds media
//! into the hub and answers snapshot requests.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::{
    extract::{
        ws::{
            rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket, WebSocketUpgrade,
        },
        State,
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use tokio::sync::mpsc;
use truevault_wire::gateway::{
    decode_media, CameraId, CameraSpec, DetectedKind, GatewayMessage, MediaKind, PortalMessage,
    StreamErrorCode, IDLE_TIMEOUT_SECS, MAX_CONTROL_MESSAGE, MAX_MEDIA_FRAME, MEDIA_HEADER_LEN,
    PING_INTERVAL_SECS, PROTOCOL_VERSION, TUNNEL_PATH,
};

use super::{
    live,
    model::CameraEventKind,
    relay::{GatewayCommand, COMMAND_QUEUE},
    repo, service,
};
use crate::{
    api::{bearer, request_id, ApiRejection},
    error::AppError,
    state::AppState,
};
use truevault_relay::Interruption;

/// Bad messages a gateway may send before the portal gives up on it.
const MAX_BAD_MESSAGES: u32 = 100;
/// A gateway that cannot take a control message this fast is stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router() -> Router<AppState> {
    Router::new().route(TUNNEL_PATH, get(tunnel))
}

async fn tunnel(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let rid = request_id();
    let Some(token) = bearer(&headers) else {
        return ApiRejection::unauthenticated(rid);
    };
    // The token first, so a stranger learns nothing else.
    let (gateway, user) = match service::authenticate_gateway(&state, token).await {
        Ok(ids) => ids,
        Err(e) => return e.into_api_response(rid),
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => {
            return AppError::invalid(format!("A WebSocket upgrade is required: {e}"))
                .into_api_response(rid)
        }
    };
    let limit = MAX_CONTROL_MESSAGE.max(MAX_MEDIA_FRAME);
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |ws| session(state, gateway, user, ws))
        .into_response()
}

async fn session(state: AppState, gateway: i64, user: i64, mut ws: WebSocket) {
    let (tx, mut rx) = mpsc::channel(COMMAND_QUEUE);
    let conn = state.cameras.register(gateway, tx);
    tracing::info!(gateway, user, "gateway connected");
    if let Err(e) = repo::gateway_seen(&state.db, gateway, true, None).await {
        tracing::error!(gateway, error = %e, "marking the gateway online");
    }
    let mut s = Session {
        state: &state,
        gateway,
        owned: HashSet::new(),
        specs: HashMap::new(),
        bad: 0,
    };
    let why = s.run(&mut ws, &mut rx).await;
    let owned = std::mem::take(&mut s.owned);
    tracing::info!(gateway, reason = %why, "gateway disconnected");
    // A newer connection of the same gateway keeps its viewers.
    if state.cameras.unregister(gateway, conn) {
        if let Err(e) = repo::gateway_seen(&state.db, gateway, false, None).await {
            tracing::error!(gateway, error = %e, "marking the gateway offline");
        }
        for cam in owned {
            state
                .cameras
                .hub
                .interrupt(cam, "The camera's gateway went offline.");
        }
    }
}

struct Session<'a> {
    state: &'a AppState,
    gateway: i64,
    /// Cameras this gateway serves: media for any other id is refused.
    owned: HashSet<CameraId>,
    /// What the gateway was last sent, to restart edited cameras.
    specs: HashMap<CameraId, CameraSpec>,
    bad: u32,
}

async fn send(ws: &mut WebSocket, msg: Message) -> Result<(), String> {
    match tokio::time::timeout(SEND_TIMEOUT, ws.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("send failed: {e}")),
        Err(_) => Err("send timed out".into()),
    }
}

fn text(msg: &PortalMessage) -> Message {
    Message::Text(msg.to_json().into())
}

impl Session<'_> {
    /// Serves until the tunnel ends; returns why.
    async fn run(&mut self, ws: &mut WebSocket, rx: &mut mpsc::Receiver<GatewayCommand>) -> String {
        if let Err(e) = self.refresh(ws).await {
            return e;
        }
        let mut last_heard = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_secs(PING_INTERVAL_SECS));
        ticker.tick().await;
        loop {
            tokio::select! {
                incoming = ws.recv() => {
                    let msg = match incoming {
                        None => return "closed".into(),
                        // Oversized or malformed frames end here: the socket is
                        // unusable after a protocol error.
                        Some(Err(e)) => return format!("websocket error: {e}"),
                        Some(Ok(m)) => m,
                    };
                    last_heard = Instant::now();
                    match msg {
                        Message::Text(t) => self.control(t.as_str()).await,
                        Message::Binary(b) => self.media(b),
                        Message::Ping(_) | Message::Pong(_) => {}
                        Message::Close(_) => return "gateway closed the tunnel".into(),
                    }
                    if self.bad > MAX_BAD_MESSAGES {
                        let _ = send(ws, Message::Close(Some(CloseFrame {
                            code: 1008,
                            reason: "too many invalid messages".into(),
                        }))).await;
                        return "too many invalid messages".into();
                    }
                }
                cmd = rx.recv() => {
                    let result = match cmd {
                        Some(GatewayCommand::Send(m)) => send(ws, text(&m)).await,
                        Some(GatewayCommand::Refresh) => self.refresh(ws).await,
                        Some(GatewayCommand::Close) | None => {
                            let _ = send(ws, Message::Close(Some(CloseFrame {
                                code: 1000,
                                reason: "replaced or revoked".into(),
                            }))).await;
                            return "replaced or revoked".into();
                        }
                    };
                    if let Err(e) = result {
                        return e;
                    }
                }
                _ = ticker.tick() => {
                    if last_heard.elapsed() > Duration::from_secs(IDLE_TIMEOUT_SECS) {
                        return "idle timeout".into();
                    }
                    // Revoked on another portal instance: end here too.
                    match repo::gateway_is_live(&self.state.db, self.gateway).await {
                        Ok(false) => return "token revoked".into(),
                        Ok(true) => {}
                        Err(e) => tracing::warn!(gateway = self.gateway, error = %e, "checking the gateway"),
                    }
                    if let Err(e) = repo::gateway_seen(&self.state.db, self.gateway, true, None).await {
                        tracing::warn!(gateway = self.gateway, error = %e, "updating last seen");
                    }
                    if let Err(e) = send(ws, Message::Ping(Default::default())).await {
                        return e;
                    }
                }
            }
        }
    }

    /// Sends the gateway its whole camera list, then starts the cameras
    /// that already have viewers waiting.
    async fn refresh(&mut self, ws: &mut WebSocket) -> Result<(), String> {
        let cameras = service::gateway_specs(self.state, self.gateway)
            .await
            .map_err(|e| format!("loading cameras: {e}"))?;
        let specs: HashMap<CameraId, CameraSpec> =
            cameras.iter().map(|c| (c.id, c.clone())).collect();
        let before = std::mem::replace(&mut self.specs, specs);
        self.owned = self.specs.keys().copied().collect();
        send(ws, text(&PortalMessage::Cameras { cameras })).await?;
        // New cameras, and edited ones (the gateway stopped their pull),
        // that viewers are waiting for.
        let mut waiting: Vec<CameraId> = self
            .specs
            .iter()
            .filter(|(id, spec)| {
                before.get(id) != Some(spec) && self.state.cameras.hub.viewer_count(**id) > 0
            })
            .map(|(id, _)| *id)
            .collect();
        waiting.sort_unstable();
        for camera_id in waiting {
            self.state.cameras.count_start(camera_id);
            send(ws, text(&PortalMessage::StartStream { camera_id })).await?;
        }
        Ok(())
    }

    fn owns(&mut self, cam: CameraId, what: &str) -> bool {
        if self.owned.contains(&cam) {
            return true;
        }
        self.bad += 1;
        tracing::warn!(
            gateway = self.gateway,
            camera = cam,
            what,
            "message for a camera this gateway does not serve"
        );
        false
    }

    async fn control(&mut self, text: &str) {
        let msg = match GatewayMessage::from_json(text) {
            Ok(m) => m,
            Err(e) => {
                self.bad += 1;
                tracing::warn!(gateway = self.gateway, error = %e, "invalid control message from gateway");
                return;
            }
        };
        let hub = &self.state.cameras.hub;
        match msg {
            GatewayMessage::Hello { version, agent } => {
                let agent: String = agent.chars().filter(|c| !c.is_control()).take(64).collect();
                if version != PROTOCOL_VERSION {
                    tracing::warn!(gateway = self.gateway, version, %agent, "gateway speaks another protocol version");
                }
                tracing::info!(gateway = self.gateway, %agent, "gateway hello");
                if let Err(e) =
                    repo::gateway_seen(&self.state.db, self.gateway, true, Some(&agent)).await
                {
                    tracing::warn!(gateway = self.gateway, error = %e, "recording the gateway's agent");
                }
            }
            GatewayMessage::StreamStarted {
                camera_id,
                codec,
                width,
                height,
            } => {
                if self.owns(camera_id, "stream_started") {
                    tracing::info!(gateway = self.gateway, camera = camera_id, %codec, width, height, "stream started");
                    service::record_health(self.state, camera_id, CameraEventKind::Online).await;
                }
            }
            GatewayMessage::StreamError {
                camera_id,
                message,
                retry_in_ms,
                code,
                gave_up,
            } => {
                if self.owns(camera_id, "stream_error") {
                    let message: String = message.chars().take(200).collect();
                    tracing::info!(gateway = self.gateway, camera = camera_id, %message, code = code.as_str(), retry_in_ms, gave_up, "camera stream error");
                    // Only "not answering" is offline: a refused password
                    // comes from a camera that is up.
                    if matches!(
                        code,
                        StreamErrorCode::Unreachable | StreamErrorCode::Timeout
                    ) {
                        service::record_health(self.state, camera_id, CameraEventKind::Offline)
                            .await;
                    }
                    // Viewers get words chosen by the code; the gateway's
                    // text (socket errors and the like) stays in the log.
                    hub.interrupt_with(
                        camera_id,
                        Interruption {
                            reason: live::stream_error_words(code).into(),
                            code: Some(code.as_str()),
                            retrying: !gave_up,
                        },
                    );
                }
            }
            GatewayMessage::StreamStopped { camera_id } => {
                if self.owns(camera_id, "stream_stopped") && hub.viewer_count(camera_id) > 0 {
                    hub.interrupt(camera_id, "The stream stopped.");
                }
            }
            GatewayMessage::SnapshotResult {
                request_id,
                camera_id,
                content_type,
                data,
            } => {
                if self.owns(camera_id, "snapshot_result") {
                    let reply = STANDARD
                        .decode(data.as_bytes())
                        .map(|bytes| (content_type, bytes))
                        .map_err(|_| "The gateway sent an unreadable image.".to_string());
                    self.state
                        .cameras
                        .snapshot_done(self.gateway, request_id, camera_id, reply);
                }
            }
            GatewayMessage::OnvifResult {
                request_id,
                main_stream_url,
                sub_stream_url,
                snapshot_url,
            } => {
                let reply = Ok(super::relay::OnvifUrls {
                    main_stream_url,
                    sub_stream_url,
                    snapshot_url,
                });
                if !self
                    .state
                    .cameras
                    .onvif_done(self.gateway, request_id, reply)
                {
                    self.bad += 1;
                }
            }
            GatewayMessage::OnvifError {
                request_id,
                message,
            } => {
                let message: String = message.chars().take(200).collect();
                if !self
                    .state
                    .cameras
                    .onvif_done(self.gateway, request_id, Err(message))
                {
                    self.bad += 1;
                }
            }
            GatewayMessage::CameraStatus {
                camera_id,
                reachable,
            } => {
                if self.owns(camera_id, "camera_status") {
                    let kind = if reachable {
                        CameraEventKind::Online
                    } else {
                        CameraEventKind::Offline
                    };
                    service::record_health(self.state, camera_id, kind).await;
                }
            }
            GatewayMessage::CameraEvent {
                camera_id,
                kind,
                topic,
                thumbnail,
            } => {
                if !self.owns(camera_id, "camera_event") {
                    return;
                }
                let kind = match kind {
                    DetectedKind::Motion => CameraEventKind::Motion,
                    DetectedKind::Person => CameraEventKind::Person,
                    DetectedKind::Vehicle => CameraEventKind::Vehicle,
                    DetectedKind::Sound => CameraEventKind::Sound,
                    DetectedKind::Other => return,
                };
                let topic: String = topic
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                tracing::debug!(gateway = self.gateway, camera = camera_id, %topic, "camera event");
                let thumbnail = thumbnail.and_then(|t| {
                    STANDARD
                        .decode(t.data.as_bytes())
                        .ok()
                        .map(|bytes| (t.content_type, bytes))
                });
                service::record_detection(self.state, camera_id, kind, thumbnail).await;
            }
            GatewayMessage::PtzResult {
                request_id,
                camera_id,
                presets,
                error,
            } => {
                if self.owns(camera_id, "ptz_result") {
                    let reply = match error {
                        Some(e) => Err(e.chars().take(200).collect()),
                        None => Ok(presets),
                    };
                    self.state
                        .cameras
                        .ptz_done(self.gateway, request_id, camera_id, reply);
                }
            }
            GatewayMessage::SnapshotError {
                request_id,
                camera_id,
                message,
            } => {
                if self.owns(camera_id, "snapshot_error") {
                    let message: String = message.chars().take(200).collect();
                    self.state.cameras.snapshot_done(
                        self.gateway,
                        request_id,
                        camera_id,
                        Err(message),
                    );
                }
            }
        }
    }

    fn media(&mut self, frame: bytes::Bytes) {
        let header = match decode_media(&frame) {
            Ok((h, _)) => h,
            Err(e) => {
                self.bad += 1;
                tracing::warn!(gateway = self.gateway, error = %e, "invalid media frame from gateway");
                return;
            }
        };
        if !self.owns(header.camera_id, "media") {
            return;
        }
        // Shares the frame's buffer: the fragment is never copied per viewer.
        let payload = frame.slice(MEDIA_HEADER_LEN..);
        let hub = &self.state.cameras.hub;
        let result = match header.kind {
            MediaKind::Init => {
                let r = hub.publish_init(header.camera_id, payload);
                self.state.cameras.count_init(header.camera_id);
                r
            }
            MediaKind::Fragment => hub.publish_fragment(header.camera_id, payload, header.keyframe),
        };
        if let Err(e) = result {
            tracing::debug!(gateway = self.gateway, error = %e, "media not relayed");
        }
    }
}
