//! Devices (users): create, config and QR, rename, rekey, delete, and the
//! plan's default regional identities.

use super::{
    ipam::{Pool, FIRST_DEVICE_INDEX},
    keys,
    model::{
        normalize_device_name, CreatedDevice, DeviceInfo, ServerInfo, TunnelMode,
        PRIVATE_KEY_PLACEHOLDER,
    },
    repo,
    servers::choose_server,
    wgconfig,
    writer::{Creation, DEVICE_KEY},
};
use crate::{
    accounts::model::CurrentUser,
    audit,
    error::{AppError, AppResult},
    state::AppState,
};
use askama::Template;

pub struct NewDevice {
    pub name: String,
    /// Given when the key pair was made on the user's device.
    pub public_key: Option<String>,
    pub server_id: Option<i64>,
    pub region: Option<String>,
    pub identity_region: Option<String>,
    pub tunnel_mode: TunnelMode,
}

pub async fn create_device(
    state: &AppState,
    user: &CurrentUser,
    input: NewDevice,
) -> AppResult<CreatedDevice> {
    create_device_with(state, user, input, false).await
}

/// `awaiting_key`: the row reserves a server and address for a key the
/// user will make later; nodes do not get it until then.
async fn create_device_with(
    state: &AppState,
    user: &CurrentUser,
    input: NewDevice,
    awaiting_key: bool,
) -> AppResult<CreatedDevice> {
    let name =
        normalize_device_name(&input.name).map_err(|e| AppError::invalid_field("name", e))?;
    let (public_key, private_key) = device_keys(input.public_key.as_deref())?;
    // An identity lives in exactly its region; a device may fall back.
    let region = input.identity_region.as_deref().or(input.region.as_deref());
    // A device without a pick goes where the user's home sites live, so it
    // reaches them (a site is a peer on one server); else the usual choice.
    let requested = match (input.server_id, region) {
        (Some(id), _) => Some(super::model::ServerId(id)),
        (None, None) => crate::sites::service::preferred_server(&state.db, user.id).await?,
        (None, Some(_)) => None,
    };
    let fresh = super::servers::NodeFreshness::of(state);
    let (server, reason) = match choose_server(&state.db, fresh, user, requested, region).await {
        Err(AppError::ServerUnavailable | AppError::NotFound) if input.server_id.is_none() => {
            choose_server(&state.db, fresh, user, None, region).await?
        }
        other => other?,
    };
    if let Some(r) = &input.identity_region {
        if !server.region.eq_ignore_ascii_case(r) {
            return Err(AppError::ServerUnavailable);
        }
    }
    // The pools, parsed once for the whole creation.
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    let v6 = server
        .ipv6_pool
        .as_deref()
        .map(Pool::parse)
        .transpose()
        .map_err(AppError::internal)?;
    let psk = keys::generate_preshared_key();
    let stored = state
        .device_writer
        .create(Creation {
            user_id: user.id,
            server_id: server.id,
            name: name.clone(),
            public_key: public_key.clone(),
            psk_sealed: state.keys.seal(psk.as_bytes()),
            v4_max: v4.max_index(),
            v6_max: v6.as_ref().map(Pool::max_index),
            identity_region: input.identity_region.clone(),
            tunnel_mode: input.tunnel_mode,
            awaiting_key,
        })
        .await?;
    debug_assert!(stored.v4_index >= FIRST_DEVICE_INDEX);

    // The device as a fresh read would show it, from what is in hand.
    let address = |pool: &Pool, idx: i64| pool.address(idx).map(|a| a.to_string());
    let device = DeviceInfo {
        id: stored.id,
        name: name.clone(),
        server_id: server.id,
        server_name: server.name.clone(),
        region: server.region.clone(),
        public_key,
        address_v4: address(&v4, stored.v4_index).unwrap_or_default(),
        address_v6: v6
            .as_ref()
            .zip(stored.v6_index)
            .map(|(p, i)| address(p, i).unwrap_or_default()),
        identity_region: input.identity_region,
        tunnel_mode: input.tunnel_mode,
        last_handshake_at: None,
        connected: false,
        rx_bytes: 0,
        tx_bytes: 0,
        server_healthy: server.healthy,
        awaiting_key,
        paused: false,
    };
    let allowed = allowed_ips(state, &server, user.id, &device).await?;
    // The QR code is most of a creation's CPU (choosing its mask scores
    // eight candidates): it is made on the blocking pool, so the runtime's
    // workers stay free to drive the writer and the other requests.
    let (device, config, qr_svg) = tokio::task::spawn_blocking(move || {
        let (config, qr) = config_and_qr(
            &server,
            &v4,
            &device,
            &allowed,
            private_key.as_deref(),
            &psk,
        )?;
        Ok::<_, AppError>((device, config, qr))
    })
    .await
    .map_err(AppError::internal)??;
    Ok(CreatedDevice {
        file_name: super::model::config_file_name(&name),
        device,
        config,
        qr_svg,
        chosen_because: reason,
    })
}

