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
    /// The plan's monthly allowance (`Entitlements::data_cap_bytes`);
    /// `None` is no cap.
    #[serde(default)]
    pub cap_bytes: Option<i64>,
    /// The cap is used up: the devices are out of the node configs until
    /// the month ends, the plan changes, or an administrator lifts it.
    #[serde(default)]
    pub capped: bool,
}

impl TrafficThisMonth {
    /// "8.2 of 10 GB", or `None` without a cap. In the unit the plan's
    /// `data_cap_gb` is counted in (2^30 bytes), so a 10 GB plan reads "of
    /// 10 GB".
    pub fn meter_text(&self) -> Option<String> {
        let cap = self.cap_bytes?;
        let gb = |b: i64| b as f64 / (1u64 << 30) as f64;
        let cap_gb = gb(cap);
        let cap_text = if (cap_gb - cap_gb.round()).abs() < 0.05 {
            format!("{:.0}", cap_gb)
        } else {
            format!("{cap_gb:.1}")
        };
        Some(format!(
            "{:.1} of {cap_text} GB",
            gb(self.sent + self.received)
        ))
    }

    /// Used share of the cap in whole percent (at most 100).
    pub fn percent(&self) -> Option<i64> {
        let cap = self.cap_bytes.filter(|c| *c > 0)?;
        let used = i128::from(self.sent + self.received) * 100 / i128::from(cap);
        Some(used.clamp(0, 100) as i64)
    }
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
    // The month the stats reports count in.
    let (month_start, _) = crate::vpn::model::month_bounds(crate::db::now());
    // One statement (the dashboard's budget): the month's sums, whether the
    // user is capped, and the plan's cap (`entitlements::data_cap_bytes_sql`).
    // CAST: PostgreSQL sums BIGINT into NUMERIC.
    let row = sqlx::query(&format!(
        "SELECT CAST(COALESCE((SELECT SUM(x.rx_bytes) FROM user_usage x WHERE x.user_id = u.id AND x.day >= $2), 0) AS BIGINT), \
           CAST(COALESCE((SELECT SUM(x.tx_bytes) FROM user_usage x WHERE x.user_id = u.id AND x.day >= $2), 0) AS BIGINT), \
           CAST(CASE WHEN u.data_capped_since IS NULL THEN 0 ELSE 1 END AS BIGINT), CAST({} AS BIGINT) \
         FROM users u WHERE u.id = $1",
        crate::entitlements::data_cap_bytes_sql()
    ))
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
        capped: get(2)? == 1,
        cap_bytes: row
            .try_get::<Option<i64>, _>(3)
            .map_err(crate::error::AppError::from)?,
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
