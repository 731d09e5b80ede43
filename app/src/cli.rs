//! The `truevault` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "truevault", version, about = "TrueVault portal")]
pub struct Cli {
    /// TOML configuration file (default: ./truevault.toml if present).
    #[arg(long, global = true, env = "TRUEVAULT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the portal (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Administration tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run the VPN node agent next to a WireGuard interface (as root).
    Node(NodeArgs),
}

#[derive(Debug, clap::Args)]
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

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an active administrator. The password is read from stdin.
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Set a user's password (signs out all their sessions). Reads stdin.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}
