//! VPN storage: servers, devices, address allocation, usage.

use sqlx::{any::AnyRow, Any, Row, Transaction};

use super::{
    model::{
        DeviceInfo, ServerId, ServerInfo, ServerStatus, UsageDay, UserUsage, CONNECTED_WITHIN_SECS,
        NODE_STALE_SECS,
    },
    servers::NewServer,
};
use crate::{
    db::{now, Db},
    entitlements::Entitlements,
};

pub type Tx = Transaction<'static, Any>;

const SERVER_COLS: &str = "s.id, s.name, s.region, s.country, s.city, s.endpoint_host, s.endpoint_port, s.server_type, \
    s.vip_user_id, s.capacity, s.status, s.ipv4_pool, s.ipv6_pool, s.dns, s.public_key, \
    (s.node_enrolled_at IS NOT NULL) AS enrolled, s.last_report_at, s.node_enrolled_at, s.peers_version, s.applied_version, \
    s.host_load1_centi, s.host_memory_total_bytes, s.host_memory_available_bytes, s.host_uptime_secs, s.host_wireguard, \
    (SELECT COUNT(*) FROM devices d WHERE d.server_id = s.id) AS peers, \
    (SELECT email FROM users u WHERE u.id = s.vip_user_id) AS vip_email";

/// A server as read, with its health as of now.
fn with_health(mut s: ServerInfo) -> ServerInfo {
    s.healthy = s
        .last_report_at
        .is_some_and(|t| now() - t < NODE_STALE_SECS);
    s
}

/// Binds a server's settings as `$1`…`$12`, the order both the insert and
/// the update use.
fn bind_server<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    s: &'q NewServer,
    vip_user_id: Option<i64>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(&s.name)
        .bind(&s.region)
        .bind(&s.country)
        .bind(&s.city)
        .bind(&s.endpoint_host)
        .bind(s.endpoint_port)
        .bind(s.server_type)
        .bind(vip_user_id)
        .bind(s.capacity)
        .bind(&s.ipv4_pool)
        .bind(&s.ipv6_pool)
        .bind(&s.dns)
}

pub async fn insert_server(
    db: &Db,
    s: &NewServer,
    vip_user_id: Option<i64>,
    token_hash: &str,
) -> Result<ServerId, sqlx::Error> {
    let t = now();
    let query = sqlx::query(
        "INSERT INTO vpn_servers (name, region, country, city, endpoint_host, endpoint_port, server_type, vip_user_id, \
         capacity, ipv4_pool, ipv6_pool, dns, node_token_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    );
    bind_server(query, s, vip_user_id)
        .bind(token_hash)
        .bind(t)
        .fetch_one(&db.pool)
        .await?
        .try_get("id")
}

pub async fn update_server(
    db: &Db,
    id: ServerId,
    s: &NewServer,
    vip_user_id: Option<i64>,
) -> Result<u64, sqlx::Error> {
    let query = sqlx::query(
        "UPDATE vpn_servers SET name = $1, region = $2, country = $3, city = $4, endpoint_host = $5, \
         endpoint_port = $6, server_type = $7, vip_user_id = $8, capacity = $9, ipv4_pool = $10, ipv6_pool = $11, \
         dns = $12, peers_version = peers_version + 1, updated_at = $13 WHERE id = $14",
    );
    bind_server(query, s, vip_user_id)
        .bind(now())
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected())
}

