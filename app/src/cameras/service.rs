//! Camera flows: add/edit/delete cameras (plan limit, sealed passwords),
//! gateways (token shown once, stored hashed; revoke), and what a gateway
//! is told about its cameras.

use truevault_wire::gateway::CameraSpec;

use super::{
    model::{
        CameraDraft, CameraEvent, CameraEventKind, CamerasPage, CreatedGateway, EventFilter,
        StreamKind, Vendor,
    },
    relay::GatewayCommand,
    repo,
    rules::{self, CameraForm, ValidCamera},
};
use crate::{
    accounts::{model::AccountStatus, tokens},
    audit,
    db::is_unique_violation,
    entitlements::Entitlements,
    error::{AppError, AppResult},
    inventory::repo as inventory_repo,
    state::AppState,
};

/// Live gateways a user may hold at once.
pub const MAX_GATEWAYS: i64 = 10;

pub async fn overview(
    state: &AppState,
    user_id: i64,
    from_device: Option<i64>,
) -> AppResult<CamerasPage> {
    // A stale or foreign link just shows an empty form.
    let draft = match from_device {
        Some(id) => match draft_from_device(state, user_id, id).await {
            Ok(d) => Some(d),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(CamerasPage {
        cameras: repo::list_cameras(&state.db, user_id).await?,
        gateways: repo::list_gateways(&state.db, user_id).await?,
        camera_limit: Entitlements::for_user(&state.db.pool, user_id)
            .await?
            .cameras
            .max(),
        draft,
        shared: crate::mesh::service::shared_cameras(&state.db, user_id).await?,
    })
}

/// Prefills the add form from what the scanner found on the LAN.
pub async fn draft_from_device(state: &AppState, user_id: i64, id: i64) -> AppResult<CameraDraft> {
    let d = inventory_repo::find_device(&state.db, user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let vendor = Vendor::guess(d.vendor.as_deref().unwrap_or_default());
    let (main, sub) = match (
        &d.stream_url,
        rules::stream_urls(vendor, &d.ip, vendor.default_rtsp_port()),
    ) {
        // The scanner's URL came from the camera itself (ONVIF, mDNS): prefer it.
        (Some(found), _) if found.starts_with("rtsp") => (found.clone(), String::new()),
        (_, Some((m, s))) => (m, s.unwrap_or_default()),
        _ => (String::new(), String::new()),
    };
    Ok(CameraDraft {
        lan_device_id: Some(d.id),
        name: d.display_name(),
        vendor: Some(vendor),
        model: d.model.clone(),
        ip: d.ip.clone(),
        mac: (!d.randomized_mac).then(|| d.mac.clone()),
        main_stream_url: main,
        sub_stream_url: sub,
        snapshot_url: rules::snapshot_url(vendor, &d.ip, rules::DEFAULT_HTTP_PORT)
            .unwrap_or_default(),
    })
}

/// Checks the references a form names belong to the user.
async fn check_refs(state: &AppState, user_id: i64, c: &ValidCamera) -> AppResult<()> {
    if let Some(gw) = c.gateway_id {
        if !repo::owns_live_gateway(&state.db, user_id, gw).await? {
            return Err(AppError::invalid("Choose one of your gateways."));
        }
    }
    if let Some(dev) = c.lan_device_id {
        if inventory_repo::find_device(&state.db, user_id, dev)
            .await?
            .is_none()
        {
            return Err(AppError::invalid_field(
                "lan_device_id",
                "That network device is not yours.",
            ));
        }
    }
    Ok(())
}

fn seal(state: &AppState, c: &ValidCamera) -> Option<String> {
    c.password.as_ref().map(|p| state.keys.seal(p.as_bytes()))
}

/// How long the gateway may take to ask an ONVIF camera.
const ONVIF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// A generic ONVIF camera saved without a stream URL: its gateway asks the
/// camera (GetProfiles, GetStreamUri, GetSnapshotUri) and the answers fill
/// the empty URL fields. Anything else is left to the vendor's pattern.
async fn fill_from_onvif<'f>(
    state: &AppState,
    user_id: i64,
    form: &'f CameraForm,
) -> AppResult<std::borrow::Cow<'f, CameraForm>> {
    use std::borrow::Cow;
    let generic = matches!(form.vendor.trim(), "" | "generic");
    if !generic || !form.main_stream_url.trim().is_empty() {
        return Ok(Cow::Borrowed(form));
    }
    // Without a gateway nobody can ask: validation says to type the URL.
    let Some(gw) = form
        .gateway_id
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
    else {
        return Ok(Cow::Borrowed(form));
    };
    if !repo::owns_live_gateway(&state.db, user_id, gw).await? {
        return Err(AppError::invalid("Choose one of your gateways."));
    }
    let device_url = rules::onvif_device_url(&form.ip, &form.http_port)?;
    let login = (!form.username.trim().is_empty()).then(|| truevault_wire::gateway::OnvifLogin {
        username: form.username.trim().to_string(),
        password: form.password.clone(),
    });
    let urls = state
        .cameras
        .onvif_probe(gw, device_url, login, ONVIF_TIMEOUT)
        .await
        .map_err(AppError::OnvifFailed)?;
    let mut filled = form.clone();
    filled.main_stream_url = urls.main_stream_url;
    if filled.sub_stream_url.trim().is_empty() {
        filled.sub_stream_url = urls.sub_stream_url.unwrap_or_default();
    }
    if filled.snapshot_url.trim().is_empty() {
        filled.snapshot_url = urls.snapshot_url.unwrap_or_default();
    }
    Ok(Cow::Owned(filled))
}

pub async fn add_camera(state: &AppState, user_id: i64, form: &CameraForm) -> AppResult<i64> {
    let form = fill_from_onvif(state, user_id, form).await?;
    let c = rules::validate(&form)?;
    check_refs(state, user_id, &c).await?;
    let sealed = seal(state, &c);
    // The count and the insert share one transaction with the user's row
    // locked (PostgreSQL) or the single writer (SQLite), so concurrent adds
    // cannot pass the limit together.
    let mut tx = state.db.begin_write().await?;
    state.db.lock_row(&mut tx, "users", user_id).await?;
    let cameras = Entitlements::for_user(&mut *tx, user_id).await?.cameras;
    if let Some(max) = cameras.max() {
        if !cameras.allows_another(repo::count_cameras(&mut tx, user_id).await?) {
            return Err(AppError::CameraLimitExceeded(max));
        }
    }
    let id = repo::insert_camera(&mut tx, user_id, &c, sealed.as_deref()).await?;
    audit::record_in(
        &mut tx,
        Some(user_id),
        "camera.created",
        &c.name,
        &format!("camera {id}"),
    )
    .await?;
    tx.commit().await?;
    if let Some(gw) = c.gateway_id {
        state.cameras.send(gw, GatewayCommand::Refresh);
    }
    Ok(id)
}

pub async fn update_camera(
    state: &AppState,
    user_id: i64,
    id: i64,
    form: &CameraForm,
) -> AppResult<()> {
    let before = repo::find_camera(&state.db, user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = fill_from_onvif(state, user_id, form).await?;
    let c = rules::validate(&form)?;
    check_refs(state, user_id, &c).await?;
    let sealed = seal(state, &c);
    let moved = c.credential_endpoints()
        != rules::credential_endpoints(
            &before.ip,
            before.rtsp_port,
            before.http_port,
            &[
                Some(&before.main_stream_url),
                before.sub_stream_url.as_deref(),
                before.snapshot_url.as_deref(),
            ],
        );
    let password = match (&sealed, moved) {
        (Some(s), _) => repo::StoredPassword::Set(s),
        // The old credentials never follow the camera to a new host.
        (None, true) => repo::StoredPassword::Clear,
        (None, false) => repo::StoredPassword::Keep,
    };
    if !repo::update_camera(&state.db, user_id, id, &c, password).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(user_id),
        "camera.updated",
        &id.to_string(),
        "",
        "",
    )
    .await;
    // Viewers of the old stream reconnect to the new one.
    for kind in StreamKind::ALL {
        state
            .cameras
            .hub
            .interrupt(kind.channel(id), "camera settings changed");
    }
    for gw in [before.gateway_id, c.gateway_id].into_iter().flatten() {
        state.cameras.send(gw, GatewayCommand::Refresh);
    }
    Ok(())
}

pub async fn delete_camera(state: &AppState, user_id: i64, id: i64) -> AppResult<()> {
    let gateway = repo::delete_camera(&state.db, user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &state.db,
        Some(user_id),
        "camera.deleted",
        &id.to_string(),
        "",
        "",
    )
    .await;
    for kind in StreamKind::ALL {
        state.cameras.hub.close(kind.channel(id));
    }
    if let Some(gw) = gateway {
        state.cameras.send(gw, GatewayCommand::Refresh);
    }
    Ok(())
}

pub async fn create_gateway(
    state: &AppState,
    user_id: i64,
    name: &str,
) -> AppResult<CreatedGateway> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "Give the gateway a name of 1 to 64 characters.",
        ));
    }
    if repo::active_gateway_count(&state.db, user_id).await? >= MAX_GATEWAYS {
        return Err(AppError::Conflict(format!(
            "You already have {MAX_GATEWAYS} gateways; revoke one first."
        )));
    }
    let token = tokens::random_token();
    let id = repo::create_gateway(&state.db, user_id, name, &tokens::hash_token(&token))
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::internal("gateway token collision")
            } else {
                AppError::from(e)
            }
        })?;
    audit::record(
        &state.db,
        Some(user_id),
        "gateway.token_created",
        name,
        "",
        "",
    )
    .await;
    Ok(CreatedGateway {
        id,
        name: name.to_string(),
        token,
    })
}

