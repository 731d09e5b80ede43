//! The portal's live-view core: the fan-out [`Hub`], the registry of
//! connected gateways (so viewer demand turns into `start_stream` /
//! `stop_stream` on the right tunnel), and pending snapshot requests.
//!
//! The registry is per portal instance: with several instances on
//! PostgreSQL a gateway is connected to one of them, and viewers reach it
//! only there (sticky routing by camera is the operator's job for now).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use truevault_relay::{Hub, HubConfig, HubEvent};
use truevault_wire::gateway::{CameraId, PortalMessage};

use super::repo;
use crate::db::Db;

/// What a gateway's tunnel task is asked to do.
#[derive(Debug)]
pub enum GatewayCommand {
    Send(PortalMessage),
    /// Re-read its cameras from the database and send the new list.
    Refresh,
    /// Another connection with the same token took over, or it was revoked.
    Close,
}

/// Control messages queued for one tunnel; they are rare and small, and a
/// tunnel that cannot take this many is stuck and gets dropped.
pub const COMMAND_QUEUE: usize = 256;

struct Link {
    conn: u64,
    tx: mpsc::Sender<GatewayCommand>,
}

pub type SnapshotReply = Result<(String, Vec<u8>), String>;

/// Main, sub and snapshot URLs as an ONVIF camera reported them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnvifUrls {
    pub main_stream_url: String,
    pub sub_stream_url: Option<String>,
    pub snapshot_url: Option<String>,
}

pub type OnvifReply = Result<OnvifUrls, String>;

/// A PTZ command's answer: the presets for `presets`, else nothing.
pub type PtzReply = Result<Option<Vec<truevault_wire::gateway::PtzPreset>>, String>;

#[derive(Default)]
struct Inner {
    gateways: HashMap<i64, Link>,
    snapshots: HashMap<u64, (i64, CameraId, oneshot::Sender<SnapshotReply>)>,
    onvif: HashMap<u64, (i64, oneshot::Sender<OnvifReply>)>,
    ptz: HashMap<u64, (i64, CameraId, oneshot::Sender<PtzReply>)>,
    /// `start_stream` requests sent per camera (tests and metrics).
    starts: HashMap<CameraId, u64>,
    /// Init segments received per camera, re-announcements included.
    inits: HashMap<CameraId, u64>,
    /// Notification decisions made per camera (tests and metrics).
    notified: HashMap<CameraId, u64>,
    /// Each camera's last known online/offline state on this instance.
    health: HashMap<CameraId, super::model::CameraEventKind>,
}

