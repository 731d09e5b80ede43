//! What a user may have: the one place that reads plans and VIP grants to
//! decide a limit. Every limit check (devices, regional identities,
//! cameras, mesh members, the monthly data cap, paid features, "needs no
//! payment") asks [`Entitlements`]; no other module joins `plans` or
//! `vip_accounts` for a decision.
//!
//! Reading is not enough for a limit that counts rows: callers read the
//! entitlements inside the write transaction that counts and inserts, with
//! the user's row locked (`Db::lock_row`, PostgreSQL) or under SQLite's
//! single writer, so two concurrent adds cannot both pass.

use std::collections::HashMap;

use sqlx::{Any, Executor, Row};

use crate::{accounts::model::ServiceOff, apikeys::model::Scope};

/// A plan limit: `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(Option<i64>);

impl Limit {
    pub const UNLIMITED: Limit = Limit(None);

    fn from_plan(value: i64) -> Self {
        Limit((value >= 0).then_some(value))
    }

    /// The most allowed, or `None` when unlimited.
    pub fn max(self) -> Option<i64> {
        self.0
    }

    /// Whether one more fits when `used` exist already.
    pub fn allows_another(self, used: i64) -> bool {
        self.0.is_none_or(|max| used < max)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlements {
    /// Granted by an administrator: no limits, no cap, nothing to pay.
    pub vip: bool,
    pub devices: Limit,
    pub identities: Limit,
    pub cameras: Limit,
    pub mesh_members: Limit,
    /// Monthly allowance in bytes; `None` is no cap.
    pub data_cap_bytes: Option<i64>,
    pub features: Vec<String>,
    /// On a plan that costs something (premium servers, the client's keys).
    pub paid: bool,
    /// A tenant's user: the tenant's limits, which count across all of the
    /// tenant's users (its plan's per-user limits are the fields above).
    pub tenant: Option<TenantLimits>,
}

/// What a tenant's plan gives it: users, devices across all its users,
/// bandwidth per month across all its users (`None`: no cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantLimits {
    pub tenant_id: i64,
    pub users: Limit,
    pub devices: Limit,
    pub bandwidth_bytes: Option<i64>,
    /// On a paid plan: its users may use premium servers.
    pub premium_servers: bool,
}

impl TenantLimits {
    fn from_plan(tenant_id: i64, users: i64, devices: i64, bandwidth_gb: i64, price: i64) -> Self {
        TenantLimits {
            tenant_id,
            users: Limit::from_plan(users),
            devices: Limit::from_plan(devices),
            bandwidth_bytes: (bandwidth_gb >= 0).then(|| bandwidth_gb.saturating_mul(GIB)),
            premium_servers: price > 0,
        }
    }

    /// Whether the plan hosts tenants at all (the business plan does).
    pub fn hosts_tenants(&self) -> bool {
        self.users.max() != Some(0)
    }
}

/// The tenant's limits from its plan; `None` for an unknown tenant.
pub async fn tenant_limits<'e>(
    ex: impl Executor<'e, Database = Any>,
    tenant_id: i64,
) -> Result<Option<TenantLimits>, sqlx::Error> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.tenant_max_users, p.tenant_max_devices, p.tenant_bandwidth_gb, p.price_monthly_cents \
         FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(u, d, b, p)| TenantLimits::from_plan(tenant_id, u, d, b, p)))
}

/// Whether a plan (by id) hosts tenants: what signing a business up asks.
pub async fn plan_hosts_tenants<'e>(
    ex: impl Executor<'e, Database = Any>,
    plan_id: i64,
) -> Result<bool, sqlx::Error> {
    let users: Option<i64> = sqlx::query_scalar("SELECT tenant_max_users FROM plans WHERE id = $1")
        .bind(plan_id)
        .fetch_optional(ex)
        .await?;
    Ok(users.is_some_and(|u| u != 0))
}

pub const GIB: i64 = 1 << 30;

// A user with no plan row (none assigned) gets the free plan's defaults:
// one device, one identity, no cameras. A tenant's user gets its tenant's
// plan (and the tenant's limits on top).
/// The plan a user's limits come from: their tenant's for a tenant user,
/// their own otherwise. `select` joins it; a downgrade preview joins a
/// given plan instead.
const CURRENT_PLAN: &str = "COALESCE(tn.plan_id, u.plan_id)";

fn select(plan: &str) -> String {
    format!("{SELECT_FROM} LEFT JOIN plans p ON p.id = {plan}")
}

