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

    /// Whether the vendor's cameras answer ONVIF (events, PTZ) on their
    /// HTTP port. Wyze's RTSP firmware does not; Ring has nothing local.
    pub fn speaks_onvif(self) -> bool {
        !matches!(self, Vendor::Wyze | Vendor::Ring)
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

/// Which of a camera's streams a viewer watches: the grid takes the sub
/// stream where there is one (less of the home uplink), the single view the
/// main one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    #[default]
    Main,
    Sub,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Main => "main",
            StreamKind::Sub => "sub",
        }
    }

    pub fn parse(s: &str) -> Option<StreamKind> {
        match s {
            "main" => Some(StreamKind::Main),
            "sub" => Some(StreamKind::Sub),
            _ => None,
        }
    }

    /// The id a (camera, stream) pair travels under on the gateway tunnel
    /// and in the relay: the camera's id for its main stream, its negation
    /// for its sub stream (camera ids are positive). The gateway pulls each
    /// as a source of its own, so there is one pull per pair however many
    /// watch it, and the protocol needs no stream field.
    pub fn channel(self, camera: i64) -> i64 {
        match self {
            StreamKind::Main => camera,
            StreamKind::Sub => -camera,
        }
    }

    /// The camera and stream a channel id stands for.
    pub fn of_channel(channel: i64) -> (i64, StreamKind) {
        if channel < 0 {
            (-channel, StreamKind::Sub)
        } else {
            (channel, StreamKind::Main)
        }
    }

    pub const ALL: [StreamKind; 2] = [StreamKind::Main, StreamKind::Sub];
}

impl Camera {
    /// The stream to play for `wanted`: the sub stream only if it has one.
    pub fn stream_for(&self, wanted: StreamKind) -> StreamKind {
        match wanted {
            StreamKind::Sub if self.sub_stream_url.is_some() => StreamKind::Sub,
            _ => StreamKind::Main,
        }
    }
}

/// What happened to a camera. Online/offline come from its gateway's view
/// (a pull started or the camera answers; the camera stopped answering),
/// the others from the camera's own ONVIF events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraEventKind {
    Online,
    Offline,
    Motion,
    Person,
    Vehicle,
    Sound,
}

impl CameraEventKind {
    pub const ALL: [CameraEventKind; 6] = [
        CameraEventKind::Online,
        CameraEventKind::Offline,
        CameraEventKind::Motion,
        CameraEventKind::Person,
        CameraEventKind::Vehicle,
        CameraEventKind::Sound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CameraEventKind::Online => "online",
            CameraEventKind::Offline => "offline",
            CameraEventKind::Motion => "motion",
            CameraEventKind::Person => "person",
            CameraEventKind::Vehicle => "vehicle",
            CameraEventKind::Sound => "sound",
        }
    }

    pub fn parse(s: &str) -> Option<CameraEventKind> {
        CameraEventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CameraEventKind::Online => "Came online",
            CameraEventKind::Offline => "Went offline",
            CameraEventKind::Motion => "Motion",
            CameraEventKind::Person => "Person",
            CameraEventKind::Vehicle => "Vehicle",
            CameraEventKind::Sound => "Sound",
        }
    }

    /// Online/offline: the camera's state, stored once per change.
    pub fn is_health(self) -> bool {
        matches!(self, CameraEventKind::Online | CameraEventKind::Offline)
    }
}

/// One stored event, for the timeline and the events page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraEvent {
    pub id: i64,
    pub camera_id: i64,
    pub camera_name: String,
    pub kind: CameraEventKind,
    pub at: i64,
    /// A snapshot taken at the event is stored
    /// (`/cameras/{camera_id}/events/{id}/thumbnail`).
    #[serde(default)]
    pub has_thumbnail: bool,
}

/// The events page's filters, parsed: a kind and a UTC day, both optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub camera: Option<i64>,
    pub kind: Option<CameraEventKind>,
    /// `[start, end)` in unix seconds.
    pub day: Option<(i64, i64)>,
}