#[derive(Clone)]
pub struct CameraRelay {
    pub hub: Hub,
    /// Live views open per user (capped by `max_live_viewers_per_user`).
    pub viewers: super::viewers::ViewerSlots,
    inner: Arc<Mutex<Inner>>,
    next_id: Arc<AtomicU64>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock leaves plain maps behind: still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CameraRelay {
    /// Builds the relay and spawns the task turning viewer demand into
    /// start/stop requests; the pull stops `linger` after the last viewer.
    pub fn start(db: Db, linger: Duration) -> Self {
        let (hub, events) = Hub::new(HubConfig::default());
        let relay = Self {
            hub,
            viewers: Default::default(),
            inner: Default::default(),
            next_id: Arc::new(AtomicU64::new(1)),
        };
        tokio::spawn(relay.clone().demand(db, events, linger));
        relay
    }

    async fn demand(self, db: Db, mut events: mpsc::UnboundedReceiver<HubEvent>, linger: Duration) {
        while let Some(ev) = events.recv().await {
            match ev {
                HubEvent::FirstViewer(cam) => {
                    self.send_to_camera_gateway(
                        &db,
                        cam,
                        PortalMessage::StartStream { camera_id: cam },
                    )
                    .await;
                }
                HubEvent::LastViewerLeft(cam) => {
                    let relay = self.clone();
                    let db = db.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(linger).await;
                        // A viewer who came back meanwhile keeps the pull.
                        if relay.hub.remove_if_idle(cam) {
                            relay
                                .send_to_camera_gateway(
                                    &db,
                                    cam,
                                    PortalMessage::StopStream { camera_id: cam },
                                )
                                .await;
                        }
                    });
                }
            }
        }
    }

    /// `cam` is a channel (see `StreamKind::channel`): the camera's gateway
    /// serves both of its streams.
    async fn send_to_camera_gateway(&self, db: &Db, cam: CameraId, msg: PortalMessage) {
        let (camera, _) = super::model::StreamKind::of_channel(cam);
        match repo::camera_gateway(db, camera).await {
            Ok(Some(gw)) => {
                if matches!(msg, PortalMessage::StartStream { .. }) {
                    self.count_start(cam);
                }
                if !self.send(gw, GatewayCommand::Send(msg)) {
                    tracing::debug!(camera = cam, gateway = gw, "camera's gateway is offline");
                }
            }
            Ok(None) => tracing::debug!(camera = cam, "camera has no gateway"),
            Err(e) => tracing::error!(camera = cam, error = %e, "looking up the camera's gateway"),
        }
    }

    /// Registers a tunnel; an older connection of the same gateway is closed.
    pub fn register(&self, gateway: i64, tx: mpsc::Sender<GatewayCommand>) -> u64 {
        let conn = self.next_id.fetch_add(1, Ordering::Relaxed);
        let old = lock(&self.inner)
            .gateways
            .insert(gateway, Link { conn, tx });
        if let Some(old) = old {
            let _ = old.tx.try_send(GatewayCommand::Close);
        }
        conn
    }

    /// Unregisters a tunnel (unless a newer connection replaced it) and
    /// fails its pending snapshots.
    pub fn unregister(&self, gateway: i64, conn: u64) -> bool {
        let mut inner = lock(&self.inner);
        let current = inner.gateways.get(&gateway).is_some_and(|l| l.conn == conn);
        if current {
            inner.gateways.remove(&gateway);
            let pending: Vec<u64> = inner
                .snapshots
                .iter()
                .filter(|(_, (gw, _, _))| *gw == gateway)
                .map(|(id, _)| *id)
                .collect();
            for id in pending {
                if let Some((_, _, tx)) = inner.snapshots.remove(&id) {
                    let _ = tx.send(Err("The gateway went offline.".into()));
                }
            }
            let pending: Vec<u64> = inner
                .onvif
                .iter()
                .filter(|(_, (gw, _))| *gw == gateway)
                .map(|(id, _)| *id)
                .collect();
            for id in pending {
                if let Some((_, tx)) = inner.onvif.remove(&id) {
                    let _ = tx.send(Err("The gateway went offline.".into()));
                }
            }
            let pending: Vec<u64> = inner
                .ptz
                .iter()
                .filter(|(_, (gw, _, _))| *gw == gateway)
                .map(|(id, _)| *id)
                .collect();
            for id in pending {
                if let Some((_, _, tx)) = inner.ptz.remove(&id) {
                    let _ = tx.send(Err("The gateway went offline.".into()));
                }
            }
        }
        current
    }

    pub fn is_online(&self, gateway: i64) -> bool {
        lock(&self.inner).gateways.contains_key(&gateway)
    }

    /// Queues a command for a connected gateway; false when it is not connected.
    pub fn send(&self, gateway: i64, cmd: GatewayCommand) -> bool {
        let inner = lock(&self.inner);
        match inner.gateways.get(&gateway) {
            Some(link) => match link.tx.try_send(cmd) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(gateway, error = %e, "gateway command queue full or closed");
                    false
                }
            },
            None => false,
        }
    }

    pub fn count_start(&self, cam: CameraId) {
        *lock(&self.inner).starts.entry(cam).or_default() += 1;
    }

    /// Sets a camera's state; true when it changed (so it is recorded once
    /// even when its main and sub stream report together).
    pub fn health_changed(&self, camera: CameraId, kind: super::model::CameraEventKind) -> bool {
        lock(&self.inner).health.insert(camera, kind) != Some(kind)
    }

    pub fn count_notify(&self, cam: CameraId) {
        *lock(&self.inner).notified.entry(cam).or_default() += 1;
    }

    /// Events of the camera whose mail has been decided on (sent or not).
    pub fn notify_decisions(&self, cam: CameraId) -> u64 {
        lock(&self.inner).notified.get(&cam).copied().unwrap_or(0)
    }

    pub fn count_init(&self, cam: CameraId) {
        *lock(&self.inner).inits.entry(cam).or_default() += 1;
    }

    pub fn inits_received(&self, cam: CameraId) -> u64 {
        lock(&self.inner).inits.get(&cam).copied().unwrap_or(0)
    }

    pub fn start_requests(&self, cam: CameraId) -> u64 {
        lock(&self.inner).starts.get(&cam).copied().unwrap_or(0)
    }

    /// Asks the gateway for a snapshot and waits up to `timeout`.
    pub async fn snapshot(
        &self,
        gateway: i64,
        camera: CameraId,
        timeout: Duration,
    ) -> SnapshotReply {
        let request_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner)
            .snapshots
            .insert(request_id, (gateway, camera, tx));
        let sent = self.send(
            gateway,
            GatewayCommand::Send(PortalMessage::Snapshot {
                request_id,
                camera_id: camera,
            }),
        );
        let result = if !sent {
            Err("The camera's gateway is offline.".into())
        } else {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(_)) => Err("The gateway went offline.".into()),
                Err(_) => Err("The camera did not answer in time.".into()),
            }
        };
        lock(&self.inner).snapshots.remove(&request_id);
        result
    }

    /// Asks the gateway to query an ONVIF camera and waits up to `timeout`.
    pub async fn onvif_probe(
        &self,
        gateway: i64,
        device_url: String,
        login: Option<truevault_wire::gateway::OnvifLogin>,
        timeout: Duration,
    ) -> OnvifReply {
        let request_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner).onvif.insert(request_id, (gateway, tx));
        let sent = self.send(
            gateway,
            GatewayCommand::Send(PortalMessage::OnvifProbe {
                request_id,
                device_url,
                login,
            }),
        );
        let result = if !sent {
            Err("The gateway is offline.".into())
        } else {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(_)) => Err("The gateway went offline.".into()),
                Err(_) => Err("The camera did not answer in time.".into()),
            }
        };
        lock(&self.inner).onvif.remove(&request_id);
        result
    }

    /// Completes an ONVIF request, if this gateway was asked it.
    pub fn onvif_done(&self, gateway: i64, request_id: u64, reply: OnvifReply) -> bool {
        let mut inner = lock(&self.inner);
        let ours = inner
            .onvif
            .get(&request_id)
            .is_some_and(|(gw, _)| *gw == gateway);
        if ours {
            if let Some((_, tx)) = inner.onvif.remove(&request_id) {
                let _ = tx.send(reply);
            }
        }
        ours
    }

    /// Completes a snapshot request, if it is this gateway's and this camera's.
    pub fn snapshot_done(
        &self,
        gateway: i64,
        request_id: u64,
        camera: CameraId,
        reply: SnapshotReply,
    ) {
        let mut inner = lock(&self.inner);
        let ours = inner
            .snapshots
            .get(&request_id)
            .is_some_and(|(gw, cam, _)| *gw == gateway && *cam == camera);
        if ours {
            if let Some((_, _, tx)) = inner.snapshots.remove(&request_id) {
                let _ = tx.send(reply);
            }
        } else {
            tracing::warn!(
                gateway,
                request_id,
                "snapshot answer for a request it was not sent"
            );
        }
    }

    /// Sends a PTZ command through the camera's gateway and waits up to
    /// `timeout` for the camera's answer.
    pub async fn ptz(
        &self,
        gateway: i64,
        camera: CameraId,
        command: truevault_wire::gateway::PtzCommand,
        timeout: Duration,
    ) -> PtzReply {
        let request_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner)
            .ptz
            .insert(request_id, (gateway, camera, tx));
        let sent = self.send(
            gateway,
            GatewayCommand::Send(PortalMessage::Ptz {
                request_id,
                camera_id: camera,
                command,
            }),
        );
        let result = if !sent {
            Err("The camera's gateway is offline.".into())
        } else {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(_)) => Err("The gateway went offline.".into()),
                Err(_) => Err("The camera did not answer in time.".into()),
            }
        };
        lock(&self.inner).ptz.remove(&request_id);
        result
    }

    /// Completes a PTZ request, if it is this gateway's and this camera's.
    pub fn ptz_done(&self, gateway: i64, request_id: u64, camera: CameraId, reply: PtzReply) {
        let mut inner = lock(&self.inner);
        let ours = inner
            .ptz
            .get(&request_id)
            .is_some_and(|(gw, cam, _)| *gw == gateway && *cam == camera);
        if ours {
            if let Some((_, _, tx)) = inner.ptz.remove(&request_id) {
                let _ = tx.send(reply);
            }
        } else {
            tracing::warn!(
                gateway,
                request_id,
                "PTZ answer for a request it was not sent"
            );
        }
    }
}
