//! Mesh flows: networks, invites (mailed, single-use, hashed, expiring),
//! membership, roles and shares. Each change that alters what a node
//! allows bumps the network's server's desired-config version in the same
//! transaction and wakes the long-polling nodes, exactly as device changes
//! do, so a removed member loses access at the node's next poll answer.
//!
//! The plan's member limit (owner included, counted across all of the
//! owner's networks, a person once) is checked with the owner's row locked
//! (PostgreSQL) or under SQLite's single writer, on invite and on accept:
//! pending invites hold a seat, so an owner cannot invite past the limit,
//! and an accept re-checks in case the plan shrank meanwhile.

use std::net::Ipv4Addr;

use tokio::sync::Notify;

use super::{
    model::{
        Access, InviteId, InvitePreview, InviteState, MeshError, MeshRole, NetworkDetail,
        NetworkId, NetworksPage, ShareId, INVITE_TTL_SECS, MAX_OWNED_NETWORKS,
    },
    repo::{self, Tx},
    rules::{self, NewInvite, NewNetwork, NewShare, ShareTarget},
};
use crate::{
    accounts::{model::CurrentUser, repo as accounts_repo, tokens},
    audit,
    cameras::{model::Camera, repo as cameras_repo},
    clock::Clock,
    db::{is_unique_violation, Db},
    error::{AppError, AppResult},
    mail::{self, Mail, Mailer},
    sites::model::LanSubnet,
    vpn::repo as vpn_repo,
};

/// Where mailed links point and whom they name for support.
pub struct Links<'a> {
    pub base_url: &'a str,
    pub support: &'a str,
}

