//! Building the sync payload within the portal's limits, and sending it.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use truevault_wire::inventory::{
    ScannedHost, SyncRequest, SyncSummary, MAX_HOSTS, MAX_PORTS, MAX_SERVICES, MAX_TEXT,
};
use truevault_wire::ApiErrorBody;

use crate::error::{Result, ScanError};
use crate::net::Mac;

pub const SYNC_PATH: &str = "/api/v1/inventory/sync";
pub const AGENT: &str = concat!("truevault-scanner/", env!("CARGO_PKG_VERSION"));

/// The scanner token. Never printed: `Debug` and `Display` redact it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(s: &str) -> Result<Token> {
        let s = s.trim();
        if s.is_empty() || s.len() > 512 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ScanError::Usage(
                "the scanner token is empty or has characters a token can't have".into(),
            ));
        }
        Ok(Token(s.to_string()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn cut(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_TEXT {
            break;
        }
        out.push(c);
    }
    out
}

fn cut_opt(s: Option<String>) -> Option<String> {
    s.map(|s| cut(&s)).filter(|s| !s.is_empty())
}

/// Checks and trims the hosts of one scan into a request the portal accepts.
///
/// More hosts than `MAX_HOSTS` is refused: dropping some would make the
/// portal mark them offline. Per host, free text is cut to `MAX_TEXT` and
/// service/port lists to their limits (a chatty device must not block the
/// sync of the whole network); malformed MAC or IP is an error, and a MAC
/// seen twice keeps its first host.
pub fn build_request(
    network: &str,
    full_scan: bool,
    hosts: Vec<ScannedHost>,
) -> Result<SyncRequest> {
    if hosts.len() > MAX_HOSTS {
        return Err(ScanError::PayloadTooLarge(format!(
            "{} hosts, the portal takes at most {MAX_HOSTS}",
            hosts.len()
        )));
    }
    if network.len() > MAX_TEXT {
        return Err(ScanError::PayloadTooLarge("network name too long".into()));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(hosts.len());
    for mut h in hosts {
        let mac = Mac::parse(&h.mac)
            .filter(|m| !m.is_zero() && !m.is_multicast())
            .ok_or_else(|| ScanError::parse("host MAC", cut(&h.mac)))?;
        let ip: IpAddr =
            h.ip.parse()
                .map_err(|_| ScanError::parse("host IP", cut(&h.ip)))?;
        if !seen.insert(mac) {
            tracing::warn!(%mac, %ip, "MAC seen twice (proxy ARP?); keeping the first host");
            continue;
        }
        h.mac = mac.to_string();
        h.ip = ip.to_string();
        h.hostname = cut_opt(h.hostname);
        h.vendor = cut_opt(h.vendor);
        h.model = cut_opt(h.model);
        h.stream_url = cut_opt(h.stream_url);
        h.services.truncate(MAX_SERVICES);
        for s in &mut h.services {
            s.kind = cut(&s.kind);
            s.name = cut_opt(s.name.take());
        }
        h.services.retain(|s| !s.kind.is_empty());
        h.open_ports.sort_unstable();
        h.open_ports.dedup();
        h.open_ports.truncate(MAX_PORTS);
        out.push(h);
    }
    Ok(SyncRequest {
        full_scan,
        network: network.to_string(),
        agent: AGENT.to_string(),
        hosts: out,
    })
}

/// The portal's base URL, checked. Plain HTTP would send the token in clear,
/// so it is only taken for loopback or when explicitly allowed.
pub fn sync_url(portal: &str, allow_http: bool) -> Result<reqwest::Url> {
    let base = reqwest::Url::parse(portal.trim())
        .map_err(|e| ScanError::Usage(format!("--portal {portal}: {e}")))?;
    let loopback = match base.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match base.scheme() {
        "https" => {}
        "http" if loopback || allow_http => {}
        "http" => {
            return Err(ScanError::Usage(
                "--portal over plain http would send the token in clear; use https (or --allow-http on a trusted network)".into(),
            ))
        }
        s => return Err(ScanError::Usage(format!("--portal: unsupported scheme {s}"))),
    }
    let path = format!("{}{SYNC_PATH}", base.path().trim_end_matches('/'));
    let mut url = base;
    url.set_path(&path);
    Ok(url)
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<ApiErrorBody>(body)
        .map(|b| format!("{} ({})", b.error.message, b.error.code))
        .unwrap_or_else(|_| body.chars().take(200).collect())
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect()
}

pub struct SyncClient {
    http: reqwest::Client,
    url: reqwest::Url,
    token: Token,
}

impl SyncClient {
    pub fn new(portal: &str, token: Token, allow_http: bool) -> Result<SyncClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(AGENT)
            .build()
            .map_err(|e| ScanError::PortalUnreachable(e.to_string()))?;
        Ok(SyncClient {
            http,
            url: sync_url(portal, allow_http)?,
            token,
        })
    }

    pub async fn send(&self, req: &SyncRequest) -> Result<SyncSummary> {
        let resp = self
            .http
            .post(self.url.clone())
            .bearer_auth(&self.token.0)
            .json(req)
            .send()
            .await
            .map_err(|e| ScanError::PortalUnreachable(format!("{}: {e}", self.url)))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| ScanError::PortalUnreachable(format!("reading the answer: {e}")))?;
        match status {
            200..=299 => serde_json::from_str(&body).map_err(|e| ScanError::Portal {
                status,
                message: format!("unexpected answer: {e}"),
            }),
            401 | 403 => Err(ScanError::TokenRefused {
                status,
                message: error_message(&body),
            }),
            400 | 413 | 422 => Err(ScanError::PayloadRejected {
                status,
                message: error_message(&body),
            }),
            _ => Err(ScanError::Portal {
                status,
                message: error_message(&body),
            }),
        }
    }
}

