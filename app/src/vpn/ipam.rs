//! Address pools. A pool is a CIDR; addresses are handed out by index
//! (`network + index`), index 1 being the server's own tunnel address.
//! The database keeps a per-server counter and a free list, so allocation
//! costs the same with 10 or 60,000 peers; a unique (server, index)
//! constraint is the final guard against duplicates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub network: IpAddr,
    pub prefix: u8,
}

/// Devices get indexes from 2 up; 1 is the server.
pub const FIRST_DEVICE_INDEX: i64 = 2;
/// IPv6 pools can be huge; we never hand out more than this many per server.
pub const MAX_V6_INDEX: i64 = 1 << 24;

impl Pool {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .ok_or("A pool is written like 10.8.0.0/16.")?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("\"{addr}\" is not an IP address."))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| "The prefix length is not a number.".to_string())?;
        let (bits, min_hosts_prefix) = match addr {
            IpAddr::V4(_) => (32, 30),
            IpAddr::V6(_) => (128, 126),
        };
        if prefix > min_hosts_prefix || prefix < bits / 4 {
            return Err(format!("Prefix /{prefix} is out of range for this pool."));
        }
        let network = mask(addr, prefix);
        if network != addr {
            return Err(format!(
                "{s} is not a network address (did you mean {network}/{prefix}?)."
            ));
        }
        Ok(Self { network, prefix })
    }

    /// Highest usable index (IPv4: broadcast excluded).
    pub fn max_index(&self) -> i64 {
        match self.network {
            IpAddr::V4(_) => (1i64 << (32 - self.prefix)) - 2,
            IpAddr::V6(_) => {
                let host_bits = 128 - self.prefix as u32;
                if host_bits >= 25 {
                    MAX_V6_INDEX
                } else {
                    (1i64 << host_bits) - 1
                }
            }
        }
    }

    pub fn address(&self, index: i64) -> Option<IpAddr> {
        if index < 1 || index > self.max_index() {
            return None;
        }
        Some(match self.network {
            IpAddr::V4(n) => IpAddr::V4(Ipv4Addr::from(u32::from(n) + index as u32)),
            IpAddr::V6(n) => IpAddr::V6(Ipv6Addr::from(u128::from(n) + index as u128)),
        })
    }

    pub fn host_prefix(&self) -> u8 {
        if self.network.is_ipv4() {
            32
        } else {
            128
        }
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_pools() {
        let p = Pool::parse("10.8.0.0/16").unwrap();
        assert_eq!(p.max_index(), 65_534);
        assert_eq!(p.address(1).unwrap().to_string(), "10.8.0.1");
        assert_eq!(p.address(300).unwrap().to_string(), "10.8.1.44");
        assert_eq!(p.address(65_534).unwrap().to_string(), "10.8.255.254");
        assert_eq!(p.address(65_535), None);
        assert_eq!(p.address(0), None);
        assert_eq!(Pool::parse("10.9.0.0/30").unwrap().max_index(), 2);
    }

    #[test]
    fn v6_pools() {
        let p = Pool::parse("fd00:8::/64").unwrap();
        assert_eq!(p.max_index(), MAX_V6_INDEX);
        assert_eq!(p.address(2).unwrap().to_string(), "fd00:8::2");
        assert_eq!(Pool::parse("fd00::/120").unwrap().max_index(), 255);
    }

    #[test]
    fn bad_pools() {
        for bad in [
            "10.8.0.1/16",
            "10.8.0.0",
            "10.8.0.0/31",
            "10.8.0.0/x",
            "nope/16",
            "10.0.0.0/4",
            "fd00::/127",
        ] {
            assert!(Pool::parse(bad).is_err(), "{bad}");
        }
    }
}
