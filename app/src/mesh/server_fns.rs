//! Server functions: the user's mesh networks, invites, members, shares.
//! Each form is one argument (`form[...]` fields in a posted form) and is
//! validated by its `TryFrom` in `rules`.

use leptos::prelude::*;

use crate::error::AppError;

use super::{
    model::{InvitePreview, NetworkDetail, NetworksPage},
    rules::{InviteForm, NetworkForm, ShareForm},
};
#[cfg(feature = "ssr")]
use {
    super::{
        model::{InviteId, NetworkId, ShareId},
        rules::{NewInvite, NewNetwork, NewShare},
        service,
    },
    crate::sfn,
};

#[cfg(feature = "ssr")]
fn links(state: &crate::state::AppState) -> (String, String) {
    (
        state.config.public_url_trimmed().to_string(),
        state.config.support_email.clone(),
    )
}

#[server(endpoint = "mesh/networks")]
pub async fn mesh_networks() -> Result<NetworksPage, AppError> {
    let user = sfn::user()?;
    service::overview(&sfn::state().db, &user).await
}

#[server(endpoint = "mesh/network")]
pub async fn mesh_network(id: i64) -> Result<NetworkDetail, AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::detail(&state.db, &state.clock, &user, NetworkId(id)).await
}

/// Refused with MESH_NOT_IN_PLAN on plans without mesh members.
#[server(endpoint = "mesh/create")]
pub async fn create_network(form: NetworkForm) -> Result<i64, AppError> {
    let user = sfn::user()?;
    let new = NewNetwork::try_from(form).map_err(AppError::invalid)?;
    let state = sfn::state();
    let id = service::create_network(&state.db, &state.clock, &user, new).await?;
    Ok(id.0)
}

#[server(endpoint = "mesh/delete")]
pub async fn delete_network(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::delete_network(&state.db, &state.node_changes, &user, NetworkId(id)).await?;
    leptos_axum::redirect("/mesh");
    Ok(())
}

#[server(endpoint = "mesh/invite")]
pub async fn invite_member(form: InviteForm) -> Result<String, AppError> {
    sfn::limit("email", "E-mail", &form.email, 254)?;
    let user = sfn::user()?;
    let new = NewInvite::try_from(form).map_err(AppError::invalid)?;
    let email = new.email.clone();
    let state = sfn::state();
    let (base_url, support) = links(&state);
    let links = service::Links {
        base_url: &base_url,
        support: &support,
    };
    service::invite(&state.db, &state.clock, &state.mailer, &links, &user, new).await?;
    Ok(format!(
        "Invitation sent to {email}. The link works for 7 days."
    ))
}

#[server(endpoint = "mesh/invite_revoke")]
pub async fn revoke_invite(network_id: i64, invite_id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::revoke_invite(
        &state.db,
        &state.clock,
        &user,
        NetworkId(network_id),
        InviteId(invite_id),
    )
    .await
}

/// What the invite link's page shows (signed in or not).
#[server(endpoint = "mesh/invite_preview")]
pub async fn preview_invite(code: String) -> Result<InvitePreview, AppError> {
    sfn::limit("code", "Code", &code, 128)?;
    let viewer = sfn::request_context()?.user;
    let state = sfn::state();
    service::preview_invite(&state.db, &state.clock, viewer.as_ref(), &code).await
}

#[server(endpoint = "mesh/accept")]
pub async fn accept_invite(code: String) -> Result<i64, AppError> {
    sfn::limit("code", "Code", &code, 128)?;
    let user = sfn::user()?;
    let state = sfn::state();
    let id =
        service::accept_invite(&state.db, &state.clock, &state.node_changes, &user, &code).await?;
    Ok(id.0)
}

/// A new user signs up through the invite link: the mailed code proves the
/// address, so the account starts verified, signed in, and joins.
#[server(endpoint = "auth/mesh_signup")]
pub async fn signup_with_invite(
    code: String,
    first_name: String,
    password: String,
) -> Result<i64, AppError> {
    sfn::limit("code", "Code", &code, 128)?;
    sfn::limit("first_name", "Name", &first_name, 100)?;
    sfn::limit("password", "Password", &password, 128)?;
    let ctx = sfn::request_context()?;
    let state = sfn::state();
    let email = service::invite_for_signup(&state.db, &state.clock, &code).await?;
    let (user, session) = crate::accounts::service::register_verified(
        &state,
        &email,
        &password,
        &first_name,
        &ctx.client,
    )
    .await?;
    sfn::set_cookie(
        crate::http::cookies::SESSION,
        &session,
        crate::accounts::tokens::SESSION_TTL,
    );
    let id =
        service::accept_invite(&state.db, &state.clock, &state.node_changes, &user, &code).await?;
    Ok(id.0)
}

#[server(endpoint = "mesh/leave")]
pub async fn leave_network(id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::leave(&state.db, &state.node_changes, &user, NetworkId(id)).await?;
    leptos_axum::redirect("/mesh");
    Ok(())
}

#[server(endpoint = "mesh/remove")]
pub async fn remove_member(network_id: i64, user_id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::remove_member(
        &state.db,
        &state.node_changes,
        &user,
        NetworkId(network_id),
        user_id,
    )
    .await
}

/// The owner makes a member an admin (`admin`) or back (`member`).
#[server(endpoint = "mesh/role")]
pub async fn set_member_role(network_id: i64, user_id: i64, role: String) -> Result<(), AppError> {
    let user = sfn::user()?;
    let role = super::model::MeshRole::parse(role.trim())
        .ok_or_else(|| AppError::invalid_field("role", "Choose admin or member."))?;
    service::set_role(
        &sfn::state().db,
        &user,
        NetworkId(network_id),
        user_id,
        role,
    )
    .await
}

/// Refused with SHARE_NOT_OWNED for anything not in the owner's home.
#[server(endpoint = "mesh/share")]
pub async fn share_device(form: ShareForm) -> Result<i64, AppError> {
    for (field, label, value, max) in [
        ("target", "Device", &form.target, 40),
        ("host_ip", "Address", &form.host_ip, 64),
        ("name", "Name", &form.name, 64),
        ("access", "Access", &form.access, 8),
        ("ports", "Ports", &form.ports, 400),
    ] {
        sfn::limit(field, label, value, max)?;
    }
    let user = sfn::user()?;
    let new = NewShare::try_from(form).map_err(AppError::invalid)?;
    let state = sfn::state();
    let id = service::share(&state.db, &state.clock, &state.node_changes, &user, new).await?;
    Ok(id.0)
}

#[server(endpoint = "mesh/unshare")]
pub async fn unshare_device(network_id: i64, share_id: i64) -> Result<(), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    service::unshare(
        &state.db,
        &state.node_changes,
        &user,
        NetworkId(network_id),
        ShareId(share_id),
    )
    .await
}
