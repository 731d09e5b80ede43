//! Pure camera rules: vendor stream-URL patterns and input validation.
//! Credentials are kept out of the URLs we store: they live in their own
//! (encrypted) fields and travel to the gateway separately, because retina
//! refuses credentials inside an RTSP URL and a URL ends up in logs.

use super::model::Vendor;
use crate::error::AppError;

pub const DEFAULT_RTSP_PORT: u16 = 554;
pub const DEFAULT_HTTP_PORT: u16 = 80;
const MAX_URL: usize = 512;
const MAX_CREDENTIAL: usize = 128;

/// `host` as it goes into a URL (IPv6 literals in brackets).
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The vendor's main and sub stream URLs (no credentials), when it has a
/// fixed pattern. Generic ONVIF cameras must be asked (GetStreamUri) or typed.
pub fn stream_urls(vendor: Vendor, host: &str, port: u16) -> Option<(String, Option<String>)> {
    let base = format!("rtsp://{}:{port}", url_host(host));
    let (main, sub): (&str, Option<&str>) = match vendor {
        Vendor::Hikvision => ("/Streaming/Channels/101", Some("/Streaming/Channels/102")),
        Vendor::Dahua | Vendor::Amcrest => (
            "/cam/realmonitor?channel=1&subtype=0",
            Some("/cam/realmonitor?channel=1&subtype=1"),
        ),
        Vendor::Reolink => ("/h264Preview_01_main", Some("/h264Preview_01_sub")),
        Vendor::Axis => ("/axis-media/media.amp", None),
        Vendor::Uniview => ("/media/video1", Some("/media/video2")),
        Vendor::Tapo => ("/stream1", Some("/stream2")),
        Vendor::Wyze => ("/live", None),
        Vendor::Tuya => ("/Streaming/Channels/101", Some("/Streaming/Channels/102")),
        Vendor::Ring | Vendor::Generic => return None,
    };
    Some((format!("{base}{main}"), sub.map(|s| format!("{base}{s}"))))
}

/// The vendor's JPEG snapshot URL, when it has a well-known one.
pub fn snapshot_url(vendor: Vendor, host: &str, http_port: u16) -> Option<String> {
    let path = match vendor {
        Vendor::Hikvision => "/ISAPI/Streaming/channels/101/picture",
        Vendor::Dahua | Vendor::Amcrest => "/cgi-bin/snapshot.cgi",
        Vendor::Reolink => "/cgi-bin/api.cgi?cmd=Snap&channel=0",
        Vendor::Axis => "/axis-cgi/jpg/image.cgi",
        Vendor::Uniview
        | Vendor::Tapo
        | Vendor::Wyze
        | Vendor::Tuya
        | Vendor::Ring
        | Vendor::Generic => return None,
    };
    Some(format!("http://{}:{http_port}{path}", url_host(host)))
}

/// The ONVIF device service of a camera at the form's address and HTTP port.
pub fn onvif_device_url(ip: &str, http_port: &str) -> Result<String, AppError> {
    let ip = host(ip).map_err(at("ip"))?;
    let port = port("HTTP port", http_port, DEFAULT_HTTP_PORT).map_err(at("http_port"))?;
    Ok(format!(
        "http://{}:{port}/onvif/device_service",
        url_host(&ip)
    ))
}

/// What the add/edit form sent, as text.
#[derive(Debug, Clone, Default)]
pub struct CameraForm {
    pub name: String,
    pub vendor: String,
    pub model: String,
    pub ip: String,
    pub mac: String,
    pub rtsp_port: String,
    pub http_port: String,
    pub main_stream_url: String,
    pub sub_stream_url: String,
    pub snapshot_url: String,
    pub username: String,
    /// Empty on edit: keep the stored password.
    pub password: String,
    pub gateway_id: String,
    pub lan_device_id: String,
}

/// Every (host, port) a camera's credentials are sent to: its address and
/// ports, and the hosts of its stream and snapshot URLs. A stored password
/// is only kept on an edit that leaves this set as it was, so an edit
/// cannot point the old credentials at a new host.
pub fn credential_endpoints(
    ip: &str,
    rtsp_port: u16,
    http_port: u16,
    urls: &[Option<&str>],
) -> std::collections::BTreeSet<(String, u16)> {
    let mut set = std::collections::BTreeSet::new();
    set.insert((ip.to_ascii_lowercase(), rtsp_port));
    set.insert((ip.to_ascii_lowercase(), http_port));
    for raw in urls.iter().flatten() {
        match url::Url::parse(raw) {
            Ok(u) => {
                let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
                let port = u.port_or_known_default().unwrap_or(match u.scheme() {
                    "rtsp" => 554,
                    _ => 0,
                });
                set.insert((host, port));
            }
            // Unparseable (legacy rows): compare the text itself.
            Err(_) => {
                set.insert((raw.to_string(), 0));
            }
        }
    }
    set
}

