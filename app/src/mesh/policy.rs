//! What mesh networks allow on a VPN server, as allow rules the node's data
//! plane enforces (everything else between peers stays dropped).
//!
//! How devices on different servers meet: they do not. A network lives on
//! one server, chosen when it is created. Each member's devices *on that
//! server* reach each other's devices there (every port, IPv4 and IPv6),
//! and reach what the owner shared; devices of the same members on other
//! servers get no mesh rules (the network page tells a member how many of
//! their devices are on the network's server, and to add one there). A
//! shared home device is reached through the owner's home site, so a share
//! yields rules only once its address maps into a site range
//! ([`site_address`]); a share on a site connected to another server, or
//! at an address outside every site's LAN, yields none.
//!
//! [`compute`] is pure (memberships, devices and resolved shares in, grants
//! out); [`grants_for_server`] loads its input for one server.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr},
};

use serde::{Deserialize, Serialize};

use super::model::{Access, NetworkId};

/// Destination ports of a grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ports {
    /// Every protocol and port.
    All,
    /// These TCP ports only (sorted, unique, non-empty).
    Tcp(Vec<u16>),
}

/// An address with a prefix length: `10.8.0.5/32`, `100.96.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn host(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// One allow rule: new connections from the peer whose tunnel address is
/// `source` to `destination` on `ports` (replies ride on connection
/// tracking). Rules only ever add reachability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub source: IpAddr,
    pub destination: Cidr,
    pub ports: Ports,
}

/// A member's device on the network's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDevice {
    pub device_id: i64,
    pub user_id: i64,
    pub v4: Option<IpAddr>,
    pub v6: Option<IpAddr>,
}

/// A share whose destination is known: the shared host's address as a VPN
/// device reaches it (in the owner's site range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedShare {
    pub destination: Cidr,
    pub access: Access,
    pub ports: Vec<u16>,
}

/// One network's part of the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInput {
    pub devices: Vec<MemberDevice>,
    pub shares: Vec<ResolvedShare>,
}

