//! Device type, icon, camera flag and likely stream URL, by rules over what
//! the discovery steps saw. Pure functions: every rule is unit-tested.

use std::net::Ipv4Addr;

use truevault_wire::inventory::DeviceType;

/// What we know about one host when classifying it.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub vendor: Option<&'a str>,
    pub randomized_mac: bool,
    pub hostname: Option<&'a str>,
    pub model: Option<&'a str>,
    /// DNS-SD kinds (`_ipp._tcp`), plus `onvif` when WS-Discovery answered.
    pub services: Vec<&'a str>,
    pub open_ports: &'a [u16],
    pub onvif: bool,
    pub is_gateway: bool,
}

impl Facts<'_> {
    fn has_service(&self, kinds: &[&str]) -> bool {
        self.services.iter().any(|s| kinds.contains(s))
    }
    fn has_port(&self, ports: &[u16]) -> bool {
        self.open_ports.iter().any(|p| ports.contains(p))
    }
    /// Lower-cased vendor, model and hostname, for substring rules.
    fn text(&self) -> String {
        [self.vendor, self.model, self.hostname]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
}

/// Camera makers whose stream paths we know, as seen in OUI names,
/// models, or hostnames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraVendor {
    Hikvision,
    Dahua,
    Amcrest,
    Reolink,
    Axis,
    Uniview,
    Tapo,
    Wyze,
    Tuya,
    Foscam,
}

const CAMERA_WORDS: &[(&str, CameraVendor)] = &[
    ("hikvision", CameraVendor::Hikvision),
    ("ezviz", CameraVendor::Hikvision),
    ("dahua", CameraVendor::Dahua),
    ("lorex", CameraVendor::Dahua),
    ("amcrest", CameraVendor::Amcrest),
    ("reolink", CameraVendor::Reolink),
    ("axis", CameraVendor::Axis),
    ("uniview", CameraVendor::Uniview),
    ("tapo", CameraVendor::Tapo),
    ("wyze", CameraVendor::Wyze),
    ("geeni", CameraVendor::Tuya),
    ("foscam", CameraVendor::Foscam),
];

/// Makers of cameras without a vendor row: still cameras, ONVIF decides the URL.
const OTHER_CAMERA_MAKERS: &[&str] = &["hanwha", "vivotek", "mobotix", "annke", "swann", "arlo"];

pub fn camera_vendor(f: &Facts) -> Option<CameraVendor> {
    let text = f.text();
    if let Some((_, v)) = CAMERA_WORDS.iter().find(|(w, _)| text.contains(w)) {
        return Some(*v);
    }
    // TP-Link makes routers too; its cameras show Tapo's ONVIF port or RTSP.
    if text.contains("tp-link") && f.has_port(&[2020, 554]) {
        return Some(CameraVendor::Tapo);
    }
    None
}

/// The likely main-stream URL, without credentials (the portal asks for
/// them when the camera is added).
pub fn stream_url(v: CameraVendor, ip: Ipv4Addr, open_ports: &[u16]) -> String {
    let port = if !open_ports.contains(&554) && open_ports.contains(&8554) {
        8554
    } else {
        554
    };
    let path = match v {
        CameraVendor::Hikvision => "/Streaming/Channels/101",
        CameraVendor::Dahua | CameraVendor::Amcrest => "/cam/realmonitor?channel=1&subtype=0",
        CameraVendor::Reolink => "/h264Preview_01_main",
        CameraVendor::Axis => "/axis-media/media.amp",
        CameraVendor::Uniview => "/unicast/c1/s0/live",
        CameraVendor::Tapo | CameraVendor::Tuya => "/stream1",
        CameraVendor::Wyze => "/live",
        CameraVendor::Foscam => "/videoMain",
    };
    format!("rtsp://{ip}:{port}{path}")
}

