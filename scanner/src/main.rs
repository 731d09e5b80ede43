//! Command line of the TrueVault home network scanner. The work is in the
//! library; this file parses arguments, draws progress and maps errors to
//! exit codes (see `error::exit`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::EnvFilter;

use truevault_scanner::arp::ArpConfig;
use truevault_scanner::error::{exit, ScanError};
use truevault_scanner::onvif::Credentials;
use truevault_scanner::ports::PortConfig;
use truevault_scanner::scan::{self, ScanOptions, ScanReport};
use truevault_scanner::sync::{build_request, SyncClient, Token};

#[derive(Parser)]
#[command(
    name = "truevault-scanner",
    version,
    about = "Finds the devices on your home network and syncs them to TrueVault",
    after_help = "Exit codes: 0 ok, 1 other error, 2 usage or configuration, 3 no raw-socket \
                  permission and the fallback failed, 4 portal refused the token, \
                  5 portal unreachable or 5xx, 6 payload over the sync limits, \
                  7 interface or network unusable."
)]
struct Cli {
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Scan the LAN and print what was found.
    Scan {
        #[command(flatten)]
        scan: ScanArgs,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Scan once and send the result to the portal.
    Sync {
        #[command(flatten)]
        scan: ScanArgs,
        #[command(flatten)]
        portal: PortalArgs,
    },
    /// Scan and sync every --interval until stopped.
    Watch {
        #[command(flatten)]
        scan: ScanArgs,
        #[command(flatten)]
        portal: PortalArgs,
        /// Time between scans: 300, 90s, 5m, 1h.
        #[arg(long, default_value = "5m", value_parser = parse_interval)]
        interval: Duration,
    },
}

#[derive(Args, Clone)]
struct ScanArgs {
    /// Interface to scan (default: the default route's).
    #[arg(long, env = "TRUEVAULT_SCANNER_IFACE")]
    iface: Option<String>,
    /// Network to sweep instead of the interface's own, e.g. 192.168.1.0/24.
    #[arg(long, env = "TRUEVAULT_SCANNER_CIDR")]
    cidr: Option<String>,
    /// ONVIF user to ask cameras for model, profiles and stream URIs.
    #[arg(long, env = "TRUEVAULT_CAMERA_USER")]
    camera_user: Option<String>,
    /// ONVIF password (prefer the environment variable: argv is visible to others).
    #[arg(long, env = "TRUEVAULT_CAMERA_PASS", hide_env_values = true)]
    camera_pass: Option<String>,
    /// How long to browse mDNS, in ms (responders rate-limit: keep ≥ 1500).
    #[arg(long, default_value_t = 1600)]
    mdns_ms: u64,
    /// How long to wait for WS-Discovery answers, in ms.
    #[arg(long, default_value_t = 1600)]
    wsd_ms: u64,
    /// Gap between two ARP requests, in µs.
    #[arg(long, default_value_t = 1000)]
    arp_interval_us: u64,
    /// Wait for late ARP replies after each round, in ms.
    #[arg(long, default_value_t = 300)]
    arp_wait_ms: u64,
    /// Extra ARP rounds for silent addresses.
    #[arg(long, default_value_t = 1)]
    arp_retries: u32,
    /// TCP connect timeout per port probe, in ms.
    #[arg(long, default_value_t = 400)]
    port_timeout_ms: u64,
    /// Port probes in flight at once.
    #[arg(long, default_value_t = 128)]
    port_concurrency: usize,
    /// Skip mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Skip ONVIF WS-Discovery.
    #[arg(long)]
    no_onvif: bool,
    /// Skip the TCP port probes.
    #[arg(long)]
    no_ports: bool,
}

#[derive(Args, Clone)]
struct PortalArgs {
    /// Portal base URL, e.g. https://vpn.example.com
    #[arg(long, env = "TRUEVAULT_PORTAL")]
    portal: Option<String>,
    /// Scanner token from the dashboard (prefer the environment or --token-file).
    #[arg(long, env = "TRUEVAULT_SCANNER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the token (e.g. a systemd credential).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// KEY=VALUE file (TRUEVAULT_PORTAL, TRUEVAULT_SCANNER_TOKEN, …) for what
    /// the command line and environment don't set.
    #[arg(long, env = "TRUEVAULT_SCANNER_CONFIG")]
    config: Option<PathBuf>,
    /// Allow a plain-http portal that is not on loopback (token in clear!).
    #[arg(long)]
    allow_http: bool,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = n.checked_mul(mult).ok_or("too long")?;
    if secs < 10 {
        return Err("the interval must be at least 10 s".into());
    }
    Ok(Duration::from_secs(secs))
}

impl ScanArgs {
    fn options(&self) -> Result<ScanOptions, ScanError> {
        let camera = match (&self.camera_user, &self.camera_pass) {
            (Some(u), Some(p)) => Some(Credentials {
                user: u.clone(),
                pass: p.clone(),
            }),
            (None, None) => None,
            _ => {
                return Err(ScanError::Usage(
                    "--camera-user and --camera-pass go together".into(),
                ))
            }
        };
        if self.mdns_ms > 60_000 || self.wsd_ms > 60_000 || self.port_timeout_ms > 10_000 {
            return Err(ScanError::Usage(
                "a timing option is unreasonably long".into(),
            ));
        }
        Ok(ScanOptions {
            iface: self.iface.clone(),
            cidr: self.cidr.clone(),
            arp: ArpConfig {
                interval: Duration::from_micros(self.arp_interval_us.min(1_000_000)),
                wait: Duration::from_millis(self.arp_wait_ms.min(10_000)),
                retries: self.arp_retries.min(5),
            },
            mdns_window: Duration::from_millis(self.mdns_ms),
            wsd_window: Duration::from_millis(self.wsd_ms),
            ports: PortConfig {
                timeout: Duration::from_millis(self.port_timeout_ms),
                concurrency: self.port_concurrency.clamp(1, 1024),
                ..PortConfig::default()
            },
            camera,
            mdns: !self.no_mdns,
            onvif: !self.no_onvif,
            probe_ports: !self.no_ports,
        })
    }
}

/// `KEY=VALUE` lines; `#` comments; optional quotes (systemd EnvironmentFile style).
fn read_config(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect())
}

