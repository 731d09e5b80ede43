//! Server administration (admin): add, edit, status, node token rotation,
//! and picking the server a new device goes to.

use super::{
    ipam::Pool,
    model::{ServerForm, ServerId, ServerInfo, ServerStatus, ServerType},
    repo,
    selection::{self, Candidate},
};
use crate::{
    accounts::{model::CurrentUser, tokens},
    audit,
    db::is_unique_violation,
    error::{AppError, AppResult},
    state::AppState,
};

/// A server's settings, checked: what the repo stores. The VIP of a
/// dedicated server is named by e-mail and looked up when it is stored.
pub struct NewServer {
    pub name: String,
    pub region: String,
    pub country: String,
    pub city: String,
    pub endpoint_host: String,
    pub endpoint_port: i64,
    pub server_type: ServerType,
    pub vip_email: Option<crate::accounts::model::Email>,
    pub capacity: i64,
    pub ipv4_pool: String,
    pub ipv6_pool: Option<String>,
    pub dns: String,
}

fn field(name: &str, value: &str, max: usize, required: bool) -> AppResult<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(AppError::invalid(format!("{name} is required.")));
    }
    // Server names and regions reach the configs' first line.
    if v.chars().count() > max || v.chars().any(super::model::breaks_lines) {
        return Err(AppError::invalid(format!(
            "{name} must be one line of at most {max} characters without control characters."
        )));
    }
    Ok(v.to_string())
}

impl TryFrom<ServerForm> for NewServer {
    type Error = AppError;

    fn try_from(f: ServerForm) -> AppResult<Self> {
        let name = field("Name", &f.name, 64, true)?;
        let region = field("Region", &f.region, 32, true)?.to_lowercase();
        let host = field("Endpoint host", &f.endpoint_host, 253, true)?;
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(AppError::invalid(
                "Endpoint host must be a host name or IP address.",
            ));
        }
        let endpoint_port = f
            .endpoint_port
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| {
                AppError::invalid_field("endpoint_port", "Endpoint port must be 1-65535.")
            })?;
        let server_type = ServerType::parse(f.server_type.trim())
            .ok_or_else(|| AppError::invalid("Unknown server type."))?;
        let capacity = f
            .capacity
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|c| (1..=1_000_000).contains(c))
            .ok_or_else(|| AppError::invalid("Capacity must be 1-1,000,000 peers."))?;
        let v4 =
            Pool::parse(&f.ipv4_pool).map_err(|e| AppError::invalid(format!("IPv4 pool: {e}")))?;
        if !v4.network.is_ipv4() {
            return Err(AppError::invalid("The IPv4 pool must be an IPv4 network."));
        }
        let v6 = match f.ipv6_pool.trim() {
            "" => None,
            s => {
                let p = Pool::parse(s).map_err(|e| AppError::invalid(format!("IPv6 pool: {e}")))?;
                if p.network.is_ipv4() {
                    return Err(AppError::invalid("The IPv6 pool must be an IPv6 network."));
                }
                Some(p.to_string())
            }
        };
        let dns = field("DNS", &f.dns, 200, false)?;
        for r in dns.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            r.parse::<std::net::IpAddr>().map_err(|_| {
                AppError::invalid(format!("DNS resolver \"{r}\" is not an IP address."))
            })?;
        }
        let vip_email = match server_type {
            ServerType::VipDedicated => Some(
                crate::accounts::model::Email::parse(&f.vip_email).map_err(AppError::invalid)?,
            ),
            _ => None,
        };
        Ok(NewServer {
            name,
            region,
            country: field("Country", &f.country, 64, false)?,
            city: field("City", &f.city, 64, false)?,
            endpoint_host: host,
            endpoint_port,
            server_type,
            vip_email,
            capacity,
            ipv4_pool: v4.to_string(),
            ipv6_pool: v6,
            dns,
        })
    }
}

/// The dedicated server's VIP, who must have an account.
async fn vip_user_id(state: &AppState, s: &NewServer) -> AppResult<Option<i64>> {
    let Some(email) = &s.vip_email else {
        return Ok(None);
    };
    let user = crate::accounts::repo::find_by_email(&state.db, email)
        .await?
        .ok_or_else(|| AppError::invalid("A dedicated server needs an existing VIP's e-mail."))?;
    Ok(Some(user.id))
}

