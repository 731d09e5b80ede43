//! Server functions: the signed-in user's API keys (the account page).

use leptos::prelude::*;

use super::model::{ApiKeyId, ApiKeyInfo, CreatedApiKey, Scope};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use {
    super::{model::ApiKeyForm, service},
    crate::sfn,
};

/// The user's keys and the scopes their plan lets a new key carry.
#[server(endpoint = "api_keys/list")]
pub async fn list_api_keys() -> Result<(Vec<ApiKeyInfo>, Vec<Scope>), AppError> {
    let user = sfn::user()?;
    let db = &sfn::state().db;
    Ok((
        service::list(db, &user).await?,
        service::allowed_scopes(db, &user).await?,
    ))
}

/// A checkbox per scope: a field is sent only when ticked.
#[server(endpoint = "api_keys/create")]
pub async fn create_api_key(
    name: String,
    #[server(default)] read: Option<String>,
    #[server(default)] devices_write: Option<String>,
    #[server(default)] cameras_read: Option<String>,
    #[server(default)] expires_days: String,
) -> Result<CreatedApiKey, AppError> {
    sfn::limit("name", "Name", &name, 64)?;
    sfn::limit("expires_days", "Expiry", &expires_days, 8)?;
    let user = sfn::user()?;
    let scopes = [
        (read, Scope::Read),
        (devices_write, Scope::DevicesWrite),
        (cameras_read, Scope::CamerasRead),
    ]
    .into_iter()
    .filter(|(ticked, _)| ticked.is_some())
    .map(|(_, s)| s.as_str().to_string())
    .collect();
    let form = ApiKeyForm {
        name,
        scopes,
        expires_days,
    };
    service::create(&sfn::state().db, &user, form).await
}

#[server(endpoint = "api_keys/revoke")]
pub async fn revoke_api_key(id: ApiKeyId) -> Result<(), AppError> {
    let user = sfn::user()?;
    service::revoke(&sfn::state().db, &user, id).await
}
