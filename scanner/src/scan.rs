//! One scan: ARP (or the unprivileged fallback), mDNS and WS-Discovery side
//! by side, then port probes of the hosts found, then classification.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;
use truevault_wire::inventory::{ScannedHost, Service};

use crate::arp::{self, ArpConfig};
use crate::classify::{self, Facts};
use crate::error::{Result, ScanError};
use crate::mdns::{self, MdnsService};
use crate::net::{self, Mac, ScanTarget};
use crate::onvif::{self, CameraDetails, Credentials};
use crate::oui;
use crate::ports::{self, PortConfig};
use crate::sync::network_name;
use crate::wsd::{self, WsdDevice};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub iface: Option<String>,
    pub cidr: Option<String>,
    pub arp: ArpConfig,
    /// mDNS responders rate-limit their answers: browse at least 1.5 s.
    pub mdns_window: Duration,
    pub wsd_window: Duration,
    pub ports: PortConfig,
    pub camera: Option<Credentials>,
    pub mdns: bool,
    pub onvif: bool,
    pub probe_ports: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            iface: None,
            cidr: None,
            arp: ArpConfig::default(),
            mdns_window: Duration::from_millis(1600),
            wsd_window: Duration::from_millis(1600),
            ports: PortConfig::default(),
            camera: None,
            mdns: true,
            onvif: true,
            probe_ports: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Raw ARP sweep: every live host answers, so the scan is complete.
    Arp,
    /// No raw-socket privilege: TCP probes to fill the kernel neighbour table.
    NeighbourTable,
}

impl Method {
    /// How the hosts were found, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Method::Arp => "ARP sweep",
            Method::NeighbourTable => "TCP probes and the neighbour table (no raw socket)",
        }
    }
}

/// Starts a phase of the scan on the progress bar: its own label, count and
/// total (a phase never shows the previous one's numbers).
pub fn phase(bar: &ProgressBar, label: &'static str, total: u64) {
    bar.set_length(total);
    bar.set_position(0);
    bar.set_message(label);
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub arp_ms: u64,
    pub mdns_ms: u64,
    pub wsd_ms: u64,
    pub ports_ms: u64,
    pub onvif_ms: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub interface: String,
    pub network: String,
    pub method: Method,
    /// Whether the portal may mark devices missing here as offline.
    pub full_scan: bool,
    pub timings: Timings,
    pub hosts: Vec<ScannedHost>,
}

/// Ports the fallback knocks on to make the kernel resolve an address:
/// any answer, even a refusal, leaves a neighbour entry.
const FALLBACK_PORTS: &[u16] = &[80, 443, 22, 554, 445, 62078, 8080, 9100];

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

