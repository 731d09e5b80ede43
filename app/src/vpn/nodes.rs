//! Node flows (portal side): enrollment, the desired config, stats ingestion.

use sqlx::Row;
use truevault_wire::node::{
    DesiredConfig, DesiredPeer, EnrollResponse, InterfaceSettings, PeerStats, MAX_STATS_PEERS,
};

use crate::{
    accounts::tokens,
    audit,
    db::now,
    error::{AppError, AppResult},
    state::AppState,
    vpn::{ipam::Pool, keys, model::ServerInfo, repo},
};

/// The enrolled server behind a node's bearer token. An enrollment token
/// (the server not enrolled with it yet) is not a node credential.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<ServerInfo> {
    let server = server_for_token(state, token).await?;
    if !server.enrolled {
        return Err(AppError::InvalidBearer);
    }
    Ok(server)
}

async fn server_for_token(state: &AppState, token: &str) -> AppResult<ServerInfo> {
    if !tokens::looks_like_token(token) {
        return Err(AppError::InvalidBearer);
    }
    repo::server_by_token(&state.db, &tokens::hash_token(token))
        .await?
        .ok_or(AppError::InvalidBearer)
}

fn interface(server: &ServerInfo) -> AppResult<InterfaceSettings> {
    let mut addresses = Vec::new();
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    if let Some(a) = v4.address(1) {
        addresses.push(format!("{a}/{}", v4.prefix));
    }
    if let Some(p) = server
        .ipv6_pool
        .as_deref()
        .and_then(|p| Pool::parse(p).ok())
    {
        if let Some(a) = p.address(1) {
            addresses.push(format!("{a}/{}", p.prefix));
        }
    }
    Ok(InterfaceSettings {
        addresses,
        listen_port: u16::try_from(server.endpoint_port).unwrap_or(51820),
    })
}

/// One-time enrollment: records the node's public key and swaps the
/// enrollment token for a long-lived node token.
pub async fn enroll(
    state: &AppState,
    token: &str,
    public_key: &str,
    ip: &str,
) -> AppResult<EnrollResponse> {
    let server = server_for_token(state, token).await?;
    if server.enrolled {
        // An enrolled node's token is not an enrollment token.
        return Err(AppError::Conflict(
            "This node is already enrolled; rotate its token to enroll again.".into(),
        ));
    }
    let public_key = keys::parse_key(public_key).map_err(AppError::invalid)?;
    let node_token = tokens::random_token();
    repo::enroll(
        &state.db,
        server.id,
        &public_key,
        &tokens::hash_token(&node_token),
    )
    .await?;
    audit::record(
        &state.db,
        None,
        "node.enrolled",
        &server.name,
        ip,
        &public_key,
    )
    .await;
    state.node_changes.notify_waiters();
    Ok(EnrollResponse {
        server_id: server.id.0,
        server_name: server.name.clone(),
        node_token,
        interface: interface(&server)?,
    })
}

/// The desired config at the current peers version, from the cache when
/// that version was built already.
pub async fn desired_config(
    state: &AppState,
    server: &ServerInfo,
) -> AppResult<std::sync::Arc<DesiredConfig>> {
    let version = repo::peers_version(&state.db, server.id).await?;
    state
        .node_configs
        .get_or_build(
            server.id,
            version,
            build_desired_config(state, server, version),
        )
        .await
}

/// Rows are read after `version`, so they are at least that new: a config
/// kept under `version` never lags it.
async fn build_desired_config(
    state: &AppState,
    server: &ServerInfo,
    version: i64,
) -> AppResult<DesiredConfig> {
    let v4 = Pool::parse(&server.ipv4_pool).map_err(AppError::internal)?;
    let v6 = server
        .ipv6_pool
        .as_deref()
        .and_then(|p| Pool::parse(p).ok());
    let rows = repo::server_peers(&state.db, server.id).await?;
    let mut peers = Vec::with_capacity(rows.len());
    for row in rows {
        let psk = state
            .keys
            .open(&row.preshared_key_enc)
            .map_err(AppError::internal)?;
        let mut allowed_ips = Vec::with_capacity(2);
        if let Some(a) = v4.address(row.v4_index) {
            allowed_ips.push(format!("{a}/32"));
        }
        if let (Some(p), Some(i)) = (&v6, row.v6_index) {
            if let Some(a) = p.address(i) {
                allowed_ips.push(format!("{a}/128"));
            }
        }
        peers.push(DesiredPeer {
            public_key: row.public_key,
            preshared_key: String::from_utf8(psk).map_err(AppError::internal)?,
            allowed_ips,
            endpoint: row.endpoint,
        });
    }
    peers.extend(crate::sites::service::peers_for_server(&state.db, &state.keys, server).await?);
    Ok(DesiredConfig {
        version,
        interface: interface(server)?,
        peers,
        data_plane: super::policy::data_plane(&state.db, server).await?,
    })
}

