//! VPN figures (a bench binary that prints them):
//! 0. the QR code of a full-tunnel config (mask choice and SVG), p50/p99
//!    over 500: a part of every device creation;
//! 1. address allocation + device insert with 0 and 60,000 peers already
//!    in a /16 pool (SQLite file, the embedded default);
//! 2. applying 10,000 peers to a wireguard-go interface with `wg syncconf`
//!    (in a network namespace of its own; needs root, wireguard-go, wg),
//!    then changing one peer among them;
//! 3. change-to-applied latency: the portal on a veth address, the real
//!    node agent (`truevault node`) in a namespace, 200 devices created one
//!    by one, each timed until it shows on the node's interface.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use truevault::{
    accounts::{model::Role, repo as accounts_repo, service as accounts},
    config::Config,
    startup::Application,
    vpn::{devices, keys, servers},
};
use truevault_node::agent::render_syncconf;
use truevault_wire::node::{DesiredConfig, DesiredPeer, InterfaceSettings};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn qr_bench() {
    // Keys made here, the lengths of real ones.
    let (device, server) = (keys::generate_keypair(), keys::generate_keypair());
    let config = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.8.0.23/32, fd42:42:42::23/128\nDNS = 10.8.0.1\n\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {}\nAllowedIPs = 0.0.0.0/0, ::/0\n\
         Endpoint = vpn-1.example.test:51820\nPersistentKeepalive = 25\n",
        device.private,
        server.public,
        keys::generate_preshared_key()
    );
    let mut times = Vec::with_capacity(500);
    let mut bytes = 0;
    for _ in 0..500 {
        let start = Instant::now();
        bytes = truevault::vpn::qr::qr_svg(&config).expect("fits").len();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "config QR code: p50 {:?}, p99 {:?}, {bytes} bytes of SVG",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}

async fn allocation_bench() {
    let dir = std::env::temp_dir().join(format!("tv-bench-alloc-{}", std::process::id()));
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.clone(),
        ..Config::default()
    };
    let app = Application::build(config).await.expect("app");
    let state = app.state.clone();
    let db = &state.db;
    let id =
        accounts::create_verified_user(db, "bench@example.com", "bench password 123", Role::Admin)
            .await
            .expect("user");
    sqlx::query("INSERT INTO vip_accounts (email, created_at) VALUES ('bench@example.com', 0)")
        .execute(&db.pool)
        .await
        .expect("vip");
    sqlx::query(
        "INSERT INTO vpn_servers (name, region, endpoint_host, endpoint_port, capacity, ipv4_pool, public_key, node_enrolled_at, created_at, updated_at) \
         VALUES ('bench', 'eu', '203.0.113.1', 51820, 1000000, '10.90.0.0/16', 'x', 1, 0, 0)",
    )
    .execute(&db.pool)
    .await
    .expect("server");
    let user = accounts_repo::find_by_id(db, id)
        .await
        .expect("q")
        .expect("user")
        .current();
    let measure = |label: &'static str| {
        let state = state.clone();
        let user = user.clone();
        async move {
            let mut times = Vec::new();
            for n in 0..500 {
                let input = devices::NewDevice {
                    name: format!("b{n}"),
                    public_key: None,
                    server_id: None,
                    region: None,
                    identity_region: None,
                    tunnel_mode: Default::default(),
                };
                let t = Instant::now();
                devices::create_device(&state, &user, input)
                    .await
                    .expect("create");
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "allocate+insert+render ({label}): p50 {:?}  p99 {:?}  ({} samples)",
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                times.len()
            );
        }
    };
    measure("empty /16 pool").await;
    // Fill the pool to 60,000 peers with plain inserts, as if they had been
    // allocated one by one (counter advanced past them).
    let t = Instant::now();
    let mut tx = db.pool.begin().await.expect("tx");
    for i in 0..60_000i64 {
        sqlx::query(
            "INSERT INTO devices (user_id, server_id, name, public_key, preshared_key_enc, v4_index, created_at, updated_at) \
             VALUES ($1, 1, 'fill', $2, 'x', $3, 0, 0)",
        )
        .bind(id)
        .bind(format!("fill-{i}"))
        .bind(600 + i)
        .execute(&mut *tx)
        .await
        .expect("fill");
    }
    sqlx::query("UPDATE vpn_servers SET next_v4_index = 60600")
        .execute(&mut *tx)
        .await
        .expect("counter");
    tx.commit().await.expect("commit");
    println!("(filled 60,000 peers in {:?})", t.elapsed());
    measure("60,000 peers in the /16").await;
    let _ = std::fs::remove_dir_all(dir);
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// wireguard-go in a namespace, once its control socket is up; returns the
/// process and the socket path (shared by all namespaces).
fn start_wireguard(ns: &str, iface: &str) -> (std::process::Child, String) {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "wireguard-go", "-f", iface])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wireguard-go");
    let sock = format!("/var/run/wireguard/{iface}.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&sock).exists() {
        assert!(Instant::now() < deadline, "wireguard-go did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, sock)
}

/// The whole `inet truevault` ruleset for 10,000 peers: every peer granted
/// its owner's home site, plus 1,000 port-level share rules, applied with
/// one `nft -f` (what the node agent does on every change).
fn nft_bench(ns: &str, iface: &str, cfg: &DesiredConfig) {
    if !sh(&["which", "nft"]) {
        println!("nft apply: skipped (needs nft)");
        return;
    }
    use truevault_wire::node::{DataPlane, Grant, Ports};
    let mut grants: Vec<Grant> = cfg
        .peers
        .iter()
        .enumerate()
        .map(|(i, p)| Grant {
            source: p.allowed_ips[0]
                .trim_end_matches("/32")
                .parse()
                .expect("addr"),
            destination: format!("10.240.{}.0/24", i % 4096 / 16)
                .parse()
                .expect("cidr"),
            ports: Ports::All,
        })
        .collect();
    grants.extend((0..1_000u32).map(|i| {
        Grant {
            source: format!("10.100.{}.{}", i / 256, i % 256)
                .parse()
                .expect("addr"),
            destination: format!("10.241.{}.{}/32", i / 256, i % 256)
                .parse()
                .expect("cidr"),
            ports: Ports::Tcp(vec![631, 443]),
        }
    }));
    let plane = DataPlane {
        egress: true,
        dns: vec!["10.100.0.1".parse().expect("dns")],
        grants,
    };
    let file = std::env::temp_dir().join(format!("tv-bench-{iface}.nft"));
    let mut times = Vec::new();
    for _ in 0..5 {
        let script = truevault_node::dataplane::render(iface, Some("lo"), &plane);
        std::fs::write(&file, script).expect("write");
        let t = Instant::now();
        assert!(
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "nft",
                "-f",
                &file.display().to_string()
            ]),
            "nft -f"
        );
        times.push(t.elapsed());
    }
    let _ = std::fs::remove_file(&file);
    times.sort();
    println!(
        "nft -f: whole ruleset for 10,000 peers + 1,000 share rules ({} set elements) applied in {:?} (median of 5, min {:?}, max {:?})",
        plane.grants.len() + 1_000,
        times[2],
        times[0],
        times[4]
    );
}

