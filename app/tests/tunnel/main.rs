//! A real WireGuard tunnel, end to end, in network namespaces this test
//! builds (needs root, `ip`, Debian's `wireguard-go` and `wireguard-tools`):
//!
//! ```text
//!  root ns: portal on 10.231.K.1 ──veth── node ns (10.231.K.2)
//!                                          wireguard-go + `truevault node`
//!                                          HTTP service on the tunnel address
//!                                 ──veth── client ns: wireguard-go with the
//!                                          config the portal produced
//! ```
//!
//! Traffic stays on the veths and the tunnel between namespaces made here.

mod cameras;
mod client;
mod dataplane;
#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod scanner;

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use helpers::TestApp;
use serde_json::Value;
use truevault::billing::rules::DAY;

struct Lab {
    suffix: String,
    k: u32,
    children: Vec<Child>,
    dir: PathBuf,
}

/// Runs a command that must succeed; its stdout, trimmed.
pub(crate) fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A program of this workspace built beside this test by
/// `cargo test --workspace` (`truevault-scanner`, `truevault-gateway`).
/// Fails with the set-up hint when a lab tool is not installed.
pub(crate) fn require_tools(tools: &[&str]) {
    for tool in tools {
        assert!(
            Command::new("which")
                .arg(tool)
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false),
            "{tool} is missing: app/scripts/setup.sh --test installs it"
        );
    }
}

