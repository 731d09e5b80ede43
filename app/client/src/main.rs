//! `truevault-client`: see the crate docs and the README's "Command-line client".

use std::io::Read;

use clap::{Parser, Subcommand};
use truevault_client::{Backend, Client, ClientError, INTERFACE};

#[derive(Parser)]
#[command(
    name = "truevault-client",
    about = "TrueVault VPN from the command line"
)]
struct Cli {
    /// Where the key, the device and its config are kept (mode 0600).
    #[arg(
        long,
        env = "TRUEVAULT_CLIENT_DIR",
        default_value = "/etc/truevault-client",
        global = true
    )]
    dir: std::path::PathBuf,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// The tunnel's interface (and config file) name.
    #[arg(long, env = "TRUEVAULT_CLIENT_INTERFACE", default_value = INTERFACE, global = true)]
    interface: String,
    /// How the tunnel is brought up: auto (wg-quick where present), wg-quick, wireguard-go.
    #[arg(long, env = "TRUEVAULT_CLIENT_BACKEND", default_value = "auto", value_parser = backend, global = true)]
    backend: Backend,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Keeps an API key (read from stdin, never the command line).
    Login {
        #[arg(long)]
        portal: String,
        /// Accept a plain-http portal that is not on loopback (a trusted network only).
        #[arg(long)]
        allow_http: bool,
    },
    /// Lists the servers with their latency from here (and reports it).
    Servers,
    /// Makes or reuses this machine's device and brings the tunnel up.
    Up {
        #[arg(long, conflicts_with = "region")]
        server: Option<i64>,
        #[arg(long)]
        region: Option<String>,
        /// Only write the config (no tunnel).
        #[arg(long)]
        config_only: bool,
    },
    Down,
    Status,
    /// New keys made here for this device.
    Rotate {
        #[arg(long)]
        config_only: bool,
    },
}

fn backend(s: &str) -> Result<Backend, String> {
    Backend::parse(s).ok_or_else(|| format!("{s}: one of auto, wg-quick, wireguard-go"))
}

fn print<T: serde::Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", human(value));
    }
}

async fn main_inner(cli: Cli) -> Result<(), ClientError> {
    let client = Client::new(&cli.dir)
        .with_interface(&cli.interface)
        .with_backend(cli.backend);
    match cli.command {
        Cmd::Login { portal, allow_http } => {
            let mut key = String::new();
            std::io::stdin()
                .read_to_string(&mut key)
                .map_err(|e| ClientError::Local(e.to_string()))?;
            client.login(&portal, &key, allow_http).await?;
            print(cli.json, &serde_json::json!({"logged_in": true}), |_| {
                "Logged in; the key is kept in login.json (0600).".into()
            });
        }
        Cmd::Servers => {
            let rows = client.servers().await?;
            print(cli.json, &rows, |rows| {
                let mut out = format!(
                    "{:>5}  {:<20} {:<8} {:>5}  {:>8}  {}\n",
                    "id", "name", "region", "load", "latency", "endpoint"
                );
                for r in rows {
                    let lat = r
                        .latency_ms
                        .map(|l| format!("{l} ms"))
                        .unwrap_or_else(|| "-".into());
                    out.push_str(&format!(
                        "{:>5}  {:<20} {:<8} {:>4}%  {:>8}  {}\n",
                        r.id, r.name, r.region, r.load_percent, lat, r.endpoint
                    ));
                }
                out.trim_end().to_string()
            });
        }
        Cmd::Up {
            server,
            region,
            config_only,
        } => {
            let s = client.up(server, region.as_deref(), !config_only).await?;
            print(cli.json, &s, |s| {
                format!(
                    "Device {} on {}; config {}",
                    s.device_id,
                    s.server_name,
                    s.config_path.display()
                )
            });
        }
        Cmd::Down => {
            client.down()?;
            print(cli.json, &serde_json::json!({"up": false}), |_| {
                "Tunnel down.".into()
            });
        }
        Cmd::Status => {
            let s = client.status()?;
            print(cli.json, &s, |s| {
                format!(
                    "{} {} via {}; handshake {}; received {} B, sent {} B",
                    s.interface,
                    if s.up { "up" } else { "down" },
                    s.server,
                    s.handshake_age_secs
                        .map(|a| format!("{a} s ago"))
                        .unwrap_or_else(|| "never".into()),
                    s.rx_bytes,
                    s.tx_bytes
                )
            });
        }
        Cmd::Rotate { config_only } => {
            let s = client.rotate(!config_only).await?;
            print(cli.json, &s, |s| {
                format!("New keys for device {}", s.device_id)
            });
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    if let Err(e) = main_inner(cli).await {
        if json {
            eprintln!(
                "{}",
                serde_json::json!({"error": e.to_string(), "exit": e.exit_code()})
            );
        } else {
            eprintln!("truevault-client: {e}");
        }
        std::process::exit(e.exit_code());
    }
}
