//! What the dashboard and the set-up hints read that no single concept
//! owns: this portal's public URL (for the commands shown to operators and
//! customers) and the signed-in user's traffic this month.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The user's traffic since the start of this calendar month (UTC), as
/// their devices see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficThisMonth {
    pub sent: i64,
    pub received: i64,
}

/// This portal's public URL (`public_url` in the configuration), the one
/// agents and nodes must be given.
#[server(endpoint = "portal/url")]
pub async fn portal_url() -> Result<String, crate::error::AppError> {
    crate::sfn::user()?;
    Ok(crate::sfn::state()
        .config
        .public_url
        .trim_end_matches('/')
        .to_string())
}

#[server(endpoint = "portal/month_traffic")]
pub async fn month_traffic() -> Result<TrafficThisMonth, crate::error::AppError> {
    use sqlx::Row;
    let user = crate::sfn::user()?;
    let state = crate::sfn::state();
    let (month_start, _) = crate::vpn::model::month_bounds(crate::db::now());
    // CAST: PostgreSQL sums BIGINT into NUMERIC.
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(u.rx_bytes), 0) AS BIGINT), CAST(COALESCE(SUM(u.tx_bytes), 0) AS BIGINT) \
         FROM device_usage u JOIN devices d ON d.id = u.device_id WHERE d.user_id = $1 AND u.day >= $2",
    )
    .bind(user.id)
    .bind(month_start / 86_400)
    .fetch_one(&state.db.pool)
    .await
    .map_err(crate::error::AppError::from)?;
    let get = |i| {
        row.try_get::<i64, _>(i)
            .map_err(crate::error::AppError::from)
    };
    Ok(TrafficThisMonth {
        sent: get(0)?,
        received: get(1)?,
    })
}
