//! The data plane a server's node enforces, built with its peers into one
//! versioned desired state: internet egress through NAT, the tunnel DNS,
//! and the grants — the only peer-to-peer traffic allowed (client isolation
//! is the default; see `truevault_wire::node::DataPlane`).
//!
//! Grants come from each concept that opens a path, as the wire `Grant`
//! (source peer address → destination network, all ports or TCP ports):
//! a user's own devices → their own home sites (`sites`), and mesh
//! networks and their shares (`mesh::policy`).

use std::net::IpAddr;

use truevault_wire::node::{Cidr, DataPlane, Grant, Ports};

use super::{ipam::Pool, model::ServerInfo};
use crate::{db::Db, error::AppResult};

/// Every grant for a server's node, sorted and without duplicates (so the
/// same policy always renders the same ruleset).
pub async fn grants_for_server(db: &Db, server: &ServerInfo) -> AppResult<Vec<Grant>> {
    let mut grants = crate::sites::service::grants_for_server(db, server).await?;
    // Mesh networks (members' devices reach each other) and shares (a
    // member reaches what the owner shared, at its access level).
    for g in crate::mesh::policy::grants_for_server(db, server.id).await? {
        let Some(destination) = Cidr::new(g.destination.addr, g.destination.prefix) else {
            continue;
        };
        let ports = match g.ports {
            crate::mesh::policy::Ports::All => Ports::All,
            crate::mesh::policy::Ports::Tcp(p) => Ports::Tcp(p),
        };
        grants.push(Grant {
            source: g.source,
            destination,
            ports,
        });
    }
    grants.sort();
    grants.dedup();
    Ok(grants)
}

/// The resolvers a server's devices are configured with: the server's DNS
/// setting, else the node's own tunnel address.
pub fn dns_servers(server: &ServerInfo) -> Vec<IpAddr> {
    let configured: Vec<IpAddr> = server
        .dns
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if !configured.is_empty() {
        return configured;
    }
    Pool::parse(&server.ipv4_pool)
        .ok()
        .and_then(|p| p.address(1))
        .into_iter()
        .collect()
}

pub async fn data_plane(db: &Db, server: &ServerInfo) -> AppResult<DataPlane> {
    Ok(DataPlane {
        egress: true,
        dns: dns_servers(server),
        grants: grants_for_server(db, server).await?,
    })
}
