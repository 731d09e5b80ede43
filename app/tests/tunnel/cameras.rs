//! The camera gateway reaches the portal only through a WireGuard tunnel:
//!
//! ```text
//!  root ns ("cloud"): portal bound to 10.235.K.1 on wireguard-go wgcc…
//!        │ veth 10.236.K.1 ── 10.236.K.2 (WireGuard's outer path only)
//!  home ns: wireguard-go wgch… (10.235.K.2), GStreamer's RTSP server on
//!           127.0.0.1, and `truevault-gateway --portal http://10.235.K.1:…`
//! ```
//!
//! The home namespace has no route to the portal except the tunnel; the
//! test subscribes to the camera like a viewer and the stream arrives.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use truevault_relay::ViewerItem;

use crate::{helpers::TestApp, sh, sibling_binary};

struct Home {
    s: String,
    k: u32,
    children: Vec<Child>,
    dir: PathBuf,
}

fn keypair() -> (String, String) {
    let private = sh(&["wg", "genkey"]);
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg pubkey");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(private.as_bytes())
        .expect("write key");
    let out = child.wait_with_output().expect("wg pubkey");
    (
        private,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

impl Home {
    fn new() -> Self {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("tv-cam-tunnel-{pid}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let home = Self {
            s: format!("{}", pid % 100_000),
            k: pid % 200 + 20,
            children: Vec::new(),
            dir,
        };
        let (s, k, ns) = (&home.s, home.k, home.ns());
        sh(&["ip", "netns", "add", &ns]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        let (outer, inner) = (format!("tvco{s}"), format!("tvci{s}"));
        sh(&[
            "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &ns,
        ]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.236.{k}.1/30"),
            "dev",
            &outer,
        ]);
        sh(&["ip", "link", "set", &outer, "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.236.{k}.2/30"),
            "dev",
            &inner,
        ]);
        sh(&["ip", "-n", &ns, "link", "set", &inner, "up"]);
        home
    }

    fn ns(&self) -> String {
        format!("tvch{}", self.s)
    }
    fn wg_cloud(&self) -> String {
        format!("wgcc{}", self.s)
    }
    fn wg_home(&self) -> String {
        format!("wgch{}", self.s)
    }

    fn spawn(&mut self, ns: Option<&str>, args: &[&str], log: &str) -> usize {
        let log = std::fs::File::create(self.dir.join(log)).expect("log");
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).args(args);
                c
            }
            None => {
                let mut c = Command::new(args[0]);
                c.args(&args[1..]);
                c
            }
        };
        let child = cmd
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn");
        self.children.push(child);
        self.children.len() - 1
    }

    fn wireguard(&mut self, ns: Option<&str>, iface: &str) {
        self.spawn(ns, &["wireguard-go", "-f", iface], &format!("{iface}.log"));
        let sock = PathBuf::from(format!("/var/run/wireguard/{iface}.sock"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "wireguard-go did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn in_ns(&self, args: &[&str]) -> String {
        let ns = self.ns();
        let mut full = vec!["ip", "netns", "exec", ns.as_str()];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// Brings up both ends of the tunnel: cloud 10.235.K.1, home 10.235.K.2.
    fn tunnel(&mut self) {
        let k = self.k;
        let (cloud_priv, cloud_pub) = keypair();
        let (home_priv, home_pub) = keypair();
        let (wc, wh) = (self.wg_cloud(), self.wg_home());
        let ns = self.ns();
        self.wireguard(None, &wc);
        self.wireguard(Some(&ns), &wh);
        let cloud_key = self.dir.join("cloud.key");
        let home_key = self.dir.join("home.key");
        truevault::secrets::write_private(&cloud_key, cloud_priv.as_bytes()).expect("key");
        truevault::secrets::write_private(&home_key, home_priv.as_bytes()).expect("key");
        let port = 51000 + k;
        sh(&[
            "wg",
            "set",
            &wc,
            "private-key",
            &cloud_key.display().to_string(),
            "listen-port",
            &port.to_string(),
            "peer",
            &home_pub,
            "allowed-ips",
            &format!("10.235.{k}.2/32"),
        ]);
        sh(&["ip", "addr", "add", &format!("10.235.{k}.1/24"), "dev", &wc]);
        sh(&["ip", "link", "set", &wc, "up"]);
        self.in_ns(&[
            "wg",
            "set",
            &wh,
            "private-key",
            &home_key.display().to_string(),
            "peer",
            &cloud_pub,
            "allowed-ips",
            &format!("10.235.{k}.1/32"),
            "endpoint",
            &format!("10.236.{k}.1:{port}"),
            "persistent-keepalive",
            "1",
        ]);
        self.in_ns(&["ip", "addr", "add", &format!("10.235.{k}.2/24"), "dev", &wh]);
        self.in_ns(&["ip", "link", "set", &wh, "up"]);
    }

    /// GStreamer's RTSP server on 127.0.0.1 inside the home namespace.
    fn rtsp_server(&mut self) -> u16 {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../camera-gateway/tests/rtsp_server.py"
        );
        let workdir = self.dir.join("rtsp");
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(),
                "/usr/bin/python3",
                script,
                "--port",
                "0",
                "--workdir",
            ])
            .arg(&workdir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("rtsp server");
        let stdout = child.stdout.take().expect("stdout");
        self.children.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(p) = line.strip_prefix("READY ") {
                    let _ = tx.send(p.trim().parse::<u16>().ok());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(60))
            .ok()
            .flatten()
            .expect("the RTSP server is up (GStreamer's RTSP server installed?)")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // Only what this test started, by PID.
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns()])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &format!("tvco{}", self.s)])
            .stderr(Stdio::null())
            .status();
        for iface in [self.wg_cloud(), self.wg_home()] {
            let _ = Command::new("ip")
                .args(["link", "del", &iface])
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_file(format!("/var/run/wireguard/{iface}.sock"));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_gateway_streams_to_the_portal_through_a_wireguard_tunnel() {
    let _one_lab_at_a_time = crate::LAB_LOCK.lock().await;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    assert!(
        root,
        "the tunnel test builds network namespaces and needs root"
    );
    let mut home = Home::new();
    let k = home.k;
    home.tunnel();
    let rtsp_port = home.rtsp_server();
    // The portal listens only on its tunnel address.
    let app =
        TestApp::spawn_with(|c| c.listen = SocketAddr::from(([10, 235, k as u8, 1], 0))).await;
    let user = app.signed_in_user("cam@example.com").await;
    sqlx::query("UPDATE users SET plan_id = (SELECT id FROM plans WHERE slug = 'personal') WHERE email = 'cam@example.com'")
        .execute(&app.state.db.pool)
        .await
        .expect("plan");
    let res = app
        .post_form(&user, "/api/cameras/gateway_create", &[("name", "home")])
        .await;
    let created: serde_json::Value = res.json().await.expect("json");
    let (gw, token) = (
        created["id"].as_i64().expect("id"),
        created["token"].as_str().expect("token").to_string(),
    );
    let rtsp = format!("rtsp://127.0.0.1:{rtsp_port}/live");
    let res = app
        .post_form(
            &user,
            "/api/cameras/add",
            &[
                ("name", "Porch"),
                ("vendor", "generic"),
                ("ip", "127.0.0.1"),
                ("main_stream_url", &rtsp),
                ("gateway_id", &gw.to_string()),
            ],
        )
        .await;
    let cam: i64 = res
        .text()
        .await
        .expect("body")
        .trim()
        .parse()
        .expect("camera id");

    // Nothing but the tunnel leads from home to the portal.
    let direct = Command::new("ip")
        .args([
            "netns",
            "exec",
            &home.ns(),
            "ip",
            "route",
            "get",
            &format!("10.235.{k}.1"),
        ])
        .output()
        .expect("ip route");
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains(&home.wg_home()),
        "the portal is routed via the tunnel"
    );

    let bin = sibling_binary("truevault-gateway");
    let ns = home.ns();
    let portal = app.address.clone();
    let bin = bin.display().to_string();
    home.spawn(
        Some(&ns),
        &[
            "env",
            &format!("TRUEVAULT_GATEWAY_TOKEN={token}"),
            &bin,
            "--portal",
            &portal,
            // Plain http inside the WireGuard tunnel, which encrypts it.
            "--allow-http",
        ],
        "gateway.log",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.state.cameras.is_online(gw) {
        assert!(
            Instant::now() < deadline,
            "the gateway did not connect through the tunnel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A viewer: init segment, then fragments starting with a key frame.
    let mut sub = app.state.cameras.hub.subscribe(cam);
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        let mut init = false;
        let mut fragments = 0;
        while fragments < 10 {
            match sub.recv().await {
                Some(ViewerItem::Init(b)) => {
                    assert_eq!(&b[4..8], b"ftyp");
                    init = true;
                }
                Some(ViewerItem::Fragment { data, keyframe }) => {
                    assert!(init, "init first");
                    if fragments == 0 {
                        assert!(keyframe, "the first fragment is a key frame");
                    }
                    assert_eq!(&data[4..8], b"moof");
                    fragments += 1;
                }
                Some(ViewerItem::Interrupted(why)) => panic!("stream interrupted: {why}"),
                None => panic!("stream closed"),
            }
        }
        fragments
    })
    .await
    .expect("the stream arrives through the tunnel in time");
    assert_eq!(got, 10);
}