/// The actor's role in a network; a network they are not in is "not found".
async fn role_in(tx: &mut Tx, network: NetworkId, user_id: i64) -> AppResult<MeshRole> {
    repo::role_of(&mut **tx, network, user_id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn network_in(tx: &mut Tx, network: NetworkId) -> AppResult<repo::NetworkRow> {
    repo::network(&mut **tx, network)
        .await?
        .ok_or(AppError::NotFound)
}

/// The plan check for an owner: their limit, or the refusal when the plan
/// has no mesh at all.
async fn owner_limit(tx: &mut Tx, owner_id: i64) -> AppResult<Option<i64>> {
    match repo::member_limit(tx, owner_id).await? {
        Some(0) => Err(MeshError::NotInPlan.into()),
        other => Ok(other),
    }
}

/// The server a new network lives on: the one asked for, else the server
/// of the owner's newest device, else the least-loaded shared server. Never
/// a VIP's dedicated server (other members could not join it).
async fn pick_server(
    tx: &mut Tx,
    owner_id: i64,
    asked: Option<i64>,
) -> AppResult<crate::typed::ServerId> {
    const USABLE: &str = "s.status = 'active' AND s.server_type <> 'vip_dedicated'";
    if let Some(id) = asked {
        let found: Option<crate::typed::ServerId> = sqlx::query_scalar(&format!(
            "SELECT s.id FROM vpn_servers s WHERE s.id = $1 AND {USABLE}"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        return found
            .ok_or_else(|| AppError::invalid("Choose one of the listed servers for the network."));
    }
    let own: Option<crate::typed::ServerId> = sqlx::query_scalar(&format!(
        "SELECT s.id FROM devices d JOIN vpn_servers s ON s.id = d.server_id \
         WHERE d.user_id = $1 AND {USABLE} ORDER BY d.id DESC LIMIT 1"
    ))
    .bind(owner_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = own {
        return Ok(id);
    }
    let any: Option<crate::typed::ServerId> = sqlx::query_scalar(&format!(
        "SELECT s.id FROM vpn_servers s WHERE {USABLE} \
         ORDER BY (SELECT COUNT(*) FROM devices d WHERE d.server_id = s.id) * 1.0 / s.capacity, s.id LIMIT 1"
    ))
    .fetch_optional(&mut **tx)
    .await?;
    any.ok_or(AppError::ServerUnavailable)
}

/// Bumps the node config of the network's server (inside `tx`).
async fn policy_changed(tx: &mut Tx, server_id: crate::typed::ServerId) -> AppResult<()> {
    vpn_repo::bump_version(tx, server_id).await?;
    Ok(())
}

pub async fn overview(db: &Db, user: &CurrentUser) -> AppResult<NetworksPage> {
    let networks = repo::list_for_user(db, user.id).await?;
    let mut tx = db.pool.begin().await?;
    let limit = repo::member_limit(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(NetworksPage {
        networks,
        can_create: limit != Some(0),
        member_limit: limit,
    })
}

pub async fn detail(
    db: &Db,
    clock: &Clock,
    user: &CurrentUser,
    id: NetworkId,
) -> AppResult<NetworkDetail> {
    let now = clock.now();
    let mut tx = db.pool.begin().await?;
    let role = role_in(&mut tx, id, user.id).await?;
    let net = network_in(&mut tx, id).await?;
    let member_limit = repo::member_limit(&mut tx, net.owner_id).await?;
    let seats_used = repo::seats_taken(&mut tx, net.owner_id, now).await?;
    tx.commit().await?;
    let members = repo::list_members(db, id, net.server_id).await?;
    let my_devices_here = members
        .iter()
        .find(|m| m.user_id == user.id)
        .map_or(0, |m| m.devices_here);
    Ok(NetworkDetail {
        id,
        name: net.name,
        description: net.description,
        server_id: net.server_id,
        server_name: net.server_name,
        owner_email: net.owner_email,
        my_role: role,
        my_devices_here,
        member_limit,
        seats_used,
        members,
        invites: if role.manages_members() {
            repo::list_invites(db, id, now).await?
        } else {
            Vec::new()
        },
        shares: repo::list_shares(db, id).await?,
        shareable: if role == MeshRole::Owner {
            repo::shareable(db, user.id).await?
        } else {
            Vec::new()
        },
    })
}

pub async fn create_network(
    db: &Db,
    clock: &Clock,
    user: &CurrentUser,
    new: NewNetwork,
) -> AppResult<NetworkId> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    db.lock_row(&mut tx, "users", user.id).await?;
    owner_limit(&mut tx, user.id).await?;
    if repo::count_owned(&mut tx, user.id).await? >= MAX_OWNED_NETWORKS {
        return Err(MeshError::TooManyNetworks.into());
    }
    let server_id = pick_server(&mut tx, user.id, new.server_id).await?;
    let id = repo::insert_network(
        &mut tx,
        user.id,
        server_id,
        &new.name,
        &new.description,
        now,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::Conflict("You already have a network with that name.".into())
        } else {
            AppError::from(e)
        }
    })?;
    repo::insert_member(&mut tx, id, user.id, MeshRole::Owner, now).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.network_created",
        &format!("network {id}"),
        &new.name,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_network(
    db: &Db,
    nodes: &Notify,
    user: &CurrentUser,
    id: NetworkId,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    if role_in(&mut tx, id, user.id).await? != MeshRole::Owner {
        return Err(MeshError::RoleRequired.into());
    }
    let net = network_in(&mut tx, id).await?;
    repo::delete_network(&mut tx, id).await?;
    policy_changed(&mut tx, net.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.network_deleted",
        &format!("network {id}"),
        &net.name,
    )
    .await?;
    tx.commit().await?;
    nodes.notify_waiters();
    Ok(())
}

/// Sends an invite; returns its id. The code is mailed, never stored.
pub async fn invite(
    db: &Db,
    clock: &Clock,
    mailer: &Mailer,
    links: &Links<'_>,
    user: &CurrentUser,
    new: NewInvite,
) -> AppResult<InviteId> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let role = role_in(&mut tx, new.network, user.id).await?;
    rules::may_invite(role, new.role)?;
    let net = network_in(&mut tx, new.network).await?;
    db.lock_row(&mut tx, "users", net.owner_id).await?;
    let limit = owner_limit(&mut tx, net.owner_id).await?;
    let already: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mesh_members m JOIN users u ON u.id = m.user_id \
         WHERE m.network_id = $1 AND u.email = $2",
    )
    .bind(new.network.0)
    .bind(&new.email)
    .fetch_one(&mut *tx)
    .await?;
    if already > 0 {
        return Err(AppError::Conflict(
            "That address is already a member of this network.".into(),
        ));
    }
    if let Some(limit) = limit {
        if !repo::holds_seat(&mut tx, net.owner_id, &new.email, now).await?
            && repo::seats_taken(&mut tx, net.owner_id, now).await? >= limit
        {
            return Err(MeshError::MemberLimit(limit).into());
        }
    }
    repo::revoke_pending_for(&mut tx, new.network, &new.email, now).await?;
    let code = tokens::random_token();
    let expires_at = now + INVITE_TTL_SECS;
    let id = repo::insert_invite(
        &mut tx,
        new.network,
        &new.email,
        new.role,
        &tokens::hash_token(&code),
        user.id,
        now,
        expires_at,
    )
    .await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.invite_sent",
        &format!("network {}", new.network),
        &format!("{} as {}", new.email, new.role.as_str()),
    )
    .await?;
    tx.commit().await?;
    let inviter = if user.first_name.is_empty() {
        user.email.clone()
    } else {
        user.first_name.clone()
    };
    let mail = Mail::MeshInvite(mail::templates::MeshInvite {
        inviter,
        network: net.name,
        role: new.role.as_str(),
        link: format!("{}/mesh/invite?code={code}", links.base_url),
        expires: crate::ui::components::notice::format_time(expires_at),
        support: links.support.to_string(),
    });
    mailer.send(&new.email, mail).await;
    Ok(id)
}

pub async fn revoke_invite(
    db: &Db,
    clock: &Clock,
    user: &CurrentUser,
    network: NetworkId,
    invite: InviteId,
) -> AppResult<()> {
    let mut tx = db.pool.begin().await?;
    let role = role_in(&mut tx, network, user.id).await?;
    tx.commit().await?;
    if !role.manages_members() {
        return Err(MeshError::RoleRequired.into());
    }
    if !repo::revoke_invite(db, network, invite, clock.now()).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        db,
        Some(user.id),
        "mesh.invite_revoked",
        &format!("network {network}"),
        "",
        &format!("invite {invite}"),
    )
    .await;
    Ok(())
}

