//! The scan as a table for people: columns aligned by display width (what
//! a terminal shows, not bytes or chars), long names cut between words with
//! an ellipsis, types and services in words.

use truevault_wire::inventory::{service_label, ScannedHost};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::{classify::type_word, scan::ScanReport};

/// At most `max` columns wide: whole words while they fit, then `…`; a
/// single word longer than that is cut inside and ends in `…`.
pub fn fit(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    let room = max.saturating_sub(1);
    let mut out = String::new();
    for word in s.split(' ') {
        let sep = usize::from(!out.is_empty());
        if out.width() + sep + word.width() > room {
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        for c in s.chars() {
            if out.width() + c.width().unwrap_or(0) > room {
                break;
            }
            out.push(c);
        }
    }
    let out = out.trim_end_matches([' ', ',', '/', '-']).to_string();
    out + "…"
}

/// `s` padded with spaces to `width` display columns.
fn pad(s: &str, width: usize) -> String {
    let w = s.width();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

const COLUMNS: [(&str, usize); 6] = [
    ("IP", 15),
    ("MAC", 17),
    ("VENDOR", 24),
    ("TYPE", 10),
    ("NAME / MODEL", 28),
    ("PORTS", 20),
];

fn row(cells: [&str; 6], services: &str) -> String {
    let mut line = String::new();
    for (cell, (_, width)) in cells.iter().zip(COLUMNS) {
        line.push_str(&pad(&fit(cell, width), width));
        line.push(' ');
    }
    line.push_str(services);
    line.trim_end().to_string()
}

fn host_row(h: &ScannedHost) -> String {
    let vendor = match (&h.vendor, h.randomized_mac) {
        (_, true) => "private address".to_string(),
        (Some(v), _) => v.clone(),
        (None, _) => "-".to_string(),
    };
    let name = [h.hostname.as_deref(), h.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
    let ports = h
        .open_ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let mut services: Vec<String> = h.services.iter().map(|s| service_label(&s.kind)).collect();
    services.dedup();
    let (ip, mac) = (h.ip.clone(), h.mac.clone());
    row(
        [
            &ip,
            &mac,
            &vendor,
            type_word(h.device_type),
            if name.is_empty() { "-" } else { &name },
            if ports.is_empty() { "-" } else { &ports },
        ],
        &services.join(", "),
    )
}

pub fn render(r: &ScanReport) -> String {
    let hosts = if r.hosts.len() == 1 { "host" } else { "hosts" };
    let mut out = format!(
        "{} {hosts} on {} ({}, {}, {} ms)\n",
        r.hosts.len(),
        r.network,
        r.interface,
        r.method.describe(),
        r.timings.total_ms
    );
    let header = COLUMNS.map(|(h, _)| h);
    out.push_str(&row(header, "SERVICES"));
    out.push('\n');
    for h in &r.hosts {
        out.push_str(&host_row(h));
        out.push('\n');
        if let Some(url) = &h.stream_url {
            out.push_str(&format!("{:<15} camera stream: {url}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Method, Timings};
    use truevault_wire::inventory::{DeviceType, Service};

    #[test]
    fn names_are_cut_between_words() {
        assert_eq!(fit("Living room camera", 24), "Living room camera");
        assert_eq!(
            fit("brother-hl-l2350dw-office upstairs printer", 24),
            "brother-hl-l2350dw-offi…"
        );
        assert_eq!(
            fit("Office printer by the big window", 24),
            "Office printer by the…"
        );
        assert_eq!(
            fit("Büro-Drucker im Erdgeschoss links", 24),
            "Büro-Drucker im…"
        );
        assert_eq!(fit("摄像头 客厅 北京 上海 广州 深圳", 10), "摄像头…");
    }

    #[test]
    fn columns_line_up_by_display_width() {
        let host = |mac: &str, vendor: &str, name: &str, t: DeviceType| ScannedHost {
            mac: mac.into(),
            ip: "192.168.1.10".into(),
            hostname: Some(name.into()),
            vendor: Some(vendor.into()),
            device_type: t,
            open_ports: vec![80, 554, 37777],
            services: vec![Service {
                kind: "_smb._tcp".into(),
                name: None,
                port: None,
            }],
            ..Default::default()
        };
        let report = ScanReport {
            interface: "eth0".into(),
            network: "192.168.1.0/24".into(),
            method: Method::Arp,
            full_scan: true,
            timings: Timings::default(),
            hosts: vec![
                host(
                    "44:19:b6:00:00:01",
                    "Hikvision",
                    "Wohnzimmer Kamera über der Tür",
                    DeviceType::Camera,
                ),
                host("3c:2a:f4:00:00:02", "Xiaomi", "摄像头客厅", DeviceType::Iot),
                host("c0:25:e9:00:00:03", "TP-Link", "router", DeviceType::Router),
            ],
        };
        let text = render(&report);
        assert!(
            text.starts_with("3 hosts on 192.168.1.0/24 (eth0, ARP sweep, 0 ms)\n"),
            "{text}"
        );
        assert!(!text.contains("Arp"), "no enum names: {text}");
        let lines: Vec<&str> = text.lines().skip(1).collect();
        // Every row's PORTS column starts at the same display column.
        let column = |l: &str, needle: &str| l[..l.find(needle).unwrap()].width();
        let ports_at = column(lines[0], "PORTS");
        for l in &lines[1..] {
            assert_eq!(column(l, "80 554 37777"), ports_at, "{l}");
        }
        assert!(lines[1].contains(" camera "));
        assert!(lines[2].contains(" smart home "));
        assert!(lines[1].contains("file sharing (SMB)"));
        assert!(!text
            .chars()
            .any(|c| c.width() == Some(2) && !"摄像头客厅".contains(c)));
    }
}
