//! The node agent (`truevault node`): runs as root on a VPN server. It
//! creates its WireGuard interface (the kernel module where present,
//! `wireguard-go` otherwise), enrolls once (its private key never leaves the
//! machine), then long-polls the portal for the desired state and applies
//! it: the data plane (forwarding, the `inet truevault` nftables table, see
//! [`crate::dataplane`]) first, then the peers with `wg syncconf` — which
//! adds, updates and removes only what changed, so untouched peers keep
//! their sessions — then routes to the networks behind peers (home sites).
//! Rules first means a half-applied change never lets more through: a new
//! peer's grants exist before the peer, a removed grant is gone before
//! anything else changes. Only then is the version reported as applied,
//! with per-peer handshakes and byte counters from `wg show <if> dump`.
//! Nothing is torn down when the agent stops, so a restart (or an upgrade)
//! leaves traffic flowing; `--uninstall` removes the table and interface.

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::process::Command;
use truevault_wire::node::{
    DesiredConfig, DesiredPeer, EnrollRequest, EnrollResponse, InterfaceSettings, PeerStats,
    StatsReport,
};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("portal request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("portal refused the request ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("{cmd} failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error("state file {path}: {detail}")]
    State { path: String, detail: String },
    #[error("unexpected `wg show dump` output: {0}")]
    Dump(String),
    #[error("{0}")]
    Usage(String),
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Checked by [`portal_url`].
    pub portal: String,
    /// The one-time enrollment token (only needed until enrolled).
    pub enroll_token: Option<String>,
    pub interface: String,
    pub state_dir: PathBuf,
    pub stats_interval: Duration,
    /// The uplink peers' internet traffic leaves by (masqueraded); `None`:
    /// the interface of the default route.
    pub egress_interface: Option<String>,
}

/// The portal's base URL, checked: plain http would send the node token
/// and every peer's preshared key in clear, so it is taken only for
/// loopback or when explicitly allowed (`--allow-http`).
pub fn portal_url(portal: &str, allow_http: bool) -> Result<String, AgentError> {
    let url = reqwest::Url::parse(portal.trim())
        .map_err(|e| AgentError::Usage(format!("--portal {portal}: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_http => {}
        "http" => {
            return Err(AgentError::Usage(
                "--portal over plain http would send the node token and preshared keys in clear; \
                 use https (or --allow-http on a trusted network)"
                    .into(),
            ))
        }
        s => {
            return Err(AgentError::Usage(format!(
                "--portal: unsupported scheme {s}"
            )))
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// What the agent keeps between runs (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NodeState {
    node_token: String,
    private_key: String,
    interface: InterfaceSettings,
}

/// One peer line of `wg show <if> dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPeer {
    pub public_key: String,
    pub endpoint: Option<String>,
    pub latest_handshake: i64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

/// Parses the peer lines of `wg show <if> dump` (the first line is the
/// interface itself).
pub fn parse_dump(text: &str) -> Result<Vec<DumpPeer>, AgentError> {
    let mut peers = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 8 {
            return Err(AgentError::Dump(line.chars().take(120).collect()));
        }
        let num = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| AgentError::Dump(line.chars().take(120).collect()))
        };
        peers.push(DumpPeer {
            public_key: f[0].to_string(),
            endpoint: (f[2] != "(none)").then(|| f[2].to_string()),
            latest_handshake: num(f[4])?,
            rx_bytes: num(f[5])?,
            tx_bytes: num(f[6])?,
        });
    }
    Ok(peers)
}

/// The `wg syncconf` file for a desired config. `on_interface`: the peers
/// the interface has now; only a peer being added gets the portal's last
/// known endpoint (one already there keeps what WireGuard learned, since
/// the device may have roamed).
pub fn render_syncconf(
    private_key: &str,
    cfg: &DesiredConfig,
    on_interface: &HashSet<String>,
) -> String {
    let mut out = String::with_capacity(128 + cfg.peers.len() * 160);
    out.push_str("[Interface]\nPrivateKey = ");
    out.push_str(private_key);
    out.push_str(&format!("\nListenPort = {}\n", cfg.interface.listen_port));
    for p in &cfg.peers {
        out.push_str("\n[Peer]\nPublicKey = ");
        out.push_str(&p.public_key);
        out.push_str("\nPresharedKey = ");
        out.push_str(&p.preshared_key);
        out.push_str("\nAllowedIPs = ");
        out.push_str(&p.allowed_ips.join(", "));
        if let Some(endpoint) = restored_endpoint(p, on_interface) {
            out.push_str("\nEndpoint = ");
            out.push_str(endpoint);
        }
        out.push('\n');
    }
    out
}

/// The endpoint a peer being added comes back with, when the portal knows
/// one and it reads as `address:port` (anything else would make `wg
/// syncconf` refuse the whole file).
fn restored_endpoint<'a>(p: &'a DesiredPeer, on_interface: &HashSet<String>) -> Option<&'a str> {
    let endpoint = p.endpoint.as_deref()?;
    (!on_interface.contains(&p.public_key) && endpoint.parse::<SocketAddr>().is_ok())
        .then_some(endpoint)
}

