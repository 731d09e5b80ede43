//! Which interface and network to scan, and the kernel tables we read
//! (`/proc/net/route`, `/proc/net/arp`).

use std::fmt;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use pnet_datalink::NetworkInterface;

use crate::error::{Result, ScanError};

/// A /20 at most: a sweep of more would take minutes and flood the LAN.
pub const MAX_SWEEP: u64 = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The locally-administered bit: phones and laptops use random private
    /// addresses per network, so the vendor prefix means nothing.
    pub fn is_randomized(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    pub fn oui(&self) -> u32 {
        u32::from(self.0[0]) << 16 | u32::from(self.0[1]) << 8 | u32::from(self.0[2])
    }

    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.trim().split([':', '-']);
        for b in &mut out {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 2 {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The interface to scan and our own addresses on it.
#[derive(Debug, Clone)]
pub struct ScanTarget {
    pub iface: NetworkInterface,
    pub our_ip: Ipv4Addr,
    pub our_mac: Option<Mac>,
    pub network: Ipv4Network,
    pub gateway: Option<Ipv4Addr>,
}

impl ScanTarget {
    pub fn name(&self) -> &str {
        &self.iface.name
    }

    /// The addresses to sweep: the network's hosts, less our own address.
    pub fn hosts(&self) -> Vec<Ipv4Addr> {
        hosts_of(self.network)
            .into_iter()
            .filter(|ip| *ip != self.our_ip)
            .collect()
    }
}

/// Host addresses of a network (no network/broadcast address for /30 and wider).
pub fn hosts_of(net: Ipv4Network) -> Vec<Ipv4Addr> {
    let prefix = net.prefix();
    let base = u32::from(net.network());
    let size: u64 = 1u64 << (32 - u32::from(prefix));
    if prefix >= 31 {
        return (0..size).map(|i| Ipv4Addr::from(base + i as u32)).collect();
    }
    (1..size - 1)
        .map(|i| Ipv4Addr::from(base + i as u32))
        .collect()
}

/// Default-route interface and gateway from `/proc/net/route` text.
pub fn parse_default_route(text: &str) -> Option<(String, Ipv4Addr)> {
    let mut best: Option<(u32, String, Ipv4Addr)> = None;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
            continue;
        }
        let Ok(gw) = u32::from_str_radix(f[2], 16) else {
            continue;
        };
        let metric = f[6].parse().unwrap_or(u32::MAX);
        // The kernel prints the network-order bytes read as a native u32.
        let gw = Ipv4Addr::from(gw.to_ne_bytes());
        if best.as_ref().is_none_or(|b| metric < b.0) {
            best = Some((metric, f[0].to_string(), gw));
        }
    }
    best.map(|(_, i, g)| (i, g))
}

/// Complete entries `(ip, mac)` of `/proc/net/arp` on `iface`.
pub fn parse_proc_arp(text: &str, iface: &str) -> Vec<(Ipv4Addr, Mac)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[5] != iface {
            continue;
        }
        // Flags 0x2 = ATF_COM: the entry resolved; incomplete ones have 00:00…
        let complete = u32::from_str_radix(f[2].trim_start_matches("0x"), 16)
            .map(|v| v & 0x2 != 0)
            .unwrap_or(false);
        let (Ok(ip), Some(mac)) = (f[0].parse::<Ipv4Addr>(), Mac::parse(f[3])) else {
            continue;
        };
        if complete && !mac.is_zero() {
            out.push((ip, mac));
        }
    }
    out
}

