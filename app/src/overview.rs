//! What the dashboard and the set-up hints read that no single concept
//! owns: this portal's public URL (for the commands shown to operators and
//! customers), the signed-in user's traffic this month, and the cards'
//! summaries (each card reads only what it shows: the full pages' loads
//! cost the dashboard 17 statements per view, these 11).

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
         FROM user_usage u WHERE u.user_id = $1 AND u.day >= $2",
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

/// The dashboard's plan card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub current_plan: String,
    pub is_vip: bool,
    pub renewal: Renewal,
    /// Why the account gets no service now (`entitlements::service`), for
    /// the dashboard's banner.
    pub service_off: Option<crate::accounts::model::ServiceOff>,
}

/// Where the paid subscription stands, as the plan card words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Renewal {
    /// No subscription, or one that no longer grants its plan.
    None,
    Renews(i64),
    /// Cancelled: ends at the end of the period.
    Ends(i64),
}

/// The dashboard's cameras card: the user's own cameras, and how many of
/// them have their gateway online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraCounts {
    pub cameras: i64,
    pub reachable: i64,
}

/// The dashboard's home-network card: the inventory without scanner tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeSummary {
    pub devices: Vec<crate::inventory::model::LanDevice>,
    pub alerts: Vec<crate::inventory::model::LanEvent>,
}

#[server(endpoint = "portal/dashboard_plan")]
pub async fn dashboard_plan() -> Result<PlanSummary, crate::error::AppError> {
    let user = crate::sfn::user()?;
    crate::billing::checkout::plan_summary(&crate::sfn::state().db, user.id).await
}

#[server(endpoint = "portal/dashboard_cameras")]
pub async fn dashboard_cameras() -> Result<CameraCounts, crate::error::AppError> {
    use sqlx::Row;
    let user = crate::sfn::user()?;
    let row = sqlx::query(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN g.online = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM cameras c LEFT JOIN camera_gateways g ON g.id = c.gateway_id WHERE c.user_id = $1",
    )
    .bind(user.id)
    .fetch_one(&crate::sfn::state().db.pool)
    .await?;
    Ok(CameraCounts {
        cameras: row.try_get(0)?,
        reachable: row.try_get(1)?,
    })
}

#[server(endpoint = "portal/dashboard_home")]
pub async fn dashboard_home() -> Result<HomeSummary, crate::error::AppError> {
    use crate::inventory::repo;
    let user = crate::sfn::user()?;
    let db = &crate::sfn::state().db;
    Ok(HomeSummary {
        devices: repo::list_devices(db, user.id).await?,
        alerts: repo::open_alerts(db, user.id).await?,
    })
}
