//! Inventory storage: scanner tokens, devices and events.

use sqlx::{any::AnyRow, Any, Row, Transaction};

use super::{
    model::{DeviceType, LanDevice, LanEvent, ScannerTokenInfo},
    rules::{Host, Known, Plan},
};
use crate::db::{now, Db};

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's
/// bind-parameter limits with 13 columns.
const CHUNK: usize = 200;

// ---- scanner tokens ----

/// Stores a new token by its hash; `sealed` keeps the token itself (sealed)
/// for one later reveal, when nobody was there to see it made (sign-up).
pub async fn create_token(
    db: &Db,
    user_id: i64,
    name: &str,
    hash: &str,
    sealed: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO scanner_tokens (user_id, name, token_hash, created_at, token_sealed) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(name)
    .bind(hash)
    .bind(now())
    .bind(sealed)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Takes the sealed copy of the user's live sign-up token: returned once,
/// and erased; of two concurrent reveals only the one whose erase changed
/// the row gets it.
pub async fn take_sealed_token(db: &Db, user_id: i64) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT id, name, token_sealed FROM scanner_tokens \
         WHERE user_id = $1 AND token_sealed IS NOT NULL AND revoked_at IS NULL ORDER BY id LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (id, name, sealed): (i64, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let erased = sqlx::query(
        "UPDATE scanner_tokens SET token_sealed = NULL WHERE id = $1 AND token_sealed IS NOT NULL",
    )
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok((erased.rows_affected() == 1).then_some((name, sealed)))
}

pub async fn active_token_count(db: &Db, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM scanner_tokens WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await
}

pub async fn list_tokens(db: &Db, user_id: i64) -> sqlx::Result<Vec<ScannerTokenInfo>> {
    sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, last_network, (revoked_at IS NOT NULL) AS revoked, \
         (token_sealed IS NOT NULL AND revoked_at IS NULL) AS unrevealed \
         FROM scanner_tokens WHERE user_id = $1 ORDER BY revoked_at IS NOT NULL, id DESC",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

/// Revokes one of the user's tokens; false when it is not theirs or already revoked.
pub async fn revoke_token(db: &Db, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE scanner_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(id)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The (token id, user id, user status) behind a live token.
pub async fn find_token(db: &Db, hash: &str) -> sqlx::Result<Option<(i64, i64, String)>> {
    let row = sqlx::query(
        "SELECT t.id, t.user_id, u.status FROM scanner_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .transpose()
}

pub async fn token_used(db: &Db, id: i64, network: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE scanner_tokens SET last_used_at = $1, last_network = $2 WHERE id = $3")
        .bind(now())
        .bind(network)
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

// ---- devices ----

pub async fn known_devices(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
) -> sqlx::Result<Vec<Known>> {
    sqlx::query_as(
        "SELECT id, mac, ip, online, hostname, vendor, model, randomized_mac, device_type, is_camera, \
         stream_url, services, open_ports FROM lan_devices WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await
}

/// Writes a sync plan; returns the (id, display text) of inserted devices.
pub async fn apply(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    plan: &Plan,
) -> sqlx::Result<Vec<(i64, String)>> {
    let at = now();
    let mut events: Vec<(i64, &str, String)> = Vec::new();
    let mut inserted = Vec::with_capacity(plan.insert.len());
    for chunk in plan.insert.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO lan_devices (user_id, mac, ip, hostname, vendor, model, randomized_mac, device_type, \
             is_camera, stream_url, services, open_ports, online, first_seen, last_seen) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 12;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 1, ${}, ${})",
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11,
                b + 12,
                b + 13,
                b + 13
            ));
        }
        sql.push_str(" RETURNING id, mac");
        let mut q = sqlx::query(&sql).bind(user_id);
        for h in chunk {
            q = bind_host(q, h).bind(at);
        }
        let rows = q.fetch_all(&mut **tx).await?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let mac: String = r.try_get(1)?;
            if let Some(h) = chunk.iter().find(|h| h.mac == mac) {
                let what = describe(h);
                events.push((id, "new", what.clone()));
                inserted.push((id, what));
            }
        }
    }
    for (id, h, moved, was_offline) in &plan.update {
        let q = sqlx::query(
            "UPDATE lan_devices SET mac = $1, ip = $2, hostname = $3, vendor = $4, model = $5, randomized_mac = $6, \
             device_type = $7, is_camera = $8, stream_url = $9, services = $10, open_ports = $11, online = 1, \
             last_seen = $12 WHERE id = $13 AND user_id = $14",
        );
        bind_host(q, h)
            .bind(at)
            .bind(id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        if let Some(old) = moved {
            events.push((*id, "ip_changed", format!("{old} → {}", h.ip)));
        }
        if *was_offline {
            events.push((*id, "online", String::new()));
        }
    }
    for chunk in plan.touch.chunks(CHUNK) {
        let list = placeholders(3, chunk.len());
        let sql = format!(
            "UPDATE lan_devices SET last_seen = $1, online = 1 WHERE user_id = $2 AND id IN ({list})"
        );
        let mut q = sqlx::query(&sql).bind(at).bind(user_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await?;
    }
    events.extend(
        plan.back_online
            .iter()
            .map(|id| (*id, "online", String::new())),
    );
    for chunk in plan.offline.chunks(CHUNK) {
        let list = placeholders(2, chunk.len());
        let sql =
            format!("UPDATE lan_devices SET online = 0 WHERE user_id = $1 AND id IN ({list})");
        let mut q = sqlx::query(&sql).bind(user_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await?;
    }
    events.extend(
        plan.offline
            .iter()
            .map(|id| (*id, "offline", String::new())),
    );
    for chunk in events.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO lan_events (user_id, device_id, kind, detail, created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 3;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, ${}, ${}, ${}, $2)", b + 3, b + 4, b + 5));
        }
        let mut q = sqlx::query(&sql).bind(user_id).bind(at);
        for (id, kind, detail) in chunk {
            q = q.bind(id).bind(*kind).bind(detail.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(inserted)
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds a host's eleven facts in the order insert and update both use.
fn bind_host<'q>(q: Query<'q>, h: &'q Host) -> Query<'q> {
    q.bind(h.mac.as_str())
        .bind(h.ip.as_str())
        .bind(h.hostname.as_deref())
        .bind(h.vendor.as_deref())
        .bind(h.model.as_deref())
        .bind(i64::from(h.randomized_mac))
        .bind(h.device_type.as_str())
        .bind(i64::from(h.is_camera))
        .bind(h.stream_url.as_deref())
        .bind(h.services.as_str())
        .bind(h.open_ports.as_str())
}

fn describe(h: &Host) -> String {
    let name = h
        .hostname
        .clone()
        .or_else(|| h.model.clone())
        .or_else(|| h.vendor.clone())
        .unwrap_or_else(|| "unknown device".into());
    format!("{name} ({}, {})", h.ip, h.mac)
}

const DEVICE_COLS: &str =
    "id, mac, ip, label, hostname, vendor, model, randomized_mac, device_type, is_camera, \
    stream_url, services, open_ports, online, first_seen, last_seen";

fn device_from_row(r: &AnyRow) -> sqlx::Result<LanDevice> {
    let services: String = r.try_get("services")?;
    let ports: String = r.try_get("open_ports")?;
    let device_type: String = r.try_get("device_type")?;
    Ok(LanDevice {
        id: r.try_get("id")?,
        mac: r.try_get("mac")?,
        ip: r.try_get("ip")?,
        label: r.try_get("label")?,
        hostname: r.try_get("hostname")?,
        vendor: r.try_get("vendor")?,
        model: r.try_get("model")?,
        randomized_mac: r.try_get::<i64, _>("randomized_mac")? != 0,
        device_type: DeviceType::parse(&device_type).unwrap_or_default(),
        is_camera: r.try_get::<i64, _>("is_camera")? != 0,
        stream_url: r.try_get("stream_url")?,
        // Written by us from validated input; unreadable means empty.
        services: serde_json::from_str(&services).unwrap_or_default(),
        open_ports: serde_json::from_str(&ports).unwrap_or_default(),
        online: r.try_get::<i64, _>("online")? != 0,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
    })
}

pub async fn list_devices(db: &Db, user_id: i64) -> sqlx::Result<Vec<LanDevice>> {
    let rows = sqlx::query(&format!(
        "SELECT {DEVICE_COLS} FROM lan_devices WHERE user_id = $1 ORDER BY online DESC, device_type, ip"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(device_from_row).collect()
}

pub async fn find_device(db: &Db, user_id: i64, id: i64) -> sqlx::Result<Option<LanDevice>> {
    let row = sqlx::query(&format!(
        "SELECT {DEVICE_COLS} FROM lan_devices WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(device_from_row).transpose()
}

pub async fn set_label(db: &Db, user_id: i64, id: i64, label: Option<&str>) -> sqlx::Result<bool> {
    let res = sqlx::query("UPDATE lan_devices SET label = $1 WHERE id = $2 AND user_id = $3")
        .bind(label)
        .bind(id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn delete_device(db: &Db, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let res = sqlx::query("DELETE FROM lan_devices WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(res.rows_affected() == 1)
}

const EVENT_SELECT: &str = "SELECT e.id, e.device_id, COALESCE(d.label, d.hostname, d.model, d.vendor, d.mac) AS device_name, \
    e.kind, e.detail, e.created_at FROM lan_events e JOIN lan_devices d ON d.id = e.device_id";

pub async fn device_events(db: &Db, user_id: i64, device_id: i64) -> sqlx::Result<Vec<LanEvent>> {
    sqlx::query_as(&format!(
        "{EVENT_SELECT} WHERE e.user_id = $1 AND e.device_id = $2 ORDER BY e.id DESC LIMIT 200"
    ))
    .bind(user_id)
    .bind(device_id)
    .fetch_all(&db.pool)
    .await
}

pub async fn open_alerts(db: &Db, user_id: i64) -> sqlx::Result<Vec<LanEvent>> {
    sqlx::query_as(&format!(
        "{EVENT_SELECT} WHERE e.user_id = $1 AND e.kind = 'new' AND e.acknowledged = 0 ORDER BY e.id DESC LIMIT 50"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

/// Dismisses the user's new-device alerts (also used inside a sync: the
/// first scan of a network lists everything as new, and that is not news).
pub async fn acknowledge_alerts<'e>(
    ex: impl sqlx::Executor<'e, Database = Any>,
    user_id: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE lan_events SET acknowledged = 1 WHERE user_id = $1 AND acknowledged = 0")
        .bind(user_id)
        .execute(ex)
        .await
        .map(|_| ())
}