const SELECT_FROM: &str = "SELECT u.id, COALESCE(p.max_devices, 1) AS devices, \
        COALESCE(p.max_identities, 1) AS identities, COALESCE(p.max_cameras, 0) AS cameras, \
        COALESCE(p.max_mesh_members, 0) AS mesh, COALESCE(p.data_cap_gb, 0) AS cap_gb, \
        COALESCE(p.features, '') AS features, COALESCE(p.price_monthly_cents, 0) AS price, \
        (SELECT COUNT(*) FROM vip_accounts v WHERE v.email = u.email) AS vip, \
        u.tenant_id, COALESCE(p.tenant_max_users, 0) AS t_users, \
        COALESCE(p.tenant_max_devices, 0) AS t_devices, \
        COALESCE(p.tenant_bandwidth_gb, 0) AS t_bandwidth \
     FROM users u LEFT JOIN tenants tn ON tn.id = u.tenant_id";

impl Entitlements {
    /// A VIP's: everything, unlimited.
    fn vip() -> Self {
        Entitlements {
            vip: true,
            devices: Limit::UNLIMITED,
            identities: Limit::UNLIMITED,
            cameras: Limit::UNLIMITED,
            mesh_members: Limit::UNLIMITED,
            data_cap_bytes: None,
            features: Vec::new(),
            paid: true,
            tenant: None,
        }
    }

    fn from_row(r: &sqlx::any::AnyRow) -> Result<(i64, Self), sqlx::Error> {
        let id: i64 = r.try_get("id")?;
        let features: String = r.try_get("features")?;
        let features = features
            .split('|')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if r.try_get::<i64, _>("vip")? > 0 {
            return Ok((
                id,
                Entitlements {
                    features,
                    ..Self::vip()
                },
            ));
        }
        let cap_gb: i64 = r.try_get("cap_gb")?;
        if let Some(tenant_id) = r.try_get::<Option<i64>, _>("tenant_id")? {
            // A tenant's user: devices as the plan gives each user, within
            // the tenant's own limits; none of the consumer extras (their
            // monthly allowance is the tenant's bandwidth).
            return Ok((
                id,
                Entitlements {
                    vip: false,
                    devices: Limit::from_plan(r.try_get("devices")?),
                    identities: Limit(Some(0)),
                    cameras: Limit(Some(0)),
                    mesh_members: Limit(Some(0)),
                    data_cap_bytes: None,
                    features: Vec::new(),
                    paid: r.try_get::<i64, _>("price")? > 0,
                    tenant: Some(TenantLimits::from_plan(
                        tenant_id,
                        r.try_get("t_users")?,
                        r.try_get("t_devices")?,
                        r.try_get("t_bandwidth")?,
                        r.try_get("price")?,
                    )),
                },
            ));
        }
        Ok((
            id,
            Entitlements {
                vip: false,
                devices: Limit::from_plan(r.try_get("devices")?),
                identities: Limit::from_plan(r.try_get("identities")?),
                cameras: Limit::from_plan(r.try_get("cameras")?),
                mesh_members: Limit::from_plan(r.try_get("mesh")?),
                data_cap_bytes: (cap_gb > 0).then(|| cap_gb.saturating_mul(GIB)),
                features,
                paid: r.try_get::<i64, _>("price")? > 0,
                tenant: None,
            },
        ))
    }

    /// The user's entitlements. Pass the write transaction when the answer
    /// guards an insert (see the module notes). An unknown user gets none.
    pub async fn for_user<'e>(
        ex: impl Executor<'e, Database = Any>,
        user_id: i64,
    ) -> Result<Self, sqlx::Error> {
        let row = sqlx::query(&format!("{} WHERE u.id = $1", select(CURRENT_PLAN)))
            .bind(user_id)
            .fetch_optional(ex)
            .await?;
        match row {
            Some(r) => Ok(Self::from_row(&r)?.1),
            None => Ok(Self::none()),
        }
    }

    /// What the user would have on `plan_id` (a downgrade waiting for the
    /// end of the period): the plan's limits, or a VIP's.
    pub async fn for_user_on_plan<'e>(
        ex: impl Executor<'e, Database = Any>,
        user_id: i64,
        plan_id: i64,
    ) -> Result<Self, sqlx::Error> {
        let row = sqlx::query(&format!("{} WHERE u.id = $1", select("$2")))
            .bind(user_id)
            .bind(plan_id)
            .fetch_optional(ex)
            .await?;
        match row {
            Some(r) => Ok(Self::from_row(&r)?.1),
            None => Ok(Self::none()),
        }
    }

    /// An unknown user's: nothing.
    fn none() -> Self {
        Entitlements {
            vip: false,
            devices: Limit(Some(0)),
            identities: Limit(Some(0)),
            cameras: Limit(Some(0)),
            mesh_members: Limit(Some(0)),
            data_cap_bytes: None,
            features: Vec::new(),
            paid: false,
            tenant: None,
        }
    }

    /// Several users' at once (a node's usage report names thousands).
    pub async fn for_users(
        tx: &mut sqlx::Transaction<'static, Any>,
        user_ids: &[i64],
    ) -> Result<HashMap<i64, Self>, sqlx::Error> {
        let mut out = HashMap::with_capacity(user_ids.len());
        // Stay far below the engines' bind-parameter limits.
        for chunk in user_ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!("{} WHERE u.id IN ({list})", select(CURRENT_PLAN));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&mut **tx).await? {
                let (id, e) = Self::from_row(&r)?;
                out.insert(id, e);
            }
        }
        Ok(out)
    }

    pub fn has_feature(&self, feature: &str) -> bool {
        self.vip || self.features.iter().any(|f| f == feature)
    }

    /// Premium servers are for paid plans (and VIPs); the free plan gets
    /// the shared ones. `vpn::servers::offered` applies it.
    pub fn premium_servers(&self) -> bool {
        self.vip || self.paid
    }

    /// The scopes this user's API keys may carry. The plan that sells "API
    /// access" (business) and VIPs: every scope. Other paid plans: what the
    /// command-line client needs (`read`, `devices:write`), because the
    /// client is one more way to use the devices the plan already has (the
    /// device limit still applies) and a Linux user should not need the
    /// business plan for a tunnel. The free plan: none.
    pub fn api_key_scopes(&self) -> &'static [Scope] {
        if self.has_feature(API_ACCESS) {
            Scope::ALL
        } else if self.paid {
            CLIENT_SCOPES
        } else {
            &[]
        }
    }
}

