//! VPN types shared by server and browser.

use serde::{Deserialize, Serialize};

pub use crate::typed::ServerId;

crate::string_enum! {
    /// Who a server is for.
    pub enum ServerType {
        Shared = "shared",
        Premium = "premium",
        /// One VIP's own server, visible only to them.
        VipDedicated = "vip_dedicated",
    }
}

crate::string_enum! {
    /// Whether a server takes new devices.
    pub enum ServerStatus {
        Active = "active",
        Maintenance = "maintenance",
        Offline = "offline",
        Draining = "draining",
    }
}
/// A peer counts as connected while its latest handshake is this recent.
pub const CONNECTED_WITHIN_SECS: i64 = 180;
/// A node that has not reported for this long is unhealthy.
pub const NODE_STALE_SECS: i64 = 90;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ServerInfo {
    pub id: ServerId,
    pub name: String,
    pub region: String,
    pub country: String,
    pub city: String,
    pub endpoint_host: String,
    pub endpoint_port: i64,
    pub server_type: ServerType,
    pub vip_user_id: Option<i64>,
    pub vip_email: Option<String>,
    pub capacity: i64,
    pub status: ServerStatus,
    pub ipv4_pool: String,
    pub ipv6_pool: Option<String>,
    pub dns: String,
    pub public_key: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub enrolled: bool,
    pub last_report_at: Option<i64>,
    /// When the node enrolled: a node that has not reported yet counts as
    /// fresh for the stale time after it.
    pub node_enrolled_at: Option<i64>,
    pub peers: i64,
    /// Whether the node reported recently; set from `last_report_at`.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub healthy: bool,
    /// The desired state's version, and the one the node reports applied.
    pub peers_version: i64,
    pub applied_version: i64,
    /// The node host's health from its latest report (older agents: none).
    pub host_load1_centi: Option<i64>,
    pub host_memory_total_bytes: Option<i64>,
    pub host_memory_available_bytes: Option<i64>,
    pub host_uptime_secs: Option<i64>,
    pub host_wireguard: Option<WireguardKind>,
}

crate::string_enum! {
    /// Which WireGuard runs a node's interface.
    pub enum WireguardKind {
        Kernel = "kernel",
        WireguardGo = "wireguard-go",
    }
}

impl ServerInfo {
    /// "load 0.52 · 1.0 of 2.0 GiB free · up 3 d · wireguard-go", or `None`
    /// before the node has reported its host.
    pub fn host_summary(&self) -> Option<String> {
        let load = self.host_load1_centi?;
        let gib = |b: i64| b as f64 / f64::from(1u32 << 30);
        let up = self.host_uptime_secs.unwrap_or(0);
        let up = if up >= 86_400 {
            format!("{} d", up / 86_400)
        } else {
            format!("{} h", up / 3600)
        };
        Some(format!(
            "load {}.{:02} · {:.1} of {:.1} GiB free · up {up} · {}",
            load / 100,
            load % 100,
            gib(self.host_memory_available_bytes.unwrap_or(0)),
            gib(self.host_memory_total_bytes.unwrap_or(0)),
            self.host_wireguard
                .map(|w| w.as_str())
                .unwrap_or("unknown WireGuard"),
        ))
    }
}

impl ServerInfo {
    /// Whether `user_id` may put a device on it: a dedicated server is its
    /// VIP's only.
    pub fn visible_to(&self, user_id: i64) -> bool {
        self.server_type != ServerType::VipDedicated || self.vip_user_id == Some(user_id)
    }
}

/// An admin's server form as sent (every field text, as a form sends it);
/// `NewServer::try_from` checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerForm {
    pub name: String,
    pub region: String,
    pub country: String,
    pub city: String,
    pub endpoint_host: String,
    pub endpoint_port: String,
    pub server_type: String,
    pub vip_email: String,
    pub capacity: String,
    pub ipv4_pool: String,
    pub ipv6_pool: String,
    pub dns: String,
}

/// What a device sends through the tunnel. The node enforces who reaches
/// what either way; this only decides what the device routes to us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelMode {
    /// Everything (`0.0.0.0/0, ::/0`).
    #[default]
    Full,
    /// Only the VPN's own addresses, the user's home-site (and mesh) ranges
    /// and the tunnel DNS.
    Split,
}

impl TunnelMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Split => "split",
        }
    }
}

impl std::str::FromStr for TunnelMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "full" => Ok(Self::Full),
            "split" => Ok(Self::Split),
            _ => Err("Choose full or split tunnel.".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: i64,
    pub name: String,
    pub server_id: ServerId,
    pub server_name: String,
    pub region: String,
    pub public_key: String,
    pub address_v4: String,
    pub address_v6: Option<String>,
    pub identity_region: Option<String>,
    pub tunnel_mode: TunnelMode,
    pub last_handshake_at: Option<i64>,
    pub connected: bool,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub server_healthy: bool,
    /// A regional identity made at sign-up, waiting to be set up on a
    /// device (with "Set up"): it holds its server and address, but no
    /// node has it as a peer yet.
    pub awaiting_key: bool,
    /// Paused because the plan includes fewer devices (`pausing`): kept
    /// with its keys and address, in no node config until resumed.
    pub paused: bool,
}

