//! Relay cost figures: CPU and memory per stream for N simultaneous streams.
//!
//! `cargo run --release -p truevault-relay --bin relay-bench -- [SECS] [VIEWERS_PER_STREAM]`
//!
//! Each stream is a synthetic 30 fps camera at about 2 Mbit/s (a 60 KB key
//! frame every 30 frames, 6 KB otherwise), published into one `Hub`; each
//! viewer is a task draining its subscription, as a WebSocket writer would.
//! Everything runs on one thread, so the CPU share is per core.

use std::time::{Duration, Instant};

use bytes::Bytes;
use truevault_relay::{Hub, HubConfig, ViewerItem};

fn cpu_secs() -> f64 {
    // On-CPU time of this (the only) thread in ns: first field of schedstat;
    // finer than the 10 ms ticks of /proc/self/stat.
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn run(streams: usize, viewers: usize, secs: u64) {
    let (hub, _events) = Hub::new(HubConfig::default());
    let rss0 = rss_kib();
    let mut tasks = Vec::new();
    for cam in 0..streams as i64 {
        hub.publish_init(cam, Bytes::from(vec![0u8; 700])).ok();
        for _ in 0..viewers {
            let mut sub = hub.subscribe(cam);
            tasks.push(tokio::spawn(async move {
                let mut bytes = 0usize;
                while let Some(item) = sub.recv().await {
                    if let ViewerItem::Fragment { data, .. } = item {
                        bytes += data.len();
                    }
                }
                bytes
            }));
        }
    }
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(33_333));
    let mut frame = 0u64;
    let mut peak_rss = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let key = frame.is_multiple_of(30);
        for cam in 0..streams as i64 {
            let size = if key { 60_000 } else { 6_000 };
            hub.publish_fragment(cam, Bytes::from(vec![frame as u8; size]), key)
                .ok();
        }
        frame += 1;
        if frame.is_multiple_of(30) {
            peak_rss = peak_rss.max(rss_kib());
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let mem_kib = peak_rss.saturating_sub(rss0);
    let cpu_per_stream = cpu / wall / streams as f64;
    println!(
        "streams={streams:4} viewers/stream={viewers} frames={frame} cpu={:.1}% of a core \
         ({:.3}% per stream, {:.0} streams/core) mem={:.2} MiB ({:.3} MiB per stream)",
        100.0 * cpu / wall,
        100.0 * cpu_per_stream,
        if cpu_per_stream > 0.0 {
            1.0 / cpu_per_stream
        } else {
            f64::INFINITY
        },
        mem_kib as f64 / 1024.0,
        mem_kib as f64 / 1024.0 / streams as f64,
    );
    drop(hub);
    for t in tasks {
        t.abort();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let viewers = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    for streams in [1, 10, 100] {
        rt.block_on(run(streams, viewers, secs));
    }
}
