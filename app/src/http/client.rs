//! Who the client is: the peer address, or, when the peer is one of
//! `trusted_proxies`, the address that proxy reports in `X-Forwarded-For`
//! (read from the right, skipping our own proxies). Rate limits, sessions
//! and the audit log all use this one answer; the header is rewritten to it,
//! so nothing downstream can read an address a client made up.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

/// The client address of a request (set by [`middleware`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Set when the request came with `X-Forwarded-For` or `Forwarded`: some
/// proxy relays it, even one on loopback we were not told to trust.
#[derive(Clone, Copy, Debug)]
pub struct Relayed;

/// An address block, `10.0.0.0/8`, `2001:db8::/32` or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s}: not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s}: prefix must be 0–{max}"))?,
            None => max,
        };
        Ok(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are the IPv4 client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client behind `peer`, given the `X-Forwarded-For` values.
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.iter().any(|c| c.contains(peer)) {
        return peer;
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // Garbage from whoever is further out: stop at the last good hop.
            break;
        };
        client = canonical(ip);
        if !trusted.iter().any(|c| c.contains(client)) {
            break;
        }
    }
    client
}

/// What rate limits count by: one IPv4 address, or one IPv6 /64 (a single
/// customer line usually gets a whole /64).
pub fn bucket(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let client = resolve(peer, &forwarded, &state.config.trusted_proxy_blocks());
    let relayed = !forwarded.is_empty() || req.headers().contains_key("forwarded");
    let headers = req.headers_mut();
    headers.remove("x-forwarded-for");
    if let Ok(v) = HeaderValue::from_str(&client.to_string()) {
        headers.insert("x-forwarded-for", v);
    }
    req.extensions_mut().insert(ClientIp(client));
    if relayed {
        req.extensions_mut().insert(Relayed);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted = [
            Cidr::parse("10.0.0.0/8").expect("cidr"),
            Cidr::parse("::1").expect("cidr"),
        ];
        // Straight from the internet: the header is whatever the client wrote.
        assert_eq!(
            resolve(ip("203.0.113.7"), &["1.2.3.4"], &trusted),
            ip("203.0.113.7")
        );
        // Through our proxy: the hop it saw, not what the client prepended.
        assert_eq!(
            resolve(ip("10.0.0.2"), &["1.2.3.4, 198.51.100.9"], &trusted),
            ip("198.51.100.9")
        );
        // Two of our proxies in a row.
        assert_eq!(
            resolve(ip("10.0.0.2"), &["198.51.100.9, 10.0.0.3"], &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(resolve(ip("::1"), &["garbage"], &trusted), ip("::1"));
        assert_eq!(resolve(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert!(Cidr::parse("10.0.0.0/33").is_err() && Cidr::parse("x").is_err());
    }

    #[test]
    fn ipv6_is_bucketed_per_64() {
        assert_eq!(
            bucket(ip("2001:db8:1:2:aaaa::1")),
            bucket(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:198.51.100.4")), "198.51.100.4");
    }
}