pub async fn run(opts: &ScanOptions, bar: &ProgressBar) -> Result<ScanReport> {
    let started = Instant::now();
    let target = net::resolve_target(opts.iface.as_deref(), opts.cidr.as_deref())?;
    let sweep = target.hosts();
    tracing::info!(
        iface = target.name(),
        network = %target.network,
        hosts = sweep.len(),
        "scanning"
    );

    // mDNS and WS-Discovery listen while the ARP sweep runs.
    let mdns_task = opts.mdns.then(|| {
        let (iface, network, window) =
            (target.name().to_string(), target.network, opts.mdns_window);
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            (mdns::browse(&iface, network, window), t.elapsed())
        })
    });
    let wsd_task = opts.onvif.then(|| {
        let (ip, window) = (target.our_ip, opts.wsd_window);
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            (wsd::probe(ip, window), t.elapsed())
        })
    });

    phase(bar, "ARP sweep", sweep.len() as u64);
    let arp_started = Instant::now();
    let arp_result = {
        let (t, s, cfg, bar) = (target.clone(), sweep.clone(), opts.arp.clone(), bar.clone());
        tokio::task::spawn_blocking(move || arp::sweep(&t, &s, &cfg, &|n| bar.set_position(n)))
            .await
            .map_err(|e| ScanError::Io(std::io::Error::other(e)))?
    };
    let (mut found, method) = match arp_result {
        Ok(found) => (found, Method::Arp),
        Err(e) if arp::is_permission_error(&e) => {
            tracing::warn!(
                "ARP sweep needs root or CAP_NET_RAW (sudo setcap cap_net_raw+ep $(which truevault-scanner)); \
                 falling back to TCP probes and the kernel neighbour table, which can miss quiet hosts"
            );
            phase(bar, "TCP probes (no raw socket)", 0);
            (
                fallback(&target, &sweep, opts, bar).await?,
                Method::NeighbourTable,
            )
        }
        Err(e) => return Err(e),
    };
    let arp_ms = ms(arp_started.elapsed());

    // Counted in listeners finished: they run for their window whatever we do.
    let (has_mdns, has_wsd) = (mdns_task.is_some(), wsd_task.is_some());
    let listeners = u64::from(has_mdns) + u64::from(has_wsd);
    phase(bar, "mDNS, WS-Discovery", listeners);
    let (mdns_found, mdns_ms) = match mdns_task {
        Some(t) => match t.await {
            Ok((Ok(v), d)) => (v, ms(d)),
            Ok((Err(e), d)) => {
                tracing::warn!("mDNS browse failed: {e}");
                (Vec::new(), ms(d))
            }
            Err(e) => {
                tracing::warn!("mDNS task: {e}");
                (Vec::new(), 0)
            }
        },
        None => (Vec::new(), 0),
    };
    if has_mdns {
        bar.inc(1);
    }
    let (wsd_found, wsd_ms) = match wsd_task {
        Some(t) => match t.await {
            Ok((Ok(v), d)) => (v, ms(d)),
            Ok((Err(e), d)) => {
                tracing::warn!("WS-Discovery probe failed: {e}");
                (Vec::new(), ms(d))
            }
            Err(e) => {
                tracing::warn!("WS-Discovery task: {e}");
                (Vec::new(), 0)
            }
        },
        None => (Vec::new(), 0),
    };
    if has_wsd {
        bar.inc(1);
    }

    // Hosts that only spoke multicast: their MAC is in the neighbour table
    // once we've talked to them, which the port probes below do anyway;
    // look them up after the probes.
    let extra: Vec<Ipv4Addr> = mdns_found
        .iter()
        .map(|s| s.ip)
        .chain(wsd_found.iter().map(|d| d.from))
        .filter(|ip| {
            target.network.contains(*ip) && *ip != target.our_ip && !found.contains_key(ip)
        })
        .collect();

    let mut probe_ips: Vec<Ipv4Addr> = found.keys().copied().chain(extra.iter().copied()).collect();
    probe_ips.sort_unstable();
    probe_ips.dedup();
    let probes = if opts.probe_ports {
        probe_ips.len() * opts.ports.ports.len()
    } else {
        0
    };
    phase(bar, "port probes", probes as u64);
    let ports_started = Instant::now();
    let port_results = {
        let bar = bar.clone();
        let ips = if opts.probe_ports {
            &probe_ips[..]
        } else {
            &[]
        };
        ports::probe(ips, &opts.ports, Arc::new(move || bar.inc(1))).await
    };
    let ports_ms = ms(ports_started.elapsed());

    if !extra.is_empty() {
        if let Ok(text) = std::fs::read_to_string("/proc/net/arp") {
            for (ip, mac) in net::parse_proc_arp(&text, target.name()) {
                if extra.contains(&ip) {
                    found.entry(ip).or_insert(mac);
                }
            }
        }
        for ip in extra.iter().filter(|ip| !found.contains_key(ip)) {
            tracing::info!(%ip, "announced itself but has no MAC we could learn; not listed");
        }
    }

    let asked = if opts.camera.is_some() {
        wsd_found.len()
    } else {
        0
    };
    phase(bar, "ONVIF camera details", asked as u64);
    let onvif_started = Instant::now();
    let details = match &opts.camera {
        Some(creds) => camera_details(&wsd_found, creds, bar).await,
        None => HashMap::new(),
    };
    let onvif_ms = ms(onvif_started.elapsed());

    let hosts = assemble(
        &target,
        &found,
        &mdns_found,
        &wsd_found,
        &port_results,
        &details,
    );
    let timings = Timings {
        arp_ms,
        mdns_ms,
        wsd_ms,
        ports_ms,
        onvif_ms,
        total_ms: ms(started.elapsed()),
    };
    Ok(ScanReport {
        interface: target.name().to_string(),
        network: network_name(target.network),
        method,
        full_scan: method == Method::Arp,
        timings,
        hosts,
    })
}

