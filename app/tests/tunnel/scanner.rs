//! The real scanner agent against the real portal: a small home network
//! (a bridge this test makes, two hosts in their own namespaces with real
//! vendor MACs), `truevault-scanner sync` run on the bridge with a token
//! from the dashboard, and the inventory page showing what it found.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{helpers::TestApp, sh, sibling_binary};

struct HomeLan {
    s: String,
    k: u32,
    children: Vec<Child>,
}

impl HomeLan {
    fn new() -> Self {
        let pid = std::process::id();
        let lan = Self {
            s: format!("{}", pid % 100_000),
            k: pid % 200 + 20,
            children: Vec::new(),
        };
        let (s, k) = (&lan.s, lan.k);
        let br = lan.bridge();
        sh(&["ip", "link", "add", &br, "type", "bridge"]);
        sh(&["ip", "addr", "add", &format!("10.234.{k}.1/24"), "dev", &br]);
        sh(&["ip", "link", "set", &br, "up"]);
        for (i, (host, mac)) in [("cam", "44:19:b6"), ("pi", "b8:27:eb")].iter().enumerate() {
            let ns = format!("tvl{host}{s}");
            let (outer, inner) = (format!("tvl{i}{s}"), format!("tvm{i}{s}"));
            sh(&["ip", "netns", "add", &ns]);
            sh(&[
                "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &ns,
            ]);
            sh(&["ip", "link", "set", &outer, "master", &br]);
            sh(&["ip", "link", "set", &outer, "up"]);
            let addr = format!("{mac}:{:02x}:00:{:02x}", k % 256, 20 + i);
            sh(&["ip", "-n", &ns, "link", "set", &inner, "address", &addr]);
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.234.{k}.{}/24", 20 + i),
                "dev",
                &inner,
            ]);
            sh(&["ip", "-n", &ns, "link", "set", &inner, "up"]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        lan
    }

    fn bridge(&self) -> String {
        format!("tvlbr{}", self.s)
    }

    fn serve(&mut self, host: &str, port: u16) {
        let ns = format!("tvl{host}{}", self.s);
        let script = format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', {port}))\ns.listen()\nwhile True:\n    c,_=s.accept(); c.close()"
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("listener");
        self.children.push(child);
    }

    fn listening(&self, host: &str, port: u16) -> bool {
        let ns = format!("tvl{host}{}", self.s);
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "ss",
                "-ltnH",
                &format!("sport = :{port}"),
            ])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    }
}

impl Drop for HomeLan {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for host in ["cam", "pi"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("tvl{host}{}", self.s)])
                .status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge()])
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_syncs_a_home_network_and_the_portal_shows_it() {
    let _one_lab_at_a_time = crate::LAB_LOCK.lock().await;
    let mut lan = HomeLan::new();
    let k = lan.k;
    for port in [80, 554] {
        lan.serve("cam", port);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(lan.listening("cam", 80) && lan.listening("cam", 554)) {
        assert!(Instant::now() < deadline, "lab services did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    let res = app
        .post_form(&user, "/api/network/token_create", &[("name", "lab")])
        .await;
    let token = res.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();

    let mut child = Command::new(sibling_binary("truevault-scanner"))
        .args([
            "sync",
            "--no-progress",
            "--iface",
            &lan.bridge(),
            "--cidr",
            &format!("10.234.{k}.0/24"),
            "--portal",
            &app.address,
        ])
        .env("TRUEVAULT_SCANNER_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scanner");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the scanner did not finish within a minute");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "scanner failed: {stderr}");
    assert!(!stderr.contains(&token), "the token is never printed");

    assert_eq!(
        app.count("SELECT COUNT(*) FROM lan_devices").await,
        2,
        "exactly the lab's hosts"
    );
    let cam_mac = format!("44:19:b6:{:02x}:00:14", k % 256);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM lan_devices WHERE mac = '{cam_mac}' AND is_camera = 1 AND vendor LIKE '%Hikvision%' AND stream_url LIKE 'rtsp://10.234.{k}.20%'"
        ))
        .await,
        1,
        "the Hikvision host is a camera with its stream URL"
    );
    let html = app.get_html(&user, "/network").await;
    assert!(
        html.contains(&cam_mac),
        "the inventory page lists the camera"
    );
    assert!(html.contains("Raspberry"), "and the Pi with its vendor");
    assert!(html.contains("data-testid=\"detected-cameras\""));
}
