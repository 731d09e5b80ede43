//! Server functions: the user's cameras and camera gateways.

// A camera form has fourteen fields and a server function takes them as
// arguments; the macro's generated client stubs do not keep an item-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use super::model::{Camera, CamerasPage, CreatedGateway};
#[cfg(feature = "ssr")]
use {
    super::{repo, rules::CameraForm, service},
    crate::{error::AppError, sfn},
};

#[server(endpoint = "cameras/overview")]
pub async fn cameras_overview(from_device: Option<i64>) -> Result<CamerasPage, ServerFnError> {
    let user = sfn::user()?;
    Ok(service::overview(&sfn::state(), user.id, from_device).await?)
}

#[server(endpoint = "cameras/detail")]
pub async fn camera_detail(id: i64) -> Result<Camera, ServerFnError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    if let Some(c) = repo::find_camera(db, user.id, id)
        .await
        .map_err(AppError::from)?
    {
        return Ok(c);
    }
    Ok(crate::mesh::service::shared_camera_detail(db, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?)
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
) -> Result<CameraForm, ServerFnError> {
    // Oversized text is refused before any work; the rules check content.
    for (field, value, max) in [
        ("Name", &name, 64),
        ("Vendor", &vendor, 32),
        ("Model", &model, 64),
        ("IP address", &ip, 253),
        ("MAC address", &mac, 32),
        ("RTSP port", &rtsp_port, 8),
        ("HTTP port", &http_port, 8),
        ("Main stream URL", &main_stream_url, 512),
        ("Sub stream URL", &sub_stream_url, 512),
        ("Snapshot URL", &snapshot_url, 512),
        ("User name", &username, 128),
        ("Password", &password, 128),
        ("Gateway", &gateway_id, 20),
        ("Network device", &lan_device_id, 20),
    ] {
        sfn::limit(field, value, max)?;
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
) -> Result<i64, ServerFnError> {
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
    Ok(service::add_camera(&sfn::state(), user.id, &f).await?)
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
) -> Result<(), ServerFnError> {
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
    Ok(service::update_camera(&sfn::state(), user.id, id, &f).await?)
}

#[server(endpoint = "cameras/delete")]
pub async fn delete_camera(id: i64) -> Result<(), ServerFnError> {
    let user = sfn::user()?;
    service::delete_camera(&sfn::state(), user.id, id).await?;
    leptos_axum::redirect("/cameras");
    Ok(())
}

/// Shown once: the gateway's token is stored only as a hash.
#[server(endpoint = "cameras/gateway_create")]
pub async fn create_gateway(name: String) -> Result<CreatedGateway, ServerFnError> {
    sfn::limit("Name", &name, 64)?;
    let user = sfn::user()?;
    Ok(service::create_gateway(&sfn::state(), user.id, &name).await?)
}

#[server(endpoint = "cameras/gateway_revoke")]
pub async fn revoke_gateway(id: i64) -> Result<(), ServerFnError> {
    let user = sfn::user()?;
    Ok(service::revoke_gateway(&sfn::state(), user.id, id).await?)
}