pub async fn list_servers(db: &Db) -> Result<Vec<ServerInfo>, sqlx::Error> {
    let servers: Vec<ServerInfo> = sqlx::query_as(&format!(
        "SELECT {SERVER_COLS} FROM vpn_servers s ORDER BY s.region, s.name"
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(servers.into_iter().map(with_health).collect())
}

pub async fn get_server(db: &Db, id: ServerId) -> Result<Option<ServerInfo>, sqlx::Error> {
    let server: Option<ServerInfo> = sqlx::query_as(&format!(
        "SELECT {SERVER_COLS} FROM vpn_servers s WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(server.map(with_health))
}

pub async fn server_by_token(db: &Db, token_hash: &str) -> Result<Option<ServerInfo>, sqlx::Error> {
    let server: Option<ServerInfo> = sqlx::query_as(&format!(
        "SELECT {SERVER_COLS} FROM vpn_servers s WHERE s.node_token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?;
    Ok(server.map(with_health))
}

pub async fn set_server_status(
    db: &Db,
    id: ServerId,
    status: ServerStatus,
) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE vpn_servers SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now())
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected())
}

/// A fresh enrollment token: the node is unenrolled until it enrolls with it
/// (so the token works only for enrollment, never as a node credential).
/// The node host's health from its latest report.
pub async fn set_host_health(
    db: &Db,
    id: ServerId,
    h: &truevault_wire::node::HostHealth,
) -> Result<(), sqlx::Error> {
    use truevault_wire::node::WireguardImpl;
    let kind = match h.wireguard {
        WireguardImpl::Kernel => super::model::WireguardKind::Kernel,
        WireguardImpl::WireguardGo => super::model::WireguardKind::WireguardGo,
    };
    // i64 columns: a u64 beyond them is not a real host, clamp it.
    let big = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE vpn_servers SET host_load1_centi = $1, host_memory_total_bytes = $2, \
         host_memory_available_bytes = $3, host_uptime_secs = $4, host_wireguard = $5 WHERE id = $6",
    )
    .bind(i64::from(h.load1_centi))
    .bind(big(h.memory_total_bytes))
    .bind(big(h.memory_available_bytes))
    .bind(big(h.uptime_secs))
    .bind(kind)
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Revokes the node token and unenrolls the server, offline.
pub async fn deregister_server(db: &Db, id: ServerId) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE vpn_servers SET node_token_hash = NULL, node_enrolled_at = NULL, public_key = NULL, \
         status = 'offline', peers_version = peers_version + 1, updated_at = $1 WHERE id = $2",
    )
    .bind(now())
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|r| r.rows_affected())
}

pub async fn set_node_token(db: &Db, id: ServerId, token_hash: &str) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE vpn_servers SET node_token_hash = $1, node_enrolled_at = NULL, updated_at = $2 WHERE id = $3")
        .bind(token_hash)
        .bind(now())
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|r| r.rows_affected())
}

/// Enrollment swaps the one-time token for the long-lived node token.
pub async fn enroll(
    db: &Db,
    id: ServerId,
    public_key: &str,
    new_token_hash: &str,
) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "UPDATE vpn_servers SET public_key = $1, node_token_hash = $2, node_enrolled_at = $3, \
         peers_version = peers_version + 1, updated_at = $3 WHERE id = $4",
    )
    .bind(public_key)
    .bind(new_token_hash)
    .bind(t)
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

pub async fn peers_version(db: &Db, server_id: ServerId) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT peers_version FROM vpn_servers WHERE id = $1")
        .bind(server_id)
        .fetch_one(&db.pool)
        .await?
        .try_get(0)
}

pub async fn bump_version(tx: &mut Tx, server_id: ServerId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE vpn_servers SET peers_version = peers_version + 1 WHERE id = $1")
        .bind(server_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Next free address index of a family: a released one first, else the
/// counter. O(1) in the number of peers; `None` when the pool is full.
pub async fn allocate_index(
    tx: &mut Tx,
    server_id: ServerId,
    family: i64,
    max: i64,
) -> Result<Option<i64>, sqlx::Error> {
    match take_freed_index(tx, server_id, family).await? {
        Some(idx) => Ok(Some(idx)),
        None => next_index(tx, server_id, family, max).await,
    }
}

/// The lowest released index of a family, taken off the free list.
pub async fn take_freed_index(
    tx: &mut Tx,
    server_id: ServerId,
    family: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let freed: Option<i64> = sqlx::query(
        "SELECT idx FROM ip_free WHERE server_id = $1 AND family = $2 ORDER BY idx LIMIT 1",
    )
    .bind(server_id)
    .bind(family)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.try_get(0))
    .transpose()?;
    let Some(idx) = freed else {
        return Ok(None);
    };
    let taken =
        sqlx::query("DELETE FROM ip_free WHERE server_id = $1 AND family = $2 AND idx = $3")
            .bind(server_id)
            .bind(family)
            .bind(idx)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok((taken == 1).then_some(idx))
}

/// The family's counter moved on by one: the index never handed out yet,
/// `None` past `max`.
pub async fn next_index(
    tx: &mut Tx,
    server_id: ServerId,
    family: i64,
    max: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let column = if family == 4 {
        "next_v4_index"
    } else {
        "next_v6_index"
    };
    let row = sqlx::query(&format!(
        "UPDATE vpn_servers SET {column} = {column} + 1 WHERE id = $1 AND {column} <= $2 RETURNING {column} - 1 AS idx"
    ))
    .bind(server_id)
    .bind(max)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| r.try_get("idx")).transpose()
}

