//! Server administration (admin): add, edit, status, node token rotation,
//! and picking the server a new device goes to.

use super::{
    ipam::Pool,
    model::ServerInfo,
    repo::{self, NewServer},
    selection::{self, Candidate},
};
use crate::{
    accounts::{model::CurrentUser, tokens},
    audit,
    db::is_unique_violation,
    error::{AppError, AppResult},
    state::AppState,
};

/// Admin input for a new server; validated here.
pub struct ServerForm {
    pub name: String,
    pub region: String,
    pub country: String,
    pub city: String,
    pub endpoint_host: String,
    pub endpoint_port: i64,
    pub server_type: String,
    pub vip_email: String,
    pub capacity: i64,
    pub ipv4_pool: String,
    pub ipv6_pool: String,
    pub dns: String,
}

fn field(name: &str, value: &str, max: usize, required: bool) -> AppResult<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(AppError::Validation(format!("{name} is required.")));
    }
    // Server names and regions reach the configs' first line.
    if v.chars().count() > max || v.chars().any(super::model::breaks_lines) {
        return Err(AppError::Validation(format!(
            "{name} must be one line of at most {max} characters without control characters."
        )));
    }
    Ok(v.to_string())
}

/// Checks an admin's server form and turns it into storable values.
async fn validated(state: &AppState, f: ServerForm) -> AppResult<NewServer> {
    let name = field("Name", &f.name, 64, true)?;
    let region = field("Region", &f.region, 32, true)?.to_lowercase();
    let host = field("Endpoint host", &f.endpoint_host, 253, true)?;
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return Err(AppError::Validation(
            "Endpoint host must be a host name or IP address.".into(),
        ));
    }
    if !(1..=65535).contains(&f.endpoint_port) {
        return Err(AppError::Validation(
            "Endpoint port must be 1-65535.".into(),
        ));
    }
    if !super::model::SERVER_TYPES.contains(&f.server_type.as_str()) {
        return Err(AppError::Validation("Unknown server type.".into()));
    }
    if !(1..=1_000_000).contains(&f.capacity) {
        return Err(AppError::Validation(
            "Capacity must be 1-1,000,000 peers.".into(),
        ));
    }
    let v4 =
        Pool::parse(&f.ipv4_pool).map_err(|e| AppError::Validation(format!("IPv4 pool: {e}")))?;
    if !v4.network.is_ipv4() {
        return Err(AppError::Validation(
            "The IPv4 pool must be an IPv4 network.".into(),
        ));
    }
    let v6 = match f.ipv6_pool.trim() {
        "" => None,
        s => {
            let p = Pool::parse(s).map_err(|e| AppError::Validation(format!("IPv6 pool: {e}")))?;
            if p.network.is_ipv4() {
                return Err(AppError::Validation(
                    "The IPv6 pool must be an IPv6 network.".into(),
                ));
            }
            Some(p.to_string())
        }
    };
    let dns = field("DNS", &f.dns, 200, false)?;
    for r in dns.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        r.parse::<std::net::IpAddr>().map_err(|_| {
            AppError::Validation(format!("DNS resolver \"{r}\" is not an IP address."))
        })?;
    }
    let vip_user_id = if f.server_type == "vip_dedicated" {
        let email =
            crate::accounts::model::normalize_email(&f.vip_email).map_err(AppError::Validation)?;
        let user = crate::accounts::repo::find_by_email(&state.db, &email)
            .await?
            .ok_or_else(|| {
                AppError::Validation("A dedicated server needs an existing VIP's e-mail.".into())
            })?;
        Some(user.id)
    } else {
        None
    };
    Ok(NewServer {
        name,
        region,
        country: field("Country", &f.country, 64, false)?,
        city: field("City", &f.city, 64, false)?,
        endpoint_host: host,
        endpoint_port: f.endpoint_port,
        server_type: f.server_type,
        vip_user_id,
        capacity: f.capacity,
        ipv4_pool: v4.to_string(),
        ipv6_pool: v6,
        dns,
    })
}

/// Creates a server and returns it with its one-time node enrollment token.
pub async fn create_server(
    state: &AppState,
    admin: &CurrentUser,
    f: ServerForm,
) -> AppResult<(i64, String)> {
    let form = validated(state, f).await?;
    let name = form.name.clone();
    let token = tokens::random_token();
    let id = repo::insert_server(&state.db, &form, &tokens::hash_token(&token))
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
    id: i64,
    f: ServerForm,
) -> AppResult<()> {
    let current = repo::get_server(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = validated(state, f).await?;
    if current.peers > 0
        && (form.ipv4_pool != current.ipv4_pool || form.ipv6_pool != current.ipv6_pool)
    {
        return Err(AppError::Validation(
            "Address pools cannot change while devices use them.".into(),
        ));
    }
    repo::update_server(&state.db, id, &form)
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
    server_id: i64,
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
    server_id: i64,
    status: &str,
) -> AppResult<()> {
    if !super::model::SERVER_STATUSES.contains(&status) {
        return Err(AppError::Validation("Unknown status.".into()));
    }
    if repo::set_server_status(&state.db, server_id, status).await? == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "server.status",
        &server_id.to_string(),
        "",
        status,
    )
    .await;
    Ok(())
}

/// Servers the user may use, with the one the rules pick.
pub async fn choose_server(
    db: &crate::db::Db,
    user: &CurrentUser,
    requested: Option<i64>,
    preferred_region: Option<&str>,
) -> AppResult<(ServerInfo, String)> {
    let servers = repo::list_servers(db).await?;
    let candidates: Vec<Candidate> = servers
        .iter()
        .map(|s| Candidate {
            id: s.id,
            name: s.name.clone(),
            region: s.region.clone(),
            server_type: s.server_type.clone(),
            vip_user_id: s.vip_user_id,
            status: s.status.clone(),
            healthy: s.enrolled,
            peers: s.peers,
            capacity: s.capacity,
            latency_ms: None,
        })
        .collect();
    let (id, reason) = match requested {
        Some(id) => {
            let c = candidates
                .iter()
                .find(|c| c.id == id && c.visible_to(user.id))
                .ok_or(AppError::NotFound)?;
            if c.status != "active" || !c.healthy {
                return Err(AppError::ServerUnavailable);
            }
            (id, format!("{}: the server you picked", c.name))
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
