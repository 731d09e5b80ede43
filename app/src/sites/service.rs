//! Home-site flows: register (validated, own sites never overlap, a unique
//! range from the pool, a peer address on a server, a hashed token), list
//! with online state, rotate the token, remove; the home agent's connect;
//! and the grants and peers a node gets for the sites it carries.
//!
//! Which server a site lives on: a site is one WireGuard peer, on one
//! server — the server most of its owner's devices use (else the server a
//! new device would get). Devices on that server reach the site; the node
//! routes the site's range to the site peer. A device on another server
//! does not reach it (servers are not meshed with each other); the sites
//! page says which server that is, and a new device defaults to the server
//! of the user's sites (see `preferred_server`).

use serde::{Deserialize, Serialize};
use truevault_wire::node::{Cidr, DesiredPeer, Grant, Ports, SiteConfig};

use super::{
    model::{CreatedSite, LanSubnet, SiteInfo, SiteMapping, SiteStatus},
    repo::{self, NewSiteRow, SiteRow},
};
use crate::{
    accounts::{model::CurrentUser, tokens},
    audit,
    db::{is_unique_violation, now, Db},
    error::{AppError, AppResult},
    secrets::Keys,
    vpn::{
        ipam::Pool,
        keys,
        model::{ServerId, ServerInfo},
        repo as vpn_repo,
    },
};

/// The form a customer fills in.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SiteForm {
    pub name: String,
    pub lan: String,
}

/// A site as entered, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    pub name: String,
    pub lan: LanSubnet,
}

impl TryFrom<SiteForm> for NewSite {
    type Error = AppError;
    fn try_from(f: SiteForm) -> Result<Self, AppError> {
        let name = f.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(AppError::invalid_field(
                "name",
                "Give the site a name of at most 64 characters.",
            ));
        }
        let lan = f.lan.parse::<LanSubnet>().map_err(AppError::SiteSubnet)?;
        Ok(Self {
            name: name.to_string(),
            lan,
        })
    }
}

/// How many home sites a user may have. One place, so it can move into the
/// plan entitlements as they land.
pub fn site_limit(_user: &CurrentUser) -> i64 {
    10
}

/// A site's handshake counts as online this long (WireGuard re-handshakes
/// every two minutes while traffic flows; the agent keeps it alive).
pub const ONLINE_WITHIN_SECS: i64 = 180;

fn status(row: &SiteRow, t: i64) -> SiteStatus {
    match row.last_handshake_at {
        None => SiteStatus::Waiting,
        Some(h) if t - h < ONLINE_WITHIN_SECS => SiteStatus::Online,
        Some(_) => SiteStatus::Offline,
    }
}

fn info(row: &SiteRow, server_name: &str, t: i64) -> SiteInfo {
    SiteInfo {
        id: row.id,
        name: row.name.clone(),
        lan: row.mapping.lan.to_string(),
        range: row.mapping.range.to_string(),
        mapping: row.mapping,
        server_name: server_name.to_string(),
        status: status(row, t),
        last_handshake_at: row.last_handshake_at,
    }
}

