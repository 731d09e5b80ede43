//! `truevault-client`: the portal's public API from a shell. The API key
//! lives in a 0600 file; a device's private key is made here and never
//! leaves the machine (the portal gets the public key and answers a config
//! whose `PrivateKey` line this client fills in locally).

use std::{
    net::ToSocketAddrs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use truevault_node::keys::{generate_keypair, write_private};

/// The interface the client brings up unless told another.
pub const INTERFACE: &str = "tv0";

/// How the tunnel is brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// wg-quick where present, else wireguard-go.
    #[default]
    Auto,
    WgQuick,
    /// wireguard-go, `wg setconf` and `ip` (routes and rules as wg-quick makes them).
    WireguardGo,
}

impl Backend {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Backend::Auto),
            "wg-quick" => Some(Backend::WgQuick),
            "wireguard-go" => Some(Backend::WireguardGo),
            _ => None,
        }
    }
}

/// What `up` brought up, so `down` and `status` undo and read exactly that.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TunnelState {
    pub interface: String,
    pub backend: Backend,
    /// The routing table of a full tunnel's policy rules (wireguard-go only).
    pub table: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The portal refused: its stable code and message.
    #[error("{code}: {message}")]
    Api { code: String, message: String },
    #[error("could not reach the portal: {0}")]
    Network(String),
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// Exit codes: 2 the portal refused, 3 the portal was unreachable, 1 anything here.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Api { .. } => 2,
            ClientError::Network(_) => 3,
            ClientError::Local(_) => 1,
        }
    }
}

fn local(e: impl std::fmt::Display) -> ClientError {
    ClientError::Local(e.to_string())
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// What `login` keeps (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    pub portal: String,
    pub key: String,
}

/// The device this machine brought up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceState {
    pub device_id: i64,
    pub server_id: i64,
    pub server_name: String,
    pub config_path: PathBuf,
}

pub struct Client {
    dir: PathBuf,
    http: reqwest::Client,
    interface: String,
    backend: Backend,
}

