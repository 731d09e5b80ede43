use clap::Parser;
use truevault_gateway::config::{Cli, Settings};
use truevault_gateway::tunnel::{self, TunnelConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Colour only on a terminal (logs go to stdout): not in files.
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = Settings::from_cli(&Cli::parse())?;
    tracing::info!(portal = %settings.tunnel_url, agent = truevault_gateway::AGENT, "starting");
    let cfg = TunnelConfig::new(settings.tunnel_url, settings.token);
    tokio::select! {
        _ = tunnel::run(cfg) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
    }
    Ok(())
}