/// The allow rules of a set of networks on one server, sorted and without
/// duplicates (a device in two networks with the same peer gets one rule).
pub fn compute(networks: &BTreeMap<NetworkId, NetworkInput>) -> Vec<Grant> {
    let mut out = BTreeSet::new();
    for net in networks.values() {
        for a in &net.devices {
            for b in &net.devices {
                if a.device_id == b.device_id {
                    continue;
                }
                for (src, dst) in [(a.v4, b.v4), (a.v6, b.v6)] {
                    if let (Some(src), Some(dst)) = (src, dst) {
                        out.insert(Grant {
                            source: src,
                            destination: Cidr::host(dst),
                            ports: Ports::All,
                        });
                    }
                }
            }
            for s in &net.shares {
                let ports = match s.access {
                    // Live view goes through the portal, never the tunnel.
                    Access::View => continue,
                    Access::Use if s.ports.is_empty() => continue,
                    Access::Use => Ports::Tcp(s.ports.clone()),
                    Access::Full => Ports::All,
                };
                let src = match s.destination.addr {
                    IpAddr::V4(_) => a.v4,
                    IpAddr::V6(_) => a.v6,
                };
                if let Some(src) = src {
                    out.insert(Grant {
                        source: src,
                        destination: s.destination,
                        ports,
                    });
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Where a VPN device reaches the owner's home host `lan_ip`: its address
/// in the range of the owner's home site whose LAN holds it (`site_id`
/// when the share names one), when that site's peer lives on `server_id`
/// (a site on another server is not reachable from this one). The one
/// place that knows how a LAN address maps into a site range.
pub async fn site_address(
    db: &crate::db::Db,
    server_id: crate::typed::ServerId,
    owner_id: i64,
    site_id: Option<i64>,
    lan_ip: Ipv4Addr,
) -> Result<Option<Cidr>, sqlx::Error> {
    use crate::sites::model::{LanSubnet, SiteMapping, SiteSlot};
    use sqlx::Row;
    let rows = match site_id {
        Some(id) => sqlx::query(
            "SELECT id, lan_cidr, range_slot FROM home_sites WHERE user_id = $1 AND server_id = $2 AND id = $3",
        )
        .bind(owner_id)
        .bind(server_id)
        .bind(id),
        None => sqlx::query(
            "SELECT id, lan_cidr, range_slot FROM home_sites WHERE user_id = $1 AND server_id = $2 ORDER BY id",
        )
        .bind(owner_id)
        .bind(server_id),
    }
    .fetch_all(&db.pool)
    .await?;
    for r in rows {
        let lan: String = r.try_get("lan_cidr")?;
        let slot: i64 = r.try_get("range_slot")?;
        let (Ok(lan), Ok(slot)) = (lan.parse::<LanSubnet>(), u32::try_from(slot)) else {
            continue;
        };
        if let Some(addr) = SiteMapping::new(lan, SiteSlot(slot)).and_then(|m| m.to_range(lan_ip)) {
            return Ok(Some(Cidr::host(IpAddr::V4(addr))));
        }
    }
    Ok(None)
}

/// Every mesh allow rule for one VPN server's node.
pub async fn grants_for_server(
    db: &crate::db::Db,
    server_id: crate::typed::ServerId,
) -> Result<Vec<Grant>, crate::error::AppError> {
    let mut networks: BTreeMap<NetworkId, NetworkInput> = BTreeMap::new();
    for d in super::repo::member_devices_on_server(db, server_id).await? {
        networks.entry(d.0).or_default().devices.push(d.1);
    }
    for s in super::repo::routed_shares_on_server(db, server_id).await? {
        let Ok(lan_ip) = s.lan_ip.parse::<Ipv4Addr>() else {
            // An inventory address the scanner reported as IPv6 or a camera
            // typed by host name: there is no site mapping for it.
            continue;
        };
        let Some(destination) = site_address(db, server_id, s.owner_id, s.site_id, lan_ip).await?
        else {
            continue;
        };
        networks
            .entry(s.network)
            .or_default()
            .shares
            .push(ResolvedShare {
                destination,
                access: s.access,
                ports: s.ports,
            });
    }
    Ok(compute(&networks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: i64, user: i64, v4: &str, v6: Option<&str>) -> MemberDevice {
        MemberDevice {
            device_id: id,
            user_id: user,
            v4: Some(v4.parse().unwrap()),
            v6: v6.map(|s| s.parse().unwrap()),
        }
    }

    fn cidr(s: &str) -> Cidr {
        let (a, p) = s.split_once('/').unwrap();
        Cidr {
            addr: a.parse().unwrap(),
            prefix: p.parse().unwrap(),
        }
    }

    #[test]
    fn members_reach_each_other_both_ways_and_families() {
        let mut nets = BTreeMap::new();
        nets.insert(
            NetworkId(1),
            NetworkInput {
                devices: vec![
                    dev(1, 10, "10.8.0.2", Some("fd00::2")),
                    dev(2, 11, "10.8.0.3", None),
                ],
                shares: vec![],
            },
        );
        let g = compute(&nets);
        assert_eq!(
            g,
            vec![
                Grant {
                    source: "10.8.0.2".parse().unwrap(),
                    destination: cidr("10.8.0.3/32"),
                    ports: Ports::All
                },
                Grant {
                    source: "10.8.0.3".parse().unwrap(),
                    destination: cidr("10.8.0.2/32"),
                    ports: Ports::All
                },
            ]
        );
    }

    #[test]
    fn shares_by_access() {
        let mut nets = BTreeMap::new();
        nets.insert(
            NetworkId(1),
            NetworkInput {
                devices: vec![dev(1, 10, "10.8.0.2", None)],
                shares: vec![
                    ResolvedShare {
                        destination: cidr("100.96.0.40/32"),
                        access: Access::Use,
                        ports: vec![631],
                    },
                    ResolvedShare {
                        destination: cidr("100.96.0.41/32"),
                        access: Access::Full,
                        ports: vec![],
                    },
                    ResolvedShare {
                        destination: cidr("100.96.0.42/32"),
                        access: Access::View,
                        ports: vec![],
                    },
                ],
            },
        );
        let g = compute(&nets);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].destination, cidr("100.96.0.40/32"));
        assert_eq!(g[0].ports, Ports::Tcp(vec![631]));
        assert_eq!(g[1].destination, cidr("100.96.0.41/32"));
        assert_eq!(g[1].ports, Ports::All);
    }

    #[test]
    fn networks_do_not_mix_and_duplicates_merge() {
        let mut nets = BTreeMap::new();
        let a = dev(1, 10, "10.8.0.2", None);
        let b = dev(2, 11, "10.8.0.3", None);
        let c = dev(3, 12, "10.8.0.4", None);
        nets.insert(
            NetworkId(1),
            NetworkInput {
                devices: vec![a.clone(), b.clone()],
                shares: vec![],
            },
        );
        nets.insert(
            NetworkId(2),
            NetworkInput {
                devices: vec![a, b, c],
                shares: vec![],
            },
        );
        let g = compute(&nets);
        // Three devices, six ordered pairs; network 1's two pairs are among them.
        assert_eq!(g.len(), 6);
        nets.remove(&NetworkId(2));
        let g = compute(&nets);
        assert!(g
            .iter()
            .all(|g| g.source != "10.8.0.4".parse::<IpAddr>().unwrap()
                && g.destination != cidr("10.8.0.4/32")));
    }

    #[test]
    fn a_lone_member_gets_nothing() {
        let mut nets = BTreeMap::new();
        nets.insert(
            NetworkId(1),
            NetworkInput {
                devices: vec![dev(1, 10, "10.8.0.2", None)],
                shares: vec![],
            },
        );
        assert!(compute(&nets).is_empty());
    }
}