pub async fn revoke_gateway(state: &AppState, user_id: i64, id: i64) -> AppResult<()> {
    if !repo::revoke_gateway(&state.db, user_id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(user_id),
        "gateway.token_revoked",
        &id.to_string(),
        "",
        "",
    )
    .await;
    // A connected tunnel ends now, not at its next reconnect.
    state.cameras.send(id, GatewayCommand::Close);
    Ok(())
}

/// The user's service changed (`entitlements::service`): connected gateway
/// tunnels end now, here; on other portal instances a tunnel re-checks
/// within its ping interval, and a reconnect is refused while service is off.
pub async fn close_user_tunnels(state: &AppState, user_id: i64) -> AppResult<()> {
    if crate::entitlements::service(&state.db.pool, user_id)
        .await?
        .is_on()
    {
        return Ok(());
    }
    for gw in repo::list_gateways(&state.db, user_id).await? {
        state.cameras.send(gw.id, GatewayCommand::Close);
    }
    Ok(())
}

/// The (gateway id, user id) behind a gateway's bearer token.
pub async fn authenticate_gateway(state: &AppState, token: &str) -> AppResult<(i64, i64)> {
    if !tokens::looks_like_token(token) {
        return Err(AppError::InvalidBearer);
    }
    let (gateway_id, user_id, status) =
        repo::find_gateway_by_token(&state.db, &tokens::hash_token(token))
            .await?
            .ok_or(AppError::InvalidBearer)?;
    crate::entitlements::service(&state.db.pool, user_id)
        .await?
        .require()?;
    if AccountStatus::parse(&status) != Some(AccountStatus::Active) {
        return Err(AppError::Forbidden);
    }
    Ok((gateway_id, user_id))
}

