//! Home sites: types shared with the browser and the pure rules: a LAN
//! subnet as a customer enters it, the site's range in the portal's site
//! pool, and the 1:1 mapping between the two that the home agent applies
//! with nftables `netmap` (so `192.168.1.20` at home is `10.240.7.20` from
//! any VPN device, whatever other customers' LANs look like).

use std::{fmt, net::Ipv4Addr, str::FromStr};

use serde::{Deserialize, Serialize};

/// The pool every site range comes from. Slot `n` is the `/24` starting at
/// `SITE_POOL_BASE + n * 256`; a site uses the first `2^(32 - prefix)`
/// addresses of its slot, where `prefix` is its LAN's.
pub const SITE_POOL_BASE: Ipv4Addr = Ipv4Addr::new(10, 240, 0, 0);
/// `10.240.0.0/12`.
pub const SITE_POOL_PREFIX: u8 = 12;
/// Slots of a `/24`: 4,096 sites in the pool.
pub const SITE_SLOT_PREFIX: u8 = 24;
pub const SITE_POOL_SLOTS: u32 = 1 << (SITE_SLOT_PREFIX - SITE_POOL_PREFIX);
/// The largest LAN a site maps (a slot). Home LANs are `/24` or smaller.
pub const MIN_LAN_PREFIX: u8 = SITE_SLOT_PREFIX;
/// The smallest: a `/30` has two usable hosts.
pub const MAX_LAN_PREFIX: u8 = 30;

/// An IPv4 network: address with the host bits zero, and its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Net {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// `None` when host bits are set or the prefix is over 32.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32 && u32::from(network) & !mask(prefix) == 0)
            .then_some(Self { network, prefix })
    }
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == u32::from(self.network)
    }
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.network) & mask(p) == u32::from(other.network) & mask(p)
    }
    /// The offset of `addr` inside this network.
    fn offset(&self, addr: Ipv4Addr) -> Option<u32> {
        self.contains(addr)
            .then(|| u32::from(addr) - u32::from(self.network))
    }
    fn at(&self, offset: u32) -> Option<Ipv4Addr> {
        (u64::from(offset) < self.size()).then(|| Ipv4Addr::from(u32::from(self.network) + offset))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Why a LAN subnet was refused (the error code says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanSubnetError {
    /// Not `a.b.c.d/n`.
    Malformed,
    /// Host bits set, e.g. `192.168.1.7/24` (the network is `192.168.1.0/24`).
    HostBitsSet,
    /// Larger than a `/24` or smaller than a `/30`.
    Size,
    /// Not a private (RFC 1918) network: a home LAN is never public.
    NotPrivate,
}

impl LanSubnetError {
    /// The stable error code (`AppError::code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "SITE_SUBNET_MALFORMED",
            Self::HostBitsSet => "SITE_SUBNET_HOST_BITS",
            Self::Size => "SITE_SUBNET_SIZE",
            Self::NotPrivate => "SITE_SUBNET_NOT_PRIVATE",
        }
    }
}

impl fmt::Display for LanSubnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "Enter the home network as an address and prefix, e.g. 192.168.1.0/24.",
            Self::HostBitsSet => "That is an address inside the network; enter the network itself (e.g. 192.168.1.0/24).",
            Self::Size => "A home network must be between a /24 (256 addresses) and a /30.",
            Self::NotPrivate => "A home network must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16).",
        })
    }
}

/// A home LAN, parsed: private, `/24`…`/30`, no host bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LanSubnet(Ipv4Net);

impl LanSubnet {
    pub fn net(&self) -> Ipv4Net {
        self.0
    }
}

impl FromStr for LanSubnet {
    type Err = LanSubnetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.trim().split_once('/').ok_or(LanSubnetError::Malformed)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| LanSubnetError::Malformed)?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or(LanSubnetError::Malformed)?;
        let net = Ipv4Net::new(addr, prefix).ok_or(LanSubnetError::HostBitsSet)?;
        if !(MIN_LAN_PREFIX..=MAX_LAN_PREFIX).contains(&prefix) {
            return Err(LanSubnetError::Size);
        }
        let private = [
            Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 8),
            Ipv4Net::new(Ipv4Addr::new(172, 16, 0, 0), 12),
            Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16),
        ];
        if !private.iter().flatten().any(|p| p.contains(addr)) {
            return Err(LanSubnetError::NotPrivate);
        }
        Ok(Self(net))
    }
}

impl fmt::Display for LanSubnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A site's slot in the pool (unique across all customers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SiteSlot(pub u32);

/// A site's LAN and the range VPN devices use for it, mapped 1:1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteMapping {
    pub lan: LanSubnet,
    pub range: Ipv4Net,
}

impl SiteMapping {
    /// `None` when the slot is outside the pool.
    pub fn new(lan: LanSubnet, slot: SiteSlot) -> Option<Self> {
        if slot.0 >= SITE_POOL_SLOTS {
            return None;
        }
        let base = u32::from(SITE_POOL_BASE) + (slot.0 << (32 - SITE_SLOT_PREFIX));
        let range = Ipv4Net::new(Ipv4Addr::from(base), lan.net().prefix())?;
        Some(Self { lan, range })
    }

