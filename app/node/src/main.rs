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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    // systemd stops the unit with SIGTERM; a shell with Ctrl-C.
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    };
    match truevault_node::run(cli.args, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "node agent stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
