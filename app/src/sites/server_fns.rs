//! Server functions: the signed-in user's home sites.

use leptos::prelude::*;

use super::model::{CreatedSite, SiteInfo};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use {
    super::service::{self, SiteForm},
    crate::sfn,
};

#[server(endpoint = "sites/list")]
pub async fn list_sites() -> Result<Vec<SiteInfo>, AppError> {
    let user = sfn::user()?;
    service::list_sites(&sfn::state().db, user.id).await
}

#[server(endpoint = "sites/create")]
pub async fn create_site(name: String, lan: String) -> Result<CreatedSite, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::create_site(
        &state.db,
        &state.keys,
        crate::vpn::servers::NodeFreshness::of(&state),
        &user,
        SiteForm { name, lan },
    )
    .await
}

#[server(endpoint = "sites/token")]
pub async fn rotate_site_token(id: i64) -> Result<String, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    let token = service::rotate_token(&state.db, &user, id).await?;
    state.node_changes.notify_waiters();
    Ok(token)
}

#[server(endpoint = "sites/delete")]
pub async fn delete_site(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::delete_site(&state.db, &user, id).await?;
    state.node_changes.notify_waiters();
    Ok(())
}

/// The portal's public URL, for the set-up command the sites page shows.
#[server(endpoint = "sites/portal_url")]
pub async fn portal_url() -> Result<String, AppError> {
    sfn::user()?;
    Ok(sfn::state()
        .config
        .public_url
        .trim_end_matches('/')
        .to_string())
}
