//! `truevault-client`, the real binary, in a lab of its own (root; `ip`,
//! `nft`, `wg`, `wireguard-go`, `python3`):
//!
//! ```text
//!  root ns: portal on 10.228.K.1 ─┐
//!  "net" ns: bridge 10.228.K.0/24 ─┼─ node A 10.228.K.2  `truevault node`, pool 10.229.K.0/24
//!                                  ├─ node B 10.228.K.3  `truevault node`, pool 10.230.K.0/24,
//!                                  │                      a TCP service on 7000
//!                                  └─ client 10.228.K.10 `truevault-client` (ip netns exec)
//! ```
//!
//! Node A's first TCP SYN from each address is lost (a table of the lab's
//! own in A's namespace), so A answers the client's latency probe only
//! after the kernel's 1 s SYN retransmission: A is "far", B is "near".
//! Both servers are empty and alike, so without a reported latency the
//! older one (A) would be chosen.
//!
//! Asserts: `login` keeps a real key (0600); `servers` measures both and
//! reports them; `up` gets a device on B — the latency decided — and brings
//! a wireguard-go tunnel up to B's node; a TCP service on B's tunnel
//! address answers through it; `status` shows the handshake and bytes;
//! `down` removes the interface and the full tunnel's rules.

use std::{
    net::SocketAddr,
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::{
    dataplane::listener_script, helpers::TestApp, require_tools, sh, sibling_binary, wait_async,
    wait_for, LAB_LOCK,
};

struct Lab {
    s: String,
    k: u32,
    dir: PathBuf,
    children: Vec<Child>,
    namespaces: Vec<String>,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("tv{role}{}", self.s).to_lowercase()
    }

    fn new() -> Self {
        require_tools(&["ip", "nft", "wg", "wireguard-go", "python3"]);
        let pid = std::process::id();
        let s = format!("{}", pid % 100_000);
        let k = pid % 200 + 20;
        let dir = std::env::temp_dir().join(format!("tv-client-lab-{s}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Self {
            s: s.clone(),
            k,
            dir,
            children: Vec::new(),
            namespaces: Vec::new(),
        };
        for role in ["L", "NA", "NB", "C"] {
            let ns = lab.ns(role);
            sh(&["ip", "netns", "add", &ns]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            lab.namespaces.push(ns);
        }
        let net = lab.ns("L");
        sh(&["ip", "-n", &net, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &net, "link", "set", "br0", "up"]);
        // The portal's side stays in the root namespace.
        let root_if = format!("tvl{s}");
        sh(&[
            "ip", "link", "add", &root_if, "type", "veth", "peer", "name", "p0", "netns", &net,
        ]);
        sh(&["ip", "-n", &net, "link", "set", "p0", "master", "br0", "up"]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.228.{k}.1/24"),
            "dev",
            &root_if,
        ]);
        sh(&["ip", "link", "set", &root_if, "up"]);
        for (role, host) in [("NA", 2), ("NB", 3), ("C", 10)] {
            let ns = lab.ns(role);
            let port = format!("p{}", role.to_lowercase());
            sh(&[
                "ip", "-n", &net, "link", "add", &port, "type", "veth", "peer", "name", "up0",
                "netns", &ns,
            ]);
            sh(&[
                "ip", "-n", &net, "link", "set", &port, "master", "br0", "up",
            ]);
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.228.{k}.{host}/24"),
                "dev",
                "up0",
            ]);
            sh(&["ip", "-n", &ns, "link", "set", "up0", "up"]);
        }
        lab
    }

    fn spawn(&mut self, ns: &str, args: &[&str], env: &[(&str, &str)], log: &str) {
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(child);
    }

    fn run_in(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap()
    }

    /// `truevault-client` in the client's namespace; `stdin` is fed to it.
    fn client(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let bin = sibling_binary("truevault-client");
        let dir = self.dir.join("client");
        let iface = format!("wgc{}", self.s);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns("C")])
            .arg(bin)
            .args(["--dir", dir.to_str().unwrap(), "--interface", &iface])
            .args(["--backend", "wireguard-go", "--json"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// A successful client command's JSON.
    fn client_json(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.client(args, stdin);
        assert!(
            out.status.success(),
            "truevault-client {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "truevault-client {args:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    fn probe(&self, ns: &str, host: &str, port: u16, timeout_s: f64) -> Option<String> {
        let script = format!(
            "import socket\ns = socket.create_connection(('{host}', {port}), timeout={timeout_s})\nprint(s.recv(64).decode())"
        );
        let out = self.run_in(ns, &["python3", "-c", &script]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting a namespace removes its interfaces; the wireguard-go
        // daemons (the agents' and the client's) exit with their devices.
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("tvl{}", self.s)])
            .stderr(Stdio::null())
            .status();
        if let Ok(entries) = std::fs::read_dir("/var/run/wireguard") {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.ends_with(&format!("{}.sock", self.s)) && name.starts_with("wg") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_brings_a_tunnel_up_to_the_server_its_latency_chose() {
    let _one_lab_at_a_time = LAB_LOCK.lock().await;
    let mut lab = Lab::new();
    let (k, s) = (lab.k, lab.s.clone());
    let app =
        TestApp::spawn_with(|c| c.listen = SocketAddr::from(([10, 228, k as u8, 1], 0))).await;

    // The customer first (sign-up reserves an identity on a server when
    // there is one, and then the two would not be equally loaded), on a
    // paid plan, with a key from the account page.
    let user = app.signed_in_user("ada@example.com").await;
    sqlx::query(
        "UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = 'personal') WHERE email = 'ada@example.com'",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let res = app
        .post_form(
            &user,
            "/api/api_keys/create",
            &[
                ("name", "laptop cli"),
                ("expires_days", ""),
                ("read", "on"),
                ("devices_write", "on"),
            ],
        )
        .await;
    let made: Value = res.json().await.unwrap();
    let key = made["key"].as_str().expect("a key").to_string();

    // Two alike servers, each with a real node agent.
    let admin = app.signed_in_admin("admin@example.com").await;
    let bin = env!("CARGO_BIN_EXE_truevault");
    let mut ids = Vec::new();
    for (role, host, pool) in [("NA", 2, 229), ("NB", 3, 230)] {
        let name = format!("lab-{}", &role[1..].to_lowercase());
        let res = app
            .post_form(
                &admin,
                "/api/admin/server_create",
                &[
                    ("name", &name),
                    ("region", "lab"),
                    ("country", ""),
                    ("city", ""),
                    ("endpoint_host", &format!("10.228.{k}.{host}")),
                    ("endpoint_port", "51820"),
                    ("server_type", "shared"),
                    ("vip_email", ""),
                    ("capacity", "100"),
                    ("ipv4_pool", &format!("10.{pool}.{k}.0/24")),
                    ("ipv6_pool", ""),
                    ("dns", ""),
                ],
            )
            .await;
        let body = res.text().await.unwrap();
        let token: String =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("server_create: {body}"));
        let id: i64 = sqlx::query_scalar("SELECT id FROM vpn_servers WHERE name = $1")
            .bind(&name)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        ids.push(id);
        let ns = lab.ns(role);
        let state_dir = lab.dir.join(format!("state-{role}")).display().to_string();
        let iface = format!("wg{}{s}", role.to_lowercase());
        lab.spawn(
            &ns,
            &[
                bin,
                "node",
                "--portal",
                &app.address,
                "--allow-http",
                "--interface",
                &iface,
                "--state-dir",
                &state_dir,
                "--stats-interval",
                "1",
            ],
            &[("TRUEVAULT_NODE_TOKEN", &token)],
            &format!("agent-{role}.log"),
        );
    }
    let (far, near) = (ids[0], ids[1]);
    assert!(far < near, "without latency the older server (A) wins");
    wait_async(
        "both nodes to enroll and report",
        Duration::from_secs(30),
        || async {
            let servers: Vec<Value> = app
                .post_form(&admin, "/api/admin/servers", &[])
                .await
                .json()
                .await
                .unwrap_or_default();
            servers.len() == 2 && servers.iter().all(|s| s["healthy"] == true)
        },
    )
    .await;
    let (node_a, node_b) = (lab.ns("NA"), lab.ns("NB"));
    let lossy = lab.dir.join("lossy.nft");
    std::fs::write(
        &lossy,
        "table inet tvlab {\n  set seen { type ipv4_addr; }\n  chain input {\n    type filter hook input priority -10;\n    tcp dport 51820 tcp flags & (syn | ack) == syn ip saddr != @seen add @seen { ip saddr } drop\n  }\n}\n",
    )
    .unwrap();
    sh(&[
        "ip",
        "netns",
        "exec",
        &node_a,
        "nft",
        "-f",
        lossy.to_str().unwrap(),
    ]);
    lab.spawn(
        &node_b,
        &["python3", "-c", &listener_script("node-b", &[7000])],
        &[],
        "service-b.log",
    );

    // login: the key on stdin, kept 0600; a wrong key is refused with the
    // portal's code and exit code 2.
    let portal = app.address.clone();
    let refused = lab.client(
        &["login", "--portal", &portal, "--allow-http"],
        "tvk_wrong\n",
    );
    assert_eq!(refused.status.code(), Some(2), "a refused key exits 2");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("INVALID_API_KEY"));
    lab.client_json(&["login", "--portal", &portal, "--allow-http"], &key);
    let mode = std::fs::metadata(lab.dir.join("client/login.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // servers: each measured from the client's namespace, and reported.
    let rows = lab.client_json(&["servers"], "");
    let latency = |id: i64| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["latency_ms"].as_i64())
            .unwrap_or_else(|| panic!("no latency for server {id}: {rows}"))
    };
    let (far_ms, near_ms) = (latency(far), latency(near));
    println!("measured by the client: A {far_ms} ms, B {near_ms} ms");
    assert!(
        far_ms >= 900 && near_ms < far_ms,
        "A answers after the SYN retransmission: {rows}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM server_latency").await,
        2,
        "both reported"
    );

    // up: the portal picks B because of the reported latency; a key made
    // here, a wireguard-go tunnel to B's node.
    let up = lab.client_json(&["up"], "");
    assert_eq!(up["server_id"], near, "the reported latency decided: {up}");
    let public: String = sqlx::query_scalar("SELECT public_key FROM devices WHERE id = $1")
        .bind(up["device_id"].as_i64().unwrap())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let wg_b = format!("wgnb{s}");
    wait_for(
        "the device's peer on node B",
        Duration::from_secs(10),
        || {
            String::from_utf8_lossy(&lab.run_in(&node_b, &["wg", "show", &wg_b, "peers"]).stdout)
                .contains(&public)
        },
    );
    let iface = format!("wgc{s}");
    let client_ns = lab.ns("C");
    let peer_line = String::from_utf8_lossy(
        &lab.run_in(&client_ns, &["wg", "show", &iface, "dump"])
            .stdout,
    )
    .to_string();
    assert!(
        peer_line.contains(&format!("10.228.{k}.3:51820")),
        "the client's peer is B's endpoint: {peer_line}"
    );

    // Traffic: B's tunnel address is reachable only through the tunnel.
    let service = format!("10.230.{k}.1");
    let mut banner = None;
    wait_for(
        "B's service through the tunnel",
        Duration::from_secs(20),
        || {
            banner = lab.probe(&client_ns, &service, 7000, 1.0);
            banner.is_some()
        },
    );
    assert_eq!(banner.as_deref(), Some("node-b:7000"));

    // status: the handshake and the bytes, read from the interface.
    let status = lab.client_json(&["status"], "");
    assert_eq!(status["up"], true, "{status}");
    assert_eq!(status["server"], "lab-b", "{status}");
    assert!(
        status["handshake_age_secs"]
            .as_i64()
            .is_some_and(|a| (0..60).contains(&a)),
        "a recent handshake: {status}"
    );
    assert!(
        status["rx_bytes"].as_i64().unwrap_or(0) > 0
            && status["tx_bytes"].as_i64().unwrap_or(0) > 0,
        "bytes both ways: {status}"
    );

    // down: the interface and the full tunnel's rules go; nothing flows.
    lab.client_json(&["down"], "");
    assert!(
        !lab.run_in(&client_ns, &["ip", "link", "show", "dev", &iface])
            .status
            .success(),
        "the interface is gone"
    );
    let rules = String::from_utf8_lossy(&lab.run_in(&client_ns, &["ip", "rule", "show"]).stdout)
        .to_string();
    assert!(
        !rules.contains("suppress_prefixlength") && !rules.contains("lookup 5"),
        "the full tunnel's rules are gone: {rules}"
    );
    let status = lab.client_json(&["status"], "");
    assert_eq!(status["up"], false, "{status}");
    assert_eq!(lab.probe(&client_ns, &service, 7000, 1.0), None);
}