pub async fn release_index(
    tx: &mut Tx,
    server_id: ServerId,
    family: i64,
    idx: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ip_free (server_id, family, idx) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(server_id)
    .bind(family)
    .bind(idx)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_device(
    tx: &mut Tx,
    user_id: i64,
    server_id: ServerId,
    name: &str,
    public_key: &str,
    psk_sealed: &str,
    v4_index: i64,
    v6_index: Option<i64>,
    identity_region: Option<&str>,
    tunnel_mode: super::model::TunnelMode,
    awaiting_key: bool,
) -> Result<i64, sqlx::Error> {
    let t = now();
    sqlx::query(
        "INSERT INTO devices (user_id, server_id, name, public_key, preshared_key_enc, v4_index, v6_index, \
         identity_region, created_at, updated_at, awaiting_key_since, tunnel_mode) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) RETURNING id",
    )
    .bind(user_id)
    .bind(server_id)
    .bind(name)
    .bind(public_key)
    .bind(psk_sealed)
    .bind(v4_index)
    .bind(v6_index)
    .bind(identity_region)
    .bind(t)
    .bind(awaiting_key.then_some(t))
    .bind(tunnel_mode.as_str())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")
}

/// The raw columns of one device, for flows that change it.
pub struct DeviceRow {
    pub id: i64,
    pub user_id: i64,
    pub server_id: ServerId,
    pub name: String,
    pub public_key: String,
    pub psk_sealed: String,
    pub v4_index: i64,
    pub v6_index: Option<i64>,
}

pub async fn device_row(db: &Db, id: i64) -> Result<Option<DeviceRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, user_id, server_id, name, public_key, preshared_key_enc, v4_index, v6_index FROM devices WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(DeviceRow {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            server_id: r.try_get("server_id")?,
            name: r.try_get("name")?,
            public_key: r.try_get("public_key")?,
            psk_sealed: r.try_get("preshared_key_enc")?,
            v4_index: r.try_get("v4_index")?,
            v6_index: r.try_get("v6_index")?,
        })
    })
    .transpose()
}

/// Devices (`identities = false`) or regional identities of a user.
pub async fn count_user_peers(
    tx: &mut Tx,
    user_id: i64,
    identities: bool,
) -> Result<i64, sqlx::Error> {
    let sql = if identities {
        "SELECT COUNT(*) FROM devices WHERE user_id = $1 AND identity_region IS NOT NULL AND paused_at IS NULL"
    } else {
        "SELECT COUNT(*) FROM devices WHERE user_id = $1 AND identity_region IS NULL AND paused_at IS NULL"
    };
    sqlx::query(sql)
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)
}

const DEVICE_SELECT: &str = "SELECT d.id, d.name, d.server_id, s.name AS server_name, s.region, d.public_key, d.v4_index, \
    d.v6_index, s.ipv4_pool, s.ipv6_pool, d.identity_region, d.tunnel_mode, d.last_handshake_at, d.rx_bytes, d.tx_bytes, s.last_report_at, \
    d.awaiting_key_since, d.paused_at FROM devices d JOIN vpn_servers s ON s.id = d.server_id";

