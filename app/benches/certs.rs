//! Personal certificate figures (a bench binary that prints them), on a
//! SQLite file or on PostgreSQL when `TRUEVAULT_BENCH_PG_URL` names a
//! server:
//! 1. issue latency, p50/p99 over 200 issues each: from a CSR (signature
//!    check, claims, the write transaction, signing) and with a key made on
//!    the server (plus the PKCS#12 file);
//! 2. CRL regeneration with 10,000 revoked certificates (read, sign, store),
//!    median of 5.

mod support;

use std::time::{Duration, Instant};

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use truevault::{
    accounts::{model::Role, repo as accounts_repo, service as accounts},
    certs::{
        model::CaId,
        rules::{CertForm, ValidCert},
        server_fns::pki,
        service,
    },
    state::AppState,
};

async fn app() -> AppState {
    support::app("certs", |_| {}).await
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn csr() -> String {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    CertificateParams::default()
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

#[tokio::main]
async fn main() {
    let state = app().await;
    let email = "bench@example.com";
    accounts::create_verified_user(&state.db, email, "correct horse battery staple", Role::User)
        .await
        .expect("user");
    // A VIP: no limit on live certificates.
    sqlx::query("INSERT INTO vip_accounts (email, note, created_at) VALUES ($1, '', 0)")
        .bind(email)
        .execute(&state.db.pool)
        .await
        .expect("vip");
    let user = accounts_repo::find_by_email(&state.db, email)
        .await
        .unwrap()
        .unwrap()
        .current();
    let pki = pki(&state);
    let n = 200;
    for (label, server_key) in [("CSR", false), ("server key + PKCS#12", true)] {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let form = CertForm {
                name: format!("bench {i}"),
                kind: "device".into(),
                names: String::new(),
                csr: if server_key { String::new() } else { csr() },
                password: if server_key {
                    "bench password".into()
                } else {
                    String::new()
                },
            };
            let start = Instant::now();
            let valid = ValidCert::try_from(form).expect("valid");
            service::issue(&pki, &user, valid).await.expect("issue");
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "issue ({label}), {n} issues: p50 {:.2} ms, p99 {:.2} ms",
            pct(&times, 0.5).as_secs_f64() * 1e3,
            pct(&times, 0.99).as_secs_f64() * 1e3
        );
    }

    let ca: i64 = sqlx::query_scalar("SELECT id FROM cert_authorities WHERE user_id = $1")
        .bind(user.id)
        .fetch_one(&state.db.pool)
        .await
        .expect("ca");
    let now = state.clock.now();
    let revoked = 10_000;
    for chunk in 0..(revoked / 500) {
        let values: Vec<String> = (0..500)
            .map(|i| {
                let serial = format!("{:032x}", 0x4000_0000_0000_0000_0000_0000_0000_0000u128 + (chunk * 500 + i) as u128);
                format!("({ca}, {}, 'revoked {i}', 'device', 'csr', '{serial}', '', '', '', {now}, {}, {now}, {now})", user.id, now + 365 * 86_400)
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO certificates (ca_id, user_id, name, kind, key_origin, serial, names, spki_b64, cert_pem, not_before, not_after, revoked_at, created_at) VALUES {}",
            values.join(",")
        ))
        .execute(&state.db.pool)
        .await
        .expect("insert revoked");
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        service::crl_refresh(&pki, CaId(ca)).await.expect("crl");
        times.push(start.elapsed());
    }
    times.sort();
    let size: usize =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT crl_der FROM cert_authorities WHERE id = $1")
            .bind(ca)
            .fetch_one(&state.db.pool)
            .await
            .expect("crl")
            .len();
    println!(
        "CRL regeneration with {revoked} revoked: median {:.1} ms (min {:.1}, max {:.1}), {} KiB",
        times[2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[4].as_secs_f64() * 1e3,
        size / 1024
    );
}
