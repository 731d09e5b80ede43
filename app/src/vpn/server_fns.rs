//! Server functions: the user's devices and configs; the admin's servers.

// A form's fields are a server function's arguments, so admin forms with
// many fields make functions with many arguments.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{CreatedDevice, DeviceInfo, ServerForm, ServerInfo, UsageDay, UserUsage};
#[cfg(feature = "ssr")]
use {
    super::{devices, repo, servers},
    crate::sfn,
};

#[cfg(feature = "ssr")]
fn optional_id(s: &str) -> Result<Option<i64>, AppError> {
    match s.trim() {
        "" | "auto" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid("Unknown server.")),
    }
}

#[server(endpoint = "devices/list")]
pub async fn list_devices() -> Result<Vec<DeviceInfo>, AppError> {
    let user = sfn::user()?;
    Ok(repo::list_user_devices(&sfn::state().db, user.id).await?)
}

/// Servers this user may pick (`servers::offered`).
#[server(endpoint = "devices/servers")]
pub async fn available_servers() -> Result<Vec<ServerInfo>, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    servers::offered_servers(&state.db, servers::NodeFreshness::of(&state), &user).await
}

/// `public_key` empty: the server generates the key pair and the config
/// with the private key is shown once (never stored).
#[server(endpoint = "devices/create")]
pub async fn create_device(
    name: String,
    public_key: String,
    server_id: String,
    region: String,
    tunnel: Option<String>,
) -> Result<CreatedDevice, AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    sfn::limit("public_key", "Public key", &public_key, 64)?;
    sfn::limit("region", "Region", &region, 32)?;
    let tunnel_mode = tunnel_mode(tunnel.as_deref())?;
    let user = sfn::user()?;
    let input = devices::NewDevice {
        name,
        public_key: Some(public_key),
        server_id: optional_id(&server_id)?,
        region: Some(region.trim().to_lowercase()).filter(|r| !r.is_empty()),
        identity_region: None,
        tunnel_mode,
    };
    devices::create_device(&sfn::state(), &user, input).await
}

/// A stable peer in a region: the user exits from the same server and
/// address every time they use that region.
#[server(endpoint = "devices/identity")]
pub async fn create_identity(
    region: String,
    public_key: String,
) -> Result<CreatedDevice, AppError> {
    sfn::limit("region", "Region", &region, 32)?;
    sfn::limit("public_key", "Public key", &public_key, 64)?;
    let user = sfn::user()?;
    let region = region.trim().to_lowercase();
    if region.is_empty() {
        return Err(AppError::invalid("Pick a region."));
    }
    let input = devices::NewDevice {
        name: format!("Identity {region}"),
        public_key: Some(public_key),
        server_id: None,
        region: None,
        identity_region: Some(region),
        tunnel_mode: Default::default(),
    };
    devices::create_device(&sfn::state(), &user, input).await
}

#[server(endpoint = "devices/rename")]
pub async fn rename_device(id: i64, name: String) -> Result<(), AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    let user = sfn::user()?;
    devices::rename_device(&sfn::state(), &user, id, &name).await
}

#[server(endpoint = "devices/rekey")]
pub async fn rekey_device(id: i64, public_key: String) -> Result<CreatedDevice, AppError> {
    sfn::limit("public_key", "Public key", &public_key, 64)?;
    let user = sfn::user()?;
    devices::rekey_device(&sfn::state(), &user, id, Some(public_key)).await
}

#[server(endpoint = "devices/delete")]
pub async fn delete_device(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    devices::delete_device(&sfn::state(), &user, id).await
}

#[cfg(feature = "ssr")]
fn tunnel_mode(value: Option<&str>) -> Result<super::model::TunnelMode, AppError> {
    value
        .unwrap_or_default()
        .parse()
        .map_err(|e: String| AppError::invalid_field("tunnel", e))
}

/// Full or split tunnel; returns (file name, config without the private key).
#[server(endpoint = "devices/tunnel")]
pub async fn set_tunnel(id: i64, tunnel: String) -> Result<(String, String), AppError> {
    let mode = tunnel_mode(Some(&tunnel))?;
    let user = sfn::user()?;
    devices::set_tunnel_mode(&sfn::state(), &user, id, mode).await
}

/// (file name, config without the private key)
#[server(endpoint = "devices/config")]
pub async fn device_config(id: i64) -> Result<(String, String), AppError> {
    let user = sfn::user()?;
    devices::device_config(&sfn::state(), &user, id).await
}

/// The last 14 days of one of the user's devices.
#[server(endpoint = "devices/usage")]
pub async fn device_usage(id: i64) -> Result<Vec<UsageDay>, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    match repo::device_row(&state.db, id).await? {
        Some(d) if d.user_id == user.id => {}
        _ => return Err(AppError::NotFound),
    }
    let since = crate::db::now() / 86_400 - 13;
    Ok(repo::usage(&state.db, id, since).await?)
}

#[server(endpoint = "admin/servers")]
pub async fn admin_servers() -> Result<Vec<ServerInfo>, AppError> {
    sfn::admin()?;
    let state = sfn::state();
    servers::list_servers(&state.db, servers::NodeFreshness::of(&state)).await
}

/// Revokes the server's node token and takes it offline.
#[server(endpoint = "admin/server_deregister")]
pub async fn admin_deregister_server(id: super::model::ServerId) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    servers::deregister_server(&sfn::state(), &admin, id).await
}

/// Returns the one-time node enrollment token.
#[server(endpoint = "admin/server_create")]
pub async fn admin_create_server(#[server(flatten)] form: ServerForm) -> Result<String, AppError> {
    let admin = sfn::admin()?;
    let (_, token) = servers::create_server(&sfn::state(), &admin, form).await?;
    Ok(token)
}

/// Edits a server's settings (pools only while no device uses them).
#[server(endpoint = "admin/server_update")]
pub async fn admin_update_server(
    id: super::model::ServerId,
    #[server(flatten)] form: ServerForm,
) -> Result<String, AppError> {
    let admin = sfn::admin()?;
    servers::update_server(&sfn::state(), &admin, id, form).await?;
    Ok("Server saved.".into())
}

#[server(endpoint = "admin/server_status")]
pub async fn admin_server_status(
    id: super::model::ServerId,
    status: String,
) -> Result<(), AppError> {
    let admin = sfn::admin()?;
    servers::set_server_status(&sfn::state(), &admin, id, &status).await
}

#[server(endpoint = "admin/server_token")]
pub async fn admin_rotate_node_token(id: super::model::ServerId) -> Result<String, AppError> {
    let admin = sfn::admin()?;
    servers::rotate_node_token(&sfn::state(), &admin, id).await
}

/// Traffic per user over the last 14 days.
#[server(endpoint = "admin/usage")]
pub async fn admin_usage() -> Result<Vec<UserUsage>, AppError> {
    sfn::admin()?;
    let since = crate::db::now() / 86_400 - 13;
    Ok(repo::usage_by_user(&sfn::state().db, since, 200).await?)
}
