//! VPN node ↔ portal: enrollment, the desired state (peers and data plane,
//! long-polled, versioned as one), per-peer statistics, and the home-site
//! agent's connection.

use std::{fmt, net::IpAddr, str::FromStr};

use serde::{Deserialize, Serialize};

/// `POST /api/v1/nodes/enroll` (bearer: the one-time enrollment token).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollRequest {
    /// The node's WireGuard public key; its private key never leaves the node.
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollResponse {
    pub server_id: i64,
    pub server_name: String,
    /// The long-lived node token for all later calls (shown once).
    pub node_token: String,
    pub interface: InterfaceSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InterfaceSettings {
    /// Tunnel addresses of the node with prefix, e.g. `10.8.0.1/16`.
    pub addresses: Vec<String>,
    pub listen_port: u16,
}

/// `GET /api/v1/nodes/self/config?since=V`: answered at once when the
/// version moved past V, else held up to ~25 s and answered 304. The node
/// applies peers and data plane together and reports the version applied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DesiredConfig {
    pub version: i64,
    pub interface: InterfaceSettings,
    pub peers: Vec<DesiredPeer>,
    #[serde(default)]
    pub data_plane: DataPlane,
}

/// What the node's firewall lets through (nftables table `inet truevault`).
/// Peer-to-peer traffic is dropped unless a grant names it; peers reach the
/// internet through NAT when `egress` is on; the DNS resolvers are reachable
/// either way. Sources are peer tunnel addresses, which WireGuard's
/// cryptokey routing guarantees (a peer cannot send from another's address).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataPlane {
    /// Forward peers' traffic to the internet (masqueraded out of the
    /// node's egress interface).
    pub egress: bool,
    /// Resolvers peers use (UDP and TCP 53), reachable through the tunnel.
    pub dns: Vec<IpAddr>,
    /// The only peer-to-peer (or peer-to-site) traffic allowed.
    pub grants: Vec<Grant>,
}

/// One allow rule: traffic from a peer's address to a destination network,
/// on every port or only on the listed TCP ports. Replies follow through
/// connection tracking; nothing is allowed the other way unless granted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub source: IpAddr,
    pub destination: Cidr,
    pub ports: Ports,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Ports {
    All,
    Tcp(Vec<u16>),
}

/// An IP network (`10.240.7.0/24`, `fd00::/64`), serialised as that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a network in CIDR form (address/prefix, no host bits): {0}")]
pub struct CidrError(String);

impl Cidr {
    /// `None` when the prefix is too long for the family or host bits are set.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let ok = match addr {
            IpAddr::V4(a) => {
                prefix <= 32 && (prefix == 32 || u32::from(a) & (u32::MAX >> prefix) == 0)
            }
            IpAddr::V6(a) => {
                prefix <= 128 && (prefix == 128 || u128::from(a) & (u128::MAX >> prefix) == 0)
            }
        };
        ok.then_some(Self { addr, prefix })
    }
    /// A single address (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrError(s.chars().take(64).collect());
        let (a, p) = s.split_once('/').ok_or_else(err)?;
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let prefix: u8 = p.parse().map_err(|_| err())?;
        Self::new(addr, prefix).ok_or_else(err)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DesiredPeer {
    pub public_key: String,
    pub preshared_key: String,
    /// `10.8.0.2/32`, and `fd00::2/128` where configured.
    pub allowed_ips: Vec<String>,
    /// Where the peer was last heard from (`203.0.113.7:51820`). The node
    /// sets it only on a peer it adds (one coming back after a suspension or
    /// a cap) and starts the handshake itself, instead of waiting for the
    /// client's retry timer; a peer already on the interface keeps the
    /// endpoint WireGuard learned (it may have roamed since). Older portals
    /// send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `POST /api/v1/nodes/self/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsReport {
    /// The desired-config version the interface has applied.
    pub applied_version: i64,
    pub peers: Vec<PeerStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerStats {
    pub public_key: String,
    /// Unix seconds; 0 = never.
    pub latest_handshake: i64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    #[serde(default)]
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsResponse {
    pub accepted: usize,
}

/// Bounds on what a node may send, checked by the portal.
pub const MAX_STATS_PEERS: usize = 100_000;

/// `POST /api/v1/sites/self/connect` (bearer: the site token): the home
/// agent sends the public key it made (its private key stays home) and gets
/// what it needs to join the VPN and map the site's range onto the LAN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SiteConnectRequest {
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SiteConfig {
    pub site_name: String,
    /// The home agent's tunnel address, e.g. `10.8.0.9/32`.
    pub address: Cidr,
    pub server_public_key: String,
    pub preshared_key: String,
    /// `host:port` of the VPN server.
    pub endpoint: String,
    /// What the home agent routes into the tunnel: the server's device pool.
    pub allowed_ips: Vec<Cidr>,
    /// The real LAN and the site's range in the portal's pool (same size):
    /// the agent maps the range 1:1 onto the LAN.
    pub lan: Cidr,
    pub range: Cidr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_strictly_and_round_trip_as_text() {
        let c: Cidr = "10.240.7.0/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.240.7.0/24");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"10.240.7.0/24\"");
        assert_eq!(
            serde_json::from_str::<Cidr>("\"fd00::/64\"")
                .unwrap()
                .prefix(),
            64
        );
        for bad in [
            "10.240.7.1/24",
            "10.0.0.0/33",
            "fd00::1/64",
            "10.0.0.0",
            "x/8",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Cidr>("\"10.0.0.1/8\"").is_err());
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().prefix(), 0);
    }

    #[test]
    fn an_old_config_without_a_data_plane_still_parses() {
        let cfg: DesiredConfig = serde_json::from_str(
            r#"{"version":1,"interface":{"addresses":[],"listen_port":51820},"peers":[]}"#,
        )
        .unwrap();
        assert_eq!(cfg.data_plane, DataPlane::default());
        let grant = Grant {
            source: "10.8.0.2".parse().unwrap(),
            destination: "10.240.0.0/24".parse().unwrap(),
            ports: Ports::Tcp(vec![631]),
        };
        let text = serde_json::to_string(&grant).unwrap();
        assert_eq!(
            text,
            r#"{"source":"10.8.0.2","destination":"10.240.0.0/24","ports":{"tcp":[631]}}"#
        );
        assert_eq!(serde_json::from_str::<Grant>(&text).unwrap(), grant);
    }
}

/// What nodes send is read with these types: any bytes decode or fail,
/// never panic, and what decodes re-encodes to the same report. 256 cases
/// by default; `PROPTEST_CASES=100000` for a long run.
#[cfg(test)]
mod prop_tests {
    use super::*;
    use proptest::prelude::*;

    fn peer() -> impl Strategy<Value = PeerStats> {
        (
            ".{0,70}",
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            proptest::option::of(".{0,60}"),
        )
            .prop_map(
                |(public_key, latest_handshake, rx_bytes, tx_bytes, endpoint)| PeerStats {
                    public_key,
                    latest_handshake,
                    rx_bytes,
                    tx_bytes,
                    endpoint,
                },
            )
    }

    proptest! {
        #[test]
        fn garbage_never_panics_the_stats_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = serde_json::from_slice::<StatsReport>(&bytes);
            let _ = serde_json::from_slice::<DesiredConfig>(&bytes);
        }

        #[test]
        fn reports_round_trip(applied_version in any::<i64>(), peers in proptest::collection::vec(peer(), 0..5)) {
            let r = StatsReport { applied_version, peers };
            let back: StatsReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            prop_assert_eq!(back.applied_version, r.applied_version);
            prop_assert_eq!(back.peers, r.peers);
        }
    }
}