fn wireguard_bench() {
    if !sh(&["which", "wireguard-go"]) || !sh(&["ip", "netns", "list"]) {
        println!("wireguard-go apply: skipped (needs root, ip, wireguard-go, wg)");
        return;
    }
    let ns = format!("tvbench{}", std::process::id() % 100_000);
    let iface = format!("wgb{}", std::process::id() % 100_000);
    assert!(sh(&["ip", "netns", "add", &ns]), "ip netns add");
    let (mut wg, sock) = start_wireguard(&ns, &iface);
    let node = keys::generate_keypair();
    let mut cfg = DesiredConfig {
        version: 1,
        interface: InterfaceSettings {
            addresses: vec![],
            listen_port: 51999,
        },
        peers: (0..10_000u32)
            .map(|i| DesiredPeer {
                public_key: keys::generate_keypair().public,
                preshared_key: keys::generate_preshared_key(),
                allowed_ips: vec![format!(
                    "10.{}.{}.{}/32",
                    100 + i / 65_536,
                    (i / 256) % 256,
                    i % 256
                )],
                endpoint: None,
            })
            .collect(),
        data_plane: Default::default(),
    };
    nft_bench(&ns, &iface, &cfg);
    let file = std::env::temp_dir().join(format!("tv-bench-{iface}.conf"));
    let apply = |cfg: &DesiredConfig| {
        truevault::secrets::write_private(
            &file,
            render_syncconf(&node.private, cfg, &Default::default()).as_bytes(),
        )
        .expect("write");
        let t = Instant::now();
        assert!(
            sh(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "wg",
                "syncconf",
                &iface,
                &file.display().to_string()
            ]),
            "wg syncconf"
        );
        t.elapsed()
    };
    let full = apply(&cfg);
    let out = Command::new("ip")
        .args(["netns", "exec", &ns, "wg", "show", &iface, "peers"])
        .output()
        .expect("wg show");
    let count = String::from_utf8_lossy(&out.stdout).lines().count();
    println!("wg syncconf: 10,000 new peers applied in {full:?} ({count} peers on the interface)");
    cfg.peers[5_000].allowed_ips = vec!["10.200.0.1/32".into()];
    cfg.peers.push(DesiredPeer {
        public_key: keys::generate_keypair().public,
        preshared_key: keys::generate_preshared_key(),
        allowed_ips: vec!["10.200.0.2/32".into()],
        endpoint: None,
    });
    let mut small = Vec::new();
    for _ in 0..5 {
        small.push(apply(&cfg));
    }
    small.sort();
    println!(
        "wg syncconf: one change among 10,000 peers: median {:?}",
        small[2]
    );
    let _ = wg.kill();
    let _ = wg.wait();
    let _ = std::fs::remove_file(&file);
    sh(&["ip", "netns", "del", &ns]);
    let _ = std::fs::remove_file(&sock);
}