/// The tunnel addresses of peers just restored with an endpoint: one
/// datagram to each makes the node start the handshake at once. Waiting
/// for the client instead takes its retry timer (seconds: 9.4 s measured),
/// because the client still holds a session the node has forgotten.
pub fn handshake_targets(cfg: &DesiredConfig, on_interface: &HashSet<String>) -> Vec<IpAddr> {
    cfg.peers
        .iter()
        .filter(|p| restored_endpoint(p, on_interface).is_some())
        .filter_map(|p| {
            p.allowed_ips
                .iter()
                .filter_map(|a| a.parse::<truevault_wire::node::Cidr>().ok())
                .find(|c| c.prefix() == if c.addr().is_ipv4() { 32 } else { 128 })
                .map(|c| c.addr())
        })
        .collect()
}

/// The discard port: the datagram only has to exist to start the handshake.
const KICK_PORT: u16 = 9;

/// Sends one empty datagram into the tunnel to each address, which has
/// WireGuard initiate a handshake with the peer's endpoint right away.
async fn kick_handshakes(targets: &[IpAddr]) {
    if targets.is_empty() {
        return;
    }
    for target in targets {
        let bind: SocketAddr = if target.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sent = match tokio::net::UdpSocket::bind(bind).await {
            Ok(sock) => sock.send_to(&[], (*target, KICK_PORT)).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::debug!(%target, error = %e, "could not start a handshake");
        }
    }
    tracing::info!(
        peers = targets.len(),
        "started handshakes with restored peers"
    );
}

/// Networks behind peers (a home site's range), which need a route into the
/// interface; single addresses are covered by the interface's own prefix.
pub fn routed_networks(cfg: &DesiredConfig) -> Vec<String> {
    let mut nets: Vec<String> = cfg
        .peers
        .iter()
        .flat_map(|p| p.allowed_ips.iter())
        .filter_map(|a| a.parse::<truevault_wire::node::Cidr>().ok())
        .filter(|c| c.prefix() < if c.addr().is_ipv4() { 32 } else { 128 })
        .map(|c| c.to_string())
        .collect();
    nets.sort();
    nets.dedup();
    nets
}

