//! Pure inventory rules: what a scanner may send, and what one scan changes
//! in what we knew. No database here, so every rule is tested directly.

use std::{collections::HashMap, net::IpAddr};

use truevault_wire::inventory::{
    DeviceType, ScannedHost, Service, SyncRequest, SyncSummary, MAX_HOSTS, MAX_PORTS, MAX_SERVICES,
    MAX_TEXT,
};

/// A user's inventory never grows past this, whatever agents send.
pub const MAX_DEVICES_PER_USER: usize = 4096;

/// A host that passed validation, normalised as we store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub mac: String,
    pub ip: String,
    pub hostname: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub randomized_mac: bool,
    pub device_type: DeviceType,
    pub is_camera: bool,
    pub stream_url: Option<String>,
    /// JSON, as stored.
    pub services: String,
    pub open_ports: String,
}

/// What the portal already holds for one of the user's devices.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Known {
    pub id: i64,
    pub mac: String,
    pub ip: String,
    #[sqlx(try_from = "crate::typed::Flag")]
    pub online: bool,
    pub hostname: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    #[sqlx(try_from = "crate::typed::Flag")]
    pub randomized_mac: bool,
    pub device_type: String,
    #[sqlx(try_from = "crate::typed::Flag")]
    pub is_camera: bool,
    pub stream_url: Option<String>,
    pub services: String,
    pub open_ports: String,
}

impl Known {
    fn same_facts(&self, h: &Host) -> bool {
        self.ip == h.ip
            && self.hostname == h.hostname
            && self.vendor == h.vendor
            && self.model == h.model
            && self.randomized_mac == h.randomized_mac
            && self.device_type == h.device_type.as_str()
            && self.is_camera == h.is_camera
            && self.stream_url == h.stream_url
            && self.services == h.services
            && self.open_ports == h.open_ports
    }
}

/// The writes one sync needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub insert: Vec<Host>,
    /// Seen again with different facts: (id, new facts, old IP if it moved, was offline).
    pub update: Vec<(i64, Host, Option<String>, bool)>,
    /// Seen again, nothing changed: only `last_seen` moves (and `online` if it was off).
    pub touch: Vec<i64>,
    /// Of `touch`, those that come back online.
    pub back_online: Vec<i64>,
    pub offline: Vec<i64>,
    pub summary: SyncSummary,
}

/// Checks a sync payload and normalises it; the first problem is the error.
pub fn validate(req: &SyncRequest) -> Result<Vec<Host>, String> {
    if req.hosts.len() > MAX_HOSTS {
        return Err(format!(
            "A sync may hold at most {MAX_HOSTS} hosts ({} sent).",
            req.hosts.len()
        ));
    }
    if req.network.chars().count() > 64 || req.agent.chars().count() > MAX_TEXT {
        return Err("network or agent is too long.".into());
    }
    let mut seen = HashMap::with_capacity(req.hosts.len());
    let mut hosts = Vec::with_capacity(req.hosts.len());
    for (i, h) in req.hosts.iter().enumerate() {
        let host = validate_host(h).map_err(|e| format!("hosts[{i}]: {e}"))?;
        if seen.insert(host.mac.clone(), i).is_some() {
            return Err(format!("hosts[{i}]: MAC {} appears twice.", host.mac));
        }
        hosts.push(host);
    }
    Ok(hosts)
}

fn validate_host(h: &ScannedHost) -> Result<Host, String> {
    let mac = normalize_mac(&h.mac).ok_or_else(|| format!("{:?} is not a MAC address", h.mac))?;
    let ip: IpAddr =
        h.ip.trim()
            .parse()
            .map_err(|_| format!("{:?} is not an IP address", h.ip))?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(format!("{ip} is not a host address"));
    }
    let stream_url = text("stream_url", &h.stream_url)?;
    if let Some(u) = &stream_url {
        let lower = u.to_ascii_lowercase();
        if !["rtsp://", "rtsps://", "http://", "https://"]
            .iter()
            .any(|s| lower.starts_with(s))
        {
            return Err("stream_url must be an rtsp:// or http(s):// URL".into());
        }
    }
    if h.services.len() > MAX_SERVICES {
        return Err(format!("at most {MAX_SERVICES} services"));
    }
    let mut services: Vec<Service> = Vec::with_capacity(h.services.len());
    for s in &h.services {
        let kind = s.kind.trim();
        if kind.is_empty() || kind.chars().count() > 64 || kind.chars().any(char::is_control) {
            return Err("a service kind must be 1 to 64 printable characters".into());
        }
        let svc = Service {
            kind: kind.to_string(),
            name: text("service name", &s.name)?,
            port: s.port.filter(|p| *p != 0),
        };
        if !services.contains(&svc) {
            services.push(svc);
        }
    }
    if h.open_ports.len() > MAX_PORTS {
        return Err(format!("at most {MAX_PORTS} open ports"));
    }
    let mut ports: Vec<u16> = h.open_ports.iter().copied().filter(|p| *p != 0).collect();
    ports.sort_unstable();
    ports.dedup();
    Ok(Host {
        randomized_mac: h.randomized_mac || is_locally_administered(&mac),
        mac,
        ip: ip.to_string(),
        hostname: text("hostname", &h.hostname)?,
        vendor: text("vendor", &h.vendor)?,
        model: text("model", &h.model)?,
        device_type: h.device_type,
        is_camera: h.is_camera || h.device_type == DeviceType::Camera,
        stream_url,
        services: serde_json::to_string(&services).map_err(|e| e.to_string())?,
        open_ports: serde_json::to_string(&ports).map_err(|e| e.to_string())?,
    })
}