/// The plan feature that sells the public API (as in `plans.features`).
pub const API_ACCESS: &str = "API access";
/// What `truevault-client` needs: list servers and devices, add its own.
pub const CLIENT_SCOPES: &[Scope] = &[Scope::Read, Scope::DevicesWrite];

/// The plan feature that sells personal certificates (as in `plans.features`).
pub const PERSONAL_CERTIFICATES: &str = "Personal certificates";

/// Live (unexpired, unrevoked) certificates per plan with the feature; a
/// plan with the feature but not listed here gets the smallest number.
const CERTIFICATE_LIMITS: &[(&str, i64)] = &[("personal", 25), ("family", 100), ("business", 500)];

/// Days a certificate is valid: a year, ten for VIPs.
pub const CERTIFICATE_DAYS: i64 = 365;
pub const VIP_CERTIFICATE_DAYS: i64 = 3650;

/// What a user may do with personal certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificates {
    /// May issue (and renew) certificates. A plan without the feature
    /// keeps its existing certificates valid; it only stops new ones.
    pub allowed: bool,
    pub live: Limit,
    pub validity_days: i64,
}

/// The user's certificate allowance. Pass the write transaction when the
/// answer guards an insert (see the module notes).
pub async fn certificates<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: i64,
) -> Result<Certificates, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COALESCE(p.slug, '') AS slug, COALESCE(p.features, '') AS features, \
           (SELECT COUNT(*) FROM vip_accounts v WHERE v.email = u.email) AS vip \
         FROM users u LEFT JOIN plans p ON p.id = u.plan_id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(ex)
    .await?;
    let none = Certificates {
        allowed: false,
        live: Limit(Some(0)),
        validity_days: CERTIFICATE_DAYS,
    };
    let Some(r) = row else { return Ok(none) };
    if r.try_get::<i64, _>("vip")? > 0 {
        return Ok(Certificates {
            allowed: true,
            live: Limit::UNLIMITED,
            validity_days: VIP_CERTIFICATE_DAYS,
        });
    }
    let features: String = r.try_get("features")?;
    if !features.split('|').any(|f| f == PERSONAL_CERTIFICATES) {
        return Ok(none);
    }
    let slug: String = r.try_get("slug")?;
    let max = CERTIFICATE_LIMITS
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, n)| *n)
        .unwrap_or(CERTIFICATE_LIMITS[0].1);
    Ok(Certificates {
        allowed: true,
        live: Limit(Some(max)),
        validity_days: CERTIFICATE_DAYS,
    })
}

/// Whether an account gets service now (tunnels, agents, camera views), and
/// if not, why. The one rule, as SQL so that bulk reads (a node's peers, a
/// gateway's liveness) apply it in the query: [`service_off_sql`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    On,
    Off(ServiceOff),
}

impl Service {
    pub fn is_on(self) -> bool {
        self == Service::On
    }

    /// `Err(AppError::ServiceOff)` when off, for agents and flows that refuse.
    pub fn require(self) -> Result<(), crate::error::AppError> {
        match self {
            Service::On => Ok(()),
            Service::Off(why) => Err(crate::error::AppError::ServiceOff(why)),
        }
    }
}