impl ValidCamera {
    pub fn credential_endpoints(&self) -> std::collections::BTreeSet<(String, u16)> {
        credential_endpoints(
            &self.ip,
            self.rtsp_port,
            self.http_port,
            &[
                Some(&self.main_stream_url),
                self.sub_stream_url.as_deref(),
                self.snapshot_url.as_deref(),
            ],
        )
    }
}

/// A validated camera, password still in clear (the service seals it).
#[derive(Clone, PartialEq, Eq)]
pub struct ValidCamera {
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
    pub password: Option<String>,
    pub gateway_id: Option<i64>,
    pub lan_device_id: Option<i64>,
}

// Hand-written so the password never reaches a log line.
impl std::fmt::Debug for ValidCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidCamera")
            .field("name", &self.name)
            .field("ip", &self.ip)
            .field("main_stream_url", &self.main_stream_url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<Option<String>, String> {
    let v = value.trim();
    if v.is_empty() {
        return if required {
            Err(format!("{field} is required."))
        } else {
            Ok(None)
        };
    }
    if v.chars().count() > max {
        return Err(format!("{field} must be at most {max} characters."));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{field} holds control characters."));
    }
    Ok(Some(v.to_string()))
}

fn port(field: &str, value: &str, default: u16) -> Result<u16, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(default);
    }
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{field} must be a port number from 1 to 65535.")),
    }
}

fn optional_id(field: &str, value: &str) -> Result<Option<i64>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(Some)
        .ok_or_else(|| format!("{field} is not valid."))
}

/// An IP address or a host name.
fn host(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("IP address is required.".into());
    }
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Ok(v.to_string());
    }
    let hostname_ok = v.len() <= 253
        && v.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if hostname_ok {
        Ok(v.to_ascii_lowercase())
    } else {
        Err("IP address must be an IPv4 or IPv6 address or a host name.".into())
    }
}

/// A URL with one of `schemes`, no credentials inside it, bounded.
fn checked_url(field: &str, value: &str, schemes: &[&str]) -> Result<Option<String>, String> {
    let Some(v) = text(field, value, MAX_URL, false)? else {
        return Ok(None);
    };
    let url = url::Url::parse(&v).map_err(|_| format!("{field} is not a valid URL."))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!("{field} must start with {}://.", schemes[0]));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{field} has no host."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "Put the user name and password in their own fields, not inside the {field}."
        ));
    }
    Ok(Some(v))
}

fn mac(value: &str) -> Result<Option<String>, String> {
    let v = value.trim().to_ascii_lowercase().replace('-', ":");
    if v.is_empty() {
        return Ok(None);
    }
    let ok = v.len() == 17
        && v.split(':').count() == 6
        && v.split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(Some(v))
    } else {
        Err("MAC address must look like aa:bb:cc:dd:ee:ff.".into())
    }
}

/// Names the form field a rule's message is about.
fn at(field: &'static str) -> impl Fn(String) -> AppError {
    move |message| AppError::invalid_field(field, message)
}

