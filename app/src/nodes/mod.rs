//! VPN nodes: the portal side of node enrollment, desired state and stats
//! (`api`), and the agent that runs on each VPN server (`agent`).

pub mod agent;
pub mod api;
pub mod service;
