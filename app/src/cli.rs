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
    Node(truevault_node::NodeArgs),
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