/// What creating (or re-keying) a device returns. `config` holds the
/// private key only when the server generated it; then it is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedDevice {
    pub device: DeviceInfo,
    pub config: String,
    pub file_name: String,
    pub qr_svg: Option<String>,
    pub chosen_because: String,
}

/// Placeholder the browser replaces with the private key it generated.
pub const PRIVATE_KEY_PLACEHOLDER: &str = "<private key stays on your device>";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    pub day: i64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub connected_seconds: i64,
}

/// One user's traffic over a period, for the admin's usage table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUsage {
    pub email: String,
    pub devices: i64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub connected_seconds: i64,
}

/// Characters that end a line somewhere: control characters, and the
/// Unicode line and paragraph separators (U+2028, U+2029), which WireGuard's
/// Apple parser splits lines on. None may reach a config file, where a
/// name sits in a comment and a line break would start a new directive.
pub fn breaks_lines(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A device name: 1-64 characters, nothing that breaks a line.
pub fn normalize_device_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        return Err("Give the device a name.".into());
    }
    if name.chars().count() > 64 {
        return Err("A device name is at most 64 characters.".into());
    }
    if name.chars().any(breaks_lines) {
        return Err("A device name must be one line without control characters.".into());
    }
    Ok(name.to_string())
}

/// Longest interface name Linux (and so wg-quick) accepts.
const MAX_INTERFACE_NAME: usize = 15;

/// A file name wg-quick accepts on every platform: the interface name
/// (at most 15 of `[a-z0-9-]`) plus `.conf`, e.g. `tv-adas-phone.conf`.
/// Whole words of the device's name are kept while they fit; the full name
/// is in the file's first line.
pub fn config_file_name(device_name: &str) -> String {
    const PREFIX: &str = "tv-";
    let room = MAX_INTERFACE_NAME - PREFIX.len();
    let words = device_name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty());
    let mut slug = String::new();
    for word in words {
        let sep = usize::from(!slug.is_empty());
        if slug.len() + sep + word.len() <= room {
            if sep == 1 {
                slug.push('-');
            }
            slug.push_str(&word);
        } else {
            if slug.is_empty() {
                slug = word[..room].to_string();
            }
            break;
        }
    }
    if slug.is_empty() {
        "truevault.conf".into()
    } else {
        format!("{PREFIX}{slug}.conf")
    }
}

pub fn format_bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n.max(0) as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The start of `t`'s calendar month (UTC) and of the next one, unix seconds.
#[cfg(feature = "ssr")]
pub fn month_bounds(t: i64) -> (i64, i64) {
    use time::{Date, Month, OffsetDateTime};
    let Ok(now) = OffsetDateTime::from_unix_timestamp(t) else {
        return (t, t + 30 * 86_400);
    };
    let first = |y: i32, m: Month| {
        Date::from_calendar_date(y, m, 1)
            .map(|d| d.midnight().assume_utc().unix_timestamp())
            .unwrap_or(t)
    };
    let (ny, nm) = if now.month() == Month::December {
        (now.year() + 1, Month::January)
    } else {
        (now.year(), now.month().next())
    };
    (first(now.year(), now.month()), first(ny, nm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_file_names() {
        // Every name gives an interface name wg-quick takes.
        for name in [
            "Ada's phone",
            "Телефон",
            &"x".repeat(64),
            "a b c d e f g h i j",
        ] {
            let file = config_file_name(name);
            let iface = file.strip_suffix(".conf").unwrap();
            assert!((1..=15).contains(&iface.len()), "{file}");
            assert!(iface
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_=+.-".contains(&b)));
        }
        assert_eq!(
            normalize_device_name("  Ada's phone ").as_deref(),
            Ok("Ada's phone")
        );
        assert!(normalize_device_name("").is_err());
        assert!(normalize_device_name("a\u{0}b").is_err());
        assert!(normalize_device_name(&"x".repeat(65)).is_err());
        assert!(normalize_device_name("a\u{2028}b").is_err());
        assert!(normalize_device_name("a\u{2029}b").is_err());
        assert!(normalize_device_name("a\u{85}b").is_err());
        assert_eq!(config_file_name("Ada's phone"), "tv-adas-phone.conf");
        assert_eq!(config_file_name("Ada’s phone"), "tv-adas-phone.conf");
        assert_eq!(config_file_name("../../etc/passwd"), "tv-etc-passwd.conf");
        assert_eq!(config_file_name("📱"), "truevault.conf");
        assert_eq!(config_file_name("Телефон Ады"), "truevault.conf");
        assert_eq!(
            config_file_name("Supercalifragilistic"),
            "tv-supercalifra.conf"
        );
        assert_eq!(
            config_file_name("The kitchen tablet by the fridge, upstairs"),
            "tv-the-kitchen.conf"
        );
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        // 2026-12-15 12:00 UTC → 2026-12-01 and 2027-01-01.
        assert_eq!(month_bounds(1_797_336_000), (1_796_083_200, 1_798_761_600));
    }
}
