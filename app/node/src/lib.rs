//! The TrueVault VPN node agent, a crate of its own so a VPN server runs a
//! small binary that links `truevault-wire` and not the portal. The portal's
//! `truevault node …` subcommand runs the same [`run`] with the same
//! [`NodeArgs`], so both spellings behave identically.

pub mod agent;
pub mod dataplane;
pub mod home;
pub mod keys;
pub mod wgif;

use std::{path::PathBuf, time::Duration};

use agent::{Agent, AgentConfig, AgentError};

/// `truevault node …` / `truevault-node …`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The portal's base URL, e.g. https://vpn.example.com
    #[arg(
        long,
        env = "TRUEVAULT_NODE_PORTAL",
        required_unless_present = "uninstall"
    )]
    pub portal: Option<String>,
    /// One-time enrollment token from the admin's server page (first run only).
    #[arg(long, env = "TRUEVAULT_NODE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The WireGuard interface to manage; created when missing (kernel
    /// module where present, else wireguard-go).
    #[arg(long, default_value = "wg0")]
    pub interface: String,
    /// The uplink peers' internet traffic is masqueraded out of (default:
    /// the interface of the default route).
    #[arg(long)]
    pub egress_interface: Option<String>,
    /// Accept a plain-http portal that is not on loopback (the node token
    /// and preshared keys then cross the network in clear).
    #[arg(long)]
    pub allow_http: bool,
    /// Remove the `inet truevault` nftables table and the interface, and exit
    /// (the state directory is kept).
    #[arg(long)]
    pub uninstall: bool,
    /// Where the node keeps its key and token (mode 0600).
    #[arg(long, default_value = "/var/lib/truevault-node")]
    pub state_dir: PathBuf,
    /// Seconds between stats reports.
    #[arg(long, default_value_t = 10)]
    pub stats_interval: u64,
}

impl NodeArgs {
    pub fn agent_config(&self) -> Result<AgentConfig, AgentError> {
        let portal = self
            .portal
            .as_deref()
            .ok_or_else(|| AgentError::Usage("--portal is required".into()))?;
        Ok(AgentConfig {
            portal: agent::portal_url(portal, self.allow_http)?,
            enroll_token: self.token.clone(),
            interface: self.interface.clone(),
            state_dir: self.state_dir.clone(),
            stats_interval: Duration::from_secs(self.stats_interval.max(1)),
            egress_interface: self.egress_interface.clone(),
        })
    }
}

/// Runs the agent until `shutdown` resolves or the portal revokes the node.
pub async fn run(
    args: NodeArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AgentError> {
    if args.uninstall {
        return wgif::uninstall(&format!("inet {}", dataplane::TABLE), &args.interface).await;
    }
    let agent = Agent::start(args.agent_config()?).await?;
    tokio::select! {
        res = agent.run() => res,
        _ = shutdown => Ok(()),
    }
}

/// Log lines to stderr (`RUST_LOG`, default `info`); the journal keeps them.
pub fn init_logging() {
    // Colour only on a terminal: the journal and log files get plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// Ctrl-C or SIGTERM (what systemd sends on stop).
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
