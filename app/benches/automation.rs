//! Billing and inventory figures (a bench binary that prints them), on the
//! embedded default (a SQLite file) or on PostgreSQL when
//! `TRUEVAULT_BENCH_PG_URL` names a server (a fresh database is made):
//! 1. scheduler lag with 10,000 steps due at once: time until 50 %, 99 %
//!    and all of them have run (the portal's own worker plus a second one);
//! 2. Stripe webhook throughput over HTTP: signed events posted by 16
//!    concurrent clients, each verified, parsed and recorded once;
//! 3. one scanner sync of 1,000 devices into an empty inventory, then the
//!    same scan again (nothing changed), and the statements each needs.

mod support;

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use truevault::{
    accounts::{model::Role, service as accounts},
    inventory::{rules, service as inventory},
    jobs,
    secrets::SecretString,
    state::AppState,
};
use truevault_wire::inventory::{DeviceType, ScannedHost, Service, SyncRequest};

const SECRET: &str = "whsec_bench_only";

async fn app() -> (AppState, String) {
    let state = support::app("auto", |config| {
        config.billing.stripe_secret_key = Some(SecretString::new("sk_bench_not_real"));
        config.billing.stripe_webhook_secret = Some(SecretString::new(SECRET));
        if config.database_url.is_some() {
            config.db_max_connections = 32;
        }
    })
    .await;
    let url = state.config.public_url.clone();
    (state, url)
}

async fn scheduler_lag(state: &AppState, user_id: i64) {
    let n = 10_000;
    let now = state.clock.now();
    for chunk in 0..(n / 500) {
        let values: Vec<String> = (0..500)
            .map(|_| format!("('signup', 'tips', {user_id}, NULL, {now}, {now})"))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO jobs (workflow, step, user_id, subscription_id, due_at, created_at) VALUES {}",
            values.join(",")
        ))
        .execute(&state.db.pool)
        .await
        .expect("insert");
        let _ = chunk;
    }
    let start = Instant::now();
    state.jobs_changed.notify_waiters();
    let second = state.clone();
    let helper = tokio::spawn(async move { jobs::run_due(&second, "bench-2").await });
    let (mut p50, mut p99) = (None, None);
    loop {
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .fetch_one(&state.db.pool)
            .await
            .expect("count");
        if p50.is_none() && done >= n / 2 {
            p50 = Some(start.elapsed());
        }
        if p99.is_none() && done >= n * 99 / 100 {
            p99 = Some(start.elapsed());
        }
        if done >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = start.elapsed();
    let _ = helper.await;
    println!(
        "scheduler, {n} steps due at once (each renders and stores a mail): lag p50 {:.2} s, p99 {:.2} s, all {:.2} s ({:.0} steps/s)",
        p50.unwrap_or(all).as_secs_f64(),
        p99.unwrap_or(all).as_secs_f64(),
        all.as_secs_f64(),
        n as f64 / all.as_secs_f64()
    );
}

fn sign(body: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn webhook_throughput(state: &AppState, url: &str) {
    let n = 4_000;
    let clients = 16;
    let client = reqwest::Client::new();
    let now = state.clock.now();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let url = format!("{url}/api/v1/billing/webhooks/stripe");
        tasks.push(tokio::spawn(async move {
            for i in (c..n).step_by(clients) {
                // A realistic ~1 KB event the portal acknowledges without
                // acting on it (customer updates are not ours to apply).
                let body = serde_json::json!({
                    "id": format!("evt_bench_{i}"), "object": "event", "type": "customer.updated", "created": now,
                    "data": { "object": { "id": format!("cus_{i}"), "object": "customer", "email": "bench@example.com",
                        "metadata": { "note": "x".repeat(700) } } }
                })
                .to_string();
                let res = client
                    .post(&url)
                    .header("stripe-signature", sign(&body, now))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("post");
                assert!(res.status().is_success(), "{}", res.status());
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let secs = start.elapsed().as_secs_f64();
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events")
        .fetch_one(&state.db.pool)
        .await
        .expect("count");
    assert_eq!(recorded, n as i64);
    println!(
        "stripe webhooks over HTTP ({clients} clients, verify + parse + record once): {n} events in {secs:.2} s = {:.0} events/s",
        n as f64 / secs
    );
}

async fn inventory_sync(state: &AppState, user_id: i64) {
    let hosts: Vec<ScannedHost> = (0..1000)
        .map(|i| ScannedHost {
            mac: format!("44:19:b6:00:{:02x}:{:02x}", i / 256, i % 256),
            ip: format!("10.{}.{}.{}", 20 + i / 65_536, (i / 256) % 256, i % 256),
            hostname: Some(format!("host-{i}")),
            vendor: Some("Hikvision".into()),
            device_type: DeviceType::Camera,
            is_camera: true,
            services: vec![Service {
                kind: "_rtsp._tcp".into(),
                name: None,
                port: Some(554),
            }],
            open_ports: vec![80, 554],
            ..Default::default()
        })
        .collect();
    let req = SyncRequest {
        full_scan: true,
        network: "10.20.0.0/22".into(),
        agent: "bench".into(),
        hosts,
    };
    let token_id: i64 = {
        let t = inventory::create_token(state, user_id, "bench")
            .await
            .expect("token");
        inventory::authenticate(state, &t.token)
            .await
            .expect("auth")
            .0
    };
    for label in ["first sync (1,000 new)", "same scan again (1,000 seen)"] {
        let start = Instant::now();
        let summary = inventory::sync(state, token_id, user_id, &req)
            .await
            .expect("sync");
        println!(
            "inventory {label}: {:.1} ms (new {}, updated {})",
            start.elapsed().as_secs_f64() * 1000.0,
            summary.new,
            summary.updated
        );
    }
    let chunks = 1000_usize.div_ceil(200);
    println!(
        "inventory statements per 1,000-device sync: first {} (lock, read, {chunks} multi-row inserts, {chunks} event inserts, token), again {} (lock, read, {chunks} batched touches, token); rules::MAX_DEVICES_PER_USER = {}",
        3 + 2 * chunks,
        3 + chunks,
        rules::MAX_DEVICES_PER_USER
    );
}

#[tokio::main]
async fn main() {
    let (state, url) = app().await;
    println!("engine: {:?}", state.db.engine);
    let user_id = accounts::create_verified_user(
        &state.db,
        "bench@example.com",
        "bench password 123",
        Role::User,
    )
    .await
    .expect("user");
    inventory_sync(&state, user_id).await;
    webhook_throughput(&state, &url).await;
    scheduler_lag(&state, user_id).await;
}