async fn fallback(
    target: &ScanTarget,
    sweep: &[Ipv4Addr],
    opts: &ScanOptions,
    bar: &ProgressBar,
) -> Result<HashMap<Ipv4Addr, Mac>> {
    let cfg = PortConfig {
        ports: FALLBACK_PORTS.to_vec(),
        concurrency: opts.ports.concurrency.max(64),
        timeout: Duration::from_millis(300),
    };
    phase(
        bar,
        "TCP probes (no raw socket)",
        (sweep.len() * cfg.ports.len()) as u64,
    );
    let b = bar.clone();
    ports::probe(sweep, &cfg, Arc::new(move || b.inc(1))).await;
    let text = std::fs::read_to_string("/proc/net/arp")
        .map_err(|e| ScanError::NoPermission(format!("reading /proc/net/arp: {e}")))?;
    Ok(net::parse_proc_arp(&text, target.name())
        .into_iter()
        .filter(|(ip, _)| target.network.contains(*ip) && *ip != target.our_ip)
        .collect())
}

async fn camera_details(
    found: &[WsdDevice],
    creds: &Credentials,
    bar: &ProgressBar,
) -> HashMap<Ipv4Addr, CameraDetails> {
    let mut set = tokio::task::JoinSet::new();
    for d in found {
        // Prefer the XAddr on the address that answered: cameras also list
        // link-local or stale addresses.
        let from = d.from.to_string();
        let Some(xaddr) = d
            .found
            .xaddrs
            .iter()
            .find(|x| x.contains(&from))
            .or_else(|| d.found.xaddrs.first())
            .cloned()
        else {
            continue;
        };
        let (ip, creds) = (d.from, creds.clone());
        set.spawn(async move {
            (
                ip,
                onvif::query(&xaddr, &creds, Duration::from_secs(5)).await,
            )
        });
    }
    let mut out = HashMap::new();
    while let Some(r) = set.join_next().await {
        bar.inc(1);
        match r {
            Ok((ip, Ok(mut d))) => {
                d.stream_url = d.stream_url.map(|u| fix_stream_host(&u, ip));
                out.insert(ip, d);
            }
            Ok((ip, Err(e))) => tracing::warn!(%ip, "camera query failed: {e}"),
            Err(e) => tracing::warn!("camera query task: {e}"),
        }
    }
    out
}

/// Some cameras report their stream on 127.0.0.1 or 0.0.0.0 (and the
/// oxvif mock does too); the address that answered is the one to use.
pub fn fix_stream_host(uri: &str, ip: Ipv4Addr) -> String {
    let Ok(mut u) = url::Url::parse(uri) else {
        return uri.to_string();
    };
    let bad = match u.host() {
        Some(url::Host::Ipv4(h)) => h.is_loopback() || h.is_unspecified(),
        // rtsp is not a "special" scheme: its host stays an opaque string.
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.parse::<Ipv4Addr>()
                    .is_ok_and(|h| h.is_loopback() || h.is_unspecified())
        }
        _ => false,
    };
    if bad && u.set_host(Some(&ip.to_string())).is_ok() {
        return u.to_string();
    }
    uri.to_string()
}

fn xaddr_port(xaddr: &str) -> Option<u16> {
    let u = url::Url::parse(xaddr).ok()?;
    u.port_or_known_default()
}