pub(crate) async fn run_cmd(program: &str, args: &[&str]) -> Result<String, AgentError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| AgentError::Command {
            cmd: format!("{program} {}", args.first().copied().unwrap_or_default()),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(AgentError::Command {
            cmd: format!("{program} {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub struct Agent {
    cfg: AgentConfig,
    http: reqwest::Client,
    state: NodeState,
    version: i64,
    egress: Option<String>,
}

/// The interface of the default IPv4 route (`ip route show default`).
async fn default_route_interface() -> Option<String> {
    let out = run_cmd("ip", &["-o", "route", "show", "default"])
        .await
        .ok()?;
    let mut words = out.split_whitespace();
    while let Some(w) = words.next() {
        if w == "dev" {
            return words
                .next()
                .filter(|n| crate::dataplane::valid_interface_name(n))
                .map(str::to_string);
        }
    }
    None
}

impl Agent {
    /// Loads the saved state, or enrolls with the one-time token.
    pub async fn start(cfg: AgentConfig) -> Result<Self, AgentError> {
        if !crate::dataplane::valid_interface_name(&cfg.interface) {
            return Err(AgentError::Usage(format!(
                "--interface {:?} is not an interface name",
                cfg.interface
            )));
        }
        let egress = match &cfg.egress_interface {
            Some(name) if crate::dataplane::valid_interface_name(name) => Some(name.clone()),
            Some(name) => {
                return Err(AgentError::Usage(format!(
                    "--egress-interface {name:?} is not an interface name"
                )))
            }
            None => default_route_interface().await,
        };
        if egress.is_none() {
            tracing::warn!(
                "no default route and no --egress-interface: peers get no internet egress"
            );
        }
        crate::wgif::ensure_interface(&cfg.interface).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let path = cfg.state_dir.join("node.json");
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AgentError::State {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?,
            Err(_) => Self::enroll(&cfg, &http, &path).await?,
        };
        let agent = Self {
            cfg,
            http,
            state,
            version: 0,
            egress,
        };
        agent.configure_interface().await?;
        crate::wgif::enable_forwarding()?;
        Ok(agent)
    }

    async fn enroll(
        cfg: &AgentConfig,
        http: &reqwest::Client,
        path: &Path,
    ) -> Result<NodeState, AgentError> {
        let token = cfg.enroll_token.clone().ok_or_else(|| AgentError::State {
            path: path.display().to_string(),
            detail: "not enrolled yet: pass --token with the enrollment token from the admin page"
                .into(),
        })?;
        let pair = crate::keys::generate_keypair().map_err(|e| AgentError::State {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        let res = http
            .post(format!("{}/api/v1/nodes/enroll", cfg.portal))
            .bearer_auth(token)
            .json(&EnrollRequest {
                public_key: pair.public.clone(),
            })
            .send()
            .await?;
        let res: EnrollResponse = checked(res).await?.json().await?;
        let state = NodeState {
            node_token: res.node_token,
            private_key: pair.private,
            interface: res.interface,
        };
        std::fs::create_dir_all(&cfg.state_dir).map_err(|e| AgentError::State {
            path: cfg.state_dir.display().to_string(),
            detail: e.to_string(),
        })?;
        let bytes = serde_json::to_vec_pretty(&state).unwrap_or_default();
        crate::keys::write_private(path, &bytes).map_err(|e| AgentError::State {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        tracing::info!(server = %res.server_name, "node enrolled");
        Ok(state)
    }

    /// Key, port, addresses and link state of the interface (idempotent).
    async fn configure_interface(&self) -> Result<(), AgentError> {
        let iface = &self.cfg.interface;
        let key_file = self.write_private_temp("key", &self.state.private_key)?;
        let port = self.state.interface.listen_port.to_string();
        let key_path = key_file.display().to_string();
        let res = run_cmd(
            "wg",
            &["set", iface, "private-key", &key_path, "listen-port", &port],
        )
        .await;
        let _ = std::fs::remove_file(&key_file);
        res?;
        for addr in &self.state.interface.addresses {
            run_cmd("ip", &["address", "replace", addr, "dev", iface]).await?;
        }
        run_cmd("ip", &["link", "set", iface, "up"]).await?;
        Ok(())
    }

    fn write_private_temp(&self, name: &str, contents: &str) -> Result<PathBuf, AgentError> {
        let path = self
            .cfg
            .state_dir
            .join(format!(".{name}.{}", std::process::id()));
        crate::keys::write_private(&path, contents.as_bytes()).map_err(|e| AgentError::State {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Ok(path)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.portal, path)
    }

    /// One long-poll round: `Ok(true)` when a new config was applied.
    pub async fn sync_once(&mut self) -> Result<bool, AgentError> {
        let res = self
            .http
            .get(self.url(&format!("/api/v1/nodes/self/config?since={}", self.version)))
            .bearer_auth(&self.state.node_token)
            .send()
            .await?;
        if res.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(false);
        }
        let cfg: DesiredConfig = checked(res).await?.json().await?;
        self.apply(&cfg).await?;
        self.version = cfg.version;
        Ok(true)
    }

    pub async fn apply(&self, cfg: &DesiredConfig) -> Result<(), AgentError> {
        let started = std::time::Instant::now();
        let script =
            crate::dataplane::render(&self.cfg.interface, self.egress.as_deref(), &cfg.data_plane);
        let file = self.write_private_temp("nft", &script)?;
        let res = run_cmd("nft", &["-f", &file.display().to_string()]).await;
        let _ = std::fs::remove_file(&file);
        res?;
        let on_interface: HashSet<String> =
            parse_dump(&run_cmd("wg", &["show", &self.cfg.interface, "dump"]).await?)?
                .into_iter()
                .map(|p| p.public_key)
                .collect();
        let file = self.write_private_temp(
            "syncconf",
            &render_syncconf(&self.state.private_key, cfg, &on_interface),
        )?;
        let res = run_cmd(
            "wg",
            &["syncconf", &self.cfg.interface, &file.display().to_string()],
        )
        .await;
        let _ = std::fs::remove_file(&file);
        res?;
        crate::wgif::sync_routes(&self.cfg.interface, &routed_networks(cfg)).await?;
        kick_handshakes(&handshake_targets(cfg, &on_interface)).await;
        tracing::info!(
            version = cfg.version,
            peers = cfg.peers.len(),
            grants = cfg.data_plane.grants.len(),
            ms = started.elapsed().as_millis() as u64,
            "applied desired peers and data plane"
        );
        Ok(())
    }

    pub async fn report_stats(&self) -> Result<(), AgentError> {
        let dump = run_cmd("wg", &["show", &self.cfg.interface, "dump"]).await?;
        let peers = parse_dump(&dump)?
            .into_iter()
            .map(|p| PeerStats {
                public_key: p.public_key,
                latest_handshake: p.latest_handshake,
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
                endpoint: p.endpoint,
            })
            .collect();
        let res = self
            .http
            .post(self.url("/api/v1/nodes/self/stats"))
            .bearer_auth(&self.state.node_token)
            .json(&StatsReport {
                applied_version: self.version,
                peers,
            })
            .send()
            .await?;
        checked(res).await?;
        Ok(())
    }

    /// Runs until the process is stopped: sync loop plus periodic stats.
    /// Errors are logged and retried with backoff; a revoked token stops it.
    pub async fn run(mut self) -> Result<(), AgentError> {
        let mut stats_tick = tokio::time::interval(self.cfg.stats_interval);
        let mut backoff = Duration::from_millis(500);
        loop {
            tokio::select! {
                res = self.sync_once() => match res {
                    Ok(applied) => {
                        backoff = Duration::from_millis(500);
                        if applied {
                            if let Err(e) = self.report_stats().await {
                                tracing::warn!(error = %e, "stats report failed");
                            }
                        }
                    }
                    Err(AgentError::Refused { status: 401, body }) => {
                        return Err(AgentError::Refused { status: 401, body });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "sync failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                },
                _ = stats_tick.tick() => {
                    if let Err(e) = self.report_stats().await {
                        tracing::warn!(error = %e, "stats report failed");
                    }
                }
            }
        }
    }
}

pub(crate) async fn checked(res: reqwest::Response) -> Result<reqwest::Response, AgentError> {
    if res.status().is_success() {
        return Ok(res);
    }
    let status = res.status().as_u16();
    let body: String = res
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err(AgentError::Refused { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use truevault_wire::node::DesiredPeer;

    #[test]
    fn parses_wg_dump() {
        let text = "PRIV\tPUB\t51820\toff\n\
                    peerA=\t(none)\t10.0.0.2:40000\t10.8.0.2/32\t1700000000\t1234\t5678\toff\n\
                    peerB=\tPSK\t(none)\t10.8.0.3/32\t0\t0\t0\t25\n";
        let peers = parse_dump(text).unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[0].endpoint.as_deref(), Some("10.0.0.2:40000"));
        assert_eq!(
            (
                peers[0].latest_handshake,
                peers[0].rx_bytes,
                peers[0].tx_bytes
            ),
            (1_700_000_000, 1234, 5678)
        );
        assert_eq!(peers[1].endpoint, None);
        assert!(parse_dump("iface\nbroken line").is_err());
        assert!(parse_dump("iface\na\tb\tc\td\tx\t1\t2\t3").is_err());
    }

    #[test]
    fn only_plain_https_or_loopback_portals_are_taken() {
        assert_eq!(
            portal_url("https://vpn.example.com/", false).unwrap(),
            "https://vpn.example.com"
        );
        assert!(portal_url("http://127.0.0.1:3000", false).is_ok());
        assert!(portal_url("http://[::1]:3000", false).is_ok());
        assert!(portal_url("http://localhost:3000", false).is_ok());
        assert!(matches!(
            portal_url("http://10.0.0.1:3000", false),
            Err(AgentError::Usage(_))
        ));
        assert!(portal_url("http://10.0.0.1:3000", true).is_ok());
        assert!(portal_url("ftp://vpn.example.com", true).is_err());
        assert!(portal_url("not a url", true).is_err());
    }

    #[test]
    fn networks_behind_peers_get_routes() {
        let cfg = DesiredConfig {
            version: 1,
            interface: InterfaceSettings {
                addresses: vec![],
                listen_port: 1,
            },
            peers: vec![DesiredPeer {
                public_key: "S=".into(),
                preshared_key: "P=".into(),
                allowed_ips: vec![
                    "10.8.0.9/32".into(),
                    "10.240.3.0/24".into(),
                    "10.240.3.0/24".into(),
                ],
                endpoint: None,
            }],
            data_plane: Default::default(),
        };
        assert_eq!(routed_networks(&cfg), vec!["10.240.3.0/24".to_string()]);
    }

    #[test]
    fn renders_syncconf() {
        let cfg = DesiredConfig {
            version: 3,
            interface: InterfaceSettings {
                addresses: vec!["10.8.0.1/16".into()],
                listen_port: 51820,
            },
            peers: vec![DesiredPeer {
                public_key: "A=".into(),
                preshared_key: "P=".into(),
                allowed_ips: vec!["10.8.0.2/32".into(), "fd00::2/128".into()],
                endpoint: None,
            }],
            data_plane: Default::default(),
        };
        assert_eq!(
            render_syncconf("K=", &cfg, &HashSet::new()),
            "[Interface]\nPrivateKey = K=\nListenPort = 51820\n\n[Peer]\nPublicKey = A=\nPresharedKey = P=\nAllowedIPs = 10.8.0.2/32, fd00::2/128\n"
        );
    }

    #[test]
    fn only_a_restored_peer_gets_its_last_endpoint_and_a_handshake() {
        let peer = |key: &str, endpoint: Option<&str>| DesiredPeer {
            public_key: key.into(),
            preshared_key: "P=".into(),
            allowed_ips: vec!["10.8.0.2/32".into(), "10.240.3.0/24".into()],
            endpoint: endpoint.map(String::from),
        };
        let cfg = DesiredConfig {
            version: 4,
            interface: InterfaceSettings {
                addresses: vec![],
                listen_port: 51820,
            },
            peers: vec![
                peer("back=", Some("203.0.113.7:40000")),
                peer("there=", Some("203.0.113.8:40000")),
                peer("new=", None),
                peer("junk=", Some("no port")),
            ],
            data_plane: Default::default(),
        };
        let on_interface: HashSet<String> = ["there=".to_string()].into();
        let conf = render_syncconf("K=", &cfg, &on_interface);
        assert_eq!(conf.matches("Endpoint = ").count(), 1, "{conf}");
        assert!(conf.contains("PublicKey = back=\nPresharedKey = P=\nAllowedIPs = 10.8.0.2/32, 10.240.3.0/24\nEndpoint = 203.0.113.7:40000\n"));
        assert_eq!(
            handshake_targets(&cfg, &on_interface),
            vec!["10.8.0.2".parse::<IpAddr>().unwrap()]
        );
    }
}