impl Client {
    /// `dir` holds `login.json`, `device.json` and the config (all 0600).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Client {
            dir: dir.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
            interface: INTERFACE.into(),
            backend: Backend::Auto,
        }
    }

    /// The interface `up` brings up (default `tv0`).
    pub fn with_interface(mut self, name: &str) -> Self {
        self.interface = name.into();
        self
    }

    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T> {
        let text = std::fs::read_to_string(self.path(name)).map_err(|_| {
            ClientError::Local(match name {
                "login.json" => "not logged in: run `truevault-client login` first".into(),
                _ => "no device here yet: run `truevault-client up` first".into(),
            })
        })?;
        serde_json::from_str(&text).map_err(local)
    }

    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(local)?;
        let text = serde_json::to_vec_pretty(value).map_err(local)?;
        let path = self.path(name);
        // Replaced, not rewritten: a new file gets mode 0600 whatever was there.
        let _ = std::fs::remove_file(&path);
        write_private(&path, &text).map_err(local)
    }

    async fn call(
        &self,
        login: &Login,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", login.portal.trim_end_matches('/'));
        let mut req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(&login.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if method == reqwest::Method::POST {
            // A retry after a lost answer must not make a second device.
            req = req.header("Idempotency-Key", fresh_idempotency_key()?);
        }
        let res = req
            .send()
            .await
            .map_err(|e| ClientError::Network(e.to_string()))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| ClientError::Network(e.to_string()))?;
        if status.is_success() {
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Err(ClientError::Api {
            code: v["error"]["code"]
                .as_str()
                .unwrap_or("HTTP_ERROR")
                .to_string(),
            message: v["error"]["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| status.to_string()),
        })
    }

    /// Checks the key against the portal, then keeps it. Plain http only
    /// on loopback or with `allow_http` (the node agent's rule: the key
    /// and every config's preshared key would cross the network in clear).
    pub async fn login(&self, portal: &str, key: &str, allow_http: bool) -> Result<()> {
        let portal = truevault_node::agent::portal_url(portal, allow_http)
            .map_err(|e| ClientError::Local(e.to_string()))?;
        let login = Login {
            portal,
            key: key.trim().to_string(),
        };
        self.call(
            &login,
            reqwest::Method::GET,
            "/api/v1/servers?limit=1",
            None,
        )
        .await?;
        self.write("login.json", &login)
    }

    /// Every server the account may use, with the latency measured from
    /// here, each reported to the portal so its server choice uses it.
    pub async fn servers(&self) -> Result<Vec<ServerRow>> {
        let login: Login = self.read("login.json")?;
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/servers?limit=200&cursor={c}"),
                None => "/api/v1/servers?limit=200".to_string(),
            };
            let page = self.call(&login, reqwest::Method::GET, &path, None).await?;
            for s in page["items"].as_array().into_iter().flatten() {
                let endpoint = s["endpoint"].as_str().unwrap_or_default().to_string();
                let latency_ms = measure(&endpoint).await;
                let id = s["id"].as_i64().unwrap_or_default();
                if let Some(ms) = latency_ms {
                    self.call(
                        &login,
                        reqwest::Method::POST,
                        &format!("/api/v1/servers/{id}/latency"),
                        Some(json!({ "latency_ms": ms })),
                    )
                    .await?;
                }
                rows.push(ServerRow {
                    id,
                    name: s["name"].as_str().unwrap_or_default().into(),
                    region: s["region"].as_str().unwrap_or_default().into(),
                    endpoint,
                    load_percent: s["load_percent"].as_i64().unwrap_or_default(),
                    latency_ms,
                });
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        Ok(rows)
    }

    /// Makes (or reuses) this machine's device with a key made here and
    /// writes its config; `connect` also brings the tunnel up.
    pub async fn up(
        &self,
        server: Option<i64>,
        region: Option<&str>,
        connect: bool,
    ) -> Result<DeviceState> {
        let login: Login = self.read("login.json")?;
        let state = match self.read::<DeviceState>("device.json") {
            Ok(s) => s,
            Err(_) => {
                let pair = generate_keypair().map_err(local)?;
                let mut body = json!({ "name": device_name(), "public_key": pair.public });
                if let Some(s) = server {
                    body["server_id"] = json!(s);
                }
                if let Some(r) = region {
                    body["region"] = json!(r);
                }
                let made = self
                    .call(&login, reqwest::Method::POST, "/api/v1/devices", Some(body))
                    .await?;
                self.keep(&made, &pair.private)?
            }
        };
        let state = self.named(state)?;
        if connect {
            self.bring_up(&state)?;
        }
        Ok(state)
    }

    /// wg-quick names the interface after the config file: a device made
    /// here under another interface name moves its config to this one.
    fn named(&self, mut state: DeviceState) -> Result<DeviceState> {
        let wanted = self.path(&format!("{}.conf", self.interface));
        if state.config_path != wanted {
            let text = std::fs::read_to_string(&state.config_path).map_err(local)?;
            let _ = std::fs::remove_file(&wanted);
            write_private(&wanted, text.as_bytes()).map_err(local)?;
            let _ = std::fs::remove_file(&state.config_path);
            state.config_path = wanted;
            self.write("device.json", &state)?;
        }
        Ok(state)
    }

    fn bring_up(&self, state: &DeviceState) -> Result<()> {
        let tunnel = tunnel_up(&state.config_path, &self.interface, self.backend)?;
        self.write("tunnel.json", &tunnel)
    }

    /// What `up` brought up; without a record, this client's settings.
    fn tunnel(&self) -> TunnelState {
        self.read("tunnel.json").unwrap_or_else(|_| TunnelState {
            interface: self.interface.clone(),
            backend: self.backend,
            table: None,
        })
    }

    /// New keys for this machine's device (made here), the tunnel moved onto them.
    pub async fn rotate(&self, connect: bool) -> Result<DeviceState> {
        let login: Login = self.read("login.json")?;
        let old: DeviceState = self.read("device.json")?;
        let pair = generate_keypair().map_err(local)?;
        let made = self
            .call(
                &login,
                reqwest::Method::POST,
                &format!("/api/v1/devices/{}/rekey", old.device_id),
                Some(json!({ "public_key": pair.public })),
            )
            .await?;
        if connect {
            let _ = tunnel_down(&old.config_path, &self.tunnel());
        }
        let state = self.keep(&made, &pair.private)?;
        if connect {
            self.bring_up(&state)?;
        }
        Ok(state)
    }

    fn keep(&self, made: &Value, private_key: &str) -> Result<DeviceState> {
        let config = made["config"]
            .as_str()
            .ok_or_else(|| local("the portal sent no config"))?;
        let config = with_private_key(config, private_key);
        std::fs::create_dir_all(&self.dir).map_err(local)?;
        let config_path = self.path(&format!("{}.conf", self.interface));
        let _ = std::fs::remove_file(&config_path);
        write_private(&config_path, config.as_bytes()).map_err(local)?;
        let d = &made["device"];
        let state = DeviceState {
            device_id: d["id"].as_i64().unwrap_or_default(),
            server_id: d["server_id"].as_i64().unwrap_or_default(),
            server_name: d["server_name"].as_str().unwrap_or_default().into(),
            config_path,
        };
        self.write("device.json", &state)?;
        Ok(state)
    }

    pub fn down(&self) -> Result<()> {
        let state: DeviceState = self.read("device.json")?;
        tunnel_down(&state.config_path, &self.tunnel())?;
        let _ = std::fs::remove_file(self.path("tunnel.json"));
        Ok(())
    }

    pub fn status(&self) -> Result<Status> {
        let state: DeviceState = self.read("device.json")?;
        let interface = self.tunnel().interface;
        let dump = Command::new("wg")
            .args(["show", &interface, "dump"])
            .output()
            .map_err(local)?;
        let text = String::from_utf8_lossy(&dump.stdout);
        // The second line is the (only) peer: key, psk, endpoint, ips, handshake, rx, tx, keepalive.
        let peer: Vec<&str> = text
            .lines()
            .nth(1)
            .map(|l| l.split('\t').collect())
            .unwrap_or_default();
        let handshake: i64 = peer.get(4).and_then(|v| v.parse().ok()).unwrap_or(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        Ok(Status {
            up: dump.status.success(),
            interface,
            server: state.server_name,
            handshake_age_secs: (handshake > 0).then(|| now - handshake),
            rx_bytes: peer.get(5).and_then(|v| v.parse().ok()).unwrap_or(0),
            tx_bytes: peer.get(6).and_then(|v| v.parse().ok()).unwrap_or(0),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub endpoint: String,
    pub load_percent: i64,
    pub latency_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub up: bool,
    pub interface: String,
    pub server: String,
    pub handshake_age_secs: Option<i64>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

fn fresh_idempotency_key() -> Result<String> {
    let pair = generate_keypair().map_err(local)?;
    Ok(pair
        .public
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect())
}

fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    if host.is_empty() {
        "truevault-client".into()
    } else {
        host.chars().take(64).collect()
    }
}

/// The config with this machine's private key in place of the portal's placeholder.
pub fn with_private_key(config: &str, private_key: &str) -> String {
    config
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("PrivateKey") {
                format!("PrivateKey = {private_key}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Round trip to a server's endpoint: a WireGuard port answers nothing
/// to a stranger, so the time to a TCP answer (usually the refusal of the
/// closed TCP port) stands in for it. `None` when nothing answers in 2 s.
pub async fn measure(endpoint: &str) -> Option<i64> {
    let addr = endpoint.to_socket_addrs().ok()?.next()?;
    let started = Instant::now();
    let res =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await;
    match res {
        Ok(Ok(_)) => Some(started.elapsed().as_millis() as i64),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some(started.elapsed().as_millis() as i64)
        }
        _ => None,
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(local)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ClientError::Local(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// wg-quick where present (or asked for); else wireguard-go, `wg setconf`
/// and `ip`, with a full tunnel's default routes in their own table behind
/// fwmark rules as wg-quick makes them, so the tunnel's own packets still
/// leave by the main table and `down` gives the machine its routes back.
fn tunnel_up(config: &Path, interface: &str, backend: Backend) -> Result<TunnelState> {
    let wg_quick = match backend {
        Backend::WgQuick => true,
        Backend::WireguardGo => false,
        Backend::Auto => have("wg-quick"),
    };
    if wg_quick {
        run(Command::new("wg-quick").arg("up").arg(config))?;
        return Ok(TunnelState {
            interface: interface.into(),
            backend: Backend::WgQuick,
            table: None,
        });
    }
    let text = std::fs::read_to_string(config).map_err(local)?;
    let (wg_only, addresses) = strip(&text);
    let wg_conf = config.with_extension("wg");
    let _ = std::fs::remove_file(&wg_conf);
    write_private(&wg_conf, wg_only.as_bytes()).map_err(local)?;
    run(Command::new("wireguard-go").arg(interface))?;
    let mut state = TunnelState {
        interface: interface.into(),
        backend: Backend::WireguardGo,
        table: None,
    };
    if let Err(e) = configure(interface, &wg_conf, &addresses, &text, &mut state) {
        // Half up is worse than down: take back what was made.
        let _ = tunnel_down(config, &state);
        return Err(e);
    }
    Ok(state)
}

/// Keys, addresses and routes of a wireguard-go interface just made.
fn configure(
    interface: &str,
    wg_conf: &Path,
    addresses: &[String],
    config: &str,
    state: &mut TunnelState,
) -> Result<()> {
    run(Command::new("wg")
        .arg("setconf")
        .arg(interface)
        .arg(wg_conf))?;
    for a in addresses {
        run(Command::new("ip").args(["address", "add", a, "dev", interface]))?;
    }
    run(Command::new("ip").args(["link", "set", interface, "up"]))?;
    for net in allowed_ips(config) {
        if net == "0.0.0.0/0" || net == "::/0" {
            let table = match state.table {
                Some(t) => t,
                None => {
                    let t = free_table()?;
                    run(Command::new("wg").args(["set", interface, "fwmark", &t.to_string()]))?;
                    state.table = Some(t);
                    t
                }
            };
            default_route(interface, &net, table)?;
        } else {
            run(Command::new("ip").args(["route", "replace", &net, "dev", interface]))?;
        }
    }
    Ok(())
}

/// The first routing table from 51820 with no routes (wg-quick's choice).
fn free_table() -> Result<u32> {
    for t in 51820..51920u32 {
        let used = ["-4", "-6"].iter().any(|family| {
            Command::new("ip")
                .args([family, "route", "show", "table", &t.to_string()])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty())
        });
        if !used {
            return Ok(t);
        }
    }
    Err(local(
        "no free routing table for the tunnel's default route",
    ))
}

fn default_route(interface: &str, net: &str, table: u32) -> Result<()> {
    let family = if net.contains(':') { "-6" } else { "-4" };
    let t = table.to_string();
    run(Command::new("ip").args([family, "route", "add", net, "dev", interface, "table", &t]))?;
    run(Command::new("ip").args([family, "rule", "add", "not", "fwmark", &t, "table", &t]))?;
    run(Command::new("ip").args([
        family,
        "rule",
        "add",
        "table",
        "main",
        "suppress_prefixlength",
        "0",
    ]))?;
    if family == "-4" {
        // Replies to marked packets pass reverse-path filtering.
        std::fs::write("/proc/sys/net/ipv4/conf/all/src_valid_mark", "1").map_err(local)?;
    }
    Ok(())
}

fn tunnel_down(config: &Path, tunnel: &TunnelState) -> Result<()> {
    if tunnel.backend == Backend::WgQuick || (tunnel.backend == Backend::Auto && have("wg-quick")) {
        return run(Command::new("wg-quick").arg("down").arg(config));
    }
    if let Some(t) = tunnel.table {
        let t = t.to_string();
        for family in ["-4", "-6"] {
            let _ =
                run(Command::new("ip")
                    .args([family, "rule", "del", "not", "fwmark", &t, "table", &t]));
            let _ = run(Command::new("ip").args([
                family,
                "rule",
                "del",
                "table",
                "main",
                "suppress_prefixlength",
                "0",
            ]));
        }
    }
    // Its routes go with it, and wireguard-go exits with its device.
    run(Command::new("ip").args(["link", "del", &tunnel.interface]))
}

/// The `wg` part of a wg-quick config, and its interface addresses.
pub fn strip(config: &str) -> (String, Vec<String>) {
    let mut out = Vec::new();
    let mut addresses = Vec::new();
    for line in config.lines() {
        let key = line.split('=').next().unwrap_or_default().trim();
        match key {
            "Address" => addresses.extend(
                line.split_once('=')
                    .map(|(_, v)| {
                        v.split(',')
                            .map(|a| a.trim().to_string())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            ),
            "DNS" | "MTU" | "Table" | "PreUp" | "PostUp" | "PreDown" | "PostDown"
            | "SaveConfig" => {}
            _ => out.push(line.to_string()),
        }
    }
    (out.join("\n") + "\n", addresses)
}

fn allowed_ips(config: &str) -> Vec<String> {
    config
        .lines()
        .filter(|l| l.trim_start().starts_with("AllowedIPs"))
        .filter_map(|l| l.split_once('='))
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|n| n.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "[Interface]\nPrivateKey = <private key stays on your device>\nAddress = 10.8.0.2/32, fd00::2/128\nDNS = 10.8.0.1\n\n[Peer]\nPublicKey = abc\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 203.0.113.1:51820\n";

    #[test]
    fn the_private_key_is_filled_in_here_and_wg_gets_only_its_part() {
        let c = with_private_key(CONFIG, "PRIV");
        assert!(c.contains("PrivateKey = PRIV\n") && !c.contains("stays on your device"));
        let (wg, addrs) = strip(&c);
        assert!(!wg.contains("Address") && !wg.contains("DNS") && wg.contains("Endpoint"));
        assert_eq!(addrs, vec!["10.8.0.2/32", "fd00::2/128"]);
        assert_eq!(allowed_ips(&c), vec!["0.0.0.0/0", "::/0"]);
    }
}
