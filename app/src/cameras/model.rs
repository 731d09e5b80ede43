//! Camera types shared by the server and the browser. Credentials never
//! appear here: the browser learns only whether a password is set.

use serde::{Deserialize, Serialize};

/// Camera makers with known RTSP URL patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    Hikvision,
    Dahua,
    Amcrest,
    Reolink,
    Axis,
    Uniview,
    Tapo,
    /// Wyze with its RTSP firmware (the stock firmware is cloud only).
    Wyze,
    /// Geeni, Merkury and other Tuya-based cameras with local RTSP/ONVIF on.
    Tuya,
    /// Ring: cloud only, listed so its owner is told instead of a form
    /// that cannot work.
    Ring,
    Generic,
}

impl Vendor {
    pub const ALL: [Vendor; 11] = [
        Vendor::Hikvision,
        Vendor::Dahua,
        Vendor::Amcrest,
        Vendor::Reolink,
        Vendor::Axis,
        Vendor::Uniview,
        Vendor::Tapo,
        Vendor::Wyze,
        Vendor::Tuya,
        Vendor::Ring,
        Vendor::Generic,
    ];

    /// No local stream exists: the camera cannot be added.
    pub fn cloud_only(self) -> bool {
        self == Vendor::Ring
    }

    /// The RTSP port the vendor uses out of the box.
    pub fn default_rtsp_port(self) -> u16 {
        match self {
            Vendor::Tuya => 8554,
            _ => 554,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Hikvision => "hikvision",
            Vendor::Dahua => "dahua",
            Vendor::Amcrest => "amcrest",
            Vendor::Reolink => "reolink",
            Vendor::Axis => "axis",
            Vendor::Uniview => "uniview",
            Vendor::Tapo => "tapo",
            Vendor::Wyze => "wyze",
            Vendor::Tuya => "tuya",
            Vendor::Ring => "ring",
            Vendor::Generic => "generic",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Vendor::Hikvision => "Hikvision",
            Vendor::Dahua => "Dahua",
            Vendor::Amcrest => "Amcrest",
            Vendor::Reolink => "Reolink",
            Vendor::Axis => "Axis",
            Vendor::Uniview => "Uniview",
            Vendor::Tapo => "TP-Link Tapo",
            Vendor::Wyze => "Wyze (RTSP firmware)",
            Vendor::Tuya => "Geeni / Tuya",
            Vendor::Ring => "Ring (cloud only: no local stream)",
            Vendor::Generic => "Other / ONVIF",
        }
    }

    pub fn parse(s: &str) -> Option<Vendor> {
        Vendor::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Best guess from a scanner's vendor string (OUI or mDNS name).
    pub fn guess(vendor: &str) -> Vendor {
        let v = vendor.to_ascii_lowercase();
        let table = [
            ("hikvision", Vendor::Hikvision),
            ("hangzhou", Vendor::Hikvision),
            ("dahua", Vendor::Dahua),
            ("amcrest", Vendor::Amcrest),
            ("reolink", Vendor::Reolink),
            ("axis", Vendor::Axis),
            ("uniview", Vendor::Uniview),
            ("tp-link", Vendor::Tapo),
            ("tplink", Vendor::Tapo),
            ("tapo", Vendor::Tapo),
            ("wyze", Vendor::Wyze),
            ("geeni", Vendor::Tuya),
            ("merkury", Vendor::Tuya),
            ("tuya", Vendor::Tuya),
            ("ring llc", Vendor::Ring),
            ("ring inc", Vendor::Ring),
        ];
        table
            .into_iter()
            .find(|(k, _)| v.contains(k))
            .map(|(_, vendor)| vendor)
            .unwrap_or(Vendor::Generic)
    }
}

/// A camera as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Camera {
    pub id: i64,
    pub name: String,
    pub vendor: Vendor,
    pub model: Option<String>,
    pub ip: String,
    pub mac: Option<String>,
    pub rtsp_port: u16,
    pub http_port: u16,
    pub main_stream_url: String,
    pub sub_stream_url: Option<String>,
    pub snapshot_url: Option<String>,
    pub username: Option<String>,
    /// Whether a password is stored; the password itself never leaves the server.
    pub has_password: bool,
    pub gateway_id: Option<i64>,
    pub gateway_name: Option<String>,
    pub gateway_online: bool,
    pub lan_device_id: Option<i64>,
    pub created_at: i64,
}

/// A camera gateway (its token is never shown again after creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub online: bool,
    pub agent: Option<String>,
    pub revoked: bool,
    pub cameras: i64,
}

/// Shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedGateway {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// Values to prefill the add-camera form with (from a scanner finding).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraDraft {
    pub lan_device_id: Option<i64>,
    pub name: String,
    pub vendor: Option<Vendor>,
    pub model: Option<String>,
    pub ip: String,
    pub mac: Option<String>,
    pub main_stream_url: String,
    pub sub_stream_url: String,
    pub snapshot_url: String,
}

/// Everything the cameras page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CamerasPage {
    pub cameras: Vec<Camera>,
    pub gateways: Vec<GatewayInfo>,
    /// `None`: unlimited (VIP or plan without a limit).
    pub camera_limit: Option<i64>,
    pub draft: Option<CameraDraft>,
    /// Other people's cameras shared with the user through mesh networks.
    #[serde(default)]
    pub shared: Vec<Camera>,
}