fn ns_exec(ns: &str, args: &[&str]) -> bool {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    sh(&full)
}

/// The portal on a veth address, the real node agent in a namespace with a
/// wireguard-go interface; each device is timed from its creation in the
/// portal until its peer shows on the node's interface.
async fn change_to_applied_bench() {
    if !sh(&["which", "wireguard-go"]) || !sh(&["ip", "netns", "list"]) {
        println!("change-to-applied: skipped (needs root, ip, wireguard-go, wg)");
        return;
    }
    let n = std::process::id() % 100_000;
    let (ns, iface, host_veth, node_veth) = (
        format!("tvlat{n}"),
        format!("wgl{n}"),
        format!("tvla{n}"),
        format!("tvlb{n}"),
    );
    let k = n % 200 + 20;
    assert!(sh(&["ip", "netns", "add", &ns]), "ip netns add");
    sh(&[
        "ip", "link", "add", &host_veth, "type", "veth", "peer", "name", &node_veth, "netns", &ns,
    ]);
    sh(&[
        "ip",
        "addr",
        "add",
        &format!("10.241.{k}.1/30"),
        "dev",
        &host_veth,
    ]);
    sh(&["ip", "link", "set", &host_veth, "up"]);
    ns_exec(
        &ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("10.241.{k}.2/30"),
            "dev",
            &node_veth,
        ],
    );
    ns_exec(&ns, &["ip", "link", "set", &node_veth, "up"]);
    ns_exec(&ns, &["ip", "link", "set", "lo", "up"]);

    let dir = std::env::temp_dir().join(format!("tv-bench-lat-{n}"));
    let config = Config {
        listen: ([10, 241, k as u8, 1], 0).into(),
        data_dir: dir.clone(),
        ..Config::default()
    };
    let app = Application::build(config).await.expect("app");
    let state = app.state.clone();
    let portal = state.config.public_url.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let db = &state.db;
    let id =
        accounts::create_verified_user(db, "lat@example.com", "bench password 123", Role::Admin)
            .await
            .expect("user");
    sqlx::query("INSERT INTO vip_accounts (email, created_at) VALUES ('lat@example.com', 0)")
        .execute(&db.pool)
        .await
        .expect("vip");
    let user = accounts_repo::find_by_id(db, id)
        .await
        .expect("q")
        .expect("user")
        .current();
    let form = truevault::vpn::model::ServerForm {
        name: "lat".into(),
        region: "eu".into(),
        country: String::new(),
        city: String::new(),
        endpoint_host: "10.241.0.9".into(),
        endpoint_port: "51821".into(),
        server_type: "shared".into(),
        vip_email: String::new(),
        capacity: "100000".into(),
        ipv4_pool: format!("10.242.{k}.0/24"),
        ipv6_pool: String::new(),
        dns: String::new(),
    };
    let (_, token) = servers::create_server(&state, &user, form)
        .await
        .expect("server");

    let (mut wg, sock) = start_wireguard(&ns, &iface);
    let state_dir = dir.join("node");
    let mut agent = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            env!("CARGO_BIN_EXE_truevault"),
            "node",
            "--portal",
            &portal,
            "--token",
            &token,
        ])
        .args([
            "--interface",
            &iface,
            "--state-dir",
            &state_dir.display().to_string(),
            "--stats-interval",
            "30",
            // The portal listens on a veth address of this lab, not loopback.
            "--allow-http",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !state_dir.join("node.json").exists() {
        assert!(Instant::now() < deadline, "the node agent did not enroll");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peers = || {
        Command::new("ip")
            .args(["netns", "exec", &ns, "wg", "show", &iface, "peers"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut times = Vec::new();
    for i in 0..200 {
        let key = keys::generate_keypair().public;
        let input = devices::NewDevice {
            name: format!("l{i}"),
            public_key: Some(key.clone()),
            server_id: None,
            region: None,
            identity_region: None,
            tunnel_mode: Default::default(),
        };
        let t = Instant::now();
        devices::create_device(&state, &user, input)
            .await
            .expect("create");
        let deadline = t + Duration::from_secs(10);
        while !peers().contains(&key) {
            assert!(Instant::now() < deadline, "peer {i} never applied");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "change-to-applied (create in portal → peer on the node's interface): p50 {:?}  p99 {:?}  max {:?}  ({} changes)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        times.len()
    );
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = wg.kill();
    let _ = wg.wait();
    sh(&["ip", "netns", "del", &ns]);
    sh(&["ip", "link", "del", &host_veth]);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    qr_bench();
    rt.block_on(allocation_bench());
    wireguard_bench();
    rt.block_on(change_to_applied_bench());
}
