//! The home agent (`truevault-home`): runs as root on the home machine that
//! also runs the scanner and the camera gateway, and makes the home LAN a
//! site of the VPN. It is its own binary in this crate rather than a
//! subcommand of the scanner or the gateway because it needs exactly what
//! the node agent has — a WireGuard interface it creates (kernel or
//! wireguard-go), routes, forwarding and one nftables table applied in one
//! transaction — and root, while the scanner and gateway run unprivileged.
//!
//! It makes its key pair (the private key never leaves the machine), sends
//! the public key with its site token to the portal, and gets back its
//! tunnel address, the server's peer and the site's range. It then maps the
//! range 1:1 onto the LAN with nftables (`dnat ip prefix to … map`, i.e.
//! netmap) and masquerades what it forwards, so LAN hosts need no route to
//! the VPN. It re-connects every `--interval` (a heartbeat; it picks up a
//! changed server or key), and a revoked token stops it.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use truevault_wire::node::{SiteConfig, SiteConnectRequest};

use crate::{
    agent::{run_cmd, AgentError},
    dataplane::valid_interface_name,
    wgif,
};

/// The table the home agent owns.
pub const TABLE: &str = "ip truevault_home";

#[derive(Debug, Clone, clap::Args)]
pub struct HomeArgs {
    /// The portal's base URL, e.g. https://vpn.example.com
    #[arg(long, env = "TRUEVAULT_PORTAL", required_unless_present = "uninstall")]
    pub portal: Option<String>,
    /// File holding the site token (mode 0600, e.g. /etc/truevault/site.token
    /// or a systemd credential). Or set TRUEVAULT_SITE_TOKEN; never on the
    /// command line, where `ps` would show it.
    #[arg(long, env = "TRUEVAULT_SITE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The WireGuard interface to create and manage.
    #[arg(long, default_value = "tvhome0")]
    pub interface: String,
    /// Where the agent keeps its private key (mode 0600).
    #[arg(long, default_value = "/var/lib/truevault-home")]
    pub state_dir: PathBuf,
    /// Seconds between connects (heartbeat and config refresh).
    #[arg(long, default_value_t = 30)]
    pub interval: u64,
    /// Accept a plain-http portal that is not on loopback (the token then
    /// crosses the network in clear).
    #[arg(long)]
    pub allow_http: bool,
    /// Remove the nftables table and the interface, and exit.
    #[arg(long)]
    pub uninstall: bool,
}

#[derive(Serialize, Deserialize)]
struct HomeState {
    private_key: String,
}

fn state_err(path: &Path, e: impl std::fmt::Display) -> AgentError {
    AgentError::State {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The site token: from the file, else the environment.
fn read_token(args: &HomeArgs) -> Result<String, AgentError> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| state_err(path, e))?,
        None => std::env::var("TRUEVAULT_SITE_TOKEN").map_err(|_| {
            AgentError::Usage(
                "no site token: pass --token-file FILE or set TRUEVAULT_SITE_TOKEN".into(),
            )
        })?,
    };
    let token = token.trim().to_string();
    if token.is_empty()
        || token.len() > 256
        || token.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AgentError::Usage(
            "the site token is empty or malformed".into(),
        ));
    }
    Ok(token)
}

fn load_or_make_key(dir: &Path) -> Result<crate::keys::KeyPair, AgentError> {
    let path = dir.join("home.json");
    if let Ok(bytes) = std::fs::read(&path) {
        let st: HomeState = serde_json::from_slice(&bytes).map_err(|e| state_err(&path, e))?;
        return public_of(&st.private_key).ok_or_else(|| state_err(&path, "not a WireGuard key"));
    }
    std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
    let pair = crate::keys::generate_keypair().map_err(|e| state_err(&path, e))?;
    let bytes = serde_json::to_vec(&HomeState {
        private_key: pair.private.clone(),
    })
    .map_err(|e| state_err(&path, e))?;
    crate::keys::write_private(&path, &bytes).map_err(|e| state_err(&path, e))?;
    Ok(pair)
}

