//! Camera storage: gateways and cameras. Every query a user triggers is
//! scoped by `user_id`, so a foreign id reads as "not found".

use sqlx::{any::AnyRow, Any, Row, Transaction};

use super::{
    model::{Camera, GatewayInfo, Vendor},
    rules::ValidCamera,
};
use crate::db::{now, Db};

type Tx = Transaction<'static, Any>;

/// A gateway counts as online while its flag is set and its tunnel has
/// refreshed `last_seen_at` within the idle timeout: a portal that crashed
/// cannot clear the flag, but it goes stale.
fn is_online(flag: i64, last_seen: Option<i64>) -> bool {
    let fresh = truevault_wire::gateway::IDLE_TIMEOUT_SECS as i64;
    flag != 0 && last_seen.is_some_and(|t| t >= now() - fresh)
}

// ---- gateways ----

pub async fn create_gateway(db: &Db, user_id: i64, name: &str, hash: &str) -> sqlx::Result<i64> {
    let row = sqlx::query(
        "INSERT INTO camera_gateways (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(hash)
    .bind(now())
    .fetch_one(&db.pool)
    .await?;
    row.try_get(0)
}

pub async fn active_gateway_count(db: &Db, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM camera_gateways WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await
}

pub async fn list_gateways(db: &Db, user_id: i64) -> sqlx::Result<Vec<GatewayInfo>> {
    let rows = sqlx::query(
        "SELECT g.id, g.name, g.created_at, g.last_seen_at, g.online, g.agent, g.revoked_at, \
         (SELECT COUNT(*) FROM cameras c WHERE c.gateway_id = g.id) AS cams \
         FROM camera_gateways g WHERE g.user_id = $1 ORDER BY g.revoked_at IS NOT NULL, g.id DESC",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(GatewayInfo {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                online: is_online(r.try_get("online")?, r.try_get("last_seen_at")?),
                agent: r.try_get("agent")?,
                revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                cameras: r.try_get("cams")?,
            })
        })
        .collect()
}

/// Revokes one of the user's gateways; false when not theirs or already revoked.
pub async fn revoke_gateway(db: &Db, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE camera_gateways SET revoked_at = $1, online = 0 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(id)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The user's live (not revoked) gateway with this id.
pub async fn owns_live_gateway(db: &Db, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM camera_gateways WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n == 1)
}

/// The (gateway id, user id, user status) behind a live gateway token.
pub async fn find_gateway_by_token(
    db: &Db,
    hash: &str,
) -> sqlx::Result<Option<(i64, i64, String)>> {
    let row = sqlx::query(
        "SELECT g.id, g.user_id, u.status FROM camera_gateways g JOIN users u ON u.id = g.user_id \
         WHERE g.token_hash = $1 AND g.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .transpose()
}

/// Whether the gateway is still live (checked by its tunnel now and then,
/// so revoking ends a connected session too).
pub async fn gateway_is_live(db: &Db, id: i64) -> sqlx::Result<bool> {
    // Revoked, or its account lost service (`entitlements::service_off_sql`).
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM camera_gateways g JOIN users u ON u.id = g.user_id \
         WHERE g.id = $1 AND g.revoked_at IS NULL AND {} IS NULL",
        crate::entitlements::service_off_sql()
    ))
    .bind(id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n == 1)
}

/// Whether both the camera's owner and its viewer get service now
/// (`entitlements::service_off_sql`): a live view ends when either loses it.
pub async fn camera_in_service(db: &Db, camera_id: i64, viewer_id: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM users u WHERE (u.id = $1 OR u.id = (SELECT c.user_id FROM cameras c WHERE c.id = $2)) \
         AND {} IS NULL",
        crate::entitlements::service_off_sql()
    ))
    .bind(viewer_id)
    .bind(camera_id)
    .fetch_one(&db.pool)
    .await?;
    let owner_is_viewer: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM cameras WHERE id = $1 AND user_id = $2")
            .bind(camera_id)
            .bind(viewer_id)
            .fetch_one(&db.pool)
            .await?;
    Ok(n == 2 - owner_is_viewer)
}

pub async fn gateway_seen(db: &Db, id: i64, online: bool, agent: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE camera_gateways SET last_seen_at = $1, online = $2, agent = COALESCE($3, agent) WHERE id = $4",
    )
    .bind(now())
    .bind(i64::from(online))
    .bind(agent)
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

// ---- cameras ----

const CAMERA_SELECT: &str =
    "SELECT c.id, c.name, c.vendor, c.model, c.ip, c.mac, c.rtsp_port, c.http_port, \
    c.main_stream_url, c.sub_stream_url, c.snapshot_url, c.username, c.password_enc, c.gateway_id, \
    g.name AS gateway_name, g.online AS gateway_online, g.last_seen_at AS gateway_seen, c.lan_device_id, c.created_at \
    FROM cameras c LEFT JOIN camera_gateways g ON g.id = c.gateway_id AND g.revoked_at IS NULL";

