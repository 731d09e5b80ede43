//! Inventory types shared by server and browser.

use serde::{Deserialize, Serialize};
pub use truevault_wire::inventory::{DeviceType, Service};

/// A device on the user's home network, as the portal knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanDevice {
    pub id: i64,
    pub mac: String,
    pub ip: String,
    pub label: Option<String>,
    pub hostname: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub randomized_mac: bool,
    pub device_type: DeviceType,
    pub is_camera: bool,
    pub stream_url: Option<String>,
    pub services: Vec<Service>,
    pub open_ports: Vec<u16>,
    pub online: bool,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl LanDevice {
    /// What the user sees as the device's name.
    pub fn display_name(&self) -> String {
        self.label
            .clone()
            .or_else(|| self.hostname.clone())
            .or_else(|| self.model.clone())
            .or_else(|| self.vendor.as_ref().map(|v| format!("{v} device")))
            .unwrap_or_else(|| {
                if self.randomized_mac {
                    "Private-address device".to_string()
                } else {
                    format!("Device {}", self.mac)
                }
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct LanEvent {
    pub id: i64,
    pub device_id: i64,
    pub device_name: String,
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
}

impl LanEvent {
    pub fn describe(&self) -> String {
        match self.kind.as_str() {
            "new" => format!("New device: {}", self.detail),
            "online" => "Back online".to_string(),
            "offline" => "Went offline".to_string(),
            "ip_changed" => format!("Address changed: {}", self.detail),
            other => other.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ScannerTokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_network: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub revoked: bool,
    /// Made at sign-up and not shown yet: its owner may reveal it once.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub unrevealed: bool,
}

/// The inventory page in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub devices: Vec<LanDevice>,
    /// New devices the user has not dismissed yet.
    pub alerts: Vec<LanEvent>,
    pub tokens: Vec<ScannerTokenInfo>,
    /// This portal's public URL, for the scanner's set-up steps: part of
    /// the page's one load rather than a resource of its own, which the
    /// page did not hydrate with.
    pub portal_url: String,
}

/// A freshly created scanner token: the only time it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedScannerToken {
    pub name: String,
    pub token: String,
}

/// The set-up steps shown with a scanner token: the token goes into a file
/// through stdin (never onto a command line, where `ps` and shell history
/// would show it), and the scanner reads it with `--token-file`.
pub fn scanner_setup_steps(portal: &str) -> String {
    format!(
        "sudo install -d -m 700 /etc/truevault\n\
         sudo sh -c 'umask 077; cat > /etc/truevault/scanner.token'   # paste the token, Enter, Ctrl-D\n\
         sudo truevault-scanner sync --portal {portal} --token-file /etc/truevault/scanner.token"
    )
}

/// The id of the device type's icon in the stylesheet's sprite
/// (`/pkg/icons.svg`): drawn, not an emoji, so it shows without an emoji
/// font and keeps table columns aligned.
pub fn type_icon(t: DeviceType) -> &'static str {
    match t {
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

/// The icon as inline SVG markup referring to the sprite.
pub fn icon_svg(t: DeviceType) -> String {
    format!(
        "<svg class=\"icon\" aria-hidden=\"true\"><use href=\"/pkg/icons.svg#{}\"/></svg>",
        type_icon(t)
    )
}

pub fn type_label(t: DeviceType) -> &'static str {
    match t {
        DeviceType::Camera => "Camera",
        DeviceType::Printer => "Printer",
        DeviceType::Tv => "TV / streamer",
        DeviceType::Phone => "Phone",
        DeviceType::Computer => "Computer",
        DeviceType::Router => "Router",
        DeviceType::Speaker => "Speaker",
        DeviceType::Nas => "NAS",
        DeviceType::Iot => "Smart home",
        DeviceType::Unknown => "Unknown",
    }
}