/// Validates a camera form; empty stream and snapshot URLs are filled from
/// the vendor's pattern.
pub fn validate(form: &CameraForm) -> Result<ValidCamera, AppError> {
    let name = text("Name", &form.name, 64, true)
        .map_err(at("name"))?
        .unwrap_or_default();
    let vendor = match form.vendor.trim() {
        "" => Vendor::Generic,
        v => {
            Vendor::parse(v).ok_or_else(|| at("vendor")("Choose a vendor from the list.".into()))?
        }
    };
    if vendor.cloud_only() {
        return Err(AppError::CameraCloudOnly);
    }
    let ip = host(&form.ip).map_err(at("ip"))?;
    let rtsp_port =
        port("RTSP port", &form.rtsp_port, vendor.default_rtsp_port()).map_err(at("rtsp_port"))?;
    let http_port =
        port("HTTP port", &form.http_port, DEFAULT_HTTP_PORT).map_err(at("http_port"))?;
    let patterns = stream_urls(vendor, &ip, rtsp_port);
    let main_stream_url = match checked_url(
        "Main stream URL",
        &form.main_stream_url,
        &["rtsp", "rtsps"],
    )
    .map_err(at("main_stream_url"))?
    {
        Some(u) => u,
        None => patterns.as_ref().map(|(m, _)| m.clone()).ok_or_else(|| {
            at("main_stream_url")(
                "Enter the camera's main stream URL (rtsp://…); other cameras have no fixed pattern."
                    .into(),
            )
        })?,
    };
    let sub_stream_url =
        match checked_url("Sub stream URL", &form.sub_stream_url, &["rtsp", "rtsps"])
            .map_err(at("sub_stream_url"))?
        {
            Some(u) => Some(u),
            // Only fill the sub stream when the main one is the pattern's too.
            None => patterns
                .filter(|(m, _)| *m == main_stream_url)
                .and_then(|(_, s)| s),
        };
    let snapshot_url = match checked_url("Snapshot URL", &form.snapshot_url, &["http", "https"])
        .map_err(at("snapshot_url"))?
    {
        Some(u) => Some(u),
        None => snapshot_url(vendor, &ip, http_port),
    };
    let username =
        text("User name", &form.username, MAX_CREDENTIAL, false).map_err(at("username"))?;
    // Passwords may hold spaces at either end; only the length is bounded.
    let password = (!form.password.is_empty()).then(|| form.password.clone());
    if let Some(p) = &password {
        if p.chars().count() > MAX_CREDENTIAL || p.chars().any(char::is_control) {
            return Err(at("password")(format!(
                "Password must be at most {MAX_CREDENTIAL} characters without control characters."
            )));
        }
    }
    Ok(ValidCamera {
        name,
        vendor,
        model: text("Model", &form.model, 64, false).map_err(at("model"))?,
        ip,
        mac: mac(&form.mac).map_err(at("mac"))?,
        rtsp_port,
        http_port,
        main_stream_url,
        sub_stream_url,
        snapshot_url,
        username,
        password,
        gateway_id: optional_id("Gateway", &form.gateway_id).map_err(at("gateway_id"))?,
        lan_device_id: optional_id("Network device", &form.lan_device_id)
            .map_err(at("lan_device_id"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(vendor: &str, ip: &str) -> CameraForm {
        CameraForm {
            name: "Porch".into(),
            vendor: vendor.into(),
            ip: ip.into(),
            ..Default::default()
        }
    }

    #[test]
    fn vendor_patterns() {
        let cases = [
            (
                Vendor::Hikvision,
                "rtsp://10.0.0.5:554/Streaming/Channels/101",
                Some("rtsp://10.0.0.5:554/Streaming/Channels/102"),
            ),
            (
                Vendor::Dahua,
                "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=0",
                Some("rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=1"),
            ),
            (
                Vendor::Amcrest,
                "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=0",
                Some("rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=1"),
            ),
            (
                Vendor::Reolink,
                "rtsp://10.0.0.5:554/h264Preview_01_main",
                Some("rtsp://10.0.0.5:554/h264Preview_01_sub"),
            ),
            (
                Vendor::Axis,
                "rtsp://10.0.0.5:554/axis-media/media.amp",
                None,
            ),
            (
                Vendor::Uniview,
                "rtsp://10.0.0.5:554/media/video1",
                Some("rtsp://10.0.0.5:554/media/video2"),
            ),
            (
                Vendor::Tapo,
                "rtsp://10.0.0.5:554/stream1",
                Some("rtsp://10.0.0.5:554/stream2"),
            ),
        ];
        for (vendor, main, sub) in cases {
            let (m, s) = stream_urls(vendor, "10.0.0.5", 554).expect("pattern");
            assert_eq!(m, main, "{vendor:?}");
            assert_eq!(s.as_deref(), sub, "{vendor:?}");
        }
        assert_eq!(stream_urls(Vendor::Generic, "10.0.0.5", 554), None);
        assert_eq!(
            stream_urls(Vendor::Tapo, "fe80::1", 8554).unwrap().0,
            "rtsp://[fe80::1]:8554/stream1"
        );
    }

    #[test]
    fn wyze_tuya_and_ring_presets() {
        let c = validate(&form("wyze", "192.168.1.30")).unwrap();
        assert_eq!(c.main_stream_url, "rtsp://192.168.1.30:554/live");
        assert_eq!(c.sub_stream_url, None);
        let c = validate(&form("tuya", "192.168.1.31")).unwrap();
        assert_eq!(c.rtsp_port, 8554);
        assert_eq!(
            c.main_stream_url,
            "rtsp://192.168.1.31:8554/Streaming/Channels/101"
        );
        assert_eq!(
            c.sub_stream_url.as_deref(),
            Some("rtsp://192.168.1.31:8554/Streaming/Channels/102")
        );
        // Ring has no local stream: refused by code, whatever else is typed.
        let mut f = form("ring", "192.168.1.32");
        f.main_stream_url = "rtsp://192.168.1.32/live".into();
        assert_eq!(validate(&f).unwrap_err().code(), "CAMERA_CLOUD_ONLY");
        assert_eq!(Vendor::guess("Wyze Labs Inc"), Vendor::Wyze);
        assert_eq!(Vendor::guess("Tuya Smart Inc."), Vendor::Tuya);
        assert_eq!(Vendor::guess("Ring LLC"), Vendor::Ring);
        for v in Vendor::ALL {
            assert_eq!(Vendor::parse(v.as_str()), Some(v));
        }
    }

    #[test]
    fn fills_urls_from_the_vendor() {
        let c = validate(&form("hikvision", "192.168.1.20")).unwrap();
        assert_eq!(
            c.main_stream_url,
            "rtsp://192.168.1.20:554/Streaming/Channels/101"
        );
        assert_eq!(
            c.sub_stream_url.as_deref(),
            Some("rtsp://192.168.1.20:554/Streaming/Channels/102")
        );
        assert_eq!(
            c.snapshot_url.as_deref(),
            Some("http://192.168.1.20:80/ISAPI/Streaming/channels/101/picture")
        );
        assert_eq!((c.rtsp_port, c.http_port), (554, 80));
        // A typed main URL is kept and no pattern sub stream is invented.
        let mut f = form("hikvision", "192.168.1.20");
        f.main_stream_url = "rtsp://192.168.1.20:8554/custom".into();
        let c = validate(&f).unwrap();
        assert_eq!(c.main_stream_url, "rtsp://192.168.1.20:8554/custom");
        assert_eq!(c.sub_stream_url, None);
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(
            validate(&form("generic", "10.0.0.5")).unwrap_err().field(),
            Some("main_stream_url")
        );
        assert!(validate(&form("nokia", "10.0.0.5")).is_err());
        assert!(validate(&form("tapo", "not a host!")).is_err());
        let mut f = form("tapo", "10.0.0.5");
        f.main_stream_url = "rtsp://admin:pw@10.0.0.5/stream1".into();
        assert_eq!(validate(&f).unwrap_err().field(), Some("main_stream_url"));
        f.main_stream_url = "http://10.0.0.5/stream1".into();
        assert!(validate(&f).is_err());
        let mut f = form("tapo", "10.0.0.5");
        f.rtsp_port = "70000".into();
        assert!(validate(&f).is_err());
        f.rtsp_port = "0".into();
        assert!(validate(&f).is_err());
        let mut f = form("tapo", "10.0.0.5");
        f.name = "x".repeat(65);
        assert!(validate(&f).is_err());
        let mut f = form("tapo", "10.0.0.5");
        f.mac = "zz:00".into();
        assert!(validate(&f).is_err());
        f.mac = "AA-BB-CC-DD-EE-FF".into();
        assert_eq!(
            validate(&f).unwrap().mac.as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
    }

    #[test]
    fn moving_any_host_or_port_changes_the_credential_endpoints() {
        let base = || {
            credential_endpoints(
                "192.168.1.20",
                554,
                80,
                &[
                    Some("rtsp://192.168.1.20/live"),
                    None,
                    Some("http://192.168.1.20/snap.jpg"),
                ],
            )
        };
        assert_eq!(base(), base());
        for moved in [
            credential_endpoints(
                "192.168.1.20",
                554,
                80,
                &[
                    Some("rtsp://203.0.113.5/live"),
                    None,
                    Some("http://192.168.1.20/snap.jpg"),
                ],
            ),
            credential_endpoints(
                "192.168.1.20",
                554,
                80,
                &[
                    Some("rtsp://192.168.1.20/live"),
                    None,
                    Some("http://203.0.113.5/snap.jpg"),
                ],
            ),
            credential_endpoints(
                "192.168.1.20",
                554,
                80,
                &[
                    Some("rtsp://192.168.1.20:8554/live"),
                    None,
                    Some("http://192.168.1.20/snap.jpg"),
                ],
            ),
            credential_endpoints(
                "192.168.1.21",
                554,
                80,
                &[
                    Some("rtsp://192.168.1.20/live"),
                    None,
                    Some("http://192.168.1.20/snap.jpg"),
                ],
            ),
            credential_endpoints(
                "192.168.1.20",
                554,
                80,
                &[
                    Some("rtsp://192.168.1.20/live"),
                    Some("rtsp://203.0.113.5/sub"),
                    Some("http://192.168.1.20/snap.jpg"),
                ],
            ),
        ] {
            assert_ne!(moved, base());
        }
        // A path change alone keeps the credentials where they were.
        assert_eq!(
            credential_endpoints(
                "192.168.1.20",
                554,
                80,
                &[
                    Some("rtsp://192.168.1.20/other"),
                    None,
                    Some("http://192.168.1.20/snap2.jpg")
                ]
            ),
            base()
        );
    }

    #[test]
    fn password_is_redacted_in_debug() {
        let mut f = form("tapo", "10.0.0.5");
        f.password = "hunter2".into();
        let c = validate(&f).unwrap();
        assert_eq!(c.password.as_deref(), Some("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn guesses_vendors() {
        assert_eq!(
            Vendor::guess("Hangzhou Hikvision Digital"),
            Vendor::Hikvision
        );
        assert_eq!(Vendor::guess("TP-LINK TECHNOLOGIES"), Vendor::Tapo);
        assert_eq!(Vendor::guess("Acme"), Vendor::Generic);
    }
}
