//! ONVIF WS-Discovery: one multicast Probe for `NetworkVideoTransmitter`
//! and a parser for the ProbeMatches that come back.
//!
//! Why our own probe rather than `oxvif::discovery`: oxvif's
//! `DiscoveredDevice` does not keep the address a reply came from, and the
//! inventory is keyed by (IP, MAC), so we need the datagram's source; its
//! parser is also private, and we want the one that reads untrusted LAN
//! datagrams to be small, bounded and fuzzed here. oxvif is still used for
//! what it does well: authenticated SOAP calls to a found camera (see
//! `onvif.rs`), and its mock camera in the tests.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use quick_xml::events::Event;
use quick_xml::Reader;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Result, ScanError};

pub const WSD_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const WSD_PORT: u16 = 3702;
/// A ProbeMatches datagram bigger than this is not from a camera.
pub const MAX_DATAGRAM: usize = 32 * 1024;
const MAX_MATCHES: usize = 16;
const MAX_ITEMS: usize = 64;
const MAX_ITEM: usize = 1024;
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeMatch {
    pub endpoint: String,
    pub types: Vec<String>,
    pub scopes: Vec<String>,
    pub xaddrs: Vec<String>,
}

impl ProbeMatch {
    /// A scope value such as `onvif://www.onvif.org/hardware/DS-2CD2143`.
    pub fn scope(&self, key: &str) -> Option<String> {
        let prefix = format!("onvif://www.onvif.org/{key}/");
        self.scopes.iter().find_map(|s| {
            s.strip_prefix(&prefix)
                .filter(|v| !v.is_empty())
                .map(percent_decode)
        })
    }

    pub fn is_video(&self) -> bool {
        self.types
            .iter()
            .any(|t| t.rsplit(':').next() == Some("NetworkVideoTransmitter"))
    }
}

/// A camera that answered, with the address it answered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsdDevice {
    pub from: Ipv4Addr,
    pub found: ProbeMatch,
}

fn percent_decode(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn probe_message(message_id: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope""#,
            r#" xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing""#,
            r#" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery""#,
            r#" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">"#,
            r#"<e:Header><w:MessageID>uuid:{id}</w:MessageID>"#,
            r#"<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"#,
            r#"<w:Action e:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>"#,
            r#"</e:Header><e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>"#
        ),
        id = message_id
    )
}

/// A v4-shaped UUID from the clock and pid: unique enough to match replies,
/// no RNG dependency for one id per scan.
fn message_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let x = nanos ^ (u128::from(std::process::id()) << 64);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (x >> 96) as u32,
        (x >> 80) as u16,
        (x >> 64) as u16 & 0xfff,
        (x >> 48) as u16 & 0xfff,
        x as u64 & 0xffff_ffff_ffff
    )
}

/// Parses a ProbeMatches datagram. Anything malformed, oversized or
/// unreasonably repetitive is an error; a well-formed message without
/// matches is `Ok(vec![])`.
pub fn parse_probe_matches(data: &[u8]) -> Result<Vec<ProbeMatch>> {
    if data.len() > MAX_DATAGRAM {
        return Err(ScanError::parse("WS-Discovery reply", "datagram too large"));
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| ScanError::parse("WS-Discovery reply", "not UTF-8"))?;
    let err = |e: &dyn std::fmt::Display| ScanError::parse("WS-Discovery reply", e.to_string());
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);

    let mut stack: Vec<String> = Vec::new();
    let mut matches: Vec<ProbeMatch> = Vec::new();
    let mut current: Option<ProbeMatch> = None;
    let mut buf = String::new();
    let mut saw_root = false;

    loop {
        let ev = reader.read_event().map_err(|e| err(&e))?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if stack.len() >= MAX_DEPTH {
                    return Err(err(&"nested too deep"));
                }
                saw_root = true;
                if name == "ProbeMatch" {
                    if current.is_some() {
                        return Err(err(&"nested ProbeMatch"));
                    }
                    if matches.len() >= MAX_MATCHES {
                        return Err(err(&"too many ProbeMatch elements"));
                    }
                    current = Some(ProbeMatch::default());
                }
                stack.push(name);
                buf.clear();
            }
            Event::Empty(_) => saw_root = true,
            Event::Text(t) => push_text(&mut buf, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut buf, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_err(|e| err(&e))?
                    .into_owned();
                push_text(&mut buf, &resolved)?;
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_string();
                if stack.pop().as_deref() != Some(name.as_str()) {
                    return Err(err(&"mismatched end tag"));
                }
                if let Some(m) = current.as_mut() {
                    let parent = stack.last().map(String::as_str);
                    match name.as_str() {
                        "Address" if parent == Some("EndpointReference") => {
                            m.endpoint = item(buf.trim())?;
                        }
                        "Types" => m.types = items(&buf)?,
                        "Scopes" => m.scopes = items(&buf)?,
                        "XAddrs" => m.xaddrs = items(&buf)?,
                        "ProbeMatch" => {
                            if let Some(done) = current.take() {
                                matches.push(done);
                            }
                        }
                        _ => {}
                    }
                }
                buf.clear();
            }
            Event::Eof => break,
            Event::DocType(_) => return Err(err(&"DOCTYPE not allowed")),
            _ => {}
        }
    }
    if !saw_root || !stack.is_empty() || current.is_some() {
        return Err(err(&"truncated document"));
    }
    Ok(matches)
}

