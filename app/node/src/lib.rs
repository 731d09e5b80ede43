//! The TrueVault VPN node agent, a crate of its own so a VPN server runs a
//! small binary that links `truevault-wire` and not the portal. The portal's
//! `truevault node …` subcommand runs the same [`run`] with the same
//! [`NodeArgs`], so both spellings behave identically.

pub mod agent;
pub mod keys;

use std::{path::PathBuf, time::Duration};

use agent::{Agent, AgentConfig, AgentError};

/// `truevault node …` / `truevault-node …`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The portal's base URL, e.g. https://vpn.example.com
    #[arg(long, env = "TRUEVAULT_NODE_PORTAL")]
    pub portal: String,
    /// One-time enrollment token from the admin's server page (first run only).
    #[arg(long, env = "TRUEVAULT_NODE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The WireGuard interface to manage (must exist, e.g. from wireguard-go).
    #[arg(long, default_value = "wg0")]
    pub interface: String,
    /// Where the node keeps its key and token (mode 0600).
    #[arg(long, default_value = "/var/lib/truevault-node")]
    pub state_dir: PathBuf,
    /// Seconds between stats reports.
    #[arg(long, default_value_t = 10)]
    pub stats_interval: u64,
}

impl NodeArgs {
    pub fn agent_config(&self) -> AgentConfig {
        AgentConfig {
            portal: self.portal.clone(),
            enroll_token: self.token.clone(),
            interface: self.interface.clone(),
            state_dir: self.state_dir.clone(),
            stats_interval: Duration::from_secs(self.stats_interval.max(1)),
        }
    }
}

/// Runs the agent until `shutdown` resolves or the portal revokes the node.
pub async fn run(
    args: NodeArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AgentError> {
    let agent = Agent::start(args.agent_config()).await?;
    tokio::select! {
        res = agent.run() => res,
        _ = shutdown => Ok(()),
    }
}