/// Records a camera coming online or going offline, as its gateway reports
/// its pulls (`channel`: either of its streams), once per change. The last
/// stored event is checked too, so a portal restart does not repeat one.
pub async fn record_health(state: &AppState, channel: i64, kind: CameraEventKind) {
    let (camera, _) = StreamKind::of_channel(channel);
    if !state.cameras.health_changed(camera, kind) {
        return;
    }
    let result = async {
        if repo::last_health_kind(&state.db, camera).await?.as_deref() == Some(kind.as_str()) {
            return Ok(false);
        }
        repo::insert_event(&state.db, camera, kind, state.clock.now()).await
    }
    .await;
    match result {
        Ok(true) => {
            tracing::info!(camera, kind = kind.as_str(), "camera event");
            let st = state.clone();
            tokio::spawn(async move { super::notify::after_event(&st, camera, kind).await });
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(camera, error = %e, "recording a camera event"),
    }
}

/// A thumbnail the portal keeps (the gateway caps them too).
pub const MAX_THUMBNAIL_BYTES: usize = truevault_wire::gateway::MAX_THUMBNAIL_BYTES;

/// Records what a camera reported (an ONVIF event its gateway read), with
/// the snapshot taken at that moment when it is a usable image.
pub async fn record_detection(
    state: &AppState,
    camera: i64,
    kind: CameraEventKind,
    thumbnail: Option<(String, Vec<u8>)>,
) -> Option<i64> {
    // Only images are ever served back (never SVG: it can carry script).
    let thumbnail = thumbnail.filter(|(ct, data)| {
        ct.starts_with("image/") && !ct.contains("svg") && data.len() <= MAX_THUMBNAIL_BYTES
    });
    let at = state.clock.now();
    match repo::insert_detection(
        &state.db,
        camera,
        kind,
        at,
        thumbnail
            .as_ref()
            .map(|(ct, d)| (ct.as_str(), d.as_slice())),
    )
    .await
    {
        Ok(Some((id, _owner))) => {
            tracing::info!(camera, kind = kind.as_str(), event = id, "camera event");
            // The mail (SMTP may be slow) must not hold up the tunnel.
            let st = state.clone();
            tokio::spawn(async move { super::notify::after_event(&st, camera, kind).await });
            Some(id)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(camera, error = %e, "recording a camera event");
            None
        }
    }
}

/// How long the camera may take to answer a PTZ command.
const PTZ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Moves a PTZ camera or works its presets, through its gateway. The owner
/// may; a mesh member only with full access to the camera (a member who
/// may only view it is refused; anyone else reads "not found").
pub async fn ptz(
    state: &AppState,
    user_id: i64,
    req: &super::model::PtzRequest,
) -> AppResult<Vec<super::model::CameraPreset>> {
    use super::model::{CameraPreset, PtzOp};
    use truevault_wire::gateway::PtzCommand;
    let camera = match repo::find_camera(&state.db, user_id, req.camera).await? {
        Some(c) => c,
        None => {
            match crate::mesh::repo::shared_camera_full_access(&state.db, user_id, req.camera)
                .await?
            {
                None => return Err(AppError::NotFound),
                Some(false) => return Err(AppError::Forbidden),
                Some(true) => crate::mesh::service::viewable_camera(&state.db, user_id, req.camera)
                    .await?
                    .ok_or(AppError::NotFound)?,
            }
        }
    };
    let Some(gateway) = camera.gateway_id else {
        return Err(AppError::CameraGatewayOffline);
    };
    let command = match &req.op {
        PtzOp::Move { pan, tilt, zoom } => PtzCommand::Move {
            pan: *pan,
            tilt: *tilt,
            zoom: *zoom,
        },
        PtzOp::Stop => PtzCommand::Stop,
        PtzOp::Presets => PtzCommand::Presets,
        PtzOp::Goto(token) => PtzCommand::GotoPreset {
            token: token.clone(),
        },
        PtzOp::Save(name) => PtzCommand::SavePreset { name: name.clone() },
    };
    if !state.cameras.is_online(gateway) {
        return Err(AppError::CameraGatewayOffline);
    }
    let presets = state
        .cameras
        .ptz(gateway, camera.id, command, PTZ_TIMEOUT)
        .await
        .map_err(AppError::PtzFailed)?;
    if let PtzOp::Save(name) = &req.op {
        audit::record(
            &state.db,
            Some(user_id),
            "camera.ptz_preset_saved",
            &camera.id.to_string(),
            name,
            "",
        )
        .await;
    }
    Ok(presets
        .unwrap_or_default()
        .into_iter()
        .map(|p| CameraPreset {
            token: p.token.chars().take(64).collect(),
            name: p.name.chars().take(64).collect(),
        })
        .collect())
}

/// Most events one page lists.
pub const EVENTS_PAGE: i64 = 200;

/// The user's cameras' events, newest first.
pub async fn events(
    state: &AppState,
    user_id: i64,
    filter: &EventFilter,
) -> AppResult<Vec<CameraEvent>> {
    Ok(repo::list_events(&state.db, user_id, filter, EVENTS_PAGE).await?)
}

/// The gateway's cameras with their credentials opened, for the tunnel only.
pub async fn gateway_specs(state: &AppState, gateway_id: i64) -> AppResult<Vec<CameraSpec>> {
    let cams = repo::gateway_cameras(&state.db, gateway_id).await?;
    Ok(cams
        .into_iter()
        .flat_map(|c| {
            let password = c.password_enc.as_deref().and_then(|sealed| {
                match state.keys.open(sealed) {
                    Ok(bytes) => String::from_utf8(bytes).ok(),
                    Err(_) => {
                        // A key change makes old passwords unreadable; the
                        // camera then refuses us and the user re-enters it.
                        tracing::error!(camera = c.id, "cannot decrypt the camera's password");
                        None
                    }
                }
            });
            // The sub stream is a source of its own (see StreamKind::channel).
            let sub = c.sub_stream_url.map(|url| CameraSpec {
                id: StreamKind::Sub.channel(c.id),
                name: format!("{} (sub stream)", c.name),
                rtsp_url: url,
                username: c.username.clone(),
                password: password.clone(),
                snapshot_url: None,
                watch: false,
                onvif_url: None,
            });
            // Only the main stream is watched: one check and one event
            // subscription per camera.
            let onvif_url = Vendor::parse(&c.vendor)
                .filter(|v| v.speaks_onvif())
                .and_then(|_| rules::onvif_device_url(&c.ip, &c.http_port.to_string()).ok());
            std::iter::once(CameraSpec {
                id: c.id,
                name: c.name,
                rtsp_url: c.main_stream_url,
                username: c.username,
                password,
                snapshot_url: c.snapshot_url,
                watch: true,
                onvif_url,
            })
            .chain(sub)
        })
        .take(truevault_wire::gateway::MAX_CAMERAS)
        .collect())
}