/// Creates a server and returns it with its one-time node enrollment token.
pub async fn create_server(
    state: &AppState,
    admin: &CurrentUser,
    f: ServerForm,
) -> AppResult<(ServerId, String)> {
    let form = NewServer::try_from(f)?;
    let vip = vip_user_id(state, &form).await?;
    let name = form.name.clone();
    let token = tokens::random_token();
    let id = repo::insert_server(&state.db, &form, vip, &tokens::hash_token(&token))
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Conflict("A server with that name exists.".into())
            } else {
                AppError::from(e)
            }
        })?;
    audit::record(
        &state.db,
        Some(admin.id),
        "server.created",
        &name,
        "",
        "node enrollment token issued",
    )
    .await;
    Ok((id, token))
}

/// Edits a server. Address pools can change only while no device uses
/// them; nodes pick up a new listen port with their next sync.
pub async fn update_server(
    state: &AppState,
    admin: &CurrentUser,
    id: ServerId,
    f: ServerForm,
) -> AppResult<()> {
    let current = repo::get_server(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = NewServer::try_from(f)?;
    let vip = vip_user_id(state, &form).await?;
    if current.peers > 0
        && (form.ipv4_pool != current.ipv4_pool || form.ipv6_pool != current.ipv6_pool)
    {
        return Err(AppError::invalid_field(
            "ipv4_pool",
            "Address pools cannot change while devices use them.",
        ));
    }
    repo::update_server(&state.db, id, &form, vip)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Conflict("A server with that name exists.".into())
            } else {
                AppError::from(e)
            }
        })?;
    state.node_changes.notify_waiters();
    audit::record(
        &state.db,
        Some(admin.id),
        "server.updated",
        &form.name,
        "",
        &id.to_string(),
    )
    .await;
    Ok(())
}

/// A new enrollment token; the old node token stops working at once and
/// the server is unenrolled until a node enrolls with the new one.
pub async fn rotate_node_token(
    state: &AppState,
    admin: &CurrentUser,
    server_id: ServerId,
) -> AppResult<String> {
    let token = tokens::random_token();
    if repo::set_node_token(&state.db, server_id, &tokens::hash_token(&token)).await? == 0 {
        return Err(AppError::NotFound);
    }
    state.node_changes.notify_waiters();
    audit::record(
        &state.db,
        Some(admin.id),
        "server.node_token_rotated",
        &server_id.to_string(),
        "",
        "",
    )
    .await;
    Ok(token)
}

pub async fn set_server_status(
    state: &AppState,
    admin: &CurrentUser,
    server_id: ServerId,
    status: &str,
) -> AppResult<()> {
    let status = ServerStatus::parse(status).ok_or_else(|| AppError::invalid("Unknown status."))?;
    if repo::set_server_status(&state.db, server_id, status).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "server.status",
        &server_id.to_string(),
        "",
        status.as_str(),
    )
    .await;
    Ok(())
}

/// Whether a node is fresh: it reported within `stale_after` seconds of
/// `now` (the portal's clock, which tests move forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFreshness {
    pub now: i64,
    pub stale_after: i64,
}

impl NodeFreshness {
    /// As of now, with the configured threshold (`node_stale_after_secs`).
    pub fn of(state: &AppState) -> Self {
        NodeFreshness {
            now: state.clock.now(),
            stale_after: i64::from(state.config.node_stale_after_secs),
        }
    }

    pub fn is_fresh(self, last_report_at: Option<i64>) -> bool {
        last_report_at.is_some_and(|t| self.now - t < self.stale_after)
    }

    /// The server's `healthy`: enrolled, and its node reported lately (or
    /// enrolled lately and not due to report yet).
    pub fn apply(self, mut s: ServerInfo) -> ServerInfo {
        s.healthy = s.enrolled && self.is_fresh(s.last_report_at.max(s.node_enrolled_at));
        s
    }
}

/// Every server, its health as of `fresh` (the admin's list).
pub async fn list_servers(db: &crate::db::Db, fresh: NodeFreshness) -> AppResult<Vec<ServerInfo>> {
    Ok(repo::list_servers(db)
        .await?
        .into_iter()
        .map(|s| fresh.apply(s))
        .collect())
}

/// Active servers whose enrolled node is stale (`/health`'s "degraded").
pub async fn stale_nodes(db: &crate::db::Db, fresh: NodeFreshness) -> AppResult<Vec<String>> {
    Ok(list_servers(db, fresh)
        .await?
        .into_iter()
        .filter(|s| s.status == ServerStatus::Active && s.enrolled && !s.healthy)
        .map(|s| s.name)
        .collect())
}

