//! Webhook handling throughput in this crate: `Stripe-Signature`
//! verification + event parsing of a typical ~3 KB Stripe event, single
//! thread. Prints events/s.
//!
//! cargo bench -p truevault-payments --bench webhook_throughput
//!
//! (A plain timing loop rather than criterion: one figure is wanted, and it
//! keeps the dependency tree small on a shared 2-core machine.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use truevault_payments::stripe;

const SECRET: &str = "whsec_bench_not_a_real_secret";
const TARGET_LEN: usize = 3 * 1024;

/// The invoice.paid fixture, padded with a realistic-looking line item
/// description up to 3 KiB (real invoice.paid events are 3–6 KB).
fn event() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stripe_invoice_paid.json"
    );
    let raw = std::fs::read(path).expect("fixture");
    let mut v: serde_json::Value = serde_json::from_slice(&raw).expect("fixture is JSON");
    let base = serde_json::to_vec(&v).expect("serialise").len();
    let pad = TARGET_LEN.saturating_sub(base + r#","footer":"""#.len());
    v["data"]["object"]["footer"] = serde_json::Value::String("x".repeat(pad));
    serde_json::to_vec(&v).expect("serialise")
}

fn run(name: &str, body_len: usize, mut f: impl FnMut()) -> f64 {
    // Warm up, then time whole batches for at least 3 s.
    for _ in 0..10_000 {
        f();
    }
    let mut n: u64 = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        for _ in 0..1_000 {
            f();
        }
        n += 1_000;
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!(
        "{name:<28} {rate:>10.0} events/s  {:>6.2} µs/event  ({:.0} MB/s of body)",
        1e6 / rate,
        rate * body_len as f64 / 1e6
    );
    rate
}

fn main() {
    let body = event();
    let now = 1_735_689_705;
    let header = stripe::signature_header(SECRET, now, &body);
    stripe::verify_signature(SECRET, &header, &body, now).expect("bench event verifies");
    stripe::parse_event(&body).expect("bench event parses");
    println!("Stripe invoice.paid event: {} bytes", body.len());
    // `cargo bench` passes --bench; under `cargo test --all-targets` this
    // binary runs without it: the checks above are the smoke test, skip
    // the seconds of timing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    run("verify_signature", body.len(), || {
        black_box(stripe::verify_signature(
            SECRET,
            black_box(&header),
            black_box(&body),
            now,
        ))
        .ok();
    });
    run("parse_event", body.len(), || {
        black_box(stripe::parse_event(black_box(&body))).ok();
    });
    let rate = run("verify + parse", body.len(), || {
        stripe::verify_signature(SECRET, black_box(&header), black_box(&body), now).ok();
        black_box(stripe::parse_event(black_box(&body))).ok();
    });
    println!("webhook throughput (verify + parse, 1 thread): {rate:.0} events/s");
}