fn device_from_row(r: &AnyRow) -> Result<DeviceInfo, sqlx::Error> {
    let v4_pool: String = r.try_get("ipv4_pool")?;
    let v6_pool: Option<String> = r.try_get("ipv6_pool")?;
    let v4_index: i64 = r.try_get("v4_index")?;
    let v6_index: Option<i64> = r.try_get("v6_index")?;
    let addr = |pool: &str, idx: i64| {
        super::ipam::Pool::parse(pool)
            .ok()
            .and_then(|p| p.address(idx))
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    let last_handshake_at: Option<i64> = r.try_get("last_handshake_at")?;
    let last_report: Option<i64> = r.try_get("last_report_at")?;
    Ok(DeviceInfo {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        server_id: r.try_get("server_id")?,
        server_name: r.try_get("server_name")?,
        region: r.try_get("region")?,
        public_key: r.try_get("public_key")?,
        address_v4: addr(&v4_pool, v4_index),
        address_v6: match (v6_pool, v6_index) {
            (Some(p), Some(i)) => Some(addr(&p, i)),
            _ => None,
        },
        identity_region: r.try_get("identity_region")?,
        tunnel_mode: r
            .try_get::<String, _>("tunnel_mode")?
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        connected: last_handshake_at.is_some_and(|t| now() - t < CONNECTED_WITHIN_SECS),
        last_handshake_at,
        rx_bytes: r.try_get("rx_bytes")?,
        tx_bytes: r.try_get("tx_bytes")?,
        server_healthy: last_report.is_some_and(|t| now() - t < NODE_STALE_SECS),
        awaiting_key: r.try_get::<Option<i64>, _>("awaiting_key_since")?.is_some(),
        paused: r.try_get::<Option<i64>, _>("paused_at")?.is_some(),
    })
}

pub async fn list_user_devices(db: &Db, user_id: i64) -> Result<Vec<DeviceInfo>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{DEVICE_SELECT} WHERE d.user_id = $1 ORDER BY d.id"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(device_from_row).collect()
}

pub async fn device_info(db: &Db, id: i64) -> Result<Option<DeviceInfo>, sqlx::Error> {
    let row = sqlx::query(&format!("{DEVICE_SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(device_from_row).transpose()
}

/// One peer of a node's desired config, as stored.
pub struct PeerRow {
    pub public_key: String,
    pub preshared_key_enc: String,
    pub v4_index: i64,
    pub v6_index: Option<i64>,
    /// Where the node last heard from the device: a restored peer gets it so
    /// the node starts the handshake itself.
    pub endpoint: Option<String>,
}

/// Every peer of a server that gets service, for the node's desired config.
pub async fn server_peers(db: &Db, server_id: ServerId) -> Result<Vec<PeerRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        // Accounts without service (`entitlements::service_off_sql`) and
        // users past their plan's monthly data cap are left out until that
        // changes; identities nobody has a key for yet are not peers at all.
        "SELECT d.public_key, d.preshared_key_enc, d.v4_index, d.v6_index, d.endpoint \
         FROM devices d JOIN users u ON u.id = d.user_id WHERE d.server_id = $1 \
         AND d.awaiting_key_since IS NULL AND d.paused_at IS NULL AND u.data_capped_since IS NULL AND {} IS NULL ORDER BY d.id",
        crate::entitlements::service_off_sql()
    ))
    .bind(server_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PeerRow {
                public_key: r.try_get(0)?,
                preshared_key_enc: r.try_get(1)?,
                v4_index: r.try_get(2)?,
                v6_index: r.try_get(3)?,
                endpoint: r.try_get(4)?,
            })
        })
        .collect()
}

/// A change to the user's service (suspension, payment, a plan change):
/// every server holding one of their devices gets a new desired-config
/// version, so its node re-reads its peers.
pub async fn bump_user_servers(tx: &mut Tx, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vpn_servers SET peers_version = peers_version + 1 WHERE id IN (SELECT server_id FROM devices WHERE user_id = $1) \
         OR id IN (SELECT server_id FROM home_sites WHERE user_id = $1 AND server_id IS NOT NULL)",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn usage(db: &Db, device_id: i64, since_day: i64) -> Result<Vec<UsageDay>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT day, rx_bytes, tx_bytes, connected_seconds FROM device_usage WHERE device_id = $1 AND day >= $2 ORDER BY day",
    )
    .bind(device_id)
    .bind(since_day)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UsageDay {
                day: r.try_get(0)?,
                rx_bytes: r.try_get(1)?,
                tx_bytes: r.try_get(2)?,
                connected_seconds: r.try_get(3)?,
            })
        })
        .collect()
}