fn invite_hash(code: &str) -> AppResult<String> {
    let code = code.trim();
    if !tokens::looks_like_token(code) {
        return Err(MeshError::InviteInvalid.into());
    }
    Ok(tokens::hash_token(code))
}

fn refusal(state: InviteState) -> Option<MeshError> {
    match state {
        InviteState::Pending => None,
        InviteState::Used => Some(MeshError::InviteUsed),
        InviteState::Expired => Some(MeshError::InviteExpired),
        InviteState::Revoked => Some(MeshError::InviteRevoked),
    }
}

/// What the invite link's page shows; works signed in or not.
pub async fn preview_invite(
    db: &Db,
    clock: &Clock,
    viewer: Option<&CurrentUser>,
    code: &str,
) -> AppResult<InvitePreview> {
    let hash = invite_hash(code)?;
    let inv = repo::invite_by_hash(&db.pool, &hash)
        .await?
        .ok_or(MeshError::InviteInvalid)?;
    let account_exists = accounts_repo::find_by_email(db, &inv.email)
        .await?
        .is_some();
    let already_member = match viewer {
        Some(u) => repo::role_of(&db.pool, inv.network, u.id).await?.is_some(),
        None => false,
    };
    Ok(InvitePreview {
        network_name: inv.network_name.clone(),
        invited_by: inv.invited_by.clone(),
        role: inv.role,
        state: inv.state(clock.now()),
        expires_at: inv.expires_at,
        email: inv.email,
        account_exists,
        signed_in_as: viewer.map(|u| u.email.clone()),
        already_member,
    })
}

/// Whether the invite behind `code` could be accepted by a new account
/// for its address (checked before the sign-up creates one).
pub async fn invite_for_signup(db: &Db, clock: &Clock, code: &str) -> AppResult<String> {
    let inv = repo::invite_by_hash(&db.pool, &invite_hash(code)?)
        .await?
        .ok_or(MeshError::InviteInvalid)?;
    if let Some(e) = refusal(inv.state(clock.now())) {
        return Err(e.into());
    }
    Ok(inv.email)
}