/// Most bytes one report may add to a peer's usage: 16 TiB, far beyond what
/// any link carries between two reports (even after a day of silence),
/// and small enough that a day's and a month's sums of reports stay inside
/// a 64-bit counter. A node (or a stolen node token) reporting counters
/// near `i64::MAX` would otherwise overflow the usage sums (PostgreSQL
/// refuses `bigint out of range`, SQLite turns them into floats).
const MAX_REPORT_DELTA: i64 = 1 << 44;

/// The traffic since the last report. A counter that went down means the
/// node restarted its interface: the new value is then the delta.
fn counter_delta(old: i64, new: i64) -> i64 {
    let d = if new >= old { new - old } else { new };
    d.clamp(0, MAX_REPORT_DELTA)
}

/// Applies a node's report: per-peer counters, handshakes and endpoints,
/// and per-day usage. Counters that went down mean the node restarted its
/// interface: the new value is then the delta.
pub async fn ingest_stats(
    state: &AppState,
    server: &ServerInfo,
    applied_version: i64,
    peers: &[PeerStats],
) -> AppResult<usize> {
    if peers.len() > MAX_STATS_PEERS {
        return Err(AppError::invalid(format!(
            "At most {MAX_STATS_PEERS} peers per report."
        )));
    }
    let t = now();
    let day = t / 86_400;
    // Node freshness runs on the portal's clock (`NodeFreshness`), which
    // tests move forward; usage days stay on real time.
    let reported_at = state.clock.now();
    // Connected time accrues for the interval since the previous report,
    // capped so a long silence does not count as connected.
    let interval = server
        .last_report_at
        .map(|p| (reported_at - p).clamp(0, 300))
        .unwrap_or(0);
    let mut tx = state.db.begin_write().await?;
    let mut accepted = 0;
    let mut with_traffic: Vec<i64> = Vec::new();
    let mut live = Vec::new();
    for p in peers {
        // Only a WireGuard key can name a peer; anything else (a NUL, which
        // PostgreSQL refuses in text, included) is a malformed report.
        if p.rx_bytes < 0
            || p.tx_bytes < 0
            || p.latest_handshake < 0
            || keys::parse_key(&p.public_key).is_err()
        {
            return Err(AppError::invalid(
                "Negative counters or malformed peer in report.",
            ));
        }
        let row = sqlx::query(
            "SELECT id, user_id, rx_bytes, tx_bytes FROM devices WHERE server_id = $1 AND public_key = $2",
        )
        .bind(server.id)
        .bind(&p.public_key)
        .fetch_optional(&mut *tx)
        .await?;
        // A node reports only its own peers (devices and home sites);
        // others are ignored.
        let Some(row) = row else {
            let handshake = (p.latest_handshake > 0).then_some(p.latest_handshake.min(t));
            if crate::sites::repo::record_stats(
                &mut tx,
                server.id,
                &p.public_key,
                handshake,
                p.rx_bytes,
                p.tx_bytes,
            )
            .await?
            {
                accepted += 1;
            }
            continue;
        };
        let id: i64 = row.try_get("id")?;
        let user_id: i64 = row.try_get("user_id")?;
        let (old_rx, old_tx): (i64, i64) = (row.try_get("rx_bytes")?, row.try_get("tx_bytes")?);
        let d_rx = counter_delta(old_rx, p.rx_bytes);
        let d_tx = counter_delta(old_tx, p.tx_bytes);
        let handshake = (p.latest_handshake > 0).then_some(p.latest_handshake.min(t));
        let connected = handshake.is_some_and(|h| t - h < crate::vpn::model::CONNECTED_WITHIN_SECS);
        // Shown on the devices page: one line of printable text.
        let endpoint: Option<String> = p.endpoint.as_ref().map(|e| {
            e.chars()
                .filter(|c| !crate::vpn::model::breaks_lines(*c))
                .take(64)
                .collect()
        });
        sqlx::query(
            "UPDATE devices SET rx_bytes = $1, tx_bytes = $2, last_handshake_at = COALESCE($3, last_handshake_at), \
             endpoint = COALESCE($4, endpoint) WHERE id = $5",
        )
        .bind(p.rx_bytes)
        .bind(p.tx_bytes)
        .bind(handshake)
        .bind(endpoint)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let rate = |d: i64| if interval > 0 { d / interval } else { 0 };
        live.push(crate::live::LiveEvent {
            user_id,
            update: crate::live::LiveUpdate::Device {
                id,
                connected,
                last_handshake_at: handshake,
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
                rx_rate: rate(d_rx),
                tx_rate: rate(d_tx),
            },
        });
        if (d_rx > 0 || d_tx > 0) && !with_traffic.contains(&user_id) {
            with_traffic.push(user_id);
        }
        if d_rx > 0 || d_tx > 0 || connected {
            sqlx::query(
                "INSERT INTO device_usage (device_id, day, rx_bytes, tx_bytes, connected_seconds) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (device_id, day) DO UPDATE SET rx_bytes = device_usage.rx_bytes + excluded.rx_bytes, \
                 tx_bytes = device_usage.tx_bytes + excluded.tx_bytes, \
                 connected_seconds = device_usage.connected_seconds + excluded.connected_seconds",
            )
            .bind(id)
            .bind(day)
            .bind(d_rx)
            .bind(d_tx)
            .bind(if connected { interval } else { 0 })
            .execute(&mut *tx)
            .await?;
            // The user's ledger, which outlives the device: what counts
            // against the monthly cap and the dashboard's month.
            sqlx::query(
                "INSERT INTO user_usage (user_id, day, rx_bytes, tx_bytes, connected_seconds) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, day) DO UPDATE SET rx_bytes = user_usage.rx_bytes + excluded.rx_bytes, \
                 tx_bytes = user_usage.tx_bytes + excluded.tx_bytes, \
                 connected_seconds = user_usage.connected_seconds + excluded.connected_seconds",
            )
            .bind(user_id)
            .bind(day)
            .bind(d_rx)
            .bind(d_tx)
            .bind(if connected { interval } else { 0 })
            .execute(&mut *tx)
            .await?;
        }
        accepted += 1;
    }
    sqlx::query("UPDATE vpn_servers SET last_report_at = $1, applied_version = $2 WHERE id = $3")
        .bind(reported_at)
        .bind(applied_version)
        .bind(server.id)
        .execute(&mut *tx)
        .await?;
    let (month_start, next_month) = crate::vpn::model::month_bounds(t);
    let month_day = month_start / 86_400;
    let crossings = repo::cap_crossings(&mut tx, &with_traffic, month_day).await?;
    let capped = crossings.capped;
    let mut mails = Vec::new();
    for user_id in &capped {
        repo::set_data_capped(&mut tx, *user_id, Some(t)).await?;
        mails.push(super::workflows::lift_at(*user_id, next_month));
    }
    // The meter's mails, once a month each (the 80 % one also when a single
    // report jumps past the cap).
    for user_id in &crossings.warned {
        if repo::first_usage_alert(&mut tx, *user_id, month_day, "warning", t).await? {
            mails.push(super::workflows::mail_now(
                *user_id,
                super::workflows::DataCapStep::UsageWarning,
                t,
            ));
        }
    }
    for user_id in &capped {
        if repo::first_usage_alert(&mut tx, *user_id, month_day, "capped", t).await? {
            mails.push(super::workflows::mail_now(
                *user_id,
                super::workflows::DataCapStep::CappedMail,
                t,
            ));
        }
    }
    if !mails.is_empty() {
        crate::jobs::schedule_in(&mut tx, &mails, t).await?;
    }
    tx.commit().await?;
    if !mails.is_empty() {
        state.jobs_changed.notify_waiters();
    }
    // Open pages (on every instance) see the new state now.
    state.live.publish(&state.db, live).await;
    if !capped.is_empty() {
        state.node_changes.notify_waiters();
        for user_id in capped {
            tracing::info!(user_id, "monthly data cap reached");
            audit::record(
                &state.db,
                Some(user_id),
                "vpn.data_cap_reached",
                &server.name,
                "",
                "",
            )
            .await;
        }
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_deltas_restart_and_stay_bounded() {
        assert_eq!(counter_delta(100, 150), 50);
        // The interface restarted: counting from zero again.
        assert_eq!(counter_delta(100, 30), 30);
        assert_eq!(counter_delta(0, i64::MAX), MAX_REPORT_DELTA);
        assert_eq!(counter_delta(i64::MAX, i64::MAX), 0);
    }
}