/// Picks the interface (`--iface` or the default route's) and network
/// (`--cidr` or the interface's own).
pub fn resolve_target(iface: Option<&str>, cidr: Option<&str>) -> Result<ScanTarget> {
    let route = std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|t| parse_default_route(&t));
    let name = match (iface, &route) {
        (Some(n), _) => n.to_string(),
        (None, Some((n, _))) => n.clone(),
        (None, None) => return Err(ScanError::NoDefaultRoute),
    };
    let gateway = route.and_then(|(n, g)| (n == name).then_some(g));
    let ifc = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| ScanError::NoSuchInterface(name.clone()))?;
    let wanted = cidr
        .map(|c| {
            c.parse::<Ipv4Network>()
                .map_err(|e| ScanError::Usage(format!("--cidr {c}: {e}")))
        })
        .transpose()?;
    let v4: Vec<Ipv4Network> = ifc
        .ips
        .iter()
        .filter_map(|n| match n {
            ipnetwork::IpNetwork::V4(v4) => Some(*v4),
            _ => None,
        })
        .collect();
    // With several addresses, speak from the one inside the swept network.
    let own = wanted
        .and_then(|w| v4.iter().find(|a| w.contains(a.ip())).copied())
        .or_else(|| v4.first().copied());
    let network = match wanted {
        Some(c) => c,
        None => {
            let own = own.ok_or_else(|| ScanError::NoIpv4(name.clone()))?;
            Ipv4Network::new(own.network(), own.prefix())
                .map_err(|e| ScanError::Usage(e.to_string()))?
        }
    };
    let network = Ipv4Network::new(network.network(), network.prefix())
        .map_err(|e| ScanError::Usage(e.to_string()))?;
    let size = 1u64 << (32 - u32::from(network.prefix()));
    if size > MAX_SWEEP {
        return Err(ScanError::NetworkTooLarge(
            network.to_string(),
            size,
            MAX_SWEEP,
        ));
    }
    let our_ip = own
        .map(|o| o.ip())
        .ok_or_else(|| ScanError::NoIpv4(name.clone()))?;
    let our_mac = ifc.mac.map(|m| Mac(m.octets()));
    Ok(ScanTarget {
        iface: ifc,
        our_ip,
        our_mac,
        network,
        gateway: gateway.filter(|g| !g.is_unspecified()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_bits() {
        let m = Mac::parse("B8:27:EB:01:02:03").expect("valid");
        assert_eq!(m.to_string(), "b8:27:eb:01:02:03");
        assert_eq!(m.oui(), 0xb827eb);
        assert!(!m.is_randomized());
        assert!(Mac::parse("da:00:00:00:00:01")
            .expect("valid")
            .is_randomized());
        assert!(Mac::parse("b8:27:eb:01:02").is_none());
        assert!(Mac::parse("b8:27:eb:01:02:03:04").is_none());
        assert!(Mac::parse("b8:27:eb:01:02:zz").is_none());
        assert!(Mac::parse("b8:27:eb:01:02:123").is_none());
    }

    #[test]
    fn default_route() {
        let t =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                 eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
        let (i, g) = parse_default_route(t).expect("route");
        assert_eq!(i, "eth0");
        assert_eq!(g, Ipv4Addr::new(192, 168, 1, 1));
        assert!(parse_default_route("Iface\n").is_none());
    }

    #[test]
    fn proc_arp() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.9.0.2         0x1         0x2         44:19:b6:00:00:02     *        v0\n\
                 10.9.0.3         0x1         0x0         00:00:00:00:00:00     *        v0\n\
                 10.9.0.4         0x1         0x2         b8:27:eb:00:00:04     *        other\n";
        let v = parse_proc_arp(t, "v0");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, Ipv4Addr::new(10, 9, 0, 2));
    }

    #[test]
    fn hosts() {
        let n: Ipv4Network = "10.0.0.0/30".parse().expect("net");
        assert_eq!(hosts_of(n).len(), 2);
        let n: Ipv4Network = "10.0.0.0/24".parse().expect("net");
        assert_eq!(hosts_of(n).len(), 254);
        let n: Ipv4Network = "10.0.0.7/32".parse().expect("net");
        assert_eq!(hosts_of(n), vec![Ipv4Addr::new(10, 0, 0, 7)]);
    }
}