/// A calendar day `YYYY-MM-DD` as a UTC `[start, end)` range.
pub fn day_range(s: &str) -> Option<(i64, i64)> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > days_in[m as usize - 1] {
        return None;
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * i64::from(m2) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400, (days + 1) * 86_400))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_ranges_and_bad_days_are_refused() {
        assert_eq!(day_range("1970-01-02"), Some((86_400, 172_800)));
        assert_eq!(
            day_range("2026-12-01"),
            Some((1_796_083_200, 1_796_083_200 + 86_400))
        );
        assert_eq!(day_range("2024-02-29").map(|r| r.0), Some(1_709_164_800));
        for bad in ["2023-02-29", "2026-13-01", "2026-00-10", "x", "", "2026-1"] {
            assert_eq!(day_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn sub_streams_travel_as_their_own_channel() {
        for id in [1, 42] {
            for kind in StreamKind::ALL {
                assert_eq!(StreamKind::of_channel(kind.channel(id)), (id, kind));
            }
        }
        assert_ne!(StreamKind::Sub.channel(7), StreamKind::Main.channel(7));
    }
}

/// A PTZ camera's stored position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraPreset {
    pub token: String,
    pub name: String,
}

/// A PTZ request as the page sends it (all text): `op` is `move`, `stop`,
/// `presets`, `goto` (with `token`) or `save` (with `name`); a move has
/// `pan`, `tilt`, `zoom` velocities in `-1 ..= 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtzForm {
    #[serde(default)]
    pub camera: String,
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub pan: String,
    #[serde(default)]
    pub tilt: String,
    #[serde(default)]
    pub zoom: String,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PtzOp {
    Move { pan: f32, tilt: f32, zoom: f32 },
    Stop,
    Presets,
    Goto(String),
    Save(String),
}

/// A checked PTZ request.
#[derive(Debug, Clone, PartialEq)]
pub struct PtzRequest {
    pub camera: i64,
    pub op: PtzOp,
}

impl TryFrom<&PtzForm> for PtzRequest {
    type Error = crate::error::AppError;

    fn try_from(f: &PtzForm) -> Result<Self, Self::Error> {
        use crate::error::AppError;
        let camera = f
            .camera
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| AppError::invalid_field("camera", "Choose one of your cameras."))?;
        let speed = |field: &'static str, v: &str| -> Result<f32, AppError> {
            match v.trim() {
                "" => Ok(0.0),
                t => t
                    .parse::<f32>()
                    .ok()
                    .filter(|x| x.is_finite() && (-1.0..=1.0).contains(x))
                    .ok_or_else(|| AppError::invalid_field(field, "A speed from -1 to 1.")),
            }
        };
        let text = |field: &'static str, v: &str| -> Result<String, AppError> {
            let t = v.trim();
            if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
                return Err(AppError::invalid_field(field, "1 to 64 characters."));
            }
            Ok(t.to_string())
        };
        let op = match f.op.trim() {
            "move" => {
                let (pan, tilt, zoom) = (
                    speed("pan", &f.pan)?,
                    speed("tilt", &f.tilt)?,
                    speed("zoom", &f.zoom)?,
                );
                if pan == 0.0 && tilt == 0.0 && zoom == 0.0 {
                    return Err(AppError::invalid_field("pan", "A move needs a direction."));
                }
                PtzOp::Move { pan, tilt, zoom }
            }
            "stop" => PtzOp::Stop,
            "presets" => PtzOp::Presets,
            "goto" => PtzOp::Goto(text("token", &f.token)?),
            "save" => PtzOp::Save(text("name", &f.name)?),
            _ => return Err(AppError::invalid_field("op", "Unknown PTZ command.")),
        };
        Ok(PtzRequest { camera, op })
    }
}

/// A camera on the notification settings, and whether it is picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyCamera {
    pub id: i64,
    pub name: String,
    pub chosen: bool,
}

/// Who gets mailed about what: the kinds, every camera or only the picked
/// ones, and quiet hours (minutes after midnight UTC; `from > to` spans
/// midnight). No kinds: no mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NotifyPrefs {
    pub kinds: Vec<CameraEventKind>,
    pub all_cameras: bool,
    pub cameras: Vec<NotifyCamera>,
    pub quiet: Option<(u16, u16)>,
}

impl NotifyPrefs {
    /// Whether `minute` (of the UTC day) is inside the quiet hours.
    pub fn is_quiet(quiet: Option<(u16, u16)>, minute: u16) -> bool {
        match quiet {
            None => false,
            Some((from, to)) if from <= to => (from..to).contains(&minute),
            Some((from, to)) => minute >= from || minute < to,
        }
    }
}

/// "HH:MM" → minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