fn public_of(private: &str) -> Option<crate::keys::KeyPair> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let bytes: [u8; 32] = STANDARD.decode(private).ok()?.try_into().ok()?;
    let secret = x25519_dalek::StaticSecret::from(bytes);
    Some(crate::keys::KeyPair {
        private: private.to_string(),
        public: STANDARD.encode(x25519_dalek::PublicKey::from(&secret).as_bytes()),
    })
}

/// The `wg syncconf` file: one peer, the VPN server.
pub fn render_wg(private_key: &str, cfg: &SiteConfig) -> String {
    let allowed: Vec<String> = cfg.allowed_ips.iter().map(|c| c.to_string()).collect();
    format!(
        "[Interface]\nPrivateKey = {private_key}\n\n[Peer]\nPublicKey = {}\nPresharedKey = {}\nEndpoint = {}\nAllowedIPs = {}\nPersistentKeepalive = 25\n",
        cfg.server_public_key,
        cfg.preshared_key,
        cfg.endpoint,
        allowed.join(", ")
    )
}

/// The home side's nftables: the site's range mapped 1:1 onto the LAN
/// (prefix DNAT = netmap), only the LAN reachable from the tunnel, nothing
/// initiated towards the tunnel, and forwarded traffic masqueraded so LAN
/// hosts answer the home machine.
pub fn render_nft(iface: &str, cfg: &SiteConfig) -> String {
    let (range, lan) = (cfg.range, cfg.lan);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "table {TABLE} {{}}\ndelete table {TABLE}\ntable {TABLE} {{"
    );
    let _ = writeln!(
        s,
        "  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n    \
         iifname \"{iface}\" ip daddr {range} dnat ip prefix to ip daddr map {{ {range} : {lan} }}\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain forward {{\n    type filter hook forward priority filter; policy accept;\n    \
         iifname \"{iface}\" ip daddr {lan} accept\n    \
         iifname \"{iface}\" drop\n    \
         oifname \"{iface}\" ct state established,related accept\n    \
         oifname \"{iface}\" drop\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    \
         iifname \"{iface}\" ip daddr {lan} masquerade\n  }}\n}}"
    );
    s
}

pub struct HomeAgent {
    args: HomeArgs,
    portal: String,
    token: String,
    key: crate::keys::KeyPair,
    http: reqwest::Client,
    applied: Option<SiteConfig>,
}

