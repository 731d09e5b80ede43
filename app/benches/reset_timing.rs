//! Password-reset timing (security finding 8): does the answer's time say
//! whether an address has an account? Posts `/api/auth/forgot` for an
//! existing and an unknown address, interleaved in random order, and prints
//! both latency distributions, their overlap and the Kolmogorov-Smirnov
//! distance. The portal answers before it looks the address up, so the two
//! should be the same distribution: overlap near 1, KS distance small.
//!
//! `cargo bench -p truevault --features ssr --bench reset_timing [-- N]`
//! (N requests per address, default 500). Figures from a shared machine are
//! noisy: the load average is printed with them.

use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use truevault::{
    accounts::{model::Role, service as accounts},
    config::Config,
    startup::Application,
};

const PASSWORD: &str = "correct horse battery staple";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Overlap coefficient of two samples over shared log-spaced bins: the
/// share of probability mass the two histograms have in common (1 = same).
fn overlap(a: &[f64], b: &[f64]) -> f64 {
    let lo = a[0].min(b[0]).max(1e-6).ln();
    let hi = a[a.len() - 1].max(b[b.len() - 1]).ln() + 1e-9;
    let bins = 40;
    let hist = |s: &[f64]| {
        let mut h = vec![0f64; bins];
        for x in s {
            let i = (((x.max(1e-6).ln() - lo) / (hi - lo)) * bins as f64) as usize;
            h[i.min(bins - 1)] += 1.0 / s.len() as f64;
        }
        h
    };
    let (ha, hb) = (hist(a), hist(b));
    ha.iter().zip(&hb).map(|(x, y)| x.min(*y)).sum()
}

/// Largest gap between the two empirical distribution functions.
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            i += 1;
        } else {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = std::env::temp_dir().join(format!("tv-bench-reset-{}", std::process::id()));
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.clone(),
        // Measuring the endpoint, not the per-address limit in front of it.
        auth_rate_per_minute: 1_000_000,
        ..Config::default()
    };
    let app = Application::build(config).await.expect("app");
    let state = app.state.clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    let origin = state.config.public_url_trimmed().to_string();
    tokio::spawn(app.run_until(std::future::pending()));
    accounts::create_verified_user(&state.db, "known@example.com", PASSWORD, Role::User)
        .await
        .expect("user");

    let client = reqwest::Client::new();
    let post = |email: &'static str| {
        let client = client.clone();
        let url = format!("{base}/api/auth/forgot");
        let origin = origin.clone();
        async move {
            let t = Instant::now();
            let res = client
                .post(url)
                .header("origin", origin)
                .form(&[("email", email)])
                .send()
                .await
                .expect("request");
            let status = res.status();
            let _ = res.bytes().await;
            assert!(status.is_success() || status.is_redirection(), "{status}");
            t.elapsed()
        }
    };
    // Warm-up: connections, statement caches, the blocking pool.
    for _ in 0..50 {
        post("known@example.com").await;
        post("nobody@example.com").await;
    }
    let mut order: Vec<bool> = (0..2 * n).map(|i| i % 2 == 0).collect();
    order.shuffle(&mut rand::thread_rng());
    let (mut known, mut unknown) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for is_known in order {
        if is_known {
            known.push(post("known@example.com").await);
        } else {
            unknown.push(post("nobody@example.com").await);
        }
    }
    let ms = |v: Vec<Duration>| {
        let mut v: Vec<f64> = v.into_iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (known, unknown) = (ms(known), ms(unknown));
    println!("password reset request, {n} per address, load {}", load());
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "ms", "p10", "p25", "p50", "p75", "p90", "p99"
    );
    for (label, s) in [("existing", &known), ("unknown", &unknown)] {
        println!(
            "{label:<10} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            percentile(s, 0.10),
            percentile(s, 0.25),
            percentile(s, 0.50),
            percentile(s, 0.75),
            percentile(s, 0.90),
            percentile(s, 0.99)
        );
    }
    println!(
        "overlap coefficient {:.2} (1 = the same distribution), KS distance {:.3}",
        overlap(&known, &unknown),
        ks(&known, &unknown)
    );
    let _ = std::fs::remove_dir_all(dir);
}