/// The device's public key as given (made on the device), or a fresh pair
/// made here whose private half is returned once and never stored.
fn device_keys(given: Option<&str>) -> AppResult<(String, Option<String>)> {
    match given.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => Ok((
            keys::parse_key(k).map_err(|e| AppError::invalid_field("public_key", e))?,
            None,
        )),
        None => {
            let pair = keys::generate_keypair();
            Ok((pair.public, Some(pair.private)))
        }
    }
}

/// The config file and, when we made the private key, its QR code (the QR
/// code carries the key, so without it there is nothing to scan).
fn config_and_qr(
    server: &ServerInfo,
    v4: &Pool,
    device: &DeviceInfo,
    allowed_ips: &str,
    private_key: Option<&str>,
    psk: &str,
) -> AppResult<(String, Option<String>)> {
    let config = render_config(
        server,
        v4,
        device,
        allowed_ips,
        private_key.unwrap_or(PRIVATE_KEY_PLACEHOLDER),
        psk,
    )?;
    let qr = private_key.and_then(|_| wgconfig::qr_svg(&config));
    Ok((config, qr))
}

/// What the device routes into the tunnel: everything, or (split) the
/// server's own pools, the user's home-site ranges and the tunnel DNS.
async fn allowed_ips(
    state: &AppState,
    server: &ServerInfo,
    user_id: i64,
    device: &DeviceInfo,
) -> AppResult<String> {
    if device.tunnel_mode == TunnelMode::Full {
        return Ok("0.0.0.0/0, ::/0".into());
    }
    let mut nets: Vec<String> = vec![server.ipv4_pool.clone()];
    nets.extend(server.ipv6_pool.clone());
    for m in crate::sites::service::user_ranges(&state.db, user_id).await? {
        nets.push(m.range.to_string());
    }
    // Whatever else the node grants this device (mesh members' devices,
    // shared home hosts) is routed too.
    let own: Vec<std::net::IpAddr> = [Some(&device.address_v4), device.address_v6.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|a| a.parse().ok())
        .collect();
    for g in super::policy::grants_for_server(&state.db, server).await? {
        if own.contains(&g.source) && !nets.contains(&g.destination.to_string()) {
            nets.push(g.destination.to_string());
        }
    }
    for dns in super::policy::dns_servers(server) {
        let host = if dns.is_ipv4() {
            format!("{dns}/32")
        } else {
            format!("{dns}/128")
        };
        if !nets.contains(&host) {
            nets.push(host);
        }
    }
    nets.dedup();
    Ok(nets.join(", "))
}

fn render_config(
    server: &ServerInfo,
    v4: &Pool,
    device: &DeviceInfo,
    allowed_ips: &str,
    private_key: &str,
    psk: &str,
) -> AppResult<String> {
    let mut addresses = format!("{}/32", device.address_v4);
    if let Some(v6) = &device.address_v6 {
        addresses.push_str(&format!(", {v6}/128"));
    }
    // No DNS set: the server's own tunnel address.
    let dns = if server.dns.is_empty() {
        v4.address(1).map(|a| a.to_string()).unwrap_or_default()
    } else {
        server.dns.clone()
    };
    wgconfig::DeviceConfig {
        device_name: &device.name,
        server_name: &server.name,
        region: &server.region,
        private_key,
        addresses: &addresses,
        dns: &dns,
        server_public_key: server.public_key.as_deref().unwrap_or_default(),
        preshared_key: psk,
        endpoint: &wgconfig::endpoint(&server.endpoint_host, server.endpoint_port),
        allowed_ips,
    }
    .render()
    .map_err(AppError::internal)
}