/// `10.0.0.0/24` for the report and the portal.
pub fn network_name(net: ipnetwork::Ipv4Network) -> String {
    format!("{}/{}", net.network(), net.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use truevault_wire::inventory::{DeviceType, Service};

    fn host(i: u32) -> ScannedHost {
        ScannedHost {
            mac: format!(
                "b8:27:eb:{:02x}:{:02x}:{:02x}",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            ),
            ip: format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
            device_type: DeviceType::Computer,
            ..ScannedHost::default()
        }
    }

    #[test]
    fn over_the_host_limit_is_refused_locally() {
        let hosts = (0..=MAX_HOSTS as u32).map(host).collect();
        let e = build_request("10.0.0.0/16", true, hosts).expect_err("too many");
        assert_eq!(e.exit_code(), crate::error::exit::PAYLOAD_REFUSED);
    }

    #[test]
    fn per_host_lists_and_text_are_trimmed() {
        let mut h = host(1);
        h.mac = "B8:27:EB:00:00:01".into();
        h.hostname = Some("x".repeat(1000));
        h.services = (0..200)
            .map(|i| Service {
                kind: "_http._tcp".into(),
                name: Some(format!("s{i}")),
                port: Some(80),
            })
            .collect();
        h.open_ports = (0..300).collect();
        let r = build_request("10.0.0.0/24", true, vec![h.clone(), h]).expect("ok");
        assert_eq!(r.hosts.len(), 1, "duplicate MAC dropped");
        let h = &r.hosts[0];
        assert_eq!(h.mac, "b8:27:eb:00:00:01");
        assert_eq!(h.hostname.as_ref().map(String::len), Some(MAX_TEXT));
        assert_eq!(h.services.len(), MAX_SERVICES);
        assert_eq!(h.open_ports.len(), MAX_PORTS);
        assert_eq!(r.agent, AGENT);
    }

    #[test]
    fn malformed_hosts_are_errors() {
        let mut h = host(1);
        h.mac = "nope".into();
        assert!(build_request("n", true, vec![h]).is_err());
        let mut h = host(1);
        h.ip = "10.0.0.999".into();
        assert!(build_request("n", true, vec![h]).is_err());
    }

    #[test]
    fn urls() {
        let u = sync_url("https://portal.example/", false).expect("https");
        assert_eq!(u.as_str(), "https://portal.example/api/v1/inventory/sync");
        let u = sync_url("https://portal.example/tv", false).expect("https");
        assert_eq!(
            u.as_str(),
            "https://portal.example/tv/api/v1/inventory/sync"
        );
        assert!(sync_url("http://127.0.0.1:3000", false).is_ok());
        assert!(sync_url("http://portal.example", false).is_err());
        assert!(sync_url("http://portal.example", true).is_ok());
        assert!(sync_url("ftp://portal.example", true).is_err());
        assert!(sync_url("not a url", true).is_err());
    }

    #[test]
    fn token_is_never_shown() {
        let t = Token::new("tvs_secret123").expect("token");
        assert!(!format!("{t:?}").contains("secret"));
        assert!(Token::new("").is_err());
        assert!(Token::new("a b").is_err());
    }

    /// A one-shot HTTP server on loopback answering `status` + `body`;
    /// gives back the request it saw.
    async fn fixture(status: u16, body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.expect("accept");
            let mut req = Vec::new();
            let mut buf = [0u8; 8192];
            // Read headers, then the body by Content-Length.
            loop {
                let n = s.read(&mut buf).await.expect("read");
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(resp.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&req).to_string()
        });
        (url, task)
    }

    fn request() -> SyncRequest {
        build_request("10.0.0.0/24", true, vec![host(2)]).expect("req")
    }

    #[tokio::test]
    async fn ok_answer_is_the_summary() {
        let (url, seen) = fixture(200, r#"{"new":1,"updated":0,"offline":0,"cameras":0}"#).await;
        let c = SyncClient::new(&url, Token::new("tvs_abc").expect("t"), false).expect("client");
        let s = c.send(&request()).await.expect("summary");
        assert_eq!(s.new, 1);
        let req = seen.await.expect("request");
        assert!(req.starts_with("POST /api/v1/inventory/sync HTTP/1.1"));
        assert!(req
            .to_ascii_lowercase()
            .contains("authorization: bearer tvs_abc"));
        assert!(req.contains("\"full_scan\":true"));
    }

    #[tokio::test]
    async fn refused_token_exits_4() {
        let body = r#"{"error":{"code":"INVALID_TOKEN","message":"unknown scanner token","request_id":"r1"}}"#;
        let (url, _seen) = fixture(401, body).await;
        let c = SyncClient::new(&url, Token::new("tvs_bad").expect("t"), false).expect("client");
        let e = c.send(&request()).await.expect_err("401");
        assert_eq!(e.exit_code(), crate::error::exit::TOKEN_REFUSED);
        assert!(e.to_string().contains("INVALID_TOKEN"));
        assert!(!e.to_string().contains("tvs_bad"));
    }

    #[tokio::test]
    async fn server_errors_and_silence_exit_5_payload_6() {
        let (url, _s) = fixture(503, "down").await;
        let c = SyncClient::new(&url, Token::new("t").expect("t"), false).expect("client");
        assert_eq!(c.send(&request()).await.expect_err("503").exit_code(), 5);
        let (url, _s) = fixture(413, "too big").await;
        let c = SyncClient::new(&url, Token::new("t").expect("t"), false).expect("client");
        assert_eq!(c.send(&request()).await.expect_err("413").exit_code(), 6);
        // Nothing listens on a port we bound and released.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        drop(l);
        let c = SyncClient::new(&url, Token::new("t").expect("t"), false).expect("client");
        assert_eq!(
            c.send(&request()).await.expect_err("refused").exit_code(),
            5
        );
    }
}
