//! Plan storage.

use sqlx::Row;

use super::model::Plan;
use crate::db::Db;

pub async fn list(db: &Db, only_active: bool) -> Result<Vec<Plan>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, slug, name, price_monthly_cents, price_yearly_cents, currency, max_devices, max_cameras, \
                max_identities, max_mesh_members, bandwidth_capped, features, is_active \
         FROM plans WHERE is_active = 1 OR $1 = 0 ORDER BY sort_order, id",
    )
    .bind(only_active as i64)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let features: String = r.try_get("features")?;
            Ok(Plan {
                id: r.try_get("id")?,
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                price_monthly_cents: r.try_get("price_monthly_cents")?,
                price_yearly_cents: r.try_get("price_yearly_cents")?,
                currency: r.try_get("currency")?,
                max_devices: r.try_get("max_devices")?,
                max_cameras: r.try_get("max_cameras")?,
                max_identities: r.try_get("max_identities")?,
                max_mesh_members: r.try_get("max_mesh_members")?,
                bandwidth_capped: r.try_get::<i64, _>("bandwidth_capped")? != 0,
                features: features
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                is_active: r.try_get::<i64, _>("is_active")? != 0,
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &Db,
    id: i64,
    name: &str,
    monthly: i64,
    yearly: i64,
    limits: [i64; 4],
    is_active: bool,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET name = $1, price_monthly_cents = $2, price_yearly_cents = $3, max_devices = $4, \
         max_cameras = $5, max_identities = $6, max_mesh_members = $7, is_active = $8 WHERE id = $9",
    )
    .bind(name)
    .bind(monthly)
    .bind(yearly)
    .bind(limits[0])
    .bind(limits[1])
    .bind(limits[2])
    .bind(limits[3])
    .bind(is_active as i64)
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|r| r.rows_affected())
}