/// A device of this user (anyone else's is "not found", never "forbidden",
/// so ids reveal nothing).
async fn owned_device(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<repo::DeviceRow> {
    match repo::device_row(&state.db, id).await? {
        Some(d) if d.user_id == user.id => Ok(d),
        _ => Err(AppError::NotFound),
    }
}

/// The config again, without the private key (which we do not keep).
pub async fn device_config(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(String, String)> {
    let row = owned_device(state, user, id).await?;
    let device = repo::device_info(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let server = repo::get_server(&state.db, row.server_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let psk = String::from_utf8(
        state
            .keys
            .open(&row.psk_sealed)
            .map_err(AppError::internal)?,
    )
    .map_err(AppError::internal)?;
    let allowed = allowed_ips(state, &server, user.id, &device).await?;
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    Ok((
        super::model::config_file_name(&row.name),
        render_config(
            &server,
            &v4,
            &device,
            &allowed,
            PRIVATE_KEY_PLACEHOLDER,
            &psk,
        )?,
    ))
}

/// Switches a device between full and split tunnel; returns its config
/// again (without the private key, which we do not keep: the device keeps
/// its own and takes the new AllowedIPs).
pub async fn set_tunnel_mode(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    mode: TunnelMode,
) -> AppResult<(String, String)> {
    let row = owned_device(state, user, id).await?;
    let mut tx = state.db.begin_write().await?;
    if repo::set_tunnel_mode(&mut tx, id, user.id, mode).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit::record_in(
        &mut tx,
        Some(user.id),
        "device.tunnel_mode",
        &row.name,
        mode.as_str(),
    )
    .await?;
    tx.commit().await?;
    device_config(state, user, id).await
}

pub async fn rename_device(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    name: &str,
) -> AppResult<()> {
    let name = normalize_device_name(name).map_err(|e| AppError::invalid_field("name", e))?;
    owned_device(state, user, id).await?;
    sqlx::query("UPDATE devices SET name = $1, updated_at = $2 WHERE id = $3 AND user_id = $4")
        .bind(&name)
        .bind(crate::db::now())
        .bind(id)
        .bind(user.id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// New keys for a device, keeping its address; returns the new config.
pub async fn rekey_device(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    public_key: Option<String>,
) -> AppResult<CreatedDevice> {
    let row = owned_device(state, user, id).await?;
    let (public_key, private_key) = device_keys(public_key.as_deref())?;
    let psk = keys::generate_preshared_key();
    let mut tx = state.db.begin_write().await?;
    // A key the user holds: an identity waiting for one becomes a peer now.
    sqlx::query("UPDATE devices SET public_key = $1, preshared_key_enc = $2, updated_at = $3, awaiting_key_since = NULL WHERE id = $4 AND user_id = $5")
        .bind(&public_key)
        .bind(state.keys.seal(psk.as_bytes()))
        .bind(crate::db::now())
        .bind(id)
        .bind(user.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| if DEVICE_KEY.broken_by(&e) { AppError::KeyInUse } else { e.into() })?;
    repo::bump_version(&mut tx, row.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "device.rekeyed",
        &row.name,
        &format!("old {} new {}", row.public_key, public_key),
    )
    .await?;
    tx.commit().await?;
    state.node_changes.notify_waiters();
    let server = repo::get_server(&state.db, row.server_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let device = repo::device_info(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let allowed = allowed_ips(state, &server, user.id, &device).await?;
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    let (config, qr_svg) = config_and_qr(
        &server,
        &v4,
        &device,
        &allowed,
        private_key.as_deref(),
        &psk,
    )?;
    Ok(CreatedDevice {
        file_name: super::model::config_file_name(&row.name),
        device,
        config,
        qr_svg,
        chosen_because: String::new(),
    })
}

/// Removes a device and frees its addresses for reuse.
pub async fn delete_device(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<()> {
    let row = owned_device(state, user, id).await?;
    let mut tx = state.db.begin_write().await?;
    let n = sqlx::query("DELETE FROM devices WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    repo::release_index(&mut tx, row.server_id, 4, row.v4_index).await?;
    if let Some(v6) = row.v6_index {
        repo::release_index(&mut tx, row.server_id, 6, v6).await?;
    }
    repo::bump_version(&mut tx, row.server_id).await?;
    audit::record_in(
        &mut tx,
        Some(user.id),
        "device.deleted",
        &row.name,
        &row.public_key,
    )
    .await?;
    tx.commit().await?;
    state.node_changes.notify_waiters();
    Ok(())
}

/// Signup: the plan's default regional identities, one per region (best
/// server first), up to the plan's limit. Each reserves a server and an
/// address only: nobody holds a key for it, so no node gets it as a peer
/// until the user sets it up on a device ("Set up", a key made there),
/// which keeps that server and address (the stable exit).
pub async fn create_default_identities(state: &AppState, user: &CurrentUser) -> AppResult<usize> {
    let servers = repo::list_servers(&state.db).await?;
    let mut regions: Vec<(String, f64)> = Vec::new();
    for s in servers.iter().filter(|s| {
        s.status == super::model::ServerStatus::Active
            && s.enrolled
            && s.server_type == super::model::ServerType::Shared
    }) {
        let load = s.peers as f64 / s.capacity.max(1) as f64;
        match regions.iter_mut().find(|(r, _)| *r == s.region) {
            Some(entry) => entry.1 = entry.1.min(load),
            None => regions.push((s.region.clone(), load)),
        }
    }
    regions.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
    let mut created = 0;
    for (region, _) in regions {
        let input = NewDevice {
            name: format!("Identity {region}"),
            public_key: None,
            server_id: None,
            region: None,
            identity_region: Some(region),
            tunnel_mode: TunnelMode::Full,
        };
        match create_device_with(state, user, input, true).await {
            Ok(_) => created += 1,
            Err(AppError::IdentityLimitExceeded(_)) => break,
            Err(AppError::Conflict(_))
            | Err(AppError::KeyInUse)
            | Err(AppError::ServerUnavailable)
            | Err(AppError::NetworkFull) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}
