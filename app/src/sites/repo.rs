//! Home-site storage (portable SQL, `$n` placeholders).

use sqlx::{any::AnyRow, Row};

use super::model::{LanSubnet, SiteMapping, SiteSlot, SITE_POOL_SLOTS};
use crate::db::{now, Db};

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A stored site, as the service needs it.
#[derive(Debug, Clone)]
pub struct SiteRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub mapping: SiteMapping,
    pub server_id: crate::typed::ServerId,
    pub v4_index: i64,
    pub psk_sealed: String,
    pub public_key: Option<String>,
    pub last_handshake_at: Option<i64>,
}

const COLS: &str = "id, user_id, name, lan_cidr, range_slot, server_id, v4_index, preshared_key_enc, public_key, last_handshake_at";

fn from_row(r: &AnyRow) -> Result<SiteRow, sqlx::Error> {
    let lan: String = r.try_get("lan_cidr")?;
    let slot: i64 = r.try_get("range_slot")?;
    // Stored values were parsed on the way in; a row that no longer parses
    // is corruption, reported as such rather than skipped.
    let mapping = lan
        .parse::<LanSubnet>()
        .ok()
        .and_then(|lan| SiteMapping::new(lan, SiteSlot(u32::try_from(slot).ok()?)))
        .ok_or_else(|| sqlx::Error::Decode(format!("home site {lan} slot {slot}").into()))?;
    Ok(SiteRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        mapping,
        server_id: r.try_get("server_id")?,
        v4_index: r.try_get("v4_index")?,
        psk_sealed: r.try_get("preshared_key_enc")?,
        public_key: r.try_get("public_key")?,
        last_handshake_at: r.try_get("last_handshake_at")?,
    })
}

pub struct NewSiteRow<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub lan: LanSubnet,
    pub slot: SiteSlot,
    pub server_id: crate::typed::ServerId,
    pub v4_index: i64,
    pub psk_sealed: &'a str,
    pub token_hash: &'a str,
}

pub async fn insert(tx: &mut Tx, s: &NewSiteRow<'_>) -> Result<i64, sqlx::Error> {
    let t = now();
    let row = sqlx::query(
        "INSERT INTO home_sites (user_id, name, lan_cidr, range_slot, server_id, v4_index, preshared_key_enc, token_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(s.user_id)
    .bind(s.name)
    .bind(s.lan.to_string())
    .bind(i64::from(s.slot.0))
    .bind(s.server_id)
    .bind(s.v4_index)
    .bind(s.psk_sealed)
    .bind(s.token_hash)
    .bind(t)
    .fetch_one(&mut **tx)
    .await?;
    row.try_get("id")
}

/// The lowest slot no site holds. The pool is 4,096 slots, so a gap search
/// over the unique index is cheap; two creations racing for the same slot
/// meet the UNIQUE constraint and the loser retries.
pub async fn free_slot(tx: &mut Tx) -> Result<Option<SiteSlot>, sqlx::Error> {
    let taken0 = sqlx::query("SELECT 1 FROM home_sites WHERE range_slot = 0")
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    if !taken0 {
        return Ok(Some(SiteSlot(0)));
    }
    let row = sqlx::query(
        "SELECT MIN(a.range_slot) + 1 AS slot FROM home_sites a WHERE NOT EXISTS \
         (SELECT 1 FROM home_sites b WHERE b.range_slot = a.range_slot + 1)",
    )
    .fetch_one(&mut **tx)
    .await?;
    let slot: Option<i64> = row.try_get("slot")?;
    Ok(slot
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s < SITE_POOL_SLOTS)
        .map(SiteSlot))
}

/// A user's sites, in the caller's transaction (`&mut *tx`) or on the pool.
pub async fn user_sites<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    user_id: i64,
) -> Result<Vec<SiteRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM home_sites WHERE user_id = $1 ORDER BY id"
    ))
    .bind(user_id)
    .fetch_all(ex)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<SiteRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLS} FROM home_sites WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_token(db: &Db, token_hash: &str) -> Result<Option<SiteRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLS} FROM home_sites WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn set_public_key(tx: &mut Tx, id: i64, key: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE home_sites SET public_key = $1, updated_at = $2 WHERE id = $3")
        .bind(key)
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// A new token for a site; the old one stops working and the agent's key
/// is forgotten (the site is set up again, possibly on another machine).
pub async fn set_token(
    tx: &mut Tx,
    id: i64,
    user_id: i64,
    token_hash: &str,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE home_sites SET token_hash = $1, public_key = NULL, updated_at = $2 WHERE id = $3 AND user_id = $4",
    )
    .bind(token_hash)
    .bind(now())
    .bind(id)
    .bind(user_id)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}

pub async fn delete(tx: &mut Tx, id: i64, user_id: i64) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM home_sites WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected())
}

/// Connected sites of a server (agent has sent its key), for the node.
pub async fn server_sites(
    db: &Db,
    server_id: crate::typed::ServerId,
) -> Result<Vec<SiteRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        // A site of an account without service leaves the node with its devices.
        "SELECT {COLS} FROM home_sites WHERE server_id = $1 AND public_key IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = home_sites.user_id AND {} IS NOT NULL) ORDER BY id",
        crate::entitlements::service_off_sql()
    ))
    .bind(server_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// (device v4 index, site) for every device on this server whose owner has
/// a connected site on it: the owner's own-site grants. Capped users' devices
/// are not on the node at all, so they get none.
pub async fn own_site_pairs(
    db: &Db,
    server_id: crate::typed::ServerId,
) -> Result<Vec<(i64, SiteRow)>, sqlx::Error> {
    let cols: String = COLS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "SELECT d.v4_index AS device_v4_index, {cols} FROM devices d JOIN home_sites s ON s.user_id = d.user_id AND s.server_id = d.server_id \
         WHERE d.server_id = $1 AND s.public_key IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id AND u.data_capped_since IS NOT NULL) ORDER BY d.id, s.id"
    ))
    .bind(server_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("device_v4_index")?, from_row(r)?)))
        .collect()
}

/// Handshake and counters from a node report, for a site peer.
pub async fn record_stats(
    tx: &mut Tx,
    server_id: crate::typed::ServerId,
    public_key: &str,
    handshake: Option<i64>,
    rx: i64,
    tx_bytes: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE home_sites SET last_handshake_at = COALESCE($1, last_handshake_at), rx_bytes = $2, tx_bytes = $3 \
         WHERE server_id = $4 AND public_key = $5",
    )
    .bind(handshake)
    .bind(rx)
    .bind(tx_bytes)
    .bind(server_id)
    .bind(public_key)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected() > 0)
}
