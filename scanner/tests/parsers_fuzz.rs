//! Property tests over everything that reads input from the LAN or the
//! user: malformed or oversized input must give an error (or be cut to the
//! limits), never a panic.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use truevault_scanner::{mdns, net, oui, scan, sync, txt, wsd};
use truevault_wire::inventory::{
    DeviceType, ScannedHost, Service, MAX_HOSTS, MAX_PORTS, MAX_SERVICES, MAX_TEXT,
};

const VALID_MATCH: &str = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/name/A%20B onvif://www.onvif.org/hardware/X</d:Scopes><d:XAddrs>http://10.0.0.2/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"#;

fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<d:ProbeMatch>".to_string()),
        Just("</d:ProbeMatch>".to_string()),
        Just("<a:EndpointReference><a:Address>".to_string()),
        Just("</a:Address></a:EndpointReference>".to_string()),
        Just("<d:XAddrs>".to_string()),
        Just("</d:XAddrs>".to_string()),
        Just("<d:Scopes>".to_string()),
        Just("</d:Scopes>".to_string()),
        Just("&amp;".to_string()),
        Just("&#x0;".to_string()),
        Just("&bogus;".to_string()),
        Just("<![CDATA[x]]>".to_string()),
        Just("<!DOCTYPE a>".to_string()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wsd_random_bytes(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = wsd::parse_probe_matches(&data);
    }

    #[test]
    fn wsd_xmlish(doc in xmlish()) {
        if let Ok(matches) = wsd::parse_probe_matches(doc.as_bytes()) {
            for m in matches {
                let _ = m.scope("name");
                let _ = m.is_video();
            }
        }
    }

    #[test]
    fn wsd_mutated_valid(cut in 0..VALID_MATCH.len(), junk in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut d = VALID_MATCH.as_bytes()[..cut].to_vec();
        d.extend_from_slice(&junk);
        d.extend_from_slice(&VALID_MATCH.as_bytes()[cut..]);
        let _ = wsd::parse_probe_matches(&d);
        // Truncated: never a success that silently lost the end.
        prop_assert!(wsd::parse_probe_matches(&VALID_MATCH.as_bytes()[..cut]).map(|m| m.is_empty()).unwrap_or(true));
    }

    #[test]
    fn wsd_oversized(n in 1usize..4) {
        let big = format!("<a>{}</a>", "x".repeat(wsd::MAX_DATAGRAM * n));
        prop_assert!(wsd::parse_probe_matches(big.as_bytes()).is_err());
    }

    #[test]
    fn oui_table(text in "\\PC{0,2000}") {
        let _ = oui::OuiTable::parse(&text);
    }

    #[test]
    fn oui_table_lines(lines in prop::collection::vec(("[0-9A-Fa-f]{6}", "[A-Za-z ]{1,30}"), 0..50)) {
        let text: String = lines.iter().map(|(h, n)| format!("{h}\t{n}\n")).collect();
        let ok = lines.iter().all(|(_, n)| !n.trim().is_empty());
        let t = oui::OuiTable::parse(&text);
        prop_assert_eq!(t.is_ok(), ok);
        if let Ok(t) = t {
            for (h, _) in &lines {
                let mac = net::Mac::parse(&format!("{}:{}:{}:00:00:01", &h[0..2], &h[2..4], &h[4..6])).expect("mac");
                if !mac.is_randomized() && !mac.is_multicast() {
                    prop_assert!(t.vendor(&mac).is_some());
                }
            }
        }
    }

    #[test]
    fn kernel_tables_and_names(text in "\\PC{0,1000}", s in "\\PC{0,80}") {
        let _ = net::parse_proc_arp(&text, "eth0");
        let _ = net::parse_default_route(&text);
        let _ = net::Mac::parse(&s);
        let _ = mdns::service_kind(&s);
        let _ = scan::fix_stream_host(&s, Ipv4Addr::new(10, 0, 0, 1));
    }

}