/// Traffic per user since `since_day`, heaviest first.
pub async fn usage_by_user(
    db: &Db,
    since_day: i64,
    limit: i64,
) -> Result<Vec<UserUsage>, sqlx::Error> {
    let rows = sqlx::query(
        // SUM of BIGINT is NUMERIC on PostgreSQL: cast back for one decoder.
        // The user's ledger (`user_usage`), so deleted devices' traffic counts.
        "SELECT u.email, (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id) AS devices, \
                CAST(COALESCE(SUM(uu.rx_bytes), 0) AS BIGINT) AS rx, \
                CAST(COALESCE(SUM(uu.tx_bytes), 0) AS BIGINT) AS tx, \
                CAST(COALESCE(SUM(uu.connected_seconds), 0) AS BIGINT) AS secs \
         FROM users u LEFT JOIN user_usage uu ON uu.user_id = u.id AND uu.day >= $1 \
         WHERE u.tenant_id IS NULL \
           AND (EXISTS (SELECT 1 FROM devices d WHERE d.user_id = u.id) OR uu.user_id IS NOT NULL) \
         GROUP BY u.id, u.email ORDER BY COALESCE(SUM(uu.rx_bytes), 0) + COALESCE(SUM(uu.tx_bytes), 0) DESC, u.email \
         LIMIT $2",
    )
    .bind(since_day)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UserUsage {
                email: r.try_get("email")?,
                devices: r.try_get("devices")?,
                rx_bytes: r.try_get("rx")?,
                tx_bytes: r.try_get("tx")?,
                connected_seconds: r.try_get("secs")?,
            })
        })
        .collect()
}

/// What a stats report's traffic crossed on the usage meter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CapCrossings {
    /// Monthly data cap now used up, not capped yet: capped now.
    pub capped: Vec<i64>,
    /// At or past 80 % of the cap (the warning mail, once a month).
    pub warned: Vec<i64>,
}

/// The share of the cap at which the warning mail goes, in percent.
pub const CAP_WARNING_PERCENT: i64 = 80;

/// Users among `user_ids` at or past the warning share of their monthly
/// data cap (from their entitlements; VIPs have none), and those whose cap
/// is now used up and who are not capped yet. A cap an administrator lifted
/// for this month caps nothing and warns nothing.
pub async fn cap_crossings(
    tx: &mut Tx,
    user_ids: &[i64],
    month_start_day: i64,
) -> Result<CapCrossings, sqlx::Error> {
    let entitled = Entitlements::for_users(tx, user_ids).await?;
    let with_cap: Vec<(i64, i64)> = user_ids
        .iter()
        .filter_map(|id| Some((*id, entitled.get(id)?.data_cap_bytes?)))
        .collect();
    let mut out = CapCrossings::default();
    // A report may name tens of thousands of users; stay far below the
    // engines' bind-parameter limits.
    for chunk in with_cap.chunks(500) {
        let list = (2..2 + chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            // The user's ledger: a deleted device's traffic still counts.
            "SELECT u.id, (SELECT CAST(COALESCE(SUM(uu.rx_bytes + uu.tx_bytes), 0) AS BIGINT) \
                FROM user_usage uu WHERE uu.user_id = u.id AND uu.day >= $1) AS used, \
                CAST(CASE WHEN u.data_capped_since IS NULL THEN 0 ELSE 1 END AS BIGINT) AS capped \
             FROM users u WHERE (u.data_cap_lifted_month IS NULL OR u.data_cap_lifted_month <> $1) \
             AND u.id IN ({list})"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64)>(&sql).bind(month_start_day);
        for (id, _) in chunk {
            q = q.bind(id);
        }
        for (id, used, capped) in q.fetch_all(&mut **tx).await? {
            let Some(cap) = entitled.get(&id).and_then(|e| e.data_cap_bytes) else {
                continue;
            };
            if capped == 0 && used >= cap {
                out.capped.push(id);
            }
            if i128::from(used) * 100 >= i128::from(cap) * i128::from(CAP_WARNING_PERCENT) {
                out.warned.push(id);
            }
        }
    }
    Ok(out)
}

