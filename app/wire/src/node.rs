//! VPN node ↔ portal: enrollment, the desired peer set (long-polled,
//! versioned) and per-peer statistics.

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
/// version moved past V, else held up to ~25 s and answered 304.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DesiredConfig {
    pub version: i64,
    pub interface: InterfaceSettings,
    pub peers: Vec<DesiredPeer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DesiredPeer {
    pub public_key: String,
    pub preshared_key: String,
    /// `10.8.0.2/32`, and `fd00::2/128` where configured.
    pub allowed_ips: Vec<String>,
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
