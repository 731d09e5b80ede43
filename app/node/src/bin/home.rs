//! `truevault-home`: the home-site agent (see `truevault_node::home`).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "truevault-home",
    version,
    about = "TrueVault home-site agent (run as root)"
)]
struct Cli {
    #[command(flatten)]
    args: truevault_node::home::HomeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    truevault_node::init_logging();
    let cli = Cli::parse();
    match truevault_node::home::run(cli.args, truevault_node::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "home agent stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