fn camera_from_row(r: &AnyRow) -> Result<Camera, sqlx::Error> {
    let vendor: String = r.try_get("vendor")?;
    let port = |col: &str| -> Result<u16, sqlx::Error> {
        Ok(u16::try_from(r.try_get::<i64, _>(col)?).unwrap_or_default())
    };
    let gateway_name: Option<String> = r.try_get("gateway_name")?;
    Ok(Camera {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        vendor: Vendor::parse(&vendor).unwrap_or(Vendor::Generic),
        model: r.try_get("model")?,
        ip: r.try_get("ip")?,
        mac: r.try_get("mac")?,
        rtsp_port: port("rtsp_port")?,
        http_port: port("http_port")?,
        main_stream_url: r.try_get("main_stream_url")?,
        sub_stream_url: r.try_get("sub_stream_url")?,
        snapshot_url: r.try_get("snapshot_url")?,
        username: r.try_get("username")?,
        has_password: r.try_get::<Option<String>, _>("password_enc")?.is_some(),
        // A revoked gateway is joined away: the camera reads as unserved.
        gateway_id: gateway_name
            .as_ref()
            .and(r.try_get::<Option<i64>, _>("gateway_id")?),
        gateway_online: is_online(
            r.try_get::<Option<i64>, _>("gateway_online")?.unwrap_or(0),
            r.try_get("gateway_seen")?,
        ),
        gateway_name,
        lan_device_id: r.try_get("lan_device_id")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn list_cameras(db: &Db, user_id: i64) -> sqlx::Result<Vec<Camera>> {
    let rows = sqlx::query(&format!(
        "{CAMERA_SELECT} WHERE c.user_id = $1 ORDER BY c.id"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(camera_from_row).collect()
}

pub async fn find_camera(db: &Db, user_id: i64, id: i64) -> sqlx::Result<Option<Camera>> {
    let row = sqlx::query(&format!(
        "{CAMERA_SELECT} WHERE c.id = $1 AND c.user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(camera_from_row).transpose()
}

/// The camera's gateway, if any (for routing start/stop and snapshots).
pub async fn camera_gateway(db: &Db, id: i64) -> sqlx::Result<Option<i64>> {
    let v: Option<Option<i64>> = sqlx::query_scalar("SELECT gateway_id FROM cameras WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(v.flatten())
}

/// What a gateway needs to pull its cameras (password still sealed).
#[derive(sqlx::FromRow)]
pub struct GatewayCamera {
    pub id: i64,
    pub name: String,
    pub main_stream_url: String,
    pub sub_stream_url: Option<String>,
    pub snapshot_url: Option<String>,
    pub username: Option<String>,
    pub password_enc: Option<String>,
    pub vendor: String,
    pub ip: String,
    pub http_port: i64,
}

pub async fn gateway_cameras(db: &Db, gateway_id: i64) -> sqlx::Result<Vec<GatewayCamera>> {
    sqlx::query_as(
        "SELECT id, name, main_stream_url, sub_stream_url, snapshot_url, username, password_enc, \
                vendor, ip, http_port FROM cameras \
         WHERE gateway_id = $1 ORDER BY id",
    )
    .bind(gateway_id)
    .fetch_all(&db.pool)
    .await
}

/// The camera's last stored online/offline, if any.
pub async fn last_health_kind(db: &Db, camera_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT kind FROM camera_events WHERE camera_id = $1 AND kind IN ('online', 'offline') \
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(camera_id)
    .fetch_optional(&db.pool)
    .await
}

/// Stores an event for the camera's owner; false when the camera is gone.
pub async fn insert_event(
    db: &Db,
    camera_id: i64,
    kind: super::model::CameraEventKind,
    at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO camera_events (camera_id, user_id, kind, at) \
         SELECT id, user_id, $2, $3 FROM cameras WHERE id = $1",
    )
    .bind(camera_id)
    .bind(kind.as_str())
    .bind(at)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Stores a detection with its thumbnail; the new event's id and the
/// camera's owner, or None when the camera is gone.
pub async fn insert_detection(
    db: &Db,
    camera_id: i64,
    kind: super::model::CameraEventKind,
    at: i64,
    thumbnail: Option<(&str, &[u8])>,
) -> sqlx::Result<Option<(i64, i64)>> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO camera_events (camera_id, user_id, kind, at) \
         SELECT id, user_id, $2, $3 FROM cameras WHERE id = $1 RETURNING id, user_id",
    )
    .bind(camera_id)
    .bind(kind.as_str())
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (id, user_id): (i64, i64) = (row.try_get("id")?, row.try_get("user_id")?);
    if let Some((content_type, data)) = thumbnail {
        sqlx::query(
            "INSERT INTO camera_event_thumbnails (event_id, content_type, data) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(content_type)
        .bind(data.to_vec())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some((id, user_id)))
}

/// An event's thumbnail, for the camera it belongs to.
pub async fn event_thumbnail(
    db: &Db,
    camera_id: i64,
    event_id: i64,
) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    let row = sqlx::query(
        "SELECT t.content_type, t.data FROM camera_event_thumbnails t \
         JOIN camera_events e ON e.id = t.event_id WHERE e.id = $1 AND e.camera_id = $2",
    )
    .bind(event_id)
    .bind(camera_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((r.try_get("content_type")?, r.try_get("data")?)))
        .transpose()
}

/// The user's own cameras' events, newest first, filtered.
pub async fn list_events(
    db: &Db,
    user_id: i64,
    filter: &super::model::EventFilter,
    limit: i64,
) -> sqlx::Result<Vec<super::model::CameraEvent>> {
    let (from, to) = filter.day.unwrap_or((i64::MIN, i64::MAX));
    let rows = sqlx::query(
        "SELECT e.id, e.camera_id, c.name, e.kind, e.at, \
                (SELECT COUNT(*) FROM camera_event_thumbnails t WHERE t.event_id = e.id) AS thumbs \
         FROM camera_events e \
         JOIN cameras c ON c.id = e.camera_id \
         WHERE e.user_id = $1 AND ($2 = 0 OR e.camera_id = $2) AND ($3 = '' OR e.kind = $3) \
           AND e.at >= $4 AND e.at < $5 \
         ORDER BY e.at DESC, e.id DESC LIMIT $6",
    )
    .bind(user_id)
    .bind(filter.camera.unwrap_or(0))
    .bind(filter.kind.map_or("", |k| k.as_str()))
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .filter_map(|r| {
            let kind: String = match r.try_get("kind") {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            // A kind this version does not know is skipped, not an error.
            let kind = super::model::CameraEventKind::parse(&kind)?;
            Some(Ok(super::model::CameraEvent {
                id: r.try_get("id").ok()?,
                camera_id: r.try_get("camera_id").ok()?,
                camera_name: r.try_get("name").ok()?,
                kind,
                at: r.try_get("at").ok()?,
                has_thumbnail: r.try_get::<i64, _>("thumbs").ok()? > 0,
            }))
        })
        .collect()
}

pub async fn count_cameras(tx: &mut Tx, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM cameras WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await
}

pub async fn insert_camera(
    tx: &mut Tx,
    user_id: i64,
    c: &ValidCamera,
    password_enc: Option<&str>,
) -> sqlx::Result<i64> {
    let row = sqlx::query(
        "INSERT INTO cameras (user_id, gateway_id, name, vendor, model, ip, mac, rtsp_port, http_port, \
         main_stream_url, sub_stream_url, snapshot_url, username, password_enc, lan_device_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(user_id)
    .bind(c.gateway_id)
    .bind(&c.name)
    .bind(c.vendor.as_str())
    .bind(&c.model)
    .bind(&c.ip)
    .bind(&c.mac)
    .bind(i64::from(c.rtsp_port))
    .bind(i64::from(c.http_port))
    .bind(&c.main_stream_url)
    .bind(&c.sub_stream_url)
    .bind(&c.snapshot_url)
    .bind(&c.username)
    .bind(password_enc)
    .bind(c.lan_device_id)
    .bind(now())
    .fetch_one(&mut **tx)
    .await?;
    row.try_get(0)
}

/// What an edit does to the stored (sealed) password.
pub enum StoredPassword<'a> {
    Keep,
    Set(&'a str),
    Clear,
}

/// Updates the user's camera.
pub async fn update_camera(
    db: &Db,
    user_id: i64,
    id: i64,
    c: &ValidCamera,
    password: StoredPassword<'_>,
) -> sqlx::Result<bool> {
    let (keep, password_enc) = match password {
        StoredPassword::Keep => (1_i64, None),
        StoredPassword::Set(s) => (0, Some(s)),
        StoredPassword::Clear => (0, None),
    };
    let res = sqlx::query(
        "UPDATE cameras SET gateway_id = $1, name = $2, vendor = $3, model = $4, ip = $5, mac = $6, \
         rtsp_port = $7, http_port = $8, main_stream_url = $9, sub_stream_url = $10, snapshot_url = $11, \
         username = $12, password_enc = CASE WHEN $16 = 1 THEN password_enc ELSE $13 END \
         WHERE id = $14 AND user_id = $15",
    )
    .bind(c.gateway_id)
    .bind(&c.name)
    .bind(c.vendor.as_str())
    .bind(&c.model)
    .bind(&c.ip)
    .bind(&c.mac)
    .bind(i64::from(c.rtsp_port))
    .bind(i64::from(c.http_port))
    .bind(&c.main_stream_url)
    .bind(&c.sub_stream_url)
    .bind(&c.snapshot_url)
    .bind(&c.username)
    .bind(password_enc)
    .bind(id)
    .bind(user_id)
    .bind(keep)
    .execute(&db.pool)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Deletes the user's camera and returns the gateway that served it.
pub async fn delete_camera(db: &Db, user_id: i64, id: i64) -> sqlx::Result<Option<Option<i64>>> {
    let row =
        sqlx::query("DELETE FROM cameras WHERE id = $1 AND user_id = $2 RETURNING gateway_id")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    row.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()
}