/// The server for a user's new site: where most of their devices are, else
/// the server a new device would get.
async fn server_for_site(
    db: &Db,
    fresh: crate::vpn::servers::NodeFreshness,
    user: &CurrentUser,
) -> AppResult<ServerInfo> {
    let devices = vpn_repo::list_user_devices(db, user.id).await?;
    let servers = vpn_repo::list_servers(db).await?;
    let mut counts: Vec<(ServerId, usize)> = Vec::new();
    for d in &devices {
        match counts.iter_mut().find(|(id, _)| *id == d.server_id) {
            Some(c) => c.1 += 1,
            None => counts.push((d.server_id, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    for (id, _) in counts {
        if let Some(s) = servers.iter().find(|s| s.id == id && s.enrolled) {
            return Ok(s.clone());
        }
    }
    let (server, _) = crate::vpn::servers::choose_server(db, fresh, user, None, None).await?;
    Ok(server)
}

/// The server a user's new device should default to: the one their sites
/// live on, so the device reaches them.
pub async fn preferred_server(db: &Db, user_id: i64) -> AppResult<Option<ServerId>> {
    Ok(repo::user_sites(&db.pool, user_id)
        .await?
        .first()
        .map(|s| s.server_id))
}

pub async fn create_site(
    db: &Db,
    keys_: &Keys,
    fresh: crate::vpn::servers::NodeFreshness,
    user: &CurrentUser,
    form: SiteForm,
) -> AppResult<CreatedSite> {
    let site = NewSite::try_from(form)?;
    let server = server_for_site(db, fresh, user).await?;
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    let token = tokens::random_token();
    let psk = keys::generate_preshared_key();
    let psk_sealed = keys_.seal(psk.as_bytes());
    // Two attempts: a concurrent registration may take the same free slot.
    for attempt in 0..2 {
        let mut tx = db.begin_write().await?;
        db.lock_row(&mut tx, "users", user.id).await?;
        let own = repo::user_sites(&mut *tx, user.id).await?;
        if own.len() as i64 >= site_limit(user) {
            return Err(AppError::SiteLimitExceeded(site_limit(user)));
        }
        if own
            .iter()
            .any(|s| s.mapping.lan.net().overlaps(&site.lan.net()))
        {
            return Err(AppError::SiteSubnetOverlap);
        }
        if own.iter().any(|s| s.name == site.name) {
            return Err(AppError::Conflict(
                "You already have a site with that name.".into(),
            ));
        }
        let slot = repo::free_slot(&mut tx)
            .await?
            .ok_or(AppError::SitePoolFull)?;
        let v4_index = vpn_repo::allocate_index(&mut tx, server.id, 4, v4.max_index())
            .await?
            .ok_or(AppError::NetworkFull)?;
        let res = repo::insert(
            &mut tx,
            &NewSiteRow {
                user_id: user.id,
                name: &site.name,
                lan: site.lan,
                slot,
                server_id: server.id,
                v4_index,
                psk_sealed: &psk_sealed,
                token_hash: &tokens::hash_token(&token),
            },
        )
        .await;
        let id = match res {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) && attempt == 0 => continue,
            Err(e) => return Err(e.into()),
        };
        let mapping = SiteMapping::new(site.lan, slot).ok_or(AppError::SitePoolFull)?;
        audit::record_in(
            &mut tx,
            Some(user.id),
            "site.created",
            &site.name,
            &format!(
                "lan {} range {} server {}",
                site.lan, mapping.range, server.id
            ),
        )
        .await?;
        tx.commit().await?;
        let row = repo::by_id(db, id).await?.ok_or(AppError::NotFound)?;
        return Ok(CreatedSite {
            site: info(&row, &server.name, now()),
            token,
        });
    }
    Err(AppError::SitePoolFull)
}

pub async fn list_sites(db: &Db, user_id: i64) -> AppResult<Vec<SiteInfo>> {
    let servers = vpn_repo::list_servers(db).await?;
    let t = now();
    Ok(repo::user_sites(&db.pool, user_id)
        .await?
        .iter()
        .map(|s| {
            let server = servers
                .iter()
                .find(|v| v.id == s.server_id)
                .map(|v| v.name.as_str())
                .unwrap_or_default();
            info(s, server, t)
        })
        .collect())
}

async fn owned(db: &Db, user: &CurrentUser, id: i64) -> AppResult<SiteRow> {
    match repo::by_id(db, id).await? {
        Some(s) if s.user_id == user.id => Ok(s),
        _ => Err(AppError::NotFound),
    }
}

/// A new token (shown once); the home agent must be set up again with it.
pub async fn rotate_token(db: &Db, user: &CurrentUser, id: i64) -> AppResult<String> {
    let site = owned(db, user, id).await?;
    let token = tokens::random_token();
    let mut tx = db.begin_write().await?;
    if repo::set_token(&mut tx, id, user.id, &tokens::hash_token(&token)).await? == 0 {
        return Err(AppError::NotFound);
    }
    vpn_repo::bump_version(&mut tx, site.server_id).await?;
    audit::record_in(&mut tx, Some(user.id), "site.token_rotated", &site.name, "").await?;
    tx.commit().await?;
    Ok(token)
}

pub async fn delete_site(db: &Db, user: &CurrentUser, id: i64) -> AppResult<()> {
    let site = owned(db, user, id).await?;
    let mut tx = db.begin_write().await?;
    if repo::delete(&mut tx, id, user.id).await? == 0 {
        return Err(AppError::NotFound);
    }
    vpn_repo::release_index(&mut tx, site.server_id, 4, site.v4_index).await?;
    vpn_repo::bump_version(&mut tx, site.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "site.deleted",
        &site.name,
        &site.mapping.range.to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn site_address(server: &ServerInfo, site: &SiteRow) -> AppResult<Cidr> {
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    let addr = v4
        .address(site.v4_index)
        .ok_or_else(|| AppError::internal("site index outside the pool"))?;
    Ok(Cidr::host(addr))
}

fn range_cidr(m: &SiteMapping) -> Cidr {
    Cidr::new(m.range.network().into(), m.range.prefix())
        .unwrap_or(Cidr::host(m.range.network().into()))
}

fn lan_cidr(m: &SiteMapping) -> Cidr {
    let n = m.lan.net();
    Cidr::new(n.network().into(), n.prefix()).unwrap_or(Cidr::host(n.network().into()))
}

/// The home agent connects with its site token and public key. A new key
/// (first run, or the machine was set up again) replaces the old one and
/// the node is told. Returns whether the node's peers changed.
pub async fn connect(
    db: &Db,
    keys_: &Keys,
    token: &str,
    public_key: &str,
    ip: &str,
) -> AppResult<(SiteConfig, bool)> {
    if !tokens::looks_like_token(token) {
        return Err(AppError::InvalidBearer);
    }
    let site = repo::by_token(db, &tokens::hash_token(token))
        .await?
        .ok_or(AppError::InvalidBearer)?;
    let public_key =
        keys::parse_key(public_key).map_err(|e| AppError::invalid_field("public_key", e))?;
    let server = vpn_repo::get_server(db, site.server_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let changed = site.public_key.as_deref() != Some(public_key.as_str());
    if changed {
        let mut tx = db.begin_write().await?;
        repo::set_public_key(&mut tx, site.id, Some(&public_key))
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    AppError::Conflict("That public key is already in use.".into())
                } else {
                    e.into()
                }
            })?;
        vpn_repo::bump_version(&mut tx, site.server_id).await?;
        tx.commit().await?;
        audit::record(
            db,
            Some(site.user_id),
            "site.connected",
            &site.name,
            ip,
            &public_key,
        )
        .await;
    }
    let psk = String::from_utf8(keys_.open(&site.psk_sealed).map_err(AppError::internal)?)
        .map_err(AppError::internal)?;
    let pool: Cidr = server.ipv4_pool.parse().map_err(AppError::internal)?;
    Ok((
        SiteConfig {
            site_name: site.name.clone(),
            address: site_address(&server, &site)?,
            server_public_key: server.public_key.clone().unwrap_or_default(),
            preshared_key: psk,
            endpoint: crate::vpn::wgconfig::endpoint(&server.endpoint_host, server.endpoint_port),
            allowed_ips: vec![pool],
            lan: lan_cidr(&site.mapping),
            range: range_cidr(&site.mapping),
        },
        changed,
    ))
}

/// The site peers a node carries: each routes its range.
pub async fn peers_for_server(
    db: &Db,
    keys_: &Keys,
    server: &ServerInfo,
) -> AppResult<Vec<DesiredPeer>> {
    let mut peers = Vec::new();
    for site in repo::server_sites(db, server.id).await? {
        let Some(public_key) = site.public_key.clone() else {
            continue;
        };
        let psk = String::from_utf8(keys_.open(&site.psk_sealed).map_err(AppError::internal)?)
            .map_err(AppError::internal)?;
        peers.push(DesiredPeer {
            public_key,
            preshared_key: psk,
            allowed_ips: vec![
                site_address(server, &site)?.to_string(),
                range_cidr(&site.mapping).to_string(),
            ],
            // The home agent dials in and keeps its own keepalive.
            endpoint: None,
        });
    }
    Ok(peers)
}

/// A user's own devices reach their own sites, every port.
pub async fn grants_for_server(db: &Db, server: &ServerInfo) -> AppResult<Vec<Grant>> {
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    Ok(repo::own_site_pairs(db, server.id)
        .await?
        .into_iter()
        .filter_map(|(device_index, site)| {
            Some(Grant {
                source: v4.address(device_index)?,
                destination: range_cidr(&site.mapping),
                ports: Ports::All,
            })
        })
        .collect())
}

/// The ranges of a user's sites (split tunnels route exactly these).
pub async fn user_ranges(db: &Db, user_id: i64) -> AppResult<Vec<SiteMapping>> {
    Ok(repo::user_sites(&db.pool, user_id)
        .await?
        .into_iter()
        .map(|s| s.mapping)
        .collect())
}
