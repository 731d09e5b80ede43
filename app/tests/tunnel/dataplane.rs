//! The VPN data plane, end to end, in one lab of network namespaces this
//! test builds (root; `ip`, `nft`, `wireguard-go`, `wg`, `python3`):
//!
//! ```text
//!  root ns: portal on 10.237.K.1 ──veth── node ns: `truevault node` (makes its own
//!                                          wireguard-go interface), uplink 198.51.100.2
//!                                            │
//!                     "internet" ns: bridge 198.51.100.1/24, web server on 203.0.113.80
//!                      │           │             │                          │
//!                client A .10   client B .11   home A .20                 home B .21
//!                (wireguard-go, the portal's     `truevault-home`, LAN bridge 192.168.77.1/24
//!                 config)                         └ printer 192.168.77.20: TCP 631, 22
//!                                                 (home B: the SAME LAN, its own printer)
//! ```
//!
//! Asserts: A browses the "internet" through the node and the web server
//! sees the node's uplink address (NAT); A reaches its printer on 631 and 22
//! through its site's range; B reaches B's printer although both LANs are
//! 192.168.77.0/24; B reaches neither A's device nor A's home; the rules
//! A shares its printer at `use` on 631 with a mesh network and B, once a
//! member, reaches exactly that (and A's device), until removed (timed);
//! the rules stay while the agent restarts; `--uninstall` removes table and
//! interface.
//! Everything is torn down; only processes started here are stopped.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    helpers::TestApp, require_tools, sh, sibling_binary, wait_async, wait_for, wait_node_healthy,
    LAB_LOCK,
};

