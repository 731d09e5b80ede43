//! VPN figures (a bench binary that prints them):
//! 1. address allocation + device insert with 0 and 60,000 peers already
//!    in a /16 pool (SQLite file, the embedded default);
//! 2. applying 10,000 peers to a wireguard-go interface with `wg syncconf`
//!    (in a network namespace of its own; needs root, wireguard-go, wg),
//!    then changing one peer among them.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use truevault::{
    accounts::{model::Role, repo as accounts_repo, service as accounts},
    config::Config,
    nodes::agent::render_syncconf,
    startup::Application,
    vpn::{keys, service},
};
use truevault_wire::node::{DesiredConfig, DesiredPeer, InterfaceSettings};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
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
                let input = service::NewDevice {
                    name: format!("b{n}"),
                    public_key: None,
                    server_id: None,
                    region: None,
                    identity_region: None,
                };
                let t = Instant::now();
                service::create_device(&state, &user, input)
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

fn wireguard_bench() {
    if !sh(&["which", "wireguard-go"]) || !sh(&["ip", "netns", "list"]) {
        println!("wireguard-go apply: skipped (needs root, ip, wireguard-go, wg)");
        return;
    }
    let ns = format!("tvbench{}", std::process::id() % 100_000);
    let iface = format!("wgb{}", std::process::id() % 100_000);
    assert!(sh(&["ip", "netns", "add", &ns]), "ip netns add");
    let mut wg = Command::new("ip")
        .args(["netns", "exec", &ns, "wireguard-go", "-f", &iface])
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
            })
            .collect(),
    };
    let file = std::env::temp_dir().join(format!("tv-bench-{iface}.conf"));
    let apply = |cfg: &DesiredConfig| {
        truevault::secrets::write_private(&file, render_syncconf(&node.private, cfg).as_bytes())
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

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(allocation_bench());
    wireguard_bench();
}