/// Joins the signed-in user to the invite's network.
pub async fn accept_invite(
    db: &Db,
    clock: &Clock,
    nodes: &Notify,
    user: &CurrentUser,
    code: &str,
) -> AppResult<NetworkId> {
    let hash = invite_hash(code)?;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let inv = repo::invite_by_hash(&mut *tx, &hash)
        .await?
        .ok_or(MeshError::InviteInvalid)?;
    // Every accept for this owner queues here, so the count below sees the
    // others' committed members.
    db.lock_row(&mut tx, "users", inv.owner_id).await?;
    if let Some(e) = refusal(inv.state(now)) {
        return Err(e.into());
    }
    if !inv.email.eq_ignore_ascii_case(&user.email) {
        return Err(MeshError::InviteNotForYou.into());
    }
    if repo::role_of(&mut *tx, inv.network, user.id)
        .await?
        .is_some()
    {
        return Err(MeshError::AlreadyMember.into());
    }
    if let Some(limit) = owner_limit(&mut tx, inv.owner_id).await? {
        if !repo::is_member_of_owner(&mut tx, inv.owner_id, user.id).await?
            && repo::members_taken(&mut tx, inv.owner_id).await? >= limit
        {
            return Err(MeshError::MemberLimit(limit).into());
        }
    }
    if !repo::use_invite(&mut tx, inv.id, user.id, now).await? {
        return Err(MeshError::InviteUsed.into());
    }
    repo::insert_member(&mut tx, inv.network, user.id, inv.role, now).await?;
    policy_changed(&mut tx, inv.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.member_joined",
        &format!("network {}", inv.network),
        &format!("{} as {}", user.email, inv.role.as_str()),
    )
    .await?;
    tx.commit().await?;
    nodes.notify_waiters();
    Ok(inv.network)
}

pub async fn leave(db: &Db, nodes: &Notify, user: &CurrentUser, id: NetworkId) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    if role_in(&mut tx, id, user.id).await? == MeshRole::Owner {
        return Err(MeshError::OwnerStays.into());
    }
    let net = network_in(&mut tx, id).await?;
    repo::delete_member(&mut tx, id, user.id).await?;
    policy_changed(&mut tx, net.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.member_left",
        &format!("network {id}"),
        &user.email,
    )
    .await?;
    tx.commit().await?;
    nodes.notify_waiters();
    Ok(())
}