proptest! {
    // Each case is a whole scan's worth of hosts: fewer cases, same reach.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn txt_pairs(pairs in prop::collection::vec(("\\PC{0,12}", prop::option::of(prop::collection::vec(any::<u8>(), 0..300))), 0..140)) {
        let it = pairs.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        if let Ok(info) = txt::from_pairs(it) {
            for f in [info.model, info.manufacturer, info.friendly_name].into_iter().flatten() {
                prop_assert!(f.len() <= MAX_TEXT && !f.is_empty());
                prop_assert!(!f.chars().any(char::is_control));
            }
        }
        if pairs.len() > txt::MAX_PAIRS {
            let it = pairs.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
            prop_assert!(txt::from_pairs(it).is_err());
        }
    }

    #[test]
    fn payload(hosts in prop::collection::vec(host(), 0..6), network in "[ -~]{0,300}") {
        match sync::build_request(&network, true, hosts) {
            Ok(r) => {
                prop_assert!(r.hosts.len() <= MAX_HOSTS);
                for h in &r.hosts {
                    prop_assert!(net::Mac::parse(&h.mac).is_some());
                    prop_assert!(h.services.len() <= MAX_SERVICES);
                    prop_assert!(h.open_ports.len() <= MAX_PORTS);
                    for t in [&h.hostname, &h.vendor, &h.model, &h.stream_url].into_iter().flatten() {
                        prop_assert!(t.len() <= MAX_TEXT);
                    }
                    for s in &h.services {
                        prop_assert!(s.kind.len() <= MAX_TEXT);
                    }
                }
                // What we send must round-trip through the wire types.
                let json = serde_json::to_string(&r).expect("json");
                let back: truevault_wire::inventory::SyncRequest = serde_json::from_str(&json).expect("parse");
                prop_assert_eq!(back, r);
            }
            Err(e) => prop_assert!(e.exit_code() != 0),
        }
    }
}

fn host() -> impl Strategy<Value = ScannedHost> {
    let mac = prop_oneof!["[0-9a-f]{2}(:[0-9a-f]{2}){5}", "\\PC{0,20}",];
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(|b| Ipv4Addr::from(b).to_string()),
        "\\PC{0,20}",
    ];
    let text = prop::option::of(prop_oneof!["\\PC{0,20}", "[ -~]{200,400}"]);
    let svc = (
        "[ -~]{0,20}|[a-z]{250,300}",
        prop::option::of("\\PC{0,10}"),
        prop::option::of(any::<u16>()),
    )
        .prop_map(|(kind, name, port)| Service { kind, name, port });
    (
        mac,
        ip,
        text.clone(),
        text.clone(),
        text,
        prop::collection::vec(svc, 0..70),
        prop::collection::vec(any::<u16>(), 0..140),
        any::<bool>(),
    )
        .prop_map(
            |(mac, ip, hostname, vendor, model, services, open_ports, cam)| ScannedHost {
                mac,
                ip,
                hostname,
                vendor,
                model,
                randomized_mac: false,
                device_type: if cam {
                    DeviceType::Camera
                } else {
                    DeviceType::Unknown
                },
                is_camera: cam,
                stream_url: None,
                services,
                open_ports,
            },
        )
}

#[test]
fn payload_over_host_limit_refused_locally() {
    let hosts: Vec<ScannedHost> = (0..=MAX_HOSTS as u32)
        .map(|i| ScannedHost {
            mac: format!("b8:27:eb:00:{:02x}:{:02x}", i >> 8, i & 0xff),
            ip: Ipv4Addr::from(0x0a00_0000 + i).to_string(),
            ..ScannedHost::default()
        })
        .collect();
    let e = sync::build_request("10.0.0.0/22", true, hosts).expect_err("over the limit");
    assert_eq!(
        e.exit_code(),
        truevault_scanner::error::exit::PAYLOAD_REFUSED
    );
}