fn client(p: &PortalArgs) -> anyhow::Result<SyncClient> {
    let config = match &p.config {
        Some(path) => read_config(path)?,
        None => Vec::new(),
    };
    let from_config = |key: &str| {
        config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let portal = p
        .portal
        .clone()
        .or_else(|| from_config("TRUEVAULT_PORTAL"))
        .ok_or_else(|| {
            ScanError::Usage("no portal: pass --portal or set TRUEVAULT_PORTAL".into())
        })?;
    let token = match (&p.token, &p.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("reading token file {}", f.display()))?,
        (None, None) => from_config("TRUEVAULT_SCANNER_TOKEN").ok_or(ScanError::NoToken)?,
    };
    Ok(SyncClient::new(&portal, Token::new(&token)?, p.allow_http)?)
}

fn progress(hidden: bool) -> ProgressBar {
    let target = if hidden || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_message("finding the network");
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:28} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn scan_once(args: &ScanArgs, no_progress: bool) -> anyhow::Result<ScanReport> {
    let opts = args.options()?;
    let bar = progress(no_progress);
    let r = scan::run(&opts, &bar).await;
    bar.finish_and_clear();
    Ok(r?)
}

fn print_table(r: &ScanReport) {
    print!("{}", truevault_scanner::table::render(r));
}

async fn sync_once(args: &ScanArgs, client: &SyncClient, no_progress: bool) -> anyhow::Result<()> {
    let report = scan_once(args, no_progress).await?;
    let req = build_request(&report.network, report.full_scan, report.hosts)?;
    let n = req.hosts.len();
    let s = client.send(&req).await?;
    println!(
        "synced {n} hosts: {} new, {} updated, {} offline, {} cameras",
        s.new, s.updated, s.offline, s.cameras
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Scan { scan, json } => {
            let report = scan_once(&scan, cli.no_progress).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_table(&report);
            }
        }
        Cmd::Sync { scan, portal } => {
            let client = client(&portal)?;
            sync_once(&scan, &client, cli.no_progress).await?;
        }
        Cmd::Watch {
            scan,
            portal,
            interval,
        } => {
            let client = client(&portal)?;
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            loop {
                if let Err(e) = sync_once(&scan, &client, true).await {
                    match e.downcast_ref::<ScanError>() {
                        // Retrying won't fix a revoked token or a bad setup.
                        Some(
                            ScanError::TokenRefused { .. }
                            | ScanError::Usage(_)
                            | ScanError::NoSuchInterface(_)
                            | ScanError::NoPermission(_),
                        ) => return Err(e),
                        _ => tracing::error!("{e:#}; trying again in {interval:?}"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                    _ = term.recv() => return Ok(()),
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("truevault_scanner={level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e
                .downcast_ref::<ScanError>()
                .map(ScanError::exit_code)
                .unwrap_or(exit::OTHER);
            ExitCode::from(code)
        }
    }
}