fn push_text(buf: &mut String, s: &str) -> Result<()> {
    if buf.len() + s.len() > MAX_ITEM * MAX_ITEMS {
        return Err(ScanError::parse("WS-Discovery reply", "text too long"));
    }
    buf.push_str(s);
    Ok(())
}

fn item(s: &str) -> Result<String> {
    if s.len() > MAX_ITEM || s.chars().any(char::is_control) {
        return Err(ScanError::parse("WS-Discovery reply", "bad item"));
    }
    Ok(s.to_string())
}

fn items(s: &str) -> Result<Vec<String>> {
    let v: Vec<&str> = s.split_whitespace().collect();
    if v.len() > MAX_ITEMS {
        return Err(ScanError::parse("WS-Discovery reply", "too many items"));
    }
    v.into_iter().map(item).collect()
}

/// Sends the Probe out of `our_ip`'s interface and collects replies for
/// `window`. Replies that fail to parse are logged and skipped: one broken
/// device must not hide the others.
pub fn probe(our_ip: Ipv4Addr, window: Duration) -> Result<Vec<WsdDevice>> {
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    sock.bind(&SocketAddr::V4(SocketAddrV4::new(our_ip, 0)).into())?;
    sock.set_multicast_if_v4(&our_ip)?;
    sock.set_multicast_ttl_v4(1)?;
    sock.set_multicast_loop_v4(false)?;
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;

    let msg = probe_message(&message_id());
    let dest = SocketAddrV4::new(WSD_GROUP, WSD_PORT);
    let start = Instant::now();
    let deadline = start + window;
    // UDP multicast drops packets; WS-Discovery itself repeats the Probe.
    let mut resend = [Duration::ZERO, Duration::from_millis(200)]
        .into_iter()
        .peekable();
    let mut out: Vec<WsdDevice> = Vec::new();
    let mut data = vec![0u8; MAX_DATAGRAM + 1];
    while Instant::now() < deadline {
        if resend.peek().is_some_and(|d| start.elapsed() >= *d) {
            resend.next();
            sock.send_to(msg.as_bytes(), dest)?;
        }
        let (n, from) = match sock.recv_from(&mut data) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(e.into()),
        };
        let SocketAddr::V4(from) = from else { continue };
        match parse_probe_matches(&data[..n]) {
            Ok(found) => {
                for m in found {
                    let dup = out
                        .iter()
                        .any(|d| d.from == *from.ip() && d.found.endpoint == m.endpoint);
                    if !dup {
                        out.push(WsdDevice {
                            from: *from.ip(),
                            found: m,
                        });
                    }
                }
            }
            Err(e) => tracing::debug!(%from, "ignoring WS-Discovery datagram: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsadis:MessageID>urn:uuid:1</wsadis:MessageID><wsadis:RelatesTo>uuid:x</wsadis:RelatesTo></env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsadis:EndpointReference><wsadis:Address>urn:uuid:4419b6aa-0000</wsadis:Address></wsadis:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/DS-2CD2143G2-I onvif://www.onvif.org/name/HIKVISION%20Cam</d:Scopes>
<d:XAddrs>http://10.0.0.2/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"#;

    #[test]
    fn parses_a_hikvision_match() {
        let m = parse_probe_matches(HIK.as_bytes()).expect("parse");
        assert_eq!(m.len(), 1);
        let m = &m[0];
        assert_eq!(m.endpoint, "urn:uuid:4419b6aa-0000");
        assert!(m.is_video());
        assert_eq!(m.xaddrs[0], "http://10.0.0.2/onvif/device_service");
        assert_eq!(m.scope("hardware").as_deref(), Some("DS-2CD2143G2-I"));
        assert_eq!(m.scope("name").as_deref(), Some("HIKVISION Cam"));
    }

    #[test]
    fn entities_are_resolved() {
        let x = HIK.replace("device_service http", "device_service?a=1&amp;b=2 http");
        let m = parse_probe_matches(x.as_bytes()).expect("parse");
        assert_eq!(
            m[0].xaddrs[0],
            "http://10.0.0.2/onvif/device_service?a=1&b=2"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse_probe_matches(b"").is_err());
        assert!(parse_probe_matches(&HIK.as_bytes()[..HIK.len() / 2]).is_err());
        assert!(parse_probe_matches(b"<a><b></a>").is_err());
        assert!(parse_probe_matches(b"\xff\xfe<a/>").is_err());
        assert!(parse_probe_matches(&vec![b' '; MAX_DATAGRAM + 1]).is_err());
        let bomb = "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>";
        assert!(parse_probe_matches(bomb.as_bytes()).is_err());
        assert_eq!(parse_probe_matches(b"<a/>").expect("ok"), vec![]);
    }

    #[test]
    fn probe_message_is_parseable_xml() {
        let msg = probe_message(&message_id());
        assert!(parse_probe_matches(msg.as_bytes()).expect("xml").is_empty());
    }
}