pub async fn remove_member(
    db: &Db,
    nodes: &Notify,
    user: &CurrentUser,
    id: NetworkId,
    member_user_id: i64,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let actor = role_in(&mut tx, id, user.id).await?;
    let target = repo::role_of(&mut *tx, id, member_user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    rules::may_remove(actor, target)?;
    let net = network_in(&mut tx, id).await?;
    if !repo::delete_member(&mut tx, id, member_user_id).await? {
        return Err(AppError::NotFound);
    }
    policy_changed(&mut tx, net.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.member_removed",
        &format!("network {id}"),
        &format!("user {member_user_id}"),
    )
    .await?;
    tx.commit().await?;
    nodes.notify_waiters();
    Ok(())
}

/// The owner makes a member an admin or an admin a member.
pub async fn set_role(
    db: &Db,
    user: &CurrentUser,
    id: NetworkId,
    member_user_id: i64,
    role: MeshRole,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    if role_in(&mut tx, id, user.id).await? != MeshRole::Owner {
        return Err(MeshError::RoleRequired.into());
    }
    let current = repo::role_of(&mut *tx, id, member_user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if current == MeshRole::Owner || role == MeshRole::Owner {
        return Err(MeshError::OwnerStays.into());
    }
    sqlx::query("UPDATE mesh_members SET role = $1 WHERE network_id = $2 AND user_id = $3")
        .bind(role.as_str())
        .bind(id.0)
        .bind(member_user_id)
        .execute(&mut *tx)
        .await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.role_changed",
        &format!("network {id}"),
        &format!(
            "user {member_user_id}: {} → {}",
            current.as_str(),
            role.as_str()
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the owner has home site `site_id` with `ip` on its LAN.
async fn site_holds(tx: &mut Tx, owner_id: i64, site_id: i64, ip: Ipv4Addr) -> AppResult<bool> {
    let lan: Option<String> =
        sqlx::query_scalar("SELECT lan_cidr FROM home_sites WHERE id = $1 AND user_id = $2")
            .bind(site_id)
            .bind(owner_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(lan) = lan else {
        return Err(MeshError::ShareNotOwned.into());
    };
    Ok(lan.parse::<LanSubnet>().is_ok_and(|l| l.net().contains(ip)))
}

pub async fn share(
    db: &Db,
    clock: &Clock,
    nodes: &Notify,
    user: &CurrentUser,
    new: NewShare,
) -> AppResult<ShareId> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    if role_in(&mut tx, new.network, user.id).await? != MeshRole::Owner {
        return Err(MeshError::RoleRequired.into());
    }
    let net = network_in(&mut tx, new.network).await?;
    if let ShareTarget::SiteHost { site_id, ip } = new.target {
        if !site_holds(&mut tx, user.id, site_id, ip).await? {
            return Err(AppError::invalid(
                "That address is not on the home site's network.",
            ));
        }
    }
    let (name, _ip, is_camera) = repo::share_target(&mut tx, user.id, new.target)
        .await?
        .ok_or(MeshError::ShareNotOwned)?;
    if new.access == Access::View && !is_camera {
        return Err(AppError::invalid(
            "View access is for cameras (live view through the portal); share this device with use or full access.",
        ));
    }
    let name = new.name.clone().unwrap_or(name);
    let id = repo::insert_share(&mut tx, user.id, &new, &name, now).await?;
    policy_changed(&mut tx, net.server_id).await?;
    let ports = rules::format_ports(&new.ports);
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.share_created",
        &format!("network {}", new.network),
        &format!("{name}: {} {ports}", new.access.as_str()),
    )
    .await?;
    tx.commit().await?;
    nodes.notify_waiters();
    Ok(id)
}

pub async fn unshare(
    db: &Db,
    nodes: &Notify,
    user: &CurrentUser,
    network: NetworkId,
    share: ShareId,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    if role_in(&mut tx, network, user.id).await? != MeshRole::Owner {
        return Err(MeshError::RoleRequired.into());
    }
    let net = network_in(&mut tx, network).await?;
    if !repo::delete_share(&mut tx, network, share).await? {
        return Err(AppError::NotFound);
    }
    policy_changed(&mut tx, net.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "mesh.share_deleted",
        &format!("network {network}"),
        &format!("share {share}"),
    )
    .await?;
    tx.commit().await?;
    nodes.notify_waiters();
    Ok(())
}

/// A camera as a member who does not own it sees it: no LAN details, no
/// credentials, nothing to edit.
fn for_member(mut c: Camera) -> Camera {
    c.ip = String::new();
    c.mac = None;
    c.main_stream_url = String::new();
    c.sub_stream_url = None;
    c.snapshot_url = c.snapshot_url.map(|_| String::new());
    c.username = None;
    c.has_password = false;
    c.gateway_id = None;
    c.gateway_name = None;
    c.lan_device_id = None;
    c
}

/// Cameras shared with the user through their networks, for the grid.
pub async fn shared_cameras(db: &Db, user_id: i64) -> AppResult<Vec<Camera>> {
    let mut out = Vec::new();
    for (id, owner) in repo::viewable_cameras(db, user_id).await? {
        if let Some(c) = cameras_repo::find_camera(db, owner, id).await? {
            out.push(for_member(c));
        }
    }
    Ok(out)
}

/// The camera `user_id` may watch through a share (as stored, for the live
/// view and snapshots), or `None`.
pub async fn viewable_camera(db: &Db, user_id: i64, camera_id: i64) -> AppResult<Option<Camera>> {
    let Some(owner) = repo::shared_camera_owner(db, user_id, camera_id).await? else {
        return Ok(None);
    };
    Ok(cameras_repo::find_camera(db, owner, camera_id).await?)
}

/// The same camera, trimmed for the member's page.
pub async fn shared_camera_detail(
    db: &Db,
    user_id: i64,
    camera_id: i64,
) -> AppResult<Option<Camera>> {
    Ok(viewable_camera(db, user_id, camera_id)
        .await?
        .map(for_member))
}
