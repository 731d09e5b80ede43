//! PTZ through ONVIF: one worker per camera runs the portal's commands in
//! the order they came (a Stop must never overtake the move it ends), and
//! keeps the camera's PTZ service URL and profile token after the first ask.

use std::time::Duration;

use oxvif::OnvifClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use truevault_wire::gateway::{CameraId, CameraSpec, GatewayMessage, PtzCommand, PtzPreset};

use crate::GatewayError;

/// Commands waiting for one camera; more are refused, not queued.
const QUEUE: usize = 16;
const ASK: Duration = Duration::from_secs(10);

pub struct PtzWorker {
    tx: mpsc::Sender<(u64, PtzCommand)>,
    task: JoinHandle<()>,
}

impl Drop for PtzWorker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PtzWorker {
    pub fn spawn(spec: CameraSpec, replies: mpsc::Sender<GatewayMessage>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(spec, rx, replies));
        Self { tx, task }
    }

    /// Queues a command; false when the queue is full.
    pub fn submit(&self, request_id: u64, command: PtzCommand) -> bool {
        self.tx.try_send((request_id, command)).is_ok()
    }
}

/// Where a camera takes PTZ commands.
struct Target {
    ptz_url: String,
    profile: String,
}

async fn run(
    spec: CameraSpec,
    mut rx: mpsc::Receiver<(u64, PtzCommand)>,
    replies: mpsc::Sender<GatewayMessage>,
) {
    let mut client = OnvifClient::new(spec.onvif_url.as_deref().unwrap_or_default());
    if let (Some(u), Some(p)) = (&spec.username, &spec.password) {
        client = client.with_credentials(u, p);
    }
    let mut target: Option<Target> = None;
    while let Some((request_id, command)) = rx.recv().await {
        let result =
            match tokio::time::timeout(ASK * 2, execute(&client, &spec, &mut target, &command))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(GatewayError::Timeout(
                    "the camera's PTZ service did not answer".into(),
                )),
            };
        if result.is_err() {
            // The next command asks again (the camera may have rebooted).
            target = None;
        }
        let reply = reply(spec.id, request_id, result);
        if replies.send(reply).await.is_err() {
            return;
        }
    }
}

fn reply(
    camera_id: CameraId,
    request_id: u64,
    result: Result<Option<Vec<PtzPreset>>, GatewayError>,
) -> GatewayMessage {
    match result {
        Ok(presets) => GatewayMessage::PtzResult {
            request_id,
            camera_id,
            presets,
            error: None,
        },
        Err(e) => {
            tracing::info!(camera = camera_id, error = %e, "PTZ command failed");
            GatewayMessage::PtzResult {
                request_id,
                camera_id,
                presets: None,
                error: Some(e.to_string()),
            }
        }
    }
}

fn err(step: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Onvif(format!("{step}: {e}"))
}

async fn resolve(client: &OnvifClient, spec: &CameraSpec) -> Result<Target, GatewayError> {
    if spec.onvif_url.is_none() {
        return Err(GatewayError::Onvif(
            "the camera has no ONVIF address".into(),
        ));
    }
    let caps = client
        .get_capabilities()
        .await
        .map_err(|e| err("GetCapabilities", e))?;
    let ptz_url = caps
        .ptz
        .url
        .ok_or_else(|| GatewayError::Onvif("the camera has no PTZ service".into()))?;
    let media = caps
        .media
        .url
        .or_else(|| spec.onvif_url.clone())
        .unwrap_or_default();
    let profiles = client
        .get_profiles(&media)
        .await
        .map_err(|e| err("GetProfiles", e))?;
    // The first profile bound to a PTZ head (the main stream's, usually).
    let profile = profiles
        .iter()
        .find(|p| p.ptz_config_token.is_some())
        .ok_or_else(|| GatewayError::Onvif("no media profile of the camera has PTZ".into()))?
        .token
        .clone();
    Ok(Target { ptz_url, profile })
}

async fn execute(
    client: &OnvifClient,
    spec: &CameraSpec,
    target: &mut Option<Target>,
    command: &PtzCommand,
) -> Result<Option<Vec<PtzPreset>>, GatewayError> {
    if target.is_none() {
        *target = Some(resolve(client, spec).await?);
    }
    let Some(t) = target.as_ref() else {
        return Err(GatewayError::Onvif("no PTZ target".into()));
    };
    let clamp = |v: f32| {
        if v.is_finite() {
            v.clamp(-1.0, 1.0)
        } else {
            0.0
        }
    };
    match command {
        PtzCommand::Move { pan, tilt, zoom } => client
            .ptz_continuous_move(
                &t.ptz_url,
                &t.profile,
                clamp(*pan),
                clamp(*tilt),
                clamp(*zoom),
            )
            .await
            .map(|_| None)
            .map_err(|e| err("ContinuousMove", e)),
        PtzCommand::Stop => client
            .ptz_stop(&t.ptz_url, &t.profile)
            .await
            .map(|_| None)
            .map_err(|e| err("Stop", e)),
        PtzCommand::Presets => client
            .ptz_get_presets(&t.ptz_url, &t.profile)
            .await
            .map(|list| {
                Some(
                    list.into_iter()
                        .take(100)
                        .map(|p| PtzPreset {
                            token: p.token,
                            name: p.name,
                        })
                        .collect(),
                )
            })
            .map_err(|e| err("GetPresets", e)),
        PtzCommand::GotoPreset { token } => client
            .ptz_goto_preset(&t.ptz_url, &t.profile, token)
            .await
            .map(|_| None)
            .map_err(|e| err("GotoPreset", e)),
        PtzCommand::SavePreset { name } => client
            .ptz_set_preset(&t.ptz_url, &t.profile, Some(name), None)
            .await
            .map(|token| {
                Some(vec![PtzPreset {
                    token,
                    name: name.clone(),
                }])
            })
            .map_err(|e| err("SetPreset", e)),
    }
}
