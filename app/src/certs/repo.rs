//! Certificate storage (portable SQL, `$n` placeholders). Rows map with
//! `sqlx::FromRow`; kinds and origins parse into their enums on the way out.

use sqlx::{Any, Executor};

use super::model::{CaId, CertId, CertKind, KeyOrigin};
use crate::{db::Db, typed::UserId};

pub type Tx = sqlx::Transaction<'static, Any>;

/// A user's CA. The key stays sealed until a signature needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaRow {
    pub id: CaId,
    pub user_id: UserId,
    pub slug: String,
    pub subject: String,
    pub cert_pem: String,
    pub key_sealed: String,
    pub not_after: i64,
    pub crl_number: i64,
    pub crl_next_update: i64,
}

const CA_COLS: &str =
    "id, user_id, slug, subject, cert_pem, key_sealed, not_after, crl_number, crl_next_update";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertRow {
    pub id: CertId,
    pub ca_id: CaId,
    pub user_id: UserId,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub kind: CertKind,
    #[sqlx(try_from = "String")]
    pub key_origin: KeyOrigin,
    pub serial: String,
    pub names: String,
    pub spki_b64: String,
    pub cert_pem: String,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

const CERT_COLS: &str = "id, ca_id, user_id, name, kind, key_origin, serial, names, spki_b64, cert_pem, not_before, not_after, revoked_at";

pub struct NewCa<'a> {
    pub user_id: UserId,
    pub slug: &'a str,
    pub subject: &'a str,
    pub cert_pem: &'a str,
    pub key_sealed: &'a str,
    pub not_after: i64,
    pub crl_der: &'a [u8],
    pub now: i64,
}

pub async fn insert_ca(tx: &mut Tx, ca: &NewCa<'_>) -> sqlx::Result<CaId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO cert_authorities (user_id, slug, subject, cert_pem, key_sealed, not_after, crl_der, crl_number, crl_next_update, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9) RETURNING id",
    )
    .bind(ca.user_id)
    .bind(ca.slug)
    .bind(ca.subject)
    .bind(ca.cert_pem)
    .bind(ca.key_sealed)
    .bind(ca.not_after)
    .bind(ca.crl_der)
    .bind(ca.now + super::ca::CRL_VALID_SECS)
    .bind(ca.now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(CaId(id))
}

pub async fn user_ca<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: UserId,
) -> sqlx::Result<Option<CaRow>> {
    sqlx::query_as(&format!(
        "SELECT {CA_COLS} FROM cert_authorities WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

pub async fn ca_by_id<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: CaId,
) -> sqlx::Result<Option<CaRow>> {
    sqlx::query_as(&format!(
        "SELECT {CA_COLS} FROM cert_authorities WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(ex)
    .await
}

pub async fn crl_by_slug(db: &Db, slug: &str) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT crl_der FROM cert_authorities WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&db.pool)
        .await
}

pub async fn set_crl(
    tx: &mut Tx,
    id: CaId,
    der: &[u8],
    number: i64,
    next_update: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE cert_authorities SET crl_der = $1, crl_number = $2, crl_next_update = $3 WHERE id = $4")
        .bind(der)
        .bind(number)
        .bind(next_update)
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Serials (hex) and revocation times of the CA's revoked certificates
/// that have not expired (an expired certificate needs no CRL entry).
pub async fn revoked(tx: &mut Tx, ca: CaId, now: i64) -> sqlx::Result<Vec<(String, i64, bool)>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT c.serial, c.revoked_at, (SELECT COUNT(*) FROM certificates n WHERE n.renewed_from = c.id) \
         FROM certificates c WHERE c.ca_id = $1 AND c.revoked_at IS NOT NULL AND c.not_after > $2 ORDER BY c.id",
    )
    .bind(ca.0)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(s, at, n)| (s, at, n > 0)).collect())
}

pub struct NewCert<'a> {
    pub ca_id: CaId,
    pub user_id: UserId,
    pub name: &'a str,
    pub kind: CertKind,
    pub key_origin: KeyOrigin,
    pub serial: &'a str,
    pub names: &'a str,
    pub spki_b64: &'a str,
    pub cert_pem: &'a str,
    pub not_before: i64,
    pub not_after: i64,
    pub renewed_from: Option<CertId>,
    pub now: i64,
}

pub async fn insert_cert(tx: &mut Tx, c: &NewCert<'_>) -> sqlx::Result<CertId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO certificates (ca_id, user_id, name, kind, key_origin, serial, names, spki_b64, cert_pem, not_before, not_after, renewed_from, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(c.ca_id.0)
    .bind(c.user_id)
    .bind(c.name)
    .bind(c.kind.as_str())
    .bind(c.key_origin.as_str())
    .bind(c.serial)
    .bind(c.names)
    .bind(c.spki_b64)
    .bind(c.cert_pem)
    .bind(c.not_before)
    .bind(c.not_after)
    .bind(c.renewed_from.map(|i| i.0))
    .bind(c.now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(CertId(id))
}

/// Live certificates: not revoked, not expired.
pub async fn live_count(tx: &mut Tx, user_id: UserId, now: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE user_id = $1 AND revoked_at IS NULL AND not_after > $2")
        .bind(user_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
}

/// All of a user's certificates and the live ones among them, for the
/// dashboard's card (one statement instead of the page's list).
pub async fn counts(db: &Db, user_id: UserId, now: i64) -> sqlx::Result<(i64, i64)> {
    let row: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN revoked_at IS NULL AND not_after > $2 THEN 1 ELSE 0 END), 0) \
         FROM certificates WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok(row)
}

pub async fn user_certs(db: &Db, user_id: UserId) -> sqlx::Result<Vec<CertRow>> {
    sqlx::query_as(&format!(
        "SELECT {CERT_COLS} FROM certificates WHERE user_id = $1 ORDER BY id DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

/// The certificate, only if it is the user's.
pub async fn own_cert<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: UserId,
    id: CertId,
) -> sqlx::Result<Option<CertRow>> {
    sqlx::query_as(&format!(
        "SELECT {CERT_COLS} FROM certificates WHERE id = $1 AND user_id = $2"
    ))
    .bind(id.0)
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

pub async fn cert_by_id<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: CertId,
) -> sqlx::Result<Option<CertRow>> {
    sqlx::query_as(&format!(
        "SELECT {CERT_COLS} FROM certificates WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(ex)
    .await
}

/// Marks a live certificate revoked; false when it was not live.
pub async fn revoke(tx: &mut Tx, user_id: UserId, id: CertId, now: i64) -> sqlx::Result<bool> {
    let res = sqlx::query("UPDATE certificates SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND not_after > $1")
        .bind(now)
        .bind(id.0)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(res.rows_affected() == 1)
}

/// What a user may claim from their home: inventory host names and
/// addresses.
pub async fn inventory_names(
    db: &Db,
    user_id: UserId,
) -> sqlx::Result<Vec<(Option<String>, String)>> {
    sqlx::query_as("SELECT hostname, ip FROM lan_devices WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await
}

/// The user's e-mail and first name (for the reminder).
pub async fn recipient(db: &Db, user_id: UserId) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as("SELECT email, first_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await
}
