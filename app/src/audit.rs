//! Audit log of security-relevant actions. Writing it must never break the
//! action itself, so failures are logged and swallowed.

use crate::db::{now, Db};

pub async fn record(
    db: &Db,
    actor: Option<i64>,
    action: &str,
    target: &str,
    ip: &str,
    details: &str,
) {
    let res = sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, action, target, ip, details) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(ip)
    .bind(details)
    .execute(&db.pool)
    .await;
    if let Err(e) = res {
        tracing::error!(error = %e, action, "could not write audit log");
    }
}

/// The same record, inside the transaction of the change it describes, so
/// the two commit together (and, on SQLite, share one write).
pub async fn record_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: Option<i64>,
    action: &str,
    target: &str,
    details: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, action, target, ip, details) VALUES ($1, $2, $3, $4, '', $5)",
    )
    .bind(now())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(details)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