pub(crate) fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(name))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: run the suite with `cargo test --workspace` (or `cargo build -p {name}`)",
        bin.display()
    );
    bin
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Lab {
    fn new() -> Self {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        assert!(
            root,
            "the tunnel test builds network namespaces and needs root"
        );
        require_tools(&["ip", "wg", "wireguard-go"]);
        let pid = std::process::id();
        let k = pid % 200 + 20;
        let suffix = format!("{}", pid % 100_000);
        let dir = std::env::temp_dir().join(format!("tv-tunnel-{suffix}"));
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Self {
            suffix,
            k,
            children: Vec::new(),
            dir,
        };
        let (n, c, s) = (lab.ns_node(), lab.ns_client(), &lab.suffix);
        sh(&["ip", "netns", "add", &n]);
        sh(&["ip", "netns", "add", &c]);
        sh(&["ip", "-n", &n, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &c, "link", "set", "lo", "up"]);
        // root ↔ node (the node reaches the portal here)
        sh(&[
            "ip",
            "link",
            "add",
            &format!("tva{s}"),
            "type",
            "veth",
            "peer",
            "name",
            &format!("tvb{s}"),
            "netns",
            &n,
        ]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.231.{k}.1/30"),
            "dev",
            &format!("tva{s}"),
        ]);
        sh(&["ip", "link", "set", &format!("tva{s}"), "up"]);
        sh(&[
            "ip",
            "-n",
            &n,
            "addr",
            "add",
            &format!("10.231.{k}.2/30"),
            "dev",
            &format!("tvb{s}"),
        ]);
        sh(&["ip", "-n", &n, "link", "set", &format!("tvb{s}"), "up"]);
        // node ↔ client (WireGuard's outer path)
        sh(&[
            "ip",
            "-n",
            &n,
            "link",
            "add",
            &format!("tvx{s}"),
            "type",
            "veth",
            "peer",
            "name",
            &format!("tvy{s}"),
            "netns",
            &c,
        ]);
        sh(&[
            "ip",
            "-n",
            &n,
            "addr",
            "add",
            &format!("10.232.{k}.1/30"),
            "dev",
            &format!("tvx{s}"),
        ]);
        sh(&["ip", "-n", &n, "link", "set", &format!("tvx{s}"), "up"]);
        sh(&[
            "ip",
            "-n",
            &c,
            "addr",
            "add",
            &format!("10.232.{k}.2/30"),
            "dev",
            &format!("tvy{s}"),
        ]);
        sh(&["ip", "-n", &c, "link", "set", &format!("tvy{s}"), "up"]);
        lab
    }

    fn ns_node(&self) -> String {
        format!("tvn{}", self.suffix)
    }
    fn ns_client(&self) -> String {
        format!("tvc{}", self.suffix)
    }
    fn wg_node(&self) -> String {
        format!("wgn{}", self.suffix)
    }
    fn wg_client(&self) -> String {
        format!("wgc{}", self.suffix)
    }

    fn spawn_in(&mut self, ns: &str, args: &[&str], log: &str) {
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
    }

    /// A wireguard-go interface in a namespace; the control socket directory
    /// is shared by all namespaces, hence the distinct names.
    fn wireguard(&mut self, ns: &str, iface: &str) {
        self.spawn_in(ns, &["wireguard-go", "-f", iface], &format!("{iface}.log"));
        let sock = PathBuf::from(format!("/var/run/wireguard/{iface}.sock"));
        wait_for(
            "the wireguard-go control socket",
            Duration::from_secs(10),
            || sock.exists(),
        );
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        sh(&full)
    }

    fn node_peers(&self) -> String {
        self.in_ns(&self.ns_node(), &["wg", "show", &self.wg_node(), "dump"])
    }

    /// Fetches the node's HTTP service through the tunnel from the client.
    fn fetch_through_tunnel(&self) -> bool {
        let url = format!("http://10.233.{}.1:8080/", self.k);
        let script = format!("import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('{url}', timeout=2).status == 200 else 1)");
        Command::new("ip")
            .args(["netns", "exec", &self.ns_client(), "python3", "-c", &script])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_node()])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_client()])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &format!("tva{}", self.suffix)])
            .stderr(Stdio::null())
            .status();
        for iface in [self.wg_node(), self.wg_client()] {
            let _ = std::fs::remove_file(format!("/var/run/wireguard/{iface}.sock"));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn devices(app: &TestApp, user: &reqwest::Client) -> Vec<Value> {
    app.post_form(user, "/api/devices/list", &[])
        .await
        .json()
        .await
        .unwrap()
}

pub(crate) async fn wait_async<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the lab's one server has enrolled its node and reports
/// healthy (the node agent started by the lab has synced and sent stats).
pub(crate) async fn wait_node_healthy(app: &TestApp, admin: &reqwest::Client, timeout: Duration) {
    wait_async("the node to enroll and report", timeout, || async {
        let servers: Vec<Value> = app
            .post_form(admin, "/api/admin/servers", &[])
            .await
            .json()
            .await
            .unwrap_or_default();
        servers.first().is_some_and(|s| s["healthy"] == true)
    })
    .await;
}

/// The labs share the root namespace (wireguard-go's socket directory,
/// routes, the CPU that WireGuard handshakes and node reports race on), so
/// they run one at a time.
pub static LAB_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_config_from_the_portal_carries_traffic_through_a_real_tunnel() {
    let _one_lab_at_a_time = LAB_LOCK.lock().await;
    let mut lab = Lab::new();
    let k = lab.k;
    let app =
        TestApp::spawn_with(|c| c.listen = SocketAddr::from(([10, 231, k as u8, 1], 0))).await;
    let admin = app.signed_in_admin("admin@example.com").await;

    // The admin adds the server; the node enrolls with the one-time token.
    let res = app
        .post_form(
            &admin,
            "/api/admin/server_create",
            &[
                ("name", "lab-1"),
                ("region", "lab"),
                ("country", ""),
                ("city", ""),
                ("endpoint_host", &format!("10.232.{k}.1")),
                ("endpoint_port", "51820"),
                ("server_type", "shared"),
                ("vip_email", ""),
                ("capacity", "100"),
                ("ipv4_pool", &format!("10.233.{k}.0/24")),
                ("ipv6_pool", ""),
                ("dns", ""),
            ],
        )
        .await;
    let body = res.text().await.unwrap();
    let token: String =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("server_create: {body}"));
    let (ns_node, ns_client, wg_node, wg_client) = (
        lab.ns_node(),
        lab.ns_client(),
        lab.wg_node(),
        lab.wg_client(),
    );
    lab.wireguard(&ns_node, &wg_node);
    let state_dir = lab.dir.join("node-state");
    let bin = env!("CARGO_BIN_EXE_truevault");
    lab.spawn_in(
        &ns_node,
        &[
            bin,
            "node",
            "--portal",
            &app.address,
            "--token",
            &token,
            "--interface",
            &wg_node,
            "--state-dir",
            &state_dir.display().to_string(),
            "--stats-interval",
            "1",
            // The portal listens on a veth address of this lab, not loopback.
            "--allow-http",
        ],
        "agent.log",
    );
    wait_node_healthy(&app, &admin, Duration::from_secs(20)).await;
    lab.spawn_in(
        &ns_node,
        &[
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            &format!("10.233.{k}.1"),
        ],
        "http.log",
    );

    // A user adds a device; the node's interface gets the peer.
    let user = app.signed_in_user("ada@example.com").await;
    let res = app
        .post_form(
            &user,
            "/api/devices/create",
            &[
                ("name", "laptop"),
                ("public_key", ""),
                ("server_id", "auto"),
                ("region", ""),
            ],
        )
        .await;
    let created: Value = res.json().await.unwrap();
    let config = created["config"].as_str().unwrap().to_string();
    let private = config
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey = "))
        .unwrap()
        .to_string();
    let public = truevault::vpn::keys::keypair_from_private({
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&private)
            .unwrap()
            .try_into()
            .unwrap()
    })
    .public;
    wait_for(
        "the peer on the node's interface",
        Duration::from_secs(5),
        || lab.node_peers().contains(&public),
    );

    // The client brings up exactly what the portal produced (minus the
    // wg-quick-only fields `wg setconf` does not take).
    lab.wireguard(&ns_client, &wg_client);
    let setconf: String = config
        .lines()
        .filter(|l| !l.starts_with("Address") && !l.starts_with("DNS") && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let conf_path = lab.dir.join("client.conf");
    truevault::secrets::write_private(&conf_path, setconf.as_bytes()).unwrap();
    let address = config
        .lines()
        .find_map(|l| l.strip_prefix("Address = "))
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .to_string();
    lab.in_ns(
        &ns_client,
        &[
            "wg",
            "setconf",
            &wg_client,
            &conf_path.display().to_string(),
        ],
    );
    lab.in_ns(
        &ns_client,
        &["ip", "addr", "add", &address, "dev", &wg_client],
    );
    lab.in_ns(&ns_client, &["ip", "link", "set", &wg_client, "up"]);
    lab.in_ns(
        &ns_client,
        &[
            "ip",
            "route",
            "add",
            &format!("10.233.{k}.0/24"),
            "dev",
            &wg_client,
        ],
    );
    wait_for(
        "a request through the tunnel",
        Duration::from_secs(20),
        || lab.fetch_through_tunnel(),
    );

    // The portal shows the device connected, with traffic.
    wait_async(
        "the portal to show the device connected",
        Duration::from_secs(15),
        || async {
            let d = devices(&app, &user).await;
            d.iter().find(|d| d["name"] == "laptop").is_some_and(|d| {
                d["connected"] == true
                    && d["rx_bytes"].as_i64().unwrap_or(0) > 0
                    && d["tx_bytes"].as_i64().unwrap_or(0) > 0
            })
        },
    )
    .await;

    // A second device appears; removing it removes only that peer, and the
    // first one keeps its session.
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "ada@example.com"), ("vip", "true")],
    )
    .await;
    let second = truevault::vpn::keys::generate_keypair();
    let res = app
        .post_form(
            &user,
            "/api/devices/create",
            &[
                ("name", "phone"),
                ("public_key", &second.public),
                ("server_id", "auto"),
                ("region", ""),
            ],
        )
        .await;
    let second_id = res.json::<Value>().await.unwrap()["device"]["id"]
        .as_i64()
        .unwrap();
    wait_for("the second peer", Duration::from_secs(5), || {
        lab.node_peers().contains(&second.public)
    });
    let handshake_before = lab
        .node_peers()
        .lines()
        .find(|l| l.starts_with(&public))
        .unwrap()
        .split('\t')
        .nth(4)
        .unwrap()
        .to_string();
    app.post_form(
        &user,
        "/api/devices/delete",
        &[("id", &second_id.to_string())],
    )
    .await;
    wait_for("the second peer to go", Duration::from_secs(5), || {
        !lab.node_peers().contains(&second.public)
    });
    let dump = lab.node_peers();
    let first = dump
        .lines()
        .find(|l| l.starts_with(&public))
        .expect("the first peer stays");
    assert_eq!(
        first.split('\t').nth(4).unwrap(),
        handshake_before,
        "the untouched peer kept its handshake"
    );
    assert!(
        lab.fetch_through_tunnel(),
        "the tunnel still carries traffic"
    );

    // Service follows the account's state: the dunning steps suspend ada on
    // day 8 of a failed renewal (the billing clock moved forward, no sleeps).
    app.post_form(
        &admin,
        "/api/admin/vip",
        &[("email", "ada@example.com"), ("vip", "false")],
    )
    .await;
    app.subscribe(&user, "personal", "pay_fail_renewals").await;
    for step in [31 * DAY + 60, 3 * DAY, 4 * DAY] {
        app.state.clock.advance(step);
        app.settle_jobs().await;
    }
    assert!(
        lab.fetch_through_tunnel(),
        "service runs through the grace days"
    );
    app.state.clock.advance(DAY);
    let suspended = Instant::now();
    app.settle_jobs().await;
    lab.assert_cut(&public, suspended, "dunning suspension");
    // Payment restores the same peer and address; the node starts the
    // handshake itself.
    let paid = Instant::now();
    app.subscribe(&user, "personal", "pay").await;
    lab.assert_restored(&public, paid, "payment");
    let d = devices(&app, &user).await;
    assert!(
        d.iter()
            .any(|d| d["name"] == "laptop" && d["address_v4"].as_str() == address.split('/').next()),
        "the same address: {d:?}"
    );

    // The same for an administrator's suspension and reactivation.
    let id = app
        .count("SELECT id FROM users WHERE email = 'ada@example.com'")
        .await
        .to_string();
    let set_status = |status: &'static str| {
        let (app, admin, id) = (&app, &admin, id.clone());
        async move {
            let res = app
                .post_form(
                    admin,
                    "/api/admin/user_status",
                    &[("user_id", &id), ("status", status)],
                )
                .await;
            assert!(res.status().is_success(), "{status}: {}", res.status());
        }
    };
    let suspended = Instant::now();
    set_status("suspended").await;
    lab.assert_cut(&public, suspended, "admin suspension");
    let reactivated = Instant::now();
    set_status("active").await;
    lab.assert_restored(&public, reactivated, "admin reactivation");
}