/// A SQL expression over the users row aliased `u`: why that user gets no
/// service (a [`ServiceOff`] name), or NULL when they do. An account an
/// administrator suspended or closed is off, and so is every user of a
/// tenant the operator suspended (`suspended`, as an account suspension); a subscription the dunning
/// steps suspended is off until paid, except for VIPs (never suspended for
/// payment). A data cap is not here: it is a plan allowance, not the
/// account's standing, and lifts by itself (see `vpn::repo::server_peers`).
pub fn service_off_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use crate::{accounts::model::AccountStatus, billing::model::SubscriptionStatus};
        format!(
            "(CASE WHEN u.status = '{suspended}' THEN '{off_suspended}' \
               WHEN u.status = '{cancelled}' THEN '{off_cancelled}' \
               WHEN u.tenant_id IS NOT NULL AND EXISTS (SELECT 1 FROM tenants tv WHERE tv.id = u.tenant_id \
                AND tv.status = '{tenant_suspended}') THEN '{off_suspended}' \
               WHEN EXISTS (SELECT 1 FROM subscriptions sv WHERE sv.user_id = u.id AND sv.status = '{sub_suspended}') \
                AND NOT EXISTS (SELECT 1 FROM vip_accounts vv WHERE vv.email = u.email) THEN '{off_payment}' \
               ELSE NULL END)",
            suspended = AccountStatus::Suspended.as_str(),
            cancelled = AccountStatus::Cancelled.as_str(),
            sub_suspended = SubscriptionStatus::Suspended.as_str(),
            off_suspended = ServiceOff::Suspended.as_str(),
            off_cancelled = ServiceOff::Cancelled.as_str(),
            off_payment = ServiceOff::PaymentOverdue.as_str(),
            tenant_suspended = crate::tenants::model::TenantStatus::Suspended.as_str(),
        )
    });
    &SQL
}

/// A SQL expression over the users row aliased `u`: the user's monthly data
/// allowance in bytes, NULL for none. The same rule as
/// [`Entitlements::data_cap_bytes`] (VIPs and plans without a cap have
/// none), for a page that reads it in the statement it runs anyway.
pub fn data_cap_bytes_sql() -> String {
    format!(
        "(CASE WHEN EXISTS (SELECT 1 FROM vip_accounts vc WHERE vc.email = u.email) THEN NULL \
           ELSE (SELECT CASE WHEN pc.data_cap_gb > 0 THEN CAST(pc.data_cap_gb AS BIGINT) * {GIB} ELSE NULL END \
                 FROM plans pc WHERE pc.id = u.plan_id) END)"
    )
}

/// The user's service now. An unknown user gets none (as closed).
pub async fn service<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: i64,
) -> Result<Service, sqlx::Error> {
    let row: Option<Option<ServiceOff>> = sqlx::query_scalar(&format!(
        "SELECT {} FROM users u WHERE u.id = $1",
        service_off_sql()
    ))
    .bind(user_id)
    .fetch_optional(ex)
    .await?;
    Ok(match row {
        None => Service::Off(ServiceOff::Cancelled),
        Some(None) => Service::On,
        Some(Some(why)) => Service::Off(why),
    })
}

/// Whether the user is a VIP, and their service, in one statement (the
/// dashboard's plan card shows both).
pub async fn vip_and_service<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: i64,
) -> Result<(bool, Service), sqlx::Error> {
    let row: Option<(i64, Option<ServiceOff>)> = sqlx::query_as(&format!(
        "SELECT (SELECT COUNT(*) FROM vip_accounts v WHERE v.email = u.email), {} \
         FROM users u WHERE u.id = $1",
        service_off_sql()
    ))
    .bind(user_id)
    .fetch_optional(ex)
    .await?;
    Ok(match row {
        None => (false, Service::Off(ServiceOff::Cancelled)),
        Some((vip, None)) => (vip > 0, Service::On),
        Some((vip, Some(why))) => (vip > 0, Service::Off(why)),
    })
}

/// Whether the user is a VIP (pays nothing, is never suspended).
pub async fn is_vip<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vip_accounts v JOIN users u ON u.email = v.email WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_against_what_is_used() {
        assert!(Limit::from_plan(1).allows_another(0));
        assert!(!Limit::from_plan(1).allows_another(1));
        assert!(!Limit::from_plan(0).allows_another(0));
        let unlimited = crate::billing::model::UNLIMITED;
        assert!(Limit::from_plan(unlimited).allows_another(1_000_000));
        assert_eq!(Limit::from_plan(unlimited).max(), None);
        assert_eq!(Limit::from_plan(3).max(), Some(3));
    }
}
