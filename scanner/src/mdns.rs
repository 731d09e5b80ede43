//! mDNS / DNS-SD browsing with `mdns-sd`, restricted to the scan interface.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnetwork::Ipv4Network;
use mdns_sd::{IfKind, Receiver, ServiceDaemon, ServiceEvent};

use crate::error::{Result, ScanError};
use crate::txt::{self, TxtInfo};

pub const META_QUERY: &str = "_services._dns-sd._udp.local.";

/// Types browsed even when a device doesn't answer the meta-query
/// (many don't list themselves there).
pub const COMMON_TYPES: &[&str] = &[
    "_http._tcp",
    "_https._tcp",
    "_rtsp._tcp",
    "_onvif._tcp",
    "_googlecast._tcp",
    "_airplay._tcp",
    "_raop._tcp",
    "_ipp._tcp",
    "_ipps._tcp",
    "_printer._tcp",
    "_pdl-datastream._tcp",
    "_scanner._tcp",
    "_hap._tcp",
    "_smb._tcp",
    "_afpovertcp._tcp",
    "_workstation._tcp",
    "_device-info._tcp",
    "_spotify-connect._tcp",
    "_sonos._tcp",
    "_amzn-wplay._tcp",
    "_ssh._tcp",
    "_sftp-ssh._tcp",
    "_companion-link._tcp",
    "_homekit._tcp",
    "_matter._tcp",
    "_nvstream._tcp",
];

/// Browsing every type a hostile host claims would be a cheap DoS.
const MAX_TYPES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnsService {
    pub ip: Ipv4Addr,
    /// `_http._tcp`
    pub kind: String,
    /// The instance name, e.g. `Living Room TV`.
    pub instance: String,
    pub port: u16,
    /// `name` of `name.local.`
    pub host: Option<String>,
    pub txt: TxtInfo,
}

fn mdns_err(e: mdns_sd::Error) -> ScanError {
    ScanError::Io(std::io::Error::other(format!("mDNS: {e}")))
}

/// `_http._tcp.local.` → `_http._tcp`; anything that isn't a service type
/// (`_x._tcp` or `_x._udp`) gives `None`.
pub fn service_kind(ty_domain: &str) -> Option<String> {
    let t = ty_domain.trim_end_matches('.');
    let t = t.strip_suffix(".local").unwrap_or(t);
    let mut parts = t.split('.');
    let (name, proto) = (parts.next()?, parts.next()?);
    let valid = parts.next().is_none()
        && name.len() > 1
        && name.len() <= 64
        && name.starts_with('_')
        && name[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && (proto == "_tcp" || proto == "_udp");
    valid.then(|| format!("{name}.{proto}"))
}

fn instance_name(fullname: &str, ty_domain: &str) -> String {
    let inst = fullname
        .strip_suffix(ty_domain)
        .map(|s| s.trim_end_matches('.'))
        .unwrap_or(fullname);
    txt::clean(inst).unwrap_or_default()
}

fn host_name(host: &str) -> Option<String> {
    let h = host.trim_end_matches('.');
    let h = h.strip_suffix(".local").unwrap_or(h);
    txt::clean(h)
}

/// Browses the meta-query and the common types on `iface` for `window`,
/// keeping services whose IPv4 address is in `network`.
pub fn browse(iface: &str, network: Ipv4Network, window: Duration) -> Result<Vec<MdnsService>> {
    let daemon = ServiceDaemon::new().map_err(mdns_err)?;
    // The selection is applied in order, last match wins.
    daemon
        .disable_interface(IfKind::All)
        .and_then(|_| daemon.enable_interface(IfKind::Name(iface.to_string())))
        .and_then(|_| daemon.disable_interface(IfKind::IPv6))
        .map_err(mdns_err)?;

    let result = browse_with(&daemon, network, window);
    // Shutdown says goodbye on the wire; don't wait for its confirmation.
    let _ = daemon.shutdown();
    result
}

fn browse_with(
    daemon: &ServiceDaemon,
    network: Ipv4Network,
    window: Duration,
) -> Result<Vec<MdnsService>> {
    let deadline = Instant::now() + window;
    let meta = daemon.browse(META_QUERY).map_err(mdns_err)?;
    let mut types: HashSet<String> = HashSet::new();
    let mut receivers: Vec<Receiver<ServiceEvent>> = Vec::new();
    for t in COMMON_TYPES {
        types.insert(t.to_string());
        receivers.push(daemon.browse(&format!("{t}.local.")).map_err(mdns_err)?);
    }
    let mut out: Vec<MdnsService> = Vec::new();
    while Instant::now() < deadline {
        let mut idle = true;
        while let Ok(ev) = meta.try_recv() {
            idle = false;
            if let ServiceEvent::ServiceFound(_, fullname) = ev {
                let Some(kind) = service_kind(&fullname) else {
                    continue;
                };
                if types.len() < MAX_TYPES && types.insert(kind.clone()) {
                    tracing::debug!(%kind, "browsing type from the meta-query");
                    receivers.push(daemon.browse(&format!("{kind}.local.")).map_err(mdns_err)?);
                }
            }
        }
        for rx in &receivers {
            while let Ok(ev) = rx.try_recv() {
                idle = false;
                let ServiceEvent::ServiceResolved(info) = ev else {
                    continue;
                };
                let Some(kind) = service_kind(&info.ty_domain) else {
                    continue;
                };
                let txt = txt::from_pairs(info.txt_properties.iter().map(|p| (p.key(), p.val())))
                    .unwrap_or_else(|e| {
                        tracing::debug!(fullname = %info.fullname, "TXT ignored: {e}");
                        TxtInfo::default()
                    });
                for ip in info.get_addresses_v4() {
                    if !network.contains(ip) {
                        continue;
                    }
                    let svc = MdnsService {
                        ip,
                        kind: kind.clone(),
                        instance: instance_name(&info.fullname, &info.ty_domain),
                        port: info.port,
                        host: host_name(&info.host),
                        txt: txt.clone(),
                    };
                    if !out.contains(&svc) {
                        out.push(svc);
                    }
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            service_kind("_http._tcp.local.").as_deref(),
            Some("_http._tcp")
        );
        assert_eq!(
            service_kind("_hap._udp.local").as_deref(),
            Some("_hap._udp")
        );
        assert_eq!(service_kind("x._http._tcp.local."), None);
        assert_eq!(service_kind("_http._sctp.local."), None);
        assert_eq!(service_kind("_ht tp._tcp.local."), None);
        assert_eq!(service_kind(""), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            instance_name(
                "Living Room._googlecast._tcp.local.",
                "_googlecast._tcp.local."
            ),
            "Living Room"
        );
        assert_eq!(host_name("cam-1.local.").as_deref(), Some("cam-1"));
    }
}
