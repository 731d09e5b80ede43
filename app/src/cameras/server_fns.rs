//! Server functions: the user's cameras and camera gateways.

// A camera form has fourteen fields and a server function takes them as
// arguments; the macro's generated client stubs do not keep an item-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{Camera, CameraEvent, CamerasPage, CreatedGateway};
#[cfg(feature = "ssr")]
use {
    super::{repo, rules::CameraForm, service},
    crate::sfn,
};

#[server(endpoint = "cameras/overview")]
pub async fn cameras_overview(from_device: Option<i64>) -> Result<CamerasPage, AppError> {
    let user = sfn::user()?;
    service::overview(&sfn::state(), user.id, from_device).await
}

/// Events of the user's cameras, newest first: `camera` (an id, or empty
/// for all), `kind` (`online`, `offline`, or empty) and `day` (`YYYY-MM-DD`,
/// UTC, or empty).
#[server(endpoint = "cameras/events")]
pub async fn camera_events(
    #[server(default)] camera: String,
    #[server(default)] kind: String,
    #[server(default)] day: String,
) -> Result<Vec<CameraEvent>, AppError> {
    use super::model::{day_range, CameraEventKind, EventFilter};
    let user = sfn::user()?;
    let camera = match camera.trim() {
        "" => None,
        c => Some(
            c.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| AppError::invalid_field("camera", "Choose one of your cameras."))?,
        ),
    };
    let kind = match kind.trim() {
        "" => None,
        k => Some(CameraEventKind::parse(k).ok_or_else(|| {
            AppError::invalid_field("kind", "Choose an event type from the list.")
        })?),
    };
    let day = match day.trim() {
        "" => None,
        d => Some(
            day_range(d)
                .ok_or_else(|| AppError::invalid_field("day", "Pick a day as YYYY-MM-DD."))?,
        ),
    };
    let filter = EventFilter { camera, kind, day };
    service::events(&sfn::state(), user.id, &filter).await
}

/// PTZ: move while held, stop on release, presets (see `PtzForm`).
/// Answers the presets for `presets` and `save`, else an empty list.
#[server(endpoint = "cameras/ptz")]
pub async fn camera_ptz(
    #[server(flatten)] form: super::model::PtzForm,
) -> Result<Vec<super::model::CameraPreset>, AppError> {
    let user = sfn::user()?;
    let req = super::model::PtzRequest::try_from(&form)?;
    service::ptz(&sfn::state(), user.id, &req).await
}

/// The user's camera mail settings, with their cameras.
#[server(endpoint = "cameras/notify")]
pub async fn camera_notify_prefs() -> Result<super::model::NotifyPrefs, AppError> {
    let user = sfn::user()?;
    super::notify::prefs(&sfn::state().db, user.id).await
}

#[server(endpoint = "cameras/notify_save")]
pub async fn camera_notify_save(
    #[server(flatten)] form: super::model::NotifyForm,
) -> Result<(), AppError> {
    let user = sfn::user()?;
    let v = super::model::ValidNotify::try_from(&form)?;
    super::notify::save(&sfn::state().db, user.id, &v).await
}

/// Picks (`on` = `on`) or unpicks one camera for "only picked cameras".
#[server(endpoint = "cameras/notify_choose")]
pub async fn camera_notify_choose(
    camera: String,
    #[server(default)] on: String,
) -> Result<(), AppError> {
    let user = sfn::user()?;
    let id = camera
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::invalid_field("camera", "Choose one of your cameras."))?;
    if !super::notify::choose(&sfn::state().db, user.id, id, on.trim() == "on").await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[server(endpoint = "cameras/detail")]
