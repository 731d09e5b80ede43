//! Mesh storage: networks, members, invites, shares, and what the policy
//! reads for a server. A network a user is not a member of reads as "not
//! found" everywhere.

use sqlx::{Any, Executor, Row, Transaction};

use super::{
    model::{
        Access, InviteId, InviteInfo, InviteState, Member, MeshRole, NetworkId, NetworkSummary,
        ShareId, ShareInfo, ShareKind, Shareable,
    },
    policy::MemberDevice,
    rules::{format_ports, parse_ports, NewShare, ShareTarget},
};
use crate::{db::Db, vpn::ipam::Pool};

pub type Tx = Transaction<'static, Any>;

// ---- plan ----

/// The owner's plan limit on mesh members (owner included), read inside
/// the write transaction: `None` unlimited (VIPs, a plan with -1), `Some(0)`
/// no mesh. From the entitlements, like every plan limit.
pub async fn member_limit(tx: &mut Tx, owner_id: i64) -> sqlx::Result<Option<i64>> {
    Ok(
        crate::entitlements::Entitlements::for_user(&mut **tx, owner_id)
            .await?
            .mesh_members
            .max(),
    )
}

/// People counted against the owner's limit: everyone in any of the owner's
/// networks, plus addresses with a pending invite (a person counts once).
pub async fn seats_taken(tx: &mut Tx, owner_id: i64, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM ( \
           SELECT u.email AS who FROM mesh_members m JOIN mesh_networks n ON n.id = m.network_id \
             JOIN users u ON u.id = m.user_id WHERE n.owner_id = $1 \
           UNION \
           SELECT i.email AS who FROM mesh_invites i JOIN mesh_networks n ON n.id = i.network_id \
             WHERE n.owner_id = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 \
         ) seats",
    )
    .bind(owner_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Members across the owner's networks (pending invites not counted).
pub async fn members_taken(tx: &mut Tx, owner_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(DISTINCT m.user_id) FROM mesh_members m JOIN mesh_networks n ON n.id = m.network_id \
         WHERE n.owner_id = $1",
    )
    .bind(owner_id)
    .fetch_one(&mut **tx)
    .await
}

/// Whether `email` already holds a seat with this owner (a member of
/// another of their networks, or invited already).
pub async fn holds_seat(tx: &mut Tx, owner_id: i64, email: &str, now: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM mesh_members m JOIN mesh_networks n ON n.id = m.network_id \
                 JOIN users u ON u.id = m.user_id WHERE n.owner_id = $1 AND u.email = $2) \
              + (SELECT COUNT(*) FROM mesh_invites i JOIN mesh_networks n ON n.id = i.network_id \
                 WHERE n.owner_id = $1 AND i.email = $2 AND i.used_at IS NULL AND i.revoked_at IS NULL \
                 AND i.expires_at > $3)",
    )
    .bind(owner_id)
    .bind(email)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

pub async fn is_member_of_owner(tx: &mut Tx, owner_id: i64, user_id: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mesh_members m JOIN mesh_networks n ON n.id = m.network_id \
         WHERE n.owner_id = $1 AND m.user_id = $2",
    )
    .bind(owner_id)
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

// ---- networks ----

pub async fn count_owned(tx: &mut Tx, owner_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM mesh_networks WHERE owner_id = $1")
        .bind(owner_id)
        .fetch_one(&mut **tx)
        .await
}

pub async fn insert_network(
    tx: &mut Tx,
    owner_id: i64,
    server_id: crate::typed::ServerId,
    name: &str,
    description: &str,
    now: i64,
) -> sqlx::Result<NetworkId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mesh_networks (owner_id, server_id, name, description, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(owner_id)
    .bind(server_id)
    .bind(name)
    .bind(description)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(NetworkId(id))
}

pub async fn delete_network(tx: &mut Tx, id: NetworkId) -> sqlx::Result<bool> {
    let res = sqlx::query("DELETE FROM mesh_networks WHERE id = $1")
        .bind(id.0)
        .execute(&mut **tx)
        .await?;
    Ok(res.rows_affected() == 1)
}

/// A network's own columns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NetworkRow {
    pub id: NetworkId,
    pub owner_id: i64,
    pub owner_email: String,
    pub server_id: crate::typed::ServerId,
    pub server_name: String,
    pub name: String,
    pub description: String,
}

