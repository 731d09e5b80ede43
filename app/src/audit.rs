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