impl Lab {
    /// The peer leaves the node within 2 s of `since` and the tunnel
    /// carries nothing; the time is printed.
    fn assert_cut(&self, public: &str, since: Instant, what: &str) {
        wait_for(
            &format!("{what}: the peer to leave the node"),
            Duration::from_secs(2),
            || !self.node_peers().contains(public),
        );
        println!("{what} → peer gone from the node: {:?}", since.elapsed());
        assert!(!self.fetch_through_tunnel(), "{what}: no traffic");
    }

    /// The peer is back with a fresh handshake the node started, and traffic
    /// flows; the times are printed (target: traffic within 2 s).
    fn assert_restored(&self, public: &str, since: Instant, what: &str) {
        let handshake = |dump: &str| {
            dump.lines()
                .find(|l| l.starts_with(public))
                .and_then(|l| l.split('\t').nth(4))
                .and_then(|t| t.parse::<i64>().ok())
        };
        wait_for(
            &format!("{what}: the peer back with a handshake"),
            Duration::from_secs(5),
            || handshake(&self.node_peers()).is_some_and(|t| t > 0),
        );
        println!("{what} → peer back with a handshake: {:?}", since.elapsed());
        wait_for(
            &format!("{what}: traffic again"),
            Duration::from_secs(5),
            || self.fetch_through_tunnel(),
        );
        let took = since.elapsed();
        println!("{what} → traffic again: {took:?}");
        assert!(took < Duration::from_secs(5), "{what}: {took:?}");
    }
}