/// Free text: trimmed, empty becomes absent, bounded, no control characters
/// (they would corrupt pages and logs).
fn text(field: &str, v: &Option<String>) -> Result<Option<String>, String> {
    let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_TEXT {
        return Err(format!("{field} is longer than {MAX_TEXT} characters"));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{field} holds control characters"));
    }
    Ok(Some(v.to_string()))
}

/// `AA-BB-CC-DD-EE-FF` or `aa:bb:…` → `aa:bb:cc:dd:ee:ff`; group and
/// all-zero addresses are refused (no single device has them).
pub fn normalize_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.trim().split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut bytes = [0u8; 6];
    for (b, p) in bytes.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    if bytes[0] & 1 == 1 || bytes == [0; 6] {
        return None;
    }
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Phones and laptops use random, locally administered addresses (bit 1 of
/// the first octet) for privacy; the OUI then names no vendor.
pub fn is_locally_administered(mac: &str) -> bool {
    u8::from_str_radix(mac.get(0..2).unwrap_or("00"), 16).is_ok_and(|b| b & 2 == 2)
}

/// What this scan changes. A full scan marks known devices it did not see
/// as offline; a partial one (a single host, a retry) leaves them alone.
pub fn plan(known: &[Known], hosts: Vec<Host>, full_scan: bool) -> Result<Plan, String> {
    let by_mac: HashMap<&str, &Known> = known.iter().map(|k| (k.mac.as_str(), k)).collect();
    let mut plan = Plan::default();
    let mut seen = std::collections::HashSet::with_capacity(hosts.len());
    for host in hosts {
        if host.is_camera {
            plan.summary.cameras += 1;
        }
        match by_mac.get(host.mac.as_str()) {
            None => {
                plan.summary.new += 1;
                plan.insert.push(host);
            }
            Some(k) => {
                seen.insert(k.id);
                plan.summary.updated += 1;
                if k.same_facts(&host) {
                    plan.touch.push(k.id);
                    if !k.online {
                        plan.back_online.push(k.id);
                    }
                } else {
                    let moved = (k.ip != host.ip).then(|| k.ip.clone());
                    plan.update.push((k.id, host, moved, !k.online));
                }
            }
        }
    }
    if known.len() + plan.insert.len() > MAX_DEVICES_PER_USER {
        return Err(format!(
            "An inventory holds at most {MAX_DEVICES_PER_USER} devices; remove old ones first."
        ));
    }
    if full_scan {
        plan.offline = known
            .iter()
            .filter(|k| k.online && !seen.contains(&k.id))
            .map(|k| k.id)
            .collect();
        plan.summary.offline = plan.offline.len() as u32;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scanned(mac: &str, ip: &str) -> ScannedHost {
        ScannedHost {
            mac: mac.into(),
            ip: ip.into(),
            ..Default::default()
        }
    }

    fn req(hosts: Vec<ScannedHost>) -> SyncRequest {
        SyncRequest {
            full_scan: true,
            network: "192.168.1.0/24".into(),
            agent: "test".into(),
            hosts,
        }
    }

    fn known_from(id: i64, h: &Host, online: bool) -> Known {
        Known {
            id,
            mac: h.mac.clone(),
            ip: h.ip.clone(),
            online,
            hostname: h.hostname.clone(),
            vendor: h.vendor.clone(),
            model: h.model.clone(),
            randomized_mac: h.randomized_mac,
            device_type: h.device_type.as_str().into(),
            is_camera: h.is_camera,
            stream_url: h.stream_url.clone(),
            services: h.services.clone(),
            open_ports: h.open_ports.clone(),
        }
    }

    #[test]
    fn macs_are_normalised_and_group_addresses_refused() {
        assert_eq!(
            normalize_mac("44-19-B6-01-02-03").as_deref(),
            Some("44:19:b6:01:02:03")
        );
        assert_eq!(normalize_mac("ff:ff:ff:ff:ff:ff"), None);
        assert_eq!(normalize_mac("01:00:5e:00:00:01"), None);
        assert_eq!(normalize_mac("00:00:00:00:00:00"), None);
        assert_eq!(normalize_mac("44:19:b6:01:02"), None);
        assert_eq!(normalize_mac("44:19:b6:01:02:0g"), None);
        assert!(is_locally_administered("da:a1:19:00:00:01"));
        assert!(!is_locally_administered("44:19:b6:00:00:01"));
    }

    #[test]
    fn bad_hosts_are_named_in_the_error() {
        let err = validate(&req(vec![
            scanned("44:19:b6:00:00:01", "192.168.1.10"),
            scanned("44:19:b6:00:00:02", "not-an-ip"),
        ]))
        .unwrap_err();
        assert!(err.starts_with("hosts[1]"), "{err}");
        let dup = validate(&req(vec![
            scanned("44:19:b6:00:00:01", "192.168.1.10"),
            scanned("44-19-B6-00-00-01", "192.168.1.11"),
        ]))
        .unwrap_err();
        assert!(dup.contains("twice"), "{dup}");
        let mut h = scanned("44:19:b6:00:00:01", "192.168.1.10");
        h.hostname = Some("cam\u{1b}[31m".into());
        assert!(validate(&req(vec![h])).is_err());
        let mut h = scanned("44:19:b6:00:00:01", "192.168.1.10");
        h.stream_url = Some("javascript:alert(1)".into());
        assert!(validate(&req(vec![h])).is_err());
        let too_many = (0..=MAX_HOSTS)
            .map(|i| {
                scanned(
                    &format!("44:19:b6:00:{:02x}:{:02x}", i / 256, i % 256),
                    "10.0.0.1",
                )
            })
            .collect();
        assert!(validate(&req(too_many)).is_err());
    }

    #[test]
    fn a_scan_sorts_hosts_into_new_seen_changed_and_offline() {
        let hosts = validate(&req(vec![
            scanned("44:19:b6:00:00:01", "192.168.1.10"),
            scanned("44:19:b6:00:00:02", "192.168.1.11"),
            scanned("44:19:b6:00:00:03", "192.168.1.12"),
            scanned("44:19:b6:00:00:04", "192.168.1.13"),
        ]))
        .unwrap();
        let known = vec![
            known_from(1, &hosts[0], true),
            known_from(2, &hosts[1], false),
            Known {
                ip: "192.168.1.99".into(),
                ..known_from(3, &hosts[2], true)
            },
            Known {
                mac: "44:19:b6:00:00:09".into(),
                ..known_from(9, &hosts[0], true)
            },
        ];
        let mut cam = scanned("3c:ef:8c:00:00:01", "192.168.1.20");
        cam.device_type = DeviceType::Camera;
        let mut now = hosts[..3].to_vec();
        now.extend(validate(&req(vec![cam])).unwrap());
        let p = plan(&known, now, true).unwrap();
        assert_eq!(p.insert.len(), 1);
        assert!(p.insert[0].is_camera);
        assert_eq!(p.touch, vec![1, 2]);
        assert_eq!(p.back_online, vec![2]);
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].2.as_deref(), Some("192.168.1.99"));
        assert_eq!(p.offline, vec![9]);
        assert_eq!(
            p.summary,
            SyncSummary {
                new: 1,
                updated: 3,
                offline: 1,
                cameras: 1
            }
        );
        let partial = plan(&known, hosts[..1].to_vec(), false).unwrap();
        assert!(
            partial.offline.is_empty(),
            "a partial scan marks nothing offline"
        );
    }

    proptest! {
        #[test]
        fn any_payload_is_accepted_or_refused_without_panicking(
            mac in ".{0,24}", ip in ".{0,48}", host in proptest::option::of(".{0,300}"),
            kind in ".{0,80}", ports in proptest::collection::vec(any::<u16>(), 0..200),
        ) {
            let h = ScannedHost {
                mac, ip, hostname: host,
                services: vec![Service { kind, name: None, port: Some(0) }],
                open_ports: ports,
                ..Default::default()
            };
            let _ = validate(&req(vec![h]));
        }

        #[test]
        fn arbitrary_json_never_panics_the_decoder(body in ".{0,512}") {
            let _ = serde_json::from_str::<SyncRequest>(&body);
        }
    }
}