pub fn format_hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The notification form as sent: a checkbox per kind (`on` or absent),
/// `cameras` = `all` or `chosen`, quiet hours as `HH:MM` (both or none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyForm {
    #[serde(default)]
    pub online: String,
    #[serde(default)]
    pub offline: String,
    #[serde(default)]
    pub motion: String,
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub vehicle: String,
    #[serde(default)]
    pub sound: String,
    #[serde(default)]
    pub cameras: String,
    #[serde(default)]
    pub quiet_from: String,
    #[serde(default)]
    pub quiet_to: String,
}

/// A checked notification form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidNotify {
    pub kinds: Vec<CameraEventKind>,
    pub all_cameras: bool,
    pub quiet: Option<(u16, u16)>,
}

impl TryFrom<&NotifyForm> for ValidNotify {
    type Error = crate::error::AppError;

    fn try_from(f: &NotifyForm) -> Result<Self, Self::Error> {
        use crate::error::AppError;
        let on = |v: &str| matches!(v.trim(), "on" | "true" | "1");
        let kinds = [
            (CameraEventKind::Online, &f.online),
            (CameraEventKind::Offline, &f.offline),
            (CameraEventKind::Motion, &f.motion),
            (CameraEventKind::Person, &f.person),
            (CameraEventKind::Vehicle, &f.vehicle),
            (CameraEventKind::Sound, &f.sound),
        ]
        .into_iter()
        .filter(|(_, v)| on(v))
        .map(|(k, _)| k)
        .collect();
        let all_cameras = match f.cameras.trim() {
            "" | "all" => true,
            "chosen" => false,
            _ => {
                return Err(AppError::invalid_field(
                    "cameras",
                    "Choose all or picked cameras.",
                ))
            }
        };
        let time = |field: &'static str, v: &str| match v.trim() {
            "" => Ok(None),
            t => parse_hhmm(t)
                .map(Some)
                .ok_or_else(|| AppError::invalid_field(field, "A time as HH:MM.")),
        };
        let quiet = match (
            time("quiet_from", &f.quiet_from)?,
            time("quiet_to", &f.quiet_to)?,
        ) {
            (None, None) => None,
            (Some(a), Some(b)) if a != b => Some((a, b)),
            (Some(_), Some(_)) => {
                return Err(AppError::invalid_field(
                    "quiet_to",
                    "Quiet hours need an end apart from their start.",
                ))
            }
            (None, Some(_)) => {
                return Err(AppError::invalid_field(
                    "quiet_from",
                    "Give quiet hours a start.",
                ))
            }
            (Some(_), None) => {
                return Err(AppError::invalid_field(
                    "quiet_to",
                    "Give quiet hours an end.",
                ))
            }
        };
        Ok(ValidNotify {
            kinds,
            all_cameras,
            quiet,
        })
    }
}

#[cfg(test)]
mod notify_tests {
    use super::*;

    #[test]
    fn quiet_hours_span_midnight() {
        let q = Some((22 * 60, 7 * 60));
        assert!(NotifyPrefs::is_quiet(q, 23 * 60));
        assert!(NotifyPrefs::is_quiet(q, 60));
        assert!(!NotifyPrefs::is_quiet(q, 7 * 60));
        assert!(!NotifyPrefs::is_quiet(q, 12 * 60));
        let day = Some((9 * 60, 17 * 60));
        assert!(NotifyPrefs::is_quiet(day, 9 * 60));
        assert!(!NotifyPrefs::is_quiet(day, 17 * 60));
        assert!(!NotifyPrefs::is_quiet(None, 0));
        assert_eq!(parse_hhmm("07:30"), Some(450));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(format_hhmm(450), "07:30");
    }

    #[test]
    fn the_form_is_checked() {
        let f = NotifyForm {
            motion: "on".into(),
            person: "on".into(),
            cameras: "chosen".into(),
            quiet_from: "22:00".into(),
            quiet_to: "07:00".into(),
            ..Default::default()
        };
        let v = ValidNotify::try_from(&f).unwrap();
        assert_eq!(v.kinds, [CameraEventKind::Motion, CameraEventKind::Person]);
        assert!(!v.all_cameras);
        assert_eq!(v.quiet, Some((1320, 420)));
        let bad = NotifyForm {
            quiet_from: "22:00".into(),
            ..Default::default()
        };
        assert_eq!(
            ValidNotify::try_from(&bad).unwrap_err().field(),
            Some("quiet_to")
        );
    }
}