/// The web server of the lab's "internet": answers with the client address
/// it sees.
const WEB: &str = r#"
import http.server as h
class H(h.BaseHTTPRequestHandler):
    def do_GET(self):
        b = self.client_address[0].encode()
        self.send_response(200)
        self.send_header('content-length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
h.ThreadingHTTPServer(('203.0.113.80', 8080), H).serve_forever()
"#;

/// A LAN host listening on the given ports; each connection gets
/// `<name>:<port>` and is closed.
pub(crate) fn listener_script(name: &str, ports: &[u16]) -> String {
    format!(
        r#"
import socket, threading
def serve(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', p))
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.sendall(b'{name}:%d' % p)
        c.close()
ts = [threading.Thread(target=serve, args=(p,)) for p in {ports:?}]
[t.start() for t in ts]
[t.join() for t in ts]
"#
    )
}

struct Lab {
    s: String,
    k: u32,
    dir: PathBuf,
    children: Vec<Child>,
    namespaces: Vec<String>,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("tv{role}{}", self.s)
    }

    fn new() -> Self {
        require_tools(&["ip", "nft", "wg", "wireguard-go", "python3"]);
        let pid = std::process::id();
        let s = format!("{}", pid % 100_000);
        let k = pid % 200 + 20;
        let dir = std::env::temp_dir().join(format!("tv-dataplane-{s}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Self {
            s,
            k,
            dir,
            children: Vec::new(),
            namespaces: Vec::new(),
        };
        for role in ["N", "I", "A", "B", "HA", "HB", "PA", "PB"] {
            let ns = lab.ns(role);
            sh(&["ip", "netns", "add", &ns]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            lab.namespaces.push(ns);
        }
        let (s, k) = (lab.s.clone(), lab.k);
        let node = lab.ns("N");
        let inet = lab.ns("I");
        // root ↔ node: the node (and, masqueraded by the lab, the homes)
        // reach the portal here.
        let (root_if, node_if) = (format!("tvq{s}"), format!("tvr{s}"));
        sh(&[
            "ip", "link", "add", &root_if, "type", "veth", "peer", "name", &node_if,
        ]);
        sh(&["ip", "link", "set", &node_if, "netns", &node]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.237.{k}.1/30"),
            "dev",
            &root_if,
        ]);
        sh(&["ip", "link", "set", &root_if, "up"]);
        sh(&[
            "ip",
            "-n",
            &node,
            "addr",
            "add",
            &format!("10.237.{k}.2/30"),
            "dev",
            &node_if,
        ]);
        sh(&["ip", "-n", &node, "link", "set", &node_if, "up"]);
        // The internet: a bridge everyone's uplink plugs into.
        sh(&["ip", "-n", &inet, "link", "add", "br0", "type", "bridge"]);
        sh(&[
            "ip",
            "-n",
            &inet,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "br0",
        ]);
        sh(&["ip", "-n", &inet, "link", "set", "br0", "up"]);
        sh(&[
            "ip",
            "-n",
            &inet,
            "addr",
            "add",
            "203.0.113.80/32",
            "dev",
            "lo",
        ]);
        for (role, host) in [("N", 2), ("A", 10), ("B", 11), ("HA", 20), ("HB", 21)] {
            let ns = lab.ns(role);
            let outer = format!("tvu{role}{s}").to_lowercase();
            sh(&[
                "ip", "-n", &inet, "link", "add", &outer, "type", "veth", "peer", "name", "up0",
                "netns", &ns,
            ]);
            sh(&[
                "ip", "-n", &inet, "link", "set", &outer, "master", "br0", "up",
            ]);
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("198.51.100.{host}/24"),
                "dev",
                "up0",
            ]);
            sh(&["ip", "-n", &ns, "link", "set", "up0", "up"]);
        }
        // The node's default route is its uplink: the egress interface.
        sh(&[
            "ip",
            "-n",
            &node,
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
        ]);
        // Homes reach the portal through the node, masqueraded by a table
        // of the lab's own (not the agent's), so the root namespace needs no
        // route to the lab's internet.
        let lab_nat = format!(
            "table ip tvlab {{\n  chain post {{\n    type nat hook postrouting priority srcnat;\n    oifname \"{node_if}\" masquerade\n  }}\n}}\n"
        );
        lab.nft(&node, &lab_nat);
        for (home, printer, name) in [("HA", "PA", "printer-A"), ("HB", "PB", "printer-B")] {
            let (h, p) = (lab.ns(home), lab.ns(printer));
            sh(&[
                "ip",
                "-n",
                &h,
                "route",
                "add",
                &format!("10.237.{k}.0/30"),
                "via",
                "198.51.100.2",
            ]);
            sh(&["ip", "-n", &h, "link", "add", "lan0", "type", "bridge"]);
            sh(&[
                "ip",
                "-n",
                &h,
                "addr",
                "add",
                "192.168.77.1/24",
                "dev",
                "lan0",
            ]);
            sh(&["ip", "-n", &h, "link", "set", "lan0", "up"]);
            sh(&[
                "ip", "-n", &h, "link", "add", "lanp", "type", "veth", "peer", "name", "eth0",
                "netns", &p,
            ]);
            sh(&[
                "ip", "-n", &h, "link", "set", "lanp", "master", "lan0", "up",
            ]);
            sh(&[
                "ip",
                "-n",
                &p,
                "addr",
                "add",
                "192.168.77.20/24",
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", &p, "link", "set", "eth0", "up"]);
            lab.spawn(
                &p,
                &["python3", "-c", &listener_script(name, &[631, 22])],
                &format!("{name}.log"),
            );
        }
        lab.spawn(&inet, &["python3", "-c", WEB], "web.log");
        lab
    }

    fn nft(&self, ns: &str, script: &str) {
        let path = self.dir.join("lab.nft");
        std::fs::write(&path, script).unwrap();
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "nft",
            "-f",
            &path.display().to_string(),
        ]);
    }

    fn spawn(&mut self, ns: &str, args: &[&str], log: &str) -> usize {
        self.spawn_env(ns, args, &[], log)
    }

    fn spawn_env(&mut self, ns: &str, args: &[&str], env: &[(&str, &str)], log: &str) -> usize {
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
        self.children.len() - 1
    }

    fn stop(&mut self, index: usize) {
        let c = &mut self.children[index];
        let _ = c.kill();
        let _ = c.wait();
    }

    fn run_in(&self, ns: &str, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap()
    }

    /// Connects from `ns` to `host:port`; the banner, or None when refused,
    /// dropped or timed out.
    fn probe(&self, ns: &str, host: &str, port: u16, timeout_s: f64) -> Option<String> {
        let script = format!(
            "import socket\ns = socket.create_connection(('{host}', {port}), timeout={timeout_s})\nprint(s.recv(64).decode())"
        );
        let out = self.run_in(ns, &["python3", "-c", &script]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn fetch(&self, ns: &str, url: &str) -> Option<String> {
        let script = format!("import urllib.request\nprint(urllib.request.urlopen('{url}', timeout=2).read().decode())");
        let out = self.run_in(ns, &["python3", "-c", &script]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A client: wireguard-go with the portal's config (minus wg-quick's
    /// own fields), routing the VPN pool, the site pool and the internet
    /// host's network into the tunnel (what wg-quick's full tunnel does,
    /// without taking the lab's underlay route).
    fn client(&mut self, role: &str, config: &str, pool: &str) {
        let ns = self.ns(role);
        let iface = format!("wgc{role}{}", self.s).to_lowercase();
        self.spawn(
            &ns,
            &["wireguard-go", "-f", &iface],
            &format!("{iface}.log"),
        );
        let sock = PathBuf::from(format!("/var/run/wireguard/{iface}.sock"));
        wait_for(
            "the client's wireguard-go socket",
            Duration::from_secs(10),
            || sock.exists(),
        );
        let setconf: String = config
            .lines()
            .filter(|l| !l.starts_with("Address") && !l.starts_with("DNS") && !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let path = self.dir.join(format!("{iface}.conf"));
        truevault::secrets::write_private(&path, setconf.as_bytes()).unwrap();
        let address = config
            .lines()
            .find_map(|l| l.strip_prefix("Address = "))
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim()
            .to_string();
        sh(&[
            "ip",
            "netns",
            "exec",
            &ns,
            "wg",
            "setconf",
            &iface,
            &path.display().to_string(),
        ]);
        sh(&["ip", "-n", &ns, "addr", "add", &address, "dev", &iface]);
        sh(&["ip", "-n", &ns, "link", "set", &iface, "up"]);
        for net in [pool, "10.240.0.0/12", "203.0.113.0/24"] {
            sh(&["ip", "-n", &ns, "route", "add", net, "dev", &iface]);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting a namespace removes its interfaces; wireguard-go daemons
        // the agents started exit with their tun device.
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("tvq{}", self.s)])
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

async fn post_json(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> Value {
    let res = app.post_form(client, path, form).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_browse_through_the_node_reach_only_their_own_homes_and_not_each_other() {
    let _one_lab_at_a_time = LAB_LOCK.lock().await;
    let mut lab = Lab::new();
    let k = lab.k;
    let s = lab.s.clone();
    let app =
        TestApp::spawn_with(|c| c.listen = SocketAddr::from(([10, 237, k as u8, 1], 0))).await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let pool = format!("10.238.{k}.0/24");
    let token: String = serde_json::from_value(
        post_json(
            &app,
            &admin,
            "/api/admin/server_create",
            &[
                ("name", "lab-dp"),
                ("region", "lab"),
                ("country", ""),
                ("city", ""),
                ("endpoint_host", "198.51.100.2"),
                ("endpoint_port", "51820"),
                ("server_type", "shared"),
                ("vip_email", ""),
                ("capacity", "100"),
                ("ipv4_pool", &pool),
                ("ipv6_pool", ""),
                ("dns", ""),
            ],
        )
        .await,
    )
    .unwrap();

    // The node agent creates its own interface (no kernel module here:
    // wireguard-go), enrolls, and applies peers and data plane.
    let node = lab.ns("N");
    let wg_node = format!("wgn{s}");
    let state_dir = lab.dir.join("node-state").display().to_string();
    let bin = env!("CARGO_BIN_EXE_truevault");
    let node_args = [
        bin,
        "node",
        "--portal",
        &app.address,
        "--allow-http",
        "--interface",
        &wg_node,
        "--state-dir",
        &state_dir,
        "--stats-interval",
        "1",
    ];
    let mut agent = lab.spawn_env(
        &node,
        &node_args,
        &[("TRUEVAULT_NODE_TOKEN", &token)],
        "agent.log",
    );
    wait_node_healthy(&app, &admin, Duration::from_secs(30)).await;

    // Two customers, each with a device and a home site on the same LAN.
    let mut devices = Vec::new();
    let mut ranges = Vec::new();
    let mut site_ids = Vec::new();
    let home_bin = sibling_binary("truevault-home");
    for (role, email) in [("A", "ada@example.com"), ("B", "bob@example.com")] {
        let user = app.signed_in_user(email).await;
        let created = post_json(
            &app,
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
        let config = created["config"].as_str().unwrap().to_string();
        assert!(
            config.contains("AllowedIPs = 0.0.0.0/0, ::/0"),
            "full tunnel by default"
        );
        let site = post_json(
            &app,
            &user,
            "/api/sites/create",
            &[("name", "home"), ("lan", "192.168.77.0/24")],
        )
        .await;
        let range = site["site"]["range"].as_str().unwrap().to_string();
        site_ids.push(site["site"]["id"].as_i64().unwrap());
        let token_file = lab.dir.join(format!("site-{role}.token"));
        truevault::secrets::write_private(&token_file, site["token"].as_str().unwrap().as_bytes())
            .unwrap();
        let home = lab.ns(&format!("H{role}"));
        let home_state = lab.dir.join(format!("home-{role}")).display().to_string();
        lab.spawn(
            &home,
            &[
                home_bin.to_str().unwrap(),
                "--portal",
                &app.address,
                "--allow-http",
                "--token-file",
                token_file.to_str().unwrap(),
                "--interface",
                &format!("wgh{role}{s}").to_lowercase(),
                "--state-dir",
                &home_state,
                "--interval",
                "1",
            ],
            &format!("home-{role}.log"),
        );
        lab.client(role, &config, &pool);
        devices.push((
            user,
            created["device"]["address_v4"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
        ranges.push(range);
    }
    assert_ne!(ranges[0], ranges[1], "overlapping LANs get distinct ranges");
    let printer_via = |range: &str| range.replace(".0/24", ".20");
    let (printer_a, printer_b) = (printer_via(&ranges[0]), printer_via(&ranges[1]));
    for (user, _) in &devices {
        wait_async("the home site online", Duration::from_secs(30), || async {
            let sites: Vec<Value> = app
                .post_form(user, "/api/sites/list", &[])
                .await
                .json()
                .await
                .unwrap_or_default();
            sites.first().is_some_and(|s| s["status"] == "Online")
        })
        .await;
    }
    let (ns_a, ns_b) = (lab.ns("A"), lab.ns("B"));

    // A browses the internet through the node; the web server sees the
    // node's uplink address.
    let mut seen = None;
    wait_for(
        "a fetch through the tunnel",
        Duration::from_secs(20),
        || {
            seen = lab.fetch(&ns_a, "http://203.0.113.80:8080/");
            seen.is_some()
        },
    );
    assert_eq!(
        seen.as_deref(),
        Some("198.51.100.2"),
        "masqueraded out of the node's uplink"
    );

    // A reaches A's printer on both ports through the site's range.
    let mut banner = None;
    wait_for(
        "A's printer through A's site",
        Duration::from_secs(20),
        || {
            banner = lab.probe(&ns_a, &printer_a, 631, 1.0);
            banner.is_some()
        },
    );
    assert_eq!(banner.as_deref(), Some("printer-A:631"));
    assert_eq!(
        lab.probe(&ns_a, &printer_a, 22, 2.0).as_deref(),
        Some("printer-A:22")
    );
    // B reaches B's own printer although both LANs are 192.168.77.0/24.
    let mut banner = None;
    wait_for(
        "B's printer through B's site",
        Duration::from_secs(20),
        || {
            banner = lab.probe(&ns_b, &printer_b, 631, 1.0);
            banner.is_some()
        },
    );
    assert_eq!(banner.as_deref(), Some("printer-B:631"));

    // B reaches neither A's home nor A's device. A's device listens, and
    // the node itself reaches it (so a refusal below is the policy).
    let a_addr = devices[0].1.clone();
    lab.spawn(
        &ns_a,
        &["python3", "-c", &listener_script("device-A", &[7000])],
        "device-a.log",
    );
    wait_for(
        "A's device listening (from the node)",
        Duration::from_secs(10),
        || lab.probe(&node, &a_addr, 7000, 1.0).is_some(),
    );
    assert_eq!(
        lab.probe(&ns_b, &a_addr, 7000, 1.5),
        None,
        "B must not reach A's device"
    );
    assert_eq!(
        lab.probe(&ns_b, &printer_a, 631, 1.5),
        None,
        "B must not reach A's home"
    );
    assert_eq!(
        lab.probe(&ns_b, &printer_a, 22, 1.5),
        None,
        "B must not reach A's home"
    );
    assert_eq!(
        lab.probe(&ns_a, &printer_b, 631, 1.5),
        None,
        "A must not reach B's home"
    );

    // Mesh (issue 10, item 3): A (family plan) shares printer-A at `use` on
    // TCP 631 with a network and invites B; after B accepts, B reaches
    // printer-A:631 and not :22, and A's and B's devices reach each other;
    // removing B cuts it, measured.
    {
        use truevault::mesh::{
            rules::{InviteForm, NetworkForm, NewInvite, NewNetwork, NewShare, ShareForm},
            service::{self as mesh, Links},
        };
        let db = &app.state.db;
        for sql in [
            "UPDATE plans SET max_mesh_members = 5 WHERE slug = 'family'",
            "UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = 'family') WHERE email = 'ada@example.com'",
        ] {
            sqlx::query(sql).execute(&db.pool).await.unwrap();
        }
        let mut users = Vec::new();
        for email in ["ada@example.com", "bob@example.com"] {
            users.push(
                truevault::accounts::repo::find_by_email(db, email)
                    .await
                    .unwrap()
                    .unwrap()
                    .current(),
            );
        }
        let (ada, bob) = (users[0].clone(), users[1].clone());
        let (clock, nodes) = (&app.state.clock, &app.state.node_changes);
        let net = mesh::create_network(
            db,
            clock,
            &ada,
            NewNetwork::try_from(NetworkForm {
                name: "Family".into(),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
        let share = NewShare::try_from(ShareForm {
            network_id: net.0,
            target: format!("site:{}", site_ids[0]),
            host_ip: "192.168.77.20".into(),
            access: "use".into(),
            ports: "631".into(),
            ..Default::default()
        })
        .unwrap();
        mesh::share(db, clock, nodes, &ada, share).await.unwrap();
        let invite = NewInvite::try_from(InviteForm {
            network_id: net.0,
            email: bob.email.clone(),
            role: "member".into(),
        })
        .unwrap();
        let links = Links {
            base_url: &app.address,
            support: "support@truevault.test",
        };
        mesh::invite(db, clock, &app.state.mailer, &links, &ada, invite)
            .await
            .unwrap();
        let (_, body) = app.last_mail_to(&bob.email).await.expect("invite mail");
        let code = crate::helpers::token_from(&body, "/mesh/invite?code=");
        assert_eq!(
            lab.probe(&ns_b, &printer_a, 631, 1.0),
            None,
            "not before B accepts"
        );
        mesh::accept_invite(db, clock, nodes, &bob, &code)
            .await
            .unwrap();
        let mut banner = None;
        wait_for(
            "B reaching the shared printer",
            Duration::from_secs(10),
            || {
                banner = lab.probe(&ns_b, &printer_a, 631, 0.5);
                banner.is_some()
            },
        );
        assert_eq!(banner.as_deref(), Some("printer-A:631"));
        assert_eq!(
            lab.probe(&ns_b, &printer_a, 22, 1.5),
            None,
            "only the shared port"
        );
        assert_eq!(
            lab.probe(&ns_b, &printer_a.replace(".20", ".1"), 22, 1.5),
            None,
            "no other host of A's home"
        );
        wait_for(
            "members' devices reaching each other",
            Duration::from_secs(10),
            || lab.probe(&ns_b, &a_addr, 7000, 0.5).is_some(),
        );
        let removed = Instant::now();
        mesh::remove_member(db, nodes, &ada, net, bob.id)
            .await
            .unwrap();
        wait_for("B's access to end", Duration::from_secs(10), || {
            lab.probe(&ns_b, &printer_a, 631, 0.2).is_none()
        });
        let cut = removed.elapsed();
        println!("member removed → no longer reaches the shared printer: {cut:?}");
        assert!(cut < Duration::from_secs(2), "cut within 2 s, took {cut:?}");
        assert_eq!(
            lab.probe(&ns_b, &a_addr, 7000, 1.0),
            None,
            "no longer a member"
        );
    }

    // The applied version is reported back.
    wait_async(
        "the node to report the desired version applied",
        Duration::from_secs(10),
        || async {
            let servers: Vec<Value> = app
                .post_form(&admin, "/api/admin/servers", &[])
                .await
                .json()
                .await
                .unwrap_or_default();
            servers.first().is_some_and(|s| {
                s["applied_version"].as_i64().is_some_and(|v| v > 0)
                    && s["applied_version"] == s["peers_version"]
            })
        },
    )
    .await;

    // The agent stops: rules and interface stay, traffic keeps flowing; a
    // new agent picks up from its saved state.
    lab.stop(agent);
    assert!(lab
        .run_in(&node, &["nft", "list", "table", "inet", "truevault"])
        .status
        .success());
    assert_eq!(
        lab.probe(&ns_a, &printer_a, 631, 2.0).as_deref(),
        Some("printer-A:631"),
        "no gap while the agent is down"
    );
    assert_eq!(
        lab.probe(&ns_b, &printer_a, 631, 1.5),
        None,
        "isolation holds while the agent is down"
    );
    agent = lab.spawn(&node, &node_args, "agent-2.log");
    let started = Instant::now();
    wait_for("a fetch after the restart", Duration::from_secs(10), || {
        lab.fetch(&ns_a, "http://203.0.113.80:8080/").as_deref() == Some("198.51.100.2")
    });
    println!(
        "traffic right after the agent restart: {:?}",
        started.elapsed()
    );

    // --uninstall removes the agent's table and interface, nothing else.
    lab.stop(agent);
    let out = lab.run_in(
        &node,
        &[bin, "node", "--uninstall", "--interface", &wg_node],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!lab
        .run_in(&node, &["nft", "list", "table", "inet", "truevault"])
        .status
        .success());
    assert!(!lab
        .run_in(&node, &["ip", "link", "show", "dev", &wg_node])
        .status
        .success());
    assert!(
        lab.run_in(&node, &["nft", "list", "table", "ip", "tvlab"])
            .status
            .success(),
        "other tables untouched"
    );
}
