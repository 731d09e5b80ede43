//! TCP connect probes of the ports that tell device kinds apart.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Ports probed on every host, chosen because each points at a device kind.
pub const TELLING_PORTS: &[u16] = &[
    22,    // SSH: computers, NAS, Raspberry Pi
    80,    // HTTP: routers, cameras, printers
    443,   // HTTPS
    445,   // SMB: Windows, NAS
    515,   // LPD printers
    548,   // AFP: Macs, NAS
    554,   // RTSP: cameras
    631,   // IPP printers
    1400,  // Sonos
    2020,  // TP-Link Tapo ONVIF
    5000,  // Synology DSM
    7000,  // AirPlay
    8000,  // Hikvision SDK, misc HTTP
    8008,  // Chromecast
    8009,  // Chromecast
    8060,  // Roku ECP
    8080,  // HTTP alt
    8081,  // HTTP alt
    8443,  // HTTPS alt
    8554,  // RTSP alt
    9100,  // JetDirect printers
    34567, // XMeye DVR/cameras
    37777, // Dahua SDK
    62078, // iPhone lockdownd
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortResult {
    pub open: Vec<u16>,
    /// Some port answered at all (open or refused): the host is up.
    pub alive: bool,
}

#[derive(Debug, Clone)]
pub struct PortConfig {
    pub ports: Vec<u16>,
    pub concurrency: usize,
    pub timeout: Duration,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            ports: TELLING_PORTS.to_vec(),
            concurrency: 128,
            timeout: Duration::from_millis(400),
        }
    }
}

/// Probes every (host, port) pair, at most `concurrency` at a time.
/// `on_done` is called once per finished probe (for the progress bar).
pub async fn probe(
    hosts: &[Ipv4Addr],
    cfg: &PortConfig,
    on_done: Arc<dyn Fn() + Send + Sync>,
) -> BTreeMap<Ipv4Addr, PortResult> {
    let sem = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for ip in hosts {
        for port in &cfg.ports {
            let (ip, port, sem, timeout, on_done) =
                (*ip, *port, sem.clone(), cfg.timeout, on_done.clone());
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let addr = SocketAddr::from((ip, port));
                let r = tokio::time::timeout(timeout, TcpStream::connect(addr)).await;
                on_done();
                let (open, alive) = match r {
                    Ok(Ok(_)) => (true, true),
                    Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => (false, true),
                    _ => (false, false),
                };
                (ip, port, open, alive)
            });
        }
    }
    let mut out: BTreeMap<Ipv4Addr, PortResult> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let Ok((ip, port, open, alive)) = r else {
            continue;
        };
        let e = out.entry(ip).or_default();
        e.alive |= alive;
        if open {
            e.open.push(port);
        }
    }
    for r in out.values_mut() {
        r.open.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_an_open_loopback_port() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let cfg = PortConfig {
            ports: vec![port],
            concurrency: 4,
            timeout: Duration::from_millis(500),
        };
        let r = probe(&[Ipv4Addr::LOCALHOST], &cfg, Arc::new(|| {})).await;
        assert_eq!(r[&Ipv4Addr::LOCALHOST].open, vec![port]);
        drop(l);
        let r = probe(&[Ipv4Addr::LOCALHOST], &cfg, Arc::new(|| {})).await;
        assert!(r[&Ipv4Addr::LOCALHOST].open.is_empty());
        assert!(r[&Ipv4Addr::LOCALHOST].alive, "refused means up");
    }
}