/// Takes a server out of service for good: its node token is revoked (the
/// node's next request is refused), it is unenrolled and set offline.
/// Devices stay; a new enrollment token (`rotate_node_token`) brings a
/// node back.
pub async fn deregister_server(
    state: &AppState,
    admin: &CurrentUser,
    server_id: ServerId,
) -> AppResult<()> {
    if repo::deregister_server(&state.db, server_id).await? == 0 {
        return Err(AppError::NotFound);
    }
    state.node_changes.notify_waiters();
    audit::record(
        &state.db,
        Some(admin.id),
        "server.deregistered",
        &server_id.to_string(),
        "",
        "",
    )
    .await;
    Ok(())
}

/// The one rule for which servers a user may put a device on: a dedicated
/// server only by its VIP, a premium server only on a plan that includes
/// premium servers (`Entitlements::premium_servers`), shared ones by all.
pub fn may_use(s: &ServerInfo, user_id: i64, premium: bool) -> bool {
    s.visible_to(user_id) && (s.server_type != ServerType::Premium || premium)
}

/// Offered right now: one the user may use that is active, with a node that
/// reports (`healthy`, see [`NodeFreshness::apply`]).
pub fn offered(s: &ServerInfo, user_id: i64, premium: bool) -> bool {
    s.status == ServerStatus::Active && s.healthy && may_use(s, user_id, premium)
}

/// Whether the user's plan includes premium servers; only asked when there
/// is a premium server at all.
async fn premium_allowed(
    db: &crate::db::Db,
    user: &CurrentUser,
    servers: &[ServerInfo],
) -> AppResult<bool> {
    if !servers.iter().any(|s| s.server_type == ServerType::Premium) {
        return Ok(false);
    }
    Ok(
        crate::entitlements::Entitlements::for_user(&db.pool, user.id)
            .await?
            .premium_servers(),
    )
}

/// Records a latency the user's client measured to a server it may use.
pub async fn report_latency(
    db: &crate::db::Db,
    user: &CurrentUser,
    server_id: ServerId,
    latency_ms: i64,
) -> AppResult<()> {
    if !(0..=60_000).contains(&latency_ms) {
        return Err(AppError::invalid_field(
            "latency_ms",
            "A latency is 0 to 60,000 ms.",
        ));
    }
    let servers = repo::list_servers(db).await?;
    let premium = premium_allowed(db, user, &servers).await?;
    if !servers
        .iter()
        .any(|s| s.id == server_id && may_use(s, user.id, premium))
    {
        return Err(AppError::NotFound);
    }
    Ok(repo::record_latency(db, user.id, server_id, latency_ms).await?)
}

/// The servers the pages and the API offer this user (see [`offered`]).
pub async fn offered_servers(
    db: &crate::db::Db,
    fresh: NodeFreshness,
    user: &CurrentUser,
) -> AppResult<Vec<ServerInfo>> {
    let servers = list_servers(db, fresh).await?;
    let premium = premium_allowed(db, user, &servers).await?;
    Ok(servers
        .into_iter()
        .filter(|s| offered(s, user.id, premium))
        .collect())
}

/// Servers the user may use, with the one the rules pick; a server whose
/// node is stale (`fresh`) is never picked.
pub async fn choose_server(
    db: &crate::db::Db,
    fresh: NodeFreshness,
    user: &CurrentUser,
    requested: Option<ServerId>,
    preferred_region: Option<&str>,
) -> AppResult<(ServerInfo, String)> {
    let servers = list_servers(db, fresh).await?;
    let premium = premium_allowed(db, user, &servers).await?;
    // What the user's client measured (`POST /api/v1/servers/{id}/latency`).
    let latency = repo::user_latencies(db, user.id).await?;
    let candidates: Vec<Candidate> = servers
        .iter()
        .filter(|s| may_use(s, user.id, premium))
        .map(|s| Candidate {
            id: s.id,
            name: s.name.clone(),
            region: s.region.clone(),
            server_type: s.server_type,
            vip_user_id: s.vip_user_id,
            status: s.status,
            healthy: s.healthy,
            peers: s.peers,
            capacity: s.capacity,
            latency_ms: latency.get(&s.id).copied(),
        })
        .collect();
    let (id, reason) = match requested {
        Some(id) => {
            let c = candidates
                .iter()
                .find(|c| c.id == id && c.visible_to(user.id))
                .ok_or(AppError::NotFound)?;
            if c.status != ServerStatus::Active || !c.healthy {
                return Err(AppError::ServerUnavailable);
            }
            (c.id, format!("{}: the server you picked", c.name))
        }
        None => {
            let choice = selection::choose(&candidates, user.id, preferred_region)
                .ok_or(AppError::ServerUnavailable)?;
            (choice.server_id, choice.reason)
        }
    };
    let server = servers
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(AppError::ServerUnavailable)?;
    Ok((server, reason))
}
