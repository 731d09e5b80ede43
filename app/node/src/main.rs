//! `truevault-node`: the VPN node agent on its own (what a VPN server
//! installs); `truevault node` in the portal binary is the same program.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "truevault-node",
    version,
    about = "TrueVault VPN node agent (run as root)"
)]
struct Cli {
    #[command(flatten)]
    args: truevault_node::NodeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    truevault_node::init_logging();
    let cli = Cli::parse();
    match truevault_node::run(cli.args, truevault_node::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "node agent stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
