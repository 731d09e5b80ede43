//! Scanner ↔ portal: the inventory sync (`POST /api/v1/inventory/sync`,
//! bearer: the user's scanner token).
//!
//! The scanner sends what one scan saw; the portal upserts by (user, MAC),
//! records events and answers with a summary. Limits are part of the
//! contract so the agent can refuse to send what the portal would refuse.

use serde::{Deserialize, Serialize};

/// At most this many hosts in one sync (a /22 worth; a home LAN is a /24).
pub const MAX_HOSTS: usize = 1024;
/// Per host: services, open ports.
pub const MAX_SERVICES: usize = 64;
pub const MAX_PORTS: usize = 128;
/// Any free-text field (hostname, vendor, model, service name, URL).
pub const MAX_TEXT: usize = 255;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncRequest {
    /// `true` when this was a full sweep of the subnet: hosts the portal
    /// knows but that are missing here are then marked offline.
    pub full_scan: bool,
    /// The scanned network, e.g. `192.168.1.0/24`.
    pub network: String,
    /// Scanner name/version, for the portal's records (`truevault-scanner/0.1.0`).
    #[serde(default)]
    pub agent: String,
    pub hosts: Vec<ScannedHost>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ScannedHost {
    /// `aa:bb:cc:dd:ee:ff`, lower case.
    pub mac: String,
    pub ip: String,
    #[serde(default)]
    pub hostname: Option<String>,
    /// From the OUI registry; `None` for unknown or randomised MACs.
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// The locally-administered bit is set (phones' private addresses).
    #[serde(default)]
    pub randomized_mac: bool,
    pub device_type: DeviceType,
    #[serde(default)]
    pub is_camera: bool,
    /// Likely main stream URL from the vendor pattern table or ONVIF.
    #[serde(default)]
    pub stream_url: Option<String>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub open_ports: Vec<u16>,
}

/// A DNS-SD or ONVIF service the host announced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Service {
    /// `_http._tcp`, `_rtsp._tcp`, `onvif`, …
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
}

/// A DNS-SD service type (`_ipp._tcp`) as people say it ("printer (IPP)");
/// a type we do not know reads as its bare name (`_foo._tcp` → "foo").
pub fn service_label(kind: &str) -> String {
    let known = match kind {
        "_http._tcp" | "_http-alt._tcp" => "web page",
        "_https._tcp" => "web page (HTTPS)",
        "_ipp._tcp" => "printer (IPP)",
        "_ipps._tcp" => "printer (IPP over TLS)",
        "_printer._tcp" => "printer (LPD)",
        "_pdl-datastream._tcp" => "printer (raw)",
        "_scanner._tcp" | "_uscan._tcp" => "scanner",
        "_smb._tcp" => "file sharing (SMB)",
        "_afpovertcp._tcp" => "file sharing (AFP)",
        "_nfs._tcp" => "file sharing (NFS)",
        "_ssh._tcp" => "remote login (SSH)",
        "_sftp-ssh._tcp" => "file transfer (SFTP)",
        "_workstation._tcp" => "computer",
        "_rtsp._tcp" => "video stream (RTSP)",
        "onvif" | "_onvif._tcp" => "camera control (ONVIF)",
        "_googlecast._tcp" => "Chromecast",
        "_airplay._tcp" => "AirPlay",
        "_raop._tcp" => "AirPlay audio",
        "_spotify-connect._tcp" => "Spotify Connect",
        "_sonos._tcp" => "Sonos",
        "_amzn-wplay._tcp" => "Amazon Fire TV",
        "_hap._tcp" | "_homekit._tcp" => "HomeKit",
        "_matter._tcp" | "_matterc._udp" => "Matter",
        "_device-info._tcp" => "device info",
        "_companion-link._tcp" => "Apple device",
        "_nvstream._tcp" => "game streaming",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let bare = kind
        .trim_start_matches('_')
        .split("._")
        .next()
        .unwrap_or(kind);
    if bare.is_empty() {
        kind.to_string()
    } else {
        bare.to_string()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    Camera,
    Printer,
    Tv,
    Phone,
    Computer,
    Router,
    Speaker,
    Nas,
    Iot,
    #[default]
    Unknown,
}

impl DeviceType {
    pub const ALL: [DeviceType; 10] = [
        DeviceType::Camera,
        DeviceType::Printer,
        DeviceType::Tv,
        DeviceType::Phone,
        DeviceType::Computer,
        DeviceType::Router,
        DeviceType::Speaker,
        DeviceType::Nas,
        DeviceType::Iot,
        DeviceType::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Camera => "camera",
            DeviceType::Printer => "printer",
            DeviceType::Tv => "tv",
            DeviceType::Phone => "phone",
            DeviceType::Computer => "computer",
            DeviceType::Router => "router",
            DeviceType::Speaker => "speaker",
            DeviceType::Nas => "nas",
            DeviceType::Iot => "iot",
            DeviceType::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct SyncSummary {
    pub new: u32,
    pub updated: u32,
    pub offline: u32,
    pub cameras: u32,
}

#[cfg(test)]
mod service_tests {
    use super::service_label;

    #[test]
    fn services_read_as_what_they_are() {
        assert_eq!(service_label("_http._tcp"), "web page");
        assert_eq!(service_label("_ipp._tcp"), "printer (IPP)");
        assert_eq!(service_label("onvif"), "camera control (ONVIF)");
        assert_eq!(service_label("_foo-bar._tcp"), "foo-bar");
        assert_eq!(service_label("odd"), "odd");
    }
}