pub fn device_type(f: &Facts) -> DeviceType {
    let text = f.text();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if f.is_gateway {
        return DeviceType::Router;
    }
    if f.onvif
        || f.has_service(&["_onvif._tcp"])
        || camera_vendor(f).is_some()
        || has(OTHER_CAMERA_MAKERS)
        || f.has_port(&[37777, 34567])
    {
        return DeviceType::Camera;
    }
    if f.has_service(&[
        "_ipp._tcp",
        "_ipps._tcp",
        "_printer._tcp",
        "_pdl-datastream._tcp",
        "_scanner._tcp",
    ]) || f.has_port(&[9100, 515, 631])
    {
        return DeviceType::Printer;
    }
    if has(&[
        "google home",
        "nest audio",
        "nest mini",
        "homepod",
        "sonos",
        "bose",
        "echo",
    ]) || f.has_service(&["_sonos._tcp", "_spotify-connect._tcp"])
        || f.has_port(&[1400])
    {
        return DeviceType::Speaker;
    }
    if f.has_service(&["_googlecast._tcp", "_amzn-wplay._tcp", "_nvstream._tcp"])
        || f.has_port(&[8008, 8009, 8060])
        || has(&[
            "roku",
            "appletv",
            "apple tv",
            "chromecast",
            "bravia",
            "firetv",
            "shield",
        ])
    {
        return DeviceType::Tv;
    }
    if f.has_service(&["_raop._tcp"]) && !f.has_service(&["_workstation._tcp", "_ssh._tcp"]) {
        return DeviceType::Speaker;
    }
    if f.has_port(&[62078]) || has(&["iphone", "ipad", "android", "galaxy", "pixel"]) {
        return DeviceType::Phone;
    }
    if has(&[
        "synology",
        "qnap",
        "western digital",
        "netgear readynas",
        "truenas",
        "diskstation",
    ]) || f.has_port(&[5000]) && f.has_port(&[445])
    {
        return DeviceType::Nas;
    }
    if f.has_service(&["_rtsp._tcp"]) || f.has_port(&[554, 8554]) {
        return DeviceType::Camera;
    }
    if f.has_service(&[
        "_workstation._tcp",
        "_ssh._tcp",
        "_sftp-ssh._tcp",
        "_smb._tcp",
        "_afpovertcp._tcp",
    ]) || f.has_port(&[22, 445, 548])
        || has(&["raspberry", "intel", "dell", "lenovo", "macbook", "imac"])
    {
        return DeviceType::Computer;
    }
    if f.has_service(&["_hap._tcp", "_homekit._tcp", "_matter._tcp"])
        || has(&[
            "espressif",
            "tuya",
            "shelly",
            "philips lighting",
            "signify",
            "irobot",
            "nest labs",
            "ecobee",
        ])
    {
        return DeviceType::Iot;
    }
    if has(&[
        "avm",
        "ubiquiti",
        "mikrotik",
        "routerboard",
        "netgear",
        "linksys",
        "zyxel",
        "draytek",
    ]) {
        return DeviceType::Router;
    }
    if f.randomized_mac {
        // Private addresses are what phones and tablets use per network.
        return DeviceType::Phone;
    }
    DeviceType::Unknown
}

/// The type as a word for the table (emoji are two columns wide in most
/// terminals and missing in others, so the table prints words).
pub fn type_word(t: DeviceType) -> &'static str {
    match t {
        DeviceType::Camera => "camera",
        DeviceType::Printer => "printer",
        DeviceType::Tv => "TV",
        DeviceType::Phone => "phone",
        DeviceType::Computer => "computer",
        DeviceType::Router => "router",
        DeviceType::Speaker => "speaker",
        DeviceType::Nas => "NAS",
        DeviceType::Iot => "smart home",
        DeviceType::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(vendor: Option<&'a str>, services: &[&'a str], ports: &'a [u16]) -> Facts<'a> {
        Facts {
            vendor,
            services: services.to_vec(),
            open_ports: ports,
            ..Facts::default()
        }
    }

    #[test]
    fn cameras() {
        let ip = Ipv4Addr::new(10, 0, 0, 5);
        let f = facts(Some("Hikvision"), &[], &[80, 554]);
        assert_eq!(device_type(&f), DeviceType::Camera);
        let v = camera_vendor(&f).expect("vendor");
        assert_eq!(
            stream_url(v, ip, f.open_ports),
            "rtsp://10.0.0.5:554/Streaming/Channels/101"
        );
        let f = facts(Some("Dahua"), &[], &[37777]);
        assert_eq!(
            stream_url(camera_vendor(&f).expect("v"), ip, &[8554]),
            "rtsp://10.0.0.5:8554/cam/realmonitor?channel=1&subtype=0"
        );
        let f = facts(Some("TP-LINK"), &[], &[2020, 554]);
        assert_eq!(camera_vendor(&f), Some(CameraVendor::Tapo));
        assert_eq!(camera_vendor(&facts(Some("TP-LINK"), &[], &[80])), None);
        assert_eq!(
            device_type(&facts(None, &["_rtsp._tcp"], &[])),
            DeviceType::Camera
        );
        let mut f = facts(None, &[], &[80]);
        f.onvif = true;
        assert_eq!(device_type(&f), DeviceType::Camera);
    }

    #[test]
    fn others() {
        assert_eq!(
            device_type(&facts(Some("HP"), &["_ipp._tcp"], &[631])),
            DeviceType::Printer
        );
        assert_eq!(
            device_type(&facts(Some("Google"), &["_googlecast._tcp"], &[8009])),
            DeviceType::Tv
        );
        assert_eq!(
            device_type(&facts(
                Some("Raspberry Pi Foundation"),
                &["_http._tcp"],
                &[22, 8080]
            )),
            DeviceType::Computer
        );
        assert_eq!(
            device_type(&facts(Some("Synology"), &[], &[5000])),
            DeviceType::Nas
        );
        assert_eq!(
            device_type(&facts(Some("Sonos"), &[], &[1400])),
            DeviceType::Speaker
        );
        assert_eq!(
            device_type(&facts(Some("Espressif"), &[], &[])),
            DeviceType::Iot
        );
        assert_eq!(device_type(&facts(None, &[], &[])), DeviceType::Unknown);
        let mut f = facts(None, &[], &[62078]);
        f.randomized_mac = true;
        assert_eq!(device_type(&f), DeviceType::Phone);
        let mut f = facts(Some("Hikvision"), &[], &[]);
        f.is_gateway = true;
        assert_eq!(device_type(&f), DeviceType::Router);
        for t in DeviceType::ALL {
            assert!(!type_word(t).is_empty());
        }
    }
}