    /// The address a VPN device uses for a LAN address (`None`: not on this LAN).
    pub fn to_range(&self, lan_addr: Ipv4Addr) -> Option<Ipv4Addr> {
        self.range.at(self.lan.net().offset(lan_addr)?)
    }

    /// The LAN address behind a range address (`None`: not in this range).
    pub fn to_lan(&self, range_addr: Ipv4Addr) -> Option<Ipv4Addr> {
        self.lan.net().at(self.range.offset(range_addr)?)
    }
}

/// Whether the home agent's peer has handshaken recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteStatus {
    /// The home agent has not connected yet.
    Waiting,
    Online,
    Offline,
}

/// A site as its owner's pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub id: i64,
    pub name: String,
    pub lan: String,
    pub range: String,
    /// For the home network page: each LAN address's VPN address.
    pub mapping: SiteMapping,
    pub server_name: String,
    pub status: SiteStatus,
    pub last_handshake_at: Option<i64>,
}

/// A new site: the token is shown once, with the command that starts the
/// home agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedSite {
    pub site: SiteInfo,
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan(s: &str) -> LanSubnet {
        s.parse().unwrap()
    }

    #[test]
    fn lan_subnets_are_parsed_strictly() {
        assert_eq!(lan("192.168.1.0/24").to_string(), "192.168.1.0/24");
        assert_eq!(lan(" 10.0.5.64/26 ").to_string(), "10.0.5.64/26");
        assert_eq!(
            "192.168.1.0".parse::<LanSubnet>(),
            Err(LanSubnetError::Malformed)
        );
        assert_eq!(
            "192.168.1.0/33".parse::<LanSubnet>(),
            Err(LanSubnetError::Malformed)
        );
        assert_eq!(
            "300.1.1.0/24".parse::<LanSubnet>(),
            Err(LanSubnetError::Malformed)
        );
        assert_eq!(
            "192.168.1.7/24".parse::<LanSubnet>(),
            Err(LanSubnetError::HostBitsSet)
        );
        assert_eq!(
            "192.168.0.0/16".parse::<LanSubnet>(),
            Err(LanSubnetError::Size)
        );
        assert_eq!(
            "192.168.1.0/31".parse::<LanSubnet>(),
            Err(LanSubnetError::Size)
        );
        assert_eq!(
            "198.51.100.0/24".parse::<LanSubnet>(),
            Err(LanSubnetError::NotPrivate)
        );
    }

    #[test]
    fn a_site_maps_its_lan_one_to_one_onto_its_slot() {
        let m = SiteMapping::new(lan("192.168.1.0/24"), SiteSlot(7)).unwrap();
        assert_eq!(m.range.to_string(), "10.240.7.0/24");
        let printer = Ipv4Addr::new(192, 168, 1, 20);
        assert_eq!(m.to_range(printer), Some(Ipv4Addr::new(10, 240, 7, 20)));
        assert_eq!(m.to_lan(Ipv4Addr::new(10, 240, 7, 20)), Some(printer));
        assert_eq!(m.to_range(Ipv4Addr::new(192, 168, 2, 20)), None);
        assert_eq!(m.to_lan(Ipv4Addr::new(10, 240, 8, 20)), None);

        let small = SiteMapping::new(lan("10.1.2.64/26"), SiteSlot(4095)).unwrap();
        assert_eq!(small.range.to_string(), "10.255.255.0/26");
        assert_eq!(
            small.to_range(Ipv4Addr::new(10, 1, 2, 70)),
            Some(Ipv4Addr::new(10, 255, 255, 6))
        );
        assert_eq!(small.to_lan(Ipv4Addr::new(10, 255, 255, 64)), None);
        assert!(SiteMapping::new(lan("10.1.2.64/26"), SiteSlot(SITE_POOL_SLOTS)).is_none());
    }

    #[test]
    fn overlap() {
        let a = lan("192.168.1.0/24").net();
        assert!(a.overlaps(&lan("192.168.1.128/25").net()));
        assert!(!a.overlaps(&lan("192.168.2.0/24").net()));
    }

    proptest::proptest! {
        #[test]
        fn mapping_round_trips(slot in 0u32..SITE_POOL_SLOTS, prefix in MIN_LAN_PREFIX..=MAX_LAN_PREFIX, host in 0u32..256, net in 0u32..65536) {
            let size = 1u32 << (32 - prefix);
            let network = u32::from(Ipv4Addr::new(192, 168, 0, 0)) + ((net * size) & 0xffff);
            let lan = LanSubnet(Ipv4Net::new(Ipv4Addr::from(network), prefix).unwrap());
            let m = SiteMapping::new(lan, SiteSlot(slot)).unwrap();
            let addr = Ipv4Addr::from(network + host % size);
            let mapped = m.to_range(addr).unwrap();
            proptest::prop_assert!(m.range.contains(mapped));
            proptest::prop_assert_eq!(m.to_lan(mapped), Some(addr));
        }
    }
}