pub async fn camera_detail(id: i64) -> Result<Camera, AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    if let Some(c) = repo::find_camera(db, user.id, id).await? {
        return Ok(c);
    }
    crate::mesh::service::shared_camera_detail(db, user.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[cfg(feature = "ssr")]
fn form(
    name: String,
    vendor: String,
    model: String,
    ip: String,
    mac: String,
    rtsp_port: String,
    http_port: String,
    main_stream_url: String,
    sub_stream_url: String,
    snapshot_url: String,
    username: String,
    password: String,
    gateway_id: String,
    lan_device_id: String,
) -> Result<CameraForm, AppError> {
    // Oversized text is refused before any work; the rules check content.
    for (field, label, value, max) in [
        ("name", "Name", &name, 64),
        ("vendor", "Vendor", &vendor, 32),
        ("model", "Model", &model, 64),
        ("ip", "IP address", &ip, 253),
        ("mac", "MAC address", &mac, 32),
        ("rtsp_port", "RTSP port", &rtsp_port, 8),
        ("http_port", "HTTP port", &http_port, 8),
        ("main_stream_url", "Main stream URL", &main_stream_url, 512),
        ("sub_stream_url", "Sub stream URL", &sub_stream_url, 512),
        ("snapshot_url", "Snapshot URL", &snapshot_url, 512),
        ("username", "User name", &username, 128),
        ("password", "Password", &password, 128),
        ("gateway_id", "Gateway", &gateway_id, 20),
        ("lan_device_id", "Network device", &lan_device_id, 20),
    ] {
        sfn::limit(field, label, value, max)?;
    }
    Ok(CameraForm {
        name,
        vendor,
        model,
        ip,
        mac,
        rtsp_port,
        http_port,
        main_stream_url,
        sub_stream_url,
        snapshot_url,
        username,
        password,
        gateway_id,
        lan_device_id,
    })
}

/// Adds a camera; empty stream and snapshot URLs come from the vendor's
/// pattern. Refused with CAMERA_LIMIT_EXCEEDED past the plan's limit.
#[server(endpoint = "cameras/add")]
pub async fn add_camera(
    name: String,
    #[server(default)] vendor: String,
    #[server(default)] model: String,
    ip: String,
    #[server(default)] mac: String,
    #[server(default)] rtsp_port: String,
    #[server(default)] http_port: String,
    #[server(default)] main_stream_url: String,
    #[server(default)] sub_stream_url: String,
    #[server(default)] snapshot_url: String,
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] gateway_id: String,
    #[server(default)] lan_device_id: String,
) -> Result<i64, AppError> {
    let user = sfn::user()?;
    let f = form(
        name,
        vendor,
        model,
        ip,
        mac,
        rtsp_port,
        http_port,
        main_stream_url,
        sub_stream_url,
        snapshot_url,
        username,
        password,
        gateway_id,
        lan_device_id,
    )?;
    service::add_camera(&sfn::state(), user.id, &f).await
}

/// Edits a camera; an empty password keeps the stored one.
#[server(endpoint = "cameras/update")]
pub async fn update_camera(
    id: i64,
    name: String,
    #[server(default)] vendor: String,
    #[server(default)] model: String,
    ip: String,
    #[server(default)] mac: String,
    #[server(default)] rtsp_port: String,
    #[server(default)] http_port: String,
    #[server(default)] main_stream_url: String,
    #[server(default)] sub_stream_url: String,
    #[server(default)] snapshot_url: String,
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] gateway_id: String,
) -> Result<(), AppError> {
    let user = sfn::user()?;
    let f = form(
        name,
        vendor,
        model,
        ip,
        mac,
        rtsp_port,
        http_port,
        main_stream_url,
        sub_stream_url,
        snapshot_url,
        username,
        password,
        gateway_id,
        String::new(),
    )?;
    service::update_camera(&sfn::state(), user.id, id, &f).await
}

#[server(endpoint = "cameras/delete")]
pub async fn delete_camera(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    service::delete_camera(&sfn::state(), user.id, id).await?;
    leptos_axum::redirect("/cameras");
    Ok(())
}

/// Shown once: the gateway's token is stored only as a hash.
#[server(endpoint = "cameras/gateway_create")]
pub async fn create_gateway(name: String) -> Result<CreatedGateway, AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    let user = sfn::user()?;
    service::create_gateway(&sfn::state(), user.id, &name).await
}

#[server(endpoint = "cameras/gateway_revoke")]
pub async fn revoke_gateway(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    service::revoke_gateway(&sfn::state(), user.id, id).await
}