pub async fn network<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: NetworkId,
) -> sqlx::Result<Option<NetworkRow>> {
    sqlx::query_as(
        "SELECT n.id, n.owner_id, u.email AS owner_email, n.server_id, s.name AS server_name, n.name, n.description \
         FROM mesh_networks n JOIN users u ON u.id = n.owner_id JOIN vpn_servers s ON s.id = n.server_id \
         WHERE n.id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn list_for_user(db: &Db, user_id: i64) -> sqlx::Result<Vec<NetworkSummary>> {
    sqlx::query_as(
        "SELECT n.id, n.name, n.description, u.email AS owner_email, s.name AS server_name, m.role AS my_role, \
                (SELECT COUNT(*) FROM mesh_members x WHERE x.network_id = n.id) AS members, \
                (SELECT COUNT(*) FROM mesh_shares x WHERE x.network_id = n.id) AS shares \
         FROM mesh_members m JOIN mesh_networks n ON n.id = m.network_id \
         JOIN users u ON u.id = n.owner_id JOIN vpn_servers s ON s.id = n.server_id \
         WHERE m.user_id = $1 ORDER BY n.name, n.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

// ---- members ----

pub async fn role_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    network: NetworkId,
    user_id: i64,
) -> sqlx::Result<Option<MeshRole>> {
    sqlx::query_scalar("SELECT role FROM mesh_members WHERE network_id = $1 AND user_id = $2")
        .bind(network)
        .bind(user_id)
        .fetch_optional(ex)
        .await
}

pub async fn insert_member(
    tx: &mut Tx,
    network: NetworkId,
    user_id: i64,
    r: MeshRole,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mesh_members (network_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(network.0)
    .bind(user_id)
    .bind(r.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Removes a non-owner member; false when there was none.
pub async fn delete_member(tx: &mut Tx, network: NetworkId, user_id: i64) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "DELETE FROM mesh_members WHERE network_id = $1 AND user_id = $2 AND role <> 'owner'",
    )
    .bind(network.0)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn list_members(
    db: &Db,
    network: NetworkId,
    server_id: crate::typed::ServerId,
) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as(
        "SELECT m.user_id, u.email, u.first_name, m.role, m.joined_at, \
                (SELECT COUNT(*) FROM devices d WHERE d.user_id = m.user_id AND d.server_id = $2) AS devices_here \
         FROM mesh_members m JOIN users u ON u.id = m.user_id WHERE m.network_id = $1 \
         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.email",
    )
    .bind(network)
    .bind(server_id)
    .fetch_all(&db.pool)
    .await
}

// ---- invites ----

#[allow(clippy::too_many_arguments)]
pub async fn insert_invite(
    tx: &mut Tx,
    network: NetworkId,
    email: &str,
    r: MeshRole,
    code_hash: &str,
    invited_by: i64,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<InviteId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mesh_invites (network_id, email, role, code_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(network.0)
    .bind(email)
    .bind(r.as_str())
    .bind(code_hash)
    .bind(invited_by)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(InviteId(id))
}

/// Withdraws the pending invites of `email` to `network` (a new invite
/// replaces them, so only the newest link works).
pub async fn revoke_pending_for(
    tx: &mut Tx,
    network: NetworkId,
    email: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mesh_invites SET revoked_at = $1 WHERE network_id = $2 AND email = $3 \
         AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(network.0)
    .bind(email)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn revoke_invite(
    db: &Db,
    network: NetworkId,
    id: InviteId,
    now: i64,
) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE mesh_invites SET revoked_at = $1 WHERE id = $2 AND network_id = $3 \
         AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id.0)
    .bind(network.0)
    .execute(&db.pool)
    .await?;
    Ok(res.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub struct InviteRow {
    pub id: InviteId,
    pub network: NetworkId,
    pub network_name: String,
    pub owner_id: i64,
    pub server_id: crate::typed::ServerId,
    pub email: String,
    pub role: MeshRole,
    pub invited_by: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl InviteRow {
    pub fn state(&self, now: i64) -> InviteState {
        if self.used_at.is_some() {
            InviteState::Used
        } else if self.revoked_at.is_some() {
            InviteState::Revoked
        } else if self.expires_at <= now {
            InviteState::Expired
        } else {
            InviteState::Pending
        }
    }
}

pub async fn invite_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    code_hash: &str,
) -> sqlx::Result<Option<InviteRow>> {
    let row = sqlx::query(
        "SELECT i.id, i.network_id, n.name AS network_name, n.owner_id, n.server_id, i.email, i.role, \
                COALESCE(u.first_name, '') AS inviter_name, COALESCE(u.email, '') AS inviter_email, \
                i.expires_at, i.used_at, i.revoked_at \
         FROM mesh_invites i JOIN mesh_networks n ON n.id = i.network_id \
         LEFT JOIN users u ON u.id = i.invited_by WHERE i.code_hash = $1",
    )
    .bind(code_hash)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        let name: String = r.try_get("inviter_name")?;
        let email: String = r.try_get("inviter_email")?;
        Ok(InviteRow {
            id: InviteId(r.try_get("id")?),
            network: NetworkId(r.try_get("network_id")?),
            network_name: r.try_get("network_name")?,
            owner_id: r.try_get("owner_id")?,
            server_id: r.try_get("server_id")?,
            email: r.try_get("email")?,
            role: r.try_get("role")?,
            invited_by: if name.is_empty() {
                email
            } else {
                format!("{name} ({email})")
            },
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    })
    .transpose()
}

/// Marks the invite used by `user_id`; false when it was used or withdrawn
/// meanwhile (the single-use guarantee, under any concurrency).
pub async fn use_invite(tx: &mut Tx, id: InviteId, user_id: i64, now: i64) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE mesh_invites SET used_at = $1, used_by = $2 WHERE id = $3 \
         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(user_id)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn list_invites(db: &Db, network: NetworkId, now: i64) -> sqlx::Result<Vec<InviteInfo>> {
    let rows = sqlx::query(
        "SELECT id, email, role, created_at, expires_at, used_at, revoked_at FROM mesh_invites \
         WHERE network_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(network.0)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let expires_at: i64 = r.try_get("expires_at")?;
            let state = if r.try_get::<Option<i64>, _>("used_at")?.is_some() {
                InviteState::Used
            } else if r.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
                InviteState::Revoked
            } else if expires_at <= now {
                InviteState::Expired
            } else {
                InviteState::Pending
            };
            Ok(InviteInfo {
                id: InviteId(r.try_get("id")?),
                email: r.try_get("email")?,
                role: r.try_get("role")?,
                created_at: r.try_get("created_at")?,
                expires_at,
                state,
            })
        })
        .collect()
}

// ---- shares ----

/// The owner's inventory device or camera named by a share: (name, LAN
/// address, is a camera), or `None` when the owner has no such thing.
pub async fn share_target(
    tx: &mut Tx,
    owner_id: i64,
    target: ShareTarget,
) -> sqlx::Result<Option<(String, String, bool)>> {
    match target {
        ShareTarget::LanDevice(id) => {
            let row = sqlx::query(
                "SELECT COALESCE(d.label, d.hostname, d.model, d.mac) AS name, d.ip, d.is_camera, \
                        (SELECT COUNT(*) FROM cameras c WHERE c.lan_device_id = d.id AND c.user_id = d.user_id) AS cams \
                 FROM lan_devices d WHERE d.id = $1 AND d.user_id = $2",
            )
            .bind(id)
            .bind(owner_id)
            .fetch_optional(&mut **tx)
            .await?;
            row.map(|r| {
                let is_camera: i64 = r.try_get("is_camera")?;
                let cams: i64 = r.try_get("cams")?;
                Ok((
                    r.try_get("name")?,
                    r.try_get("ip")?,
                    is_camera != 0 || cams > 0,
                ))
            })
            .transpose()
        }
        ShareTarget::Camera(id) => {
            let row = sqlx::query("SELECT name, ip FROM cameras WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(owner_id)
                .fetch_optional(&mut **tx)
                .await?;
            row.map(|r| Ok((r.try_get("name")?, r.try_get("ip")?, true)))
                .transpose()
        }
        ShareTarget::SiteHost { ip, .. } => Ok(Some((ip.to_string(), ip.to_string(), false))),
    }
}

pub async fn insert_share(
    tx: &mut Tx,
    owner_id: i64,
    s: &NewShare,
    name: &str,
    now: i64,
) -> sqlx::Result<ShareId> {
    let (kind, lan_device, camera, site, host) = match s.target {
        ShareTarget::LanDevice(id) => (ShareKind::LanDevice, Some(id), None, None, None),
        ShareTarget::Camera(id) => (ShareKind::Camera, None, Some(id), None, None),
        ShareTarget::SiteHost { site_id, ip } => (
            ShareKind::SiteHost,
            None,
            None,
            Some(site_id),
            Some(ip.to_string()),
        ),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mesh_shares (network_id, owner_id, kind, lan_device_id, camera_id, site_id, host_ip, name, \
         access, ports, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(s.network.0)
    .bind(owner_id)
    .bind(kind.as_str())
    .bind(lan_device)
    .bind(camera)
    .bind(site)
    .bind(host)
    .bind(name)
    .bind(s.access.as_str())
    .bind(format_ports(&s.ports))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(ShareId(id))
}

pub async fn delete_share(tx: &mut Tx, network: NetworkId, id: ShareId) -> sqlx::Result<bool> {
    let res = sqlx::query("DELETE FROM mesh_shares WHERE id = $1 AND network_id = $2")
        .bind(id.0)
        .bind(network.0)
        .execute(&mut **tx)
        .await?;
    Ok(res.rows_affected() == 1)
}

const SHARE_SELECT: &str = "SELECT s.id, s.network_id, s.owner_id, s.kind, s.name, s.access, s.ports, s.site_id, \
    s.camera_id, s.created_at, COALESCE(ld.ip, c.ip, s.host_ip, '') AS lan_ip, \
    COALESCE(s.camera_id, (SELECT MIN(c2.id) FROM cameras c2 WHERE c2.lan_device_id = s.lan_device_id \
      AND c2.user_id = s.owner_id)) AS shown_camera \
    FROM mesh_shares s LEFT JOIN lan_devices ld ON ld.id = s.lan_device_id \
    LEFT JOIN cameras c ON c.id = s.camera_id";

pub async fn list_shares(db: &Db, network: NetworkId) -> sqlx::Result<Vec<ShareInfo>> {
    let rows = sqlx::query(&format!(
        "{SHARE_SELECT} WHERE s.network_id = $1 ORDER BY s.id"
    ))
    .bind(network.0)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(ShareInfo {
                id: ShareId(r.try_get("id")?),
                kind: ShareKind::parse(&kind)
                    .ok_or_else(|| sqlx::Error::Decode(format!("share kind {kind:?}").into()))?,
                name: r.try_get("name")?,
                lan_ip: r.try_get("lan_ip")?,
                access: r.try_get("access")?,
                ports: parse_ports(&r.try_get::<String, _>("ports")?).unwrap_or_default(),
                camera_id: r.try_get("shown_camera")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// What the owner could share: their inventory devices and cameras.
pub async fn shareable(db: &Db, owner_id: i64) -> sqlx::Result<Vec<Shareable>> {
    let mut out = Vec::new();
    let rows = sqlx::query(
        "SELECT id, COALESCE(label, hostname, model, mac) AS name, ip, is_camera FROM lan_devices \
         WHERE user_id = $1 ORDER BY ip, id LIMIT 500",
    )
    .bind(owner_id)
    .fetch_all(&db.pool)
    .await?;
    for r in &rows {
        out.push(Shareable {
            kind: ShareKind::LanDevice,
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            ip: r.try_get("ip")?,
            is_camera: r.try_get::<i64, _>("is_camera")? != 0,
        });
    }
    let rows = sqlx::query("SELECT id, name, ip FROM cameras WHERE user_id = $1 ORDER BY id")
        .bind(owner_id)
        .fetch_all(&db.pool)
        .await?;
    for r in &rows {
        out.push(Shareable {
            kind: ShareKind::Camera,
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            ip: r.try_get("ip")?,
            is_camera: true,
        });
    }
    Ok(out)
}

/// Cameras a user may view through a network they belong to (shared
/// directly, or through the inventory device the camera is linked to, at
/// any access level): (camera id, its owner). Their own are not listed.
pub async fn viewable_cameras(db: &Db, user_id: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT c.id, c.user_id FROM cameras c JOIN mesh_shares s ON s.owner_id = c.user_id \
           AND (s.camera_id = c.id OR (s.lan_device_id IS NOT NULL AND s.lan_device_id = c.lan_device_id)) \
         JOIN mesh_members m ON m.network_id = s.network_id AND m.user_id = $1 \
         WHERE c.user_id <> $1 ORDER BY c.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The owner of camera `camera_id` when `user_id` may view it through a share.
pub async fn shared_camera_owner(
    db: &Db,
    user_id: i64,
    camera_id: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT c.user_id FROM cameras c JOIN mesh_shares s ON s.owner_id = c.user_id \
           AND (s.camera_id = c.id OR (s.lan_device_id IS NOT NULL AND s.lan_device_id = c.lan_device_id)) \
         JOIN mesh_members m ON m.network_id = s.network_id AND m.user_id = $1 \
         WHERE c.id = $2 LIMIT 1",
    )
    .bind(user_id)
    .bind(camera_id)
    .fetch_optional(&db.pool)
    .await
}

/// Whether a member's share of someone's camera gives full access (PTZ):
/// None when the camera is not shared with them at all.
pub async fn shared_camera_full_access(
    db: &Db,
    user_id: i64,
    camera_id: i64,
) -> sqlx::Result<Option<bool>> {
    let best: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(MAX(CASE WHEN s.access = 'full' THEN 1 ELSE 0 END) AS BIGINT) FROM cameras c \
         JOIN mesh_shares s ON s.owner_id = c.user_id \
           AND (s.camera_id = c.id OR (s.lan_device_id IS NOT NULL AND s.lan_device_id = c.lan_device_id)) \
         JOIN mesh_members m ON m.network_id = s.network_id AND m.user_id = $1 \
         WHERE c.id = $2",
    )
    .bind(user_id)
    .bind(camera_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(best.map(|b| b == 1))
}

// ---- policy input ----

/// Every member device on `server_id` of every network living there.
pub async fn member_devices_on_server(
    db: &Db,
    server_id: crate::typed::ServerId,
) -> sqlx::Result<Vec<(NetworkId, MemberDevice)>> {
    let Some(pools) = sqlx::query("SELECT ipv4_pool, ipv6_pool FROM vpn_servers WHERE id = $1")
        .bind(server_id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(Vec::new());
    };
    let v4 = Pool::parse(&pools.try_get::<String, _>("ipv4_pool")?).ok();
    let v6 = pools
        .try_get::<Option<String>, _>("ipv6_pool")?
        .and_then(|p| Pool::parse(&p).ok());
    let rows = sqlx::query(
        // Users past their data cap are out of the node's peers, so out of the policy.
        "SELECT m.network_id, d.id, d.user_id, d.v4_index, d.v6_index FROM mesh_networks n \
         JOIN mesh_members m ON m.network_id = n.id \
         JOIN devices d ON d.user_id = m.user_id AND d.server_id = n.server_id \
         JOIN users u ON u.id = d.user_id \
         WHERE n.server_id = $1 AND u.data_capped_since IS NULL ORDER BY m.network_id, d.id",
    )
    .bind(server_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let v4_index: i64 = r.try_get("v4_index")?;
            let v6_index: Option<i64> = r.try_get("v6_index")?;
            Ok((
                NetworkId(r.try_get("network_id")?),
                MemberDevice {
                    device_id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    v4: v4.and_then(|p| p.address(v4_index)),
                    v6: match (v6, v6_index) {
                        (Some(p), Some(i)) => p.address(i),
                        _ => None,
                    },
                },
            ))
        })
        .collect()
}

/// A share that may open a network path (`use` or `full`).
pub struct RoutedShare {
    pub network: NetworkId,
    pub owner_id: i64,
    pub site_id: Option<i64>,
    pub lan_ip: String,
    pub access: Access,
    pub ports: Vec<u16>,
}

pub async fn routed_shares_on_server(
    db: &Db,
    server_id: crate::typed::ServerId,
) -> sqlx::Result<Vec<RoutedShare>> {
    let rows = sqlx::query(&format!(
        "{SHARE_SELECT} JOIN mesh_networks n ON n.id = s.network_id \
         WHERE n.server_id = $1 AND s.access <> 'view' ORDER BY s.id"
    ))
    .bind(server_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RoutedShare {
                network: NetworkId(r.try_get("network_id")?),
                owner_id: r.try_get("owner_id")?,
                site_id: r.try_get("site_id")?,
                lan_ip: r.try_get("lan_ip")?,
                access: r.try_get("access")?,
                ports: parse_ports(&r.try_get::<String, _>("ports")?).unwrap_or_default(),
            })
        })
        .collect()
}