/// Merges what each step saw into one record per (IP, MAC).
pub fn assemble(
    target: &ScanTarget,
    found: &HashMap<Ipv4Addr, Mac>,
    mdns_found: &[MdnsService],
    wsd_found: &[WsdDevice],
    ports: &BTreeMap<Ipv4Addr, ports::PortResult>,
    details: &HashMap<Ipv4Addr, CameraDetails>,
) -> Vec<ScannedHost> {
    let mut ips: Vec<&Ipv4Addr> = found.keys().collect();
    ips.sort_unstable();
    let mut hosts = Vec::with_capacity(ips.len());
    for ip in ips {
        let mac = found[ip];
        let svcs: Vec<&MdnsService> = mdns_found.iter().filter(|s| s.ip == *ip).collect();
        let wsd: Vec<&WsdDevice> = wsd_found.iter().filter(|d| d.from == *ip).collect();
        let open_ports = ports.get(ip).map(|p| p.open.clone()).unwrap_or_default();
        let detail = details.get(ip);
        let randomized = mac.is_randomized();
        let vendor = oui::vendor(&mac).map(str::to_string);

        let mut services: Vec<Service> = Vec::new();
        for s in &svcs {
            let svc = Service {
                kind: s.kind.clone(),
                name: Some(s.instance.clone()).filter(|n| !n.is_empty()),
                port: Some(s.port),
            };
            if !services.contains(&svc) {
                services.push(svc);
            }
        }
        for d in &wsd {
            services.push(Service {
                kind: "onvif".into(),
                name: d.found.scope("name"),
                port: d.found.xaddrs.first().and_then(|x| xaddr_port(x)),
            });
        }
        services.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));

        // Device-level names beat service-level ones.
        let hostname = svcs
            .iter()
            .filter_map(|s| s.host.clone())
            .next()
            .or_else(|| wsd.iter().find_map(|d| d.found.scope("name")));
        let model = detail
            .and_then(|d| d.model.clone())
            .or_else(|| wsd.iter().find_map(|d| d.found.scope("hardware")))
            .or_else(|| svcs.iter().find_map(|s| s.txt.model.clone()));
        let onvif = wsd.iter().any(|d| d.found.is_video());
        let kinds: Vec<&str> = services.iter().map(|s| s.kind.as_str()).collect();
        let facts = Facts {
            vendor: vendor
                .as_deref()
                .or_else(|| detail.and_then(|d| d.manufacturer.as_deref())),
            randomized_mac: randomized,
            hostname: hostname.as_deref(),
            model: model.as_deref(),
            services: kinds,
            open_ports: &open_ports,
            onvif,
            is_gateway: target.gateway == Some(*ip),
        };
        let device_type = classify::device_type(&facts);
        let is_camera = device_type == truevault_wire::inventory::DeviceType::Camera;
        let stream_url = if is_camera {
            detail.and_then(|d| d.stream_url.clone()).or_else(|| {
                classify::camera_vendor(&facts).map(|v| classify::stream_url(v, *ip, &open_ports))
            })
        } else {
            None
        };
        hosts.push(ScannedHost {
            mac: mac.to_string(),
            ip: ip.to_string(),
            hostname,
            vendor,
            model,
            randomized_mac: randomized,
            device_type,
            is_camera,
            stream_url,
            services,
            open_ports,
        });
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_stream_hosts_are_replaced() {
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(
            fix_stream_host("rtsp://127.0.0.1:554/mock/stream", ip),
            "rtsp://10.0.0.2:554/mock/stream"
        );
        assert_eq!(
            fix_stream_host("rtsp://10.0.0.9/live", ip),
            "rtsp://10.0.0.9/live"
        );
        assert_eq!(fix_stream_host("not a url", ip), "not a url");
    }

    #[test]
    fn each_phase_shows_its_own_count() {
        let bar = ProgressBar::hidden();
        phase(&bar, "ARP sweep", 253);
        bar.set_position(253);
        phase(&bar, "port probes", 216);
        assert_eq!((bar.position(), bar.length()), (0, Some(216)));
        assert_eq!(bar.message(), "port probes");
        assert_eq!(Method::Arp.describe(), "ARP sweep");
    }
}