/// Records that the usage meter's `kind` mail (`warning`, `capped`) is due
/// for the user this month; false when it went already this month.
pub async fn first_usage_alert(
    tx: &mut Tx,
    user_id: i64,
    month_start_day: i64,
    kind: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO usage_alerts (user_id, month_day, kind, sent_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, month_day, kind) DO NOTHING",
    )
    .bind(user_id)
    .bind(month_start_day)
    .bind(kind)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// An administrator lifts the user's cap for the month starting on
/// `month_start_day`: the peers return now, and the month's traffic caps
/// them no more.
pub async fn lift_cap_for_month(
    tx: &mut Tx,
    user_id: i64,
    month_start_day: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query("UPDATE users SET data_cap_lifted_month = $1 WHERE id = $2")
        .bind(month_start_day)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    set_data_capped(tx, user_id, None).await?;
    Ok(res.rows_affected() == 1)
}

pub use crate::entitlements::GIB;

/// Starts or lifts a user's data cap; every server holding one of their
/// devices gets a new desired-config version so nodes apply it.
pub async fn set_data_capped(
    tx: &mut Tx,
    user_id: i64,
    since: Option<i64>,
) -> Result<(), sqlx::Error> {
    let res = sqlx::query(
        "UPDATE users SET data_capped_since = $1 WHERE id = $2 AND (data_capped_since IS NULL) <> ($1 IS NULL)",
    )
    .bind(since)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    if res.rows_affected() == 1 {
        bump_user_servers(tx, user_id).await?;
    }
    Ok(())
}

pub async fn set_tunnel_mode(
    tx: &mut Tx,
    id: i64,
    user_id: i64,
    mode: super::model::TunnelMode,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE devices SET tunnel_mode = $1, updated_at = $2 WHERE id = $3 AND user_id = $4",
    )
    .bind(mode.as_str())
    .bind(now())
    .bind(id)
    .bind(user_id)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}

/// One page of a user's devices in id order, after `after` (the public
/// API's cursor), optionally only those on one server.
pub async fn user_devices_page(
    db: &Db,
    user_id: i64,
    after: i64,
    limit: i64,
    server_id: Option<ServerId>,
) -> Result<Vec<DeviceInfo>, sqlx::Error> {
    let rows = match server_id {
        Some(s) => {
            sqlx::query(&format!(
                "{DEVICE_SELECT} WHERE d.user_id = $1 AND d.id > $2 AND d.server_id = $3 ORDER BY d.id LIMIT $4"
            ))
            .bind(user_id)
            .bind(after)
            .bind(s)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "{DEVICE_SELECT} WHERE d.user_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3"
            ))
            .bind(user_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
    };
    rows.iter().map(device_from_row).collect()
}

/// How long a reported latency is used for server selection.
pub const LATENCY_FRESH_SECS: i64 = 7 * 86_400;

/// Records what the user's client measured to a server (the last report wins).
pub async fn record_latency(
    db: &Db,
    user_id: i64,
    server_id: ServerId,
    latency_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO server_latency (user_id, server_id, latency_ms, measured_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, server_id) DO UPDATE SET latency_ms = excluded.latency_ms, measured_at = excluded.measured_at",
    )
    .bind(user_id)
    .bind(server_id)
    .bind(latency_ms)
    .bind(now())
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// The user's recent latency reports, by server.
pub async fn user_latencies(
    db: &Db,
    user_id: i64,
) -> Result<std::collections::HashMap<ServerId, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT server_id, latency_ms FROM server_latency WHERE user_id = $1 AND measured_at > $2",
    )
    .bind(user_id)
    .bind(now() - LATENCY_FRESH_SECS)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((ServerId(r.try_get(0)?), r.try_get(1)?)))
        .collect()
}
