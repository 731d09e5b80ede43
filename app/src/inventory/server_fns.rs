//! Server functions: the user's home network inventory and scanner tokens.

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{CreatedScannerToken, Inventory, LanDevice, LanEvent};
#[cfg(feature = "ssr")]
use {
    super::{repo, service},
    crate::sfn,
};

#[server(endpoint = "network/inventory")]
pub async fn home_network() -> Result<Inventory, AppError> {
    let user = sfn::user()?;
    service::inventory(&sfn::state(), user.id).await
}

/// One device and its history (newest first).
#[server(endpoint = "network/device")]
pub async fn lan_device_history(id: i64) -> Result<(LanDevice, Vec<LanEvent>), AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    let device = repo::find_device(db, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let events = repo::device_events(db, user.id, id).await?;
    Ok((device, events))
}

/// Shown once: the scanner's token is stored only as a hash.
#[server(endpoint = "network/token_create")]
pub async fn create_scanner_token(name: String) -> Result<CreatedScannerToken, AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    let user = sfn::user()?;
    service::create_token(&sfn::state(), user.id, &name).await
}

/// The token made at sign-up, shown once (its sealed copy is then erased).
#[server(endpoint = "network/token_reveal")]
pub async fn reveal_scanner_token() -> Result<CreatedScannerToken, AppError> {
    let user = sfn::user()?;
    service::reveal_signup_token(&sfn::state(), user.id).await
}

#[server(endpoint = "network/token_revoke")]
pub async fn revoke_scanner_token(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    service::revoke_token(&sfn::state(), user.id, id).await
}

#[server(endpoint = "network/rename")]
pub async fn rename_lan_device(id: i64, label: String) -> Result<(), AppError> {
    sfn::limit("label", "Name", &label, 64)?;
    let user = sfn::user()?;
    let label = label.trim();
    if label.chars().any(char::is_control) {
        return Err(AppError::invalid("The name holds control characters."));
    }
    let label = (!label.is_empty()).then_some(label);
    if !repo::set_label(&sfn::state().db, user.id, id, label).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[server(endpoint = "network/forget")]
pub async fn forget_lan_device(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    if !repo::delete_device(&sfn::state().db, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    leptos_axum::redirect("/network");
    Ok(())
}

#[server(endpoint = "network/dismiss")]
pub async fn dismiss_alerts() -> Result<(), AppError> {
    let user = sfn::user()?;
    Ok(repo::acknowledge_alerts(&sfn::state().db.pool, user.id).await?)
}