impl HomeAgent {
    pub fn new(args: HomeArgs) -> Result<Self, AgentError> {
        if !valid_interface_name(&args.interface) {
            return Err(AgentError::Usage(format!(
                "--interface {:?} is not an interface name",
                args.interface
            )));
        }
        let portal =
            crate::agent::portal_url(args.portal.as_deref().unwrap_or_default(), args.allow_http)?;
        let token = read_token(&args)?;
        let key = load_or_make_key(&args.state_dir)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            args,
            portal,
            token,
            key,
            http,
            applied: None,
        })
    }

    async fn connect(&self) -> Result<SiteConfig, AgentError> {
        let res = self
            .http
            .post(format!("{}/api/v1/sites/self/connect", self.portal))
            .bearer_auth(&self.token)
            .json(&SiteConnectRequest {
                public_key: self.key.public.clone(),
            })
            .send()
            .await?;
        Ok(crate::agent::checked(res).await?.json().await?)
    }

    async fn apply(&mut self, cfg: SiteConfig) -> Result<(), AgentError> {
        if self.applied.as_ref() == Some(&cfg) {
            return Ok(());
        }
        let iface = self.args.interface.clone();
        wgif::ensure_interface(&iface).await?;
        wgif::enable_forwarding()?;
        let dir = &self.args.state_dir;
        let nft = dir.join(format!(".nft.{}", std::process::id()));
        crate::keys::write_private(&nft, render_nft(&iface, &cfg).as_bytes())
            .map_err(|e| state_err(&nft, e))?;
        let res = run_cmd("nft", &["-f", &nft.display().to_string()]).await;
        let _ = std::fs::remove_file(&nft);
        res?;
        let wg = dir.join(format!(".wg.{}", std::process::id()));
        crate::keys::write_private(&wg, render_wg(&self.key.private, &cfg).as_bytes())
            .map_err(|e| state_err(&wg, e))?;
        let res = run_cmd("wg", &["syncconf", &iface, &wg.display().to_string()]).await;
        let _ = std::fs::remove_file(&wg);
        res?;
        // Only our own address on the interface.
        if let Some(old) = &self.applied {
            if old.address != cfg.address {
                let _ = run_cmd(
                    "ip",
                    &["address", "del", &old.address.to_string(), "dev", &iface],
                )
                .await;
            }
        }
        run_cmd(
            "ip",
            &[
                "address",
                "replace",
                &cfg.address.to_string(),
                "dev",
                &iface,
            ],
        )
        .await?;
        run_cmd("ip", &["link", "set", &iface, "up"]).await?;
        let routes: Vec<String> = cfg.allowed_ips.iter().map(|c| c.to_string()).collect();
        wgif::sync_routes(&iface, &routes).await?;
        tracing::info!(site = %cfg.site_name, range = %cfg.range, lan = %cfg.lan, endpoint = %cfg.endpoint, "home site applied");
        self.applied = Some(cfg);
        Ok(())
    }

    /// Connects and applies until stopped; a revoked token ends it.
    pub async fn run(mut self) -> Result<(), AgentError> {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.connect().await {
                Ok(cfg) => {
                    backoff = Duration::from_millis(500);
                    if let Err(e) = self.apply(cfg).await {
                        tracing::warn!(error = %e, "applying the site failed");
                    }
                    tokio::time::sleep(Duration::from_secs(self.args.interval.max(1))).await;
                }
                Err(AgentError::Refused { status: 401, body }) => {
                    return Err(AgentError::Refused { status: 401, body });
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "connect failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

pub async fn run(
    args: HomeArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AgentError> {
    if args.uninstall {
        return wgif::uninstall(TABLE, &args.interface).await;
    }
    let agent = HomeAgent::new(args)?;
    tokio::select! {
        res = agent.run() => res,
        _ = shutdown => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SiteConfig {
        SiteConfig {
            site_name: "home".into(),
            address: "10.8.0.9/32".parse().unwrap(),
            server_public_key: "S=".into(),
            preshared_key: "P=".into(),
            endpoint: "vpn.example.com:51820".into(),
            allowed_ips: vec!["10.8.0.0/16".parse().unwrap()],
            lan: "192.168.1.0/24".parse().unwrap(),
            range: "10.240.7.0/24".parse().unwrap(),
        }
    }

    #[test]
    fn the_range_is_netmapped_onto_the_lan() {
        let nft = render_nft("tvhome0", &cfg());
        assert!(nft.contains(
            "iifname \"tvhome0\" ip daddr 10.240.7.0/24 dnat ip prefix to ip daddr map { 10.240.7.0/24 : 192.168.1.0/24 }"
        ));
        assert!(nft.contains("iifname \"tvhome0\" ip daddr 192.168.1.0/24 masquerade"));
        assert!(nft.starts_with("table ip truevault_home {}\ndelete table ip truevault_home\n"));
        let wg = render_wg("K=", &cfg());
        assert!(wg.contains("AllowedIPs = 10.8.0.0/16\nPersistentKeepalive = 25"));
    }

    #[test]
    fn a_stored_key_gives_back_its_public_half() {
        let pair = crate::keys::generate_keypair().unwrap();
        assert_eq!(public_of(&pair.private).unwrap().public, pair.public);
        assert!(public_of("garbage").is_none());
    }
}
