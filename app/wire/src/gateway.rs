//! Camera gateway ↔ portal: the gateway tunnel.
//!
//! The gateway dials **out** to `GET {portal}/api/v1/gateways/tunnel` with
//! `Authorization: Bearer <gateway token>` and keeps that one WebSocket open
//! (WebSocket pings every [`PING_INTERVAL_SECS`]; either side drops the
//! connection after [`IDLE_TIMEOUT_SECS`] without hearing anything).
//!
//! # Control messages (WebSocket text frames)
//!
//! JSON objects tagged by `"type"` (snake case), at most
//! [`MAX_CONTROL_MESSAGE`] bytes:
//!
//! | direction | `type` | fields |
//! |---|---|---|
//! | gateway → portal | `hello` | `version` ([`PROTOCOL_VERSION`]), `agent` (`truevault-gateway/0.1.0`) |
//! | gateway → portal | `stream_started` | `camera_id`, `codec` (RFC 6381, e.g. `avc1.64001F`), `width`, `height` |
//! | gateway → portal | `stream_error` | `camera_id`, `message`, `retry_in_ms` (the gateway re-dials by itself) |
//! | gateway → portal | `stream_stopped` | `camera_id` |
//! | gateway → portal | `snapshot_result` | `request_id`, `camera_id`, `content_type`, `data` (base64) |
//! | gateway → portal | `snapshot_error` | `request_id`, `camera_id`, `message` |
//! | gateway → portal | `camera_status` | `camera_id`, `reachable` (a camera marked `watch`, checked whether or not anyone views it) |
//! | gateway → portal | `camera_event` | `camera_id`, `kind` ([`DetectedKind`]), `topic`, `thumbnail` (optional [`Thumbnail`], at most [`MAX_THUMBNAIL_BYTES`]) |
//! | gateway → portal | `ptz_result` | `request_id`, `camera_id`, `presets` (for `presets`), or `error` |
//! | portal → gateway | `cameras` | `cameras`: list of [`CameraSpec`] (the whole list each time) |
//! | portal → gateway | `start_stream` | `camera_id` |
//! | portal → gateway | `stop_stream` | `camera_id` |
//! | portal → gateway | `snapshot` | `request_id`, `camera_id` |
//! | portal → gateway | `ptz` | `request_id`, `camera_id`, `command` ([`PtzCommand`]) |
//!
//! Example: `{"type":"start_stream","camera_id":7}`.
//!
//! # Media (WebSocket binary frames, gateway → portal only)
//!
//! A fixed [`MEDIA_HEADER_LEN`]-byte header, all integers big-endian, then
//! the fMP4 bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `TVMF` |
//! | 4 | 1 | header version, [`MEDIA_VERSION`] |
//! | 5 | 1 | kind: 0 = init segment (`ftyp`+`moov`), 1 = fragment (`moof`+`mdat`) |
//! | 6 | 1 | flags: bit 0 = fragment starts with a key frame; other bits 0 |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 8 | camera id (i64) |
//! | 16 | 8 | sequence number of the fragment within the pull (init: 0) |
//! | 24 | 8 | µs since the Unix epoch when the gateway received the frame's last RTP packet |
//! | 32 | 8 | µs since the Unix epoch when the gateway finished muxing the fragment |
//!
//! The payload is 1 ..= [`MAX_MEDIA_PAYLOAD`] bytes. The two timestamps let
//! the portal (and a viewer) measure the added latency; they are wall-clock
//! and only comparable on one machine or with synchronised clocks.
//!
//! A pull always sends an init segment before its first fragment, and its
//! first fragment after an init segment is a key frame. A new init segment
//! (after a camera re-dial) replaces the old one.

use serde::{Deserialize, Serialize};

/// Camera ids are the portal's database ids.
pub type CameraId = i64;

/// Bumped on incompatible changes to the control messages.
pub const PROTOCOL_VERSION: u32 = 1;
/// The tunnel path on the portal.
pub const TUNNEL_PATH: &str = "/api/v1/gateways/tunnel";
pub const PING_INTERVAL_SECS: u64 = 15;
pub const IDLE_TIMEOUT_SECS: u64 = 45;

/// A control message (text frame) larger than this is refused. It has room
/// for a base64 snapshot of [`MAX_SNAPSHOT_BYTES`].
pub const MAX_CONTROL_MESSAGE: usize = 4 * 1024 * 1024;
/// Snapshots larger than this are refused by the gateway.
pub const MAX_SNAPSHOT_BYTES: usize = 2 * 1024 * 1024;
/// A thumbnail sent with an event: larger snapshots go without one.
pub const MAX_THUMBNAIL_BYTES: usize = 256 * 1024;
/// Cameras in one `cameras` message.
pub const MAX_CAMERAS: usize = 256;

pub const MEDIA_MAGIC: [u8; 4] = *b"TVMF";
pub const MEDIA_VERSION: u8 = 1;
pub const MEDIA_HEADER_LEN: usize = 40;
/// One fMP4 fragment (one frame) or init segment; a 4K key frame fits.
pub const MAX_MEDIA_PAYLOAD: usize = 4 * 1024 * 1024;
/// The largest binary frame either side accepts.
pub const MAX_MEDIA_FRAME: usize = MEDIA_HEADER_LEN + MAX_MEDIA_PAYLOAD;

const FLAG_KEYFRAME: u8 = 1;

/// What the portal tells the gateway about one camera.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CameraSpec {
    pub id: CameraId,
    pub name: String,
    /// `rtsp://host:port/path`; credentials inside the URL are accepted but
    /// the gateway moves them to `username`/`password` (retina refuses them).
    pub rtsp_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_url: Option<String>,
    /// Check the camera's reachability (and, with `onvif_url`, follow its
    /// ONVIF events) all the time, not only while it is pulled. The portal
    /// sets it on a camera's main stream; older portals never do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub watch: bool,
    /// The camera's ONVIF device service (`http://host:port/onvif/device_service`),
    /// for events and PTZ; logged in with `username`/`password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onvif_url: Option<String>,
}

// Hand-written so a password never reaches a log line.
impl std::fmt::Debug for CameraSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("rtsp_url", &redact_url(&self.rtsp_url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "snapshot_url",
                &self.snapshot_url.as_deref().map(redact_url),
            )
            .field("watch", &self.watch)
            .field("onvif_url", &self.onvif_url.as_deref().map(redact_url))
            .finish()
    }
}

/// `rtsp://user:pass@host/…` → `rtsp://<redacted>@host/…`, for logs.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}<redacted>{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// What a camera's ONVIF event was about, as the gateway read its topic.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DetectedKind {
    Motion,
    Person,
    Vehicle,
    Sound,
    /// A kind a newer gateway sends that this side does not know.
    #[serde(other)]
    Other,
}

/// A small image taken at an event.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Thumbnail {
    pub content_type: String,
    /// base64 (standard alphabet, padded).
    pub data: String,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("content_type", &self.content_type)
            .field("base64_len", &self.data.len())
            .finish()
    }
}

/// What the portal asks a PTZ camera to do. Velocities are ONVIF's generic
/// space, each in `-1.0 ..= 1.0`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PtzCommand {
    /// ContinuousMove until `stop` (or the camera's own timeout).
    Move {
        pan: f32,
        tilt: f32,
        zoom: f32,
    },
    Stop,
    Presets,
    GotoPreset {
        token: String,
    },
    SavePreset {
        name: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PtzPreset {
    pub token: String,
    pub name: String,
}

/// Gateway → portal control messages.
/// Why a camera pull failed, as a stable code the portal turns into words
/// (the message text is for logs only).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum StreamErrorCode {
    /// The camera refused the user name or password (RTSP 401/403).
    AuthRefused,
    /// Nothing answered at the camera's address, or the connection dropped.
    Unreachable,
    /// The camera answered but took too long or stopped sending video.
    Timeout,
    /// The stream is not H.264/H.265 video, or cannot be packaged.
    Unsupported,
    /// The stream URL is malformed or not rtsp://.
    BadUrl,
    /// The portal asked for a camera the gateway was not given.
    UnknownCamera,
    /// Anything else, and codes a newer gateway sends that this portal
    /// does not know.
    #[default]
    #[serde(other)]
    Other,
}

impl StreamErrorCode {
    /// The code as the portal's UI and tests match it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthRefused => "CAMERA_AUTH_REFUSED",
            Self::Unreachable => "CAMERA_UNREACHABLE",
            Self::Timeout => "CAMERA_TIMEOUT",
            Self::Unsupported => "CAMERA_UNSUPPORTED",
            Self::BadUrl => "CAMERA_BAD_URL",
            Self::UnknownCamera => "CAMERA_UNKNOWN",
            Self::Other => "CAMERA_ERROR",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GatewayMessage {
    Hello {
        version: u32,
        agent: String,
    },
    StreamStarted {
        camera_id: CameraId,
        codec: String,
        width: u32,
        height: u32,
    },
    StreamError {
        camera_id: CameraId,
        message: String,
        retry_in_ms: u64,
        /// Absent from older gateways: `other`.
        #[serde(default)]
        code: StreamErrorCode,
        /// The gateway stopped retrying (until the camera is edited).
        #[serde(default)]
        gave_up: bool,
    },
    StreamStopped {
        camera_id: CameraId,
    },
    SnapshotResult {
        request_id: u64,
        camera_id: CameraId,
        content_type: String,
        /// The image, base64 (standard alphabet, padded).
        data: String,
    },
    SnapshotError {
        request_id: u64,
        camera_id: CameraId,
        message: String,
    },
    /// What an ONVIF camera said about its streams (answers `onvif_probe`).
    OnvifResult {
        request_id: u64,
        main_stream_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sub_stream_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot_url: Option<String>,
    },
    OnvifError {
        request_id: u64,
        message: String,
    },
    /// A watched camera's reachability: sent on every change, and once
    /// after each camera list.
    CameraStatus {
        camera_id: CameraId,
        reachable: bool,
    },
    /// Something the camera itself reported (an ONVIF event that became active).
    CameraEvent {
        camera_id: CameraId,
        kind: DetectedKind,
        /// The ONVIF topic, for logs.
        topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<Thumbnail>,
    },
    PtzResult {
        request_id: u64,
        camera_id: CameraId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        presets: Option<Vec<PtzPreset>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// Portal → gateway control messages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PortalMessage {
    Cameras {
        cameras: Vec<CameraSpec>,
    },
    StartStream {
        camera_id: CameraId,
    },
    StopStream {
        camera_id: CameraId,
    },
    Snapshot {
        request_id: u64,
        camera_id: CameraId,
    },
    /// Ask the ONVIF device service at `device_url` (GetCapabilities,
    /// GetProfiles, GetStreamUri, GetSnapshotUri) for a camera being added,
    /// before it has an id.
    OnvifProbe {
        request_id: u64,
        device_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login: Option<OnvifLogin>,
    },
    Ptz {
        request_id: u64,
        camera_id: CameraId,
        command: PtzCommand,
    },
}

/// A camera's ONVIF user; `Debug` never shows the password.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OnvifLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for OnvifLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnvifLogin")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("control message of {0} bytes exceeds the {MAX_CONTROL_MESSAGE}-byte limit")]
    ControlTooLarge(usize),
    #[error("invalid control message: {0}")]
    BadJson(String),
    #[error("too many cameras: {0} (limit {MAX_CAMERAS})")]
    TooManyCameras(usize),
    #[error("media frame of {0} bytes is shorter than its {MEDIA_HEADER_LEN}-byte header")]
    MediaTooShort(usize),
    #[error("media frame payload of {0} bytes exceeds the {MAX_MEDIA_PAYLOAD}-byte limit")]
    MediaTooLarge(usize),
    #[error("media frame has no payload")]
    MediaEmpty,
    #[error("media frame has a bad magic number")]
    BadMagic,
    #[error("unsupported media header version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown media kind {0}")]
    UnknownKind(u8),
    #[error("reserved media flags set: {0:#04x}")]
    ReservedFlags(u8),
}

impl GatewayMessage {
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(text: &str) -> Result<Self, WireError> {
        if text.len() > MAX_CONTROL_MESSAGE {
            return Err(WireError::ControlTooLarge(text.len()));
        }
        serde_json::from_str(text).map_err(|e| WireError::BadJson(e.to_string()))
    }
}

impl PortalMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(text: &str) -> Result<Self, WireError> {
        if text.len() > MAX_CONTROL_MESSAGE {
            return Err(WireError::ControlTooLarge(text.len()));
        }
        let msg: Self =
            serde_json::from_str(text).map_err(|e| WireError::BadJson(e.to_string()))?;
        if let PortalMessage::Cameras { cameras } = &msg {
            if cameras.len() > MAX_CAMERAS {
                return Err(WireError::TooManyCameras(cameras.len()));
            }
        }
        Ok(msg)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Init,
    Fragment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaHeader {
    pub kind: MediaKind,
    pub keyframe: bool,
    pub camera_id: CameraId,
    pub sequence: u64,
    /// µs since the Unix epoch: frame received by the gateway.
    pub received_us: u64,
    /// µs since the Unix epoch: fragment muxed by the gateway.
    pub muxed_us: u64,
}

/// Header + payload as one binary WebSocket frame.
pub fn encode_media(header: &MediaHeader, payload: &[u8]) -> Result<Vec<u8>, WireError> {
    if payload.is_empty() {
        return Err(WireError::MediaEmpty);
    }
    if payload.len() > MAX_MEDIA_PAYLOAD {
        return Err(WireError::MediaTooLarge(payload.len()));
    }
    let mut out = Vec::with_capacity(MEDIA_HEADER_LEN + payload.len());
    out.extend_from_slice(&MEDIA_MAGIC);
    out.push(MEDIA_VERSION);
    out.push(match header.kind {
        MediaKind::Init => 0,
        MediaKind::Fragment => 1,
    });
    out.push(if header.keyframe { FLAG_KEYFRAME } else { 0 });
    out.push(0);
    out.extend_from_slice(&header.camera_id.to_be_bytes());
    out.extend_from_slice(&header.sequence.to_be_bytes());
    out.extend_from_slice(&header.received_us.to_be_bytes());
    out.extend_from_slice(&header.muxed_us.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Parses a binary frame; the payload borrows from `frame` (the portal can
/// `Bytes::slice_ref` it to share without copying).
pub fn decode_media(frame: &[u8]) -> Result<(MediaHeader, &[u8]), WireError> {
    if frame.len() < MEDIA_HEADER_LEN {
        return Err(WireError::MediaTooShort(frame.len()));
    }
    let (head, payload) = frame.split_at(MEDIA_HEADER_LEN);
    if head[0..4] != MEDIA_MAGIC {
        return Err(WireError::BadMagic);
    }
    if head[4] != MEDIA_VERSION {
        return Err(WireError::UnsupportedVersion(head[4]));
    }
    let kind = match head[5] {
        0 => MediaKind::Init,
        1 => MediaKind::Fragment,
        k => return Err(WireError::UnknownKind(k)),
    };
    let flags = head[6];
    if flags & !FLAG_KEYFRAME != 0 || head[7] != 0 {
        return Err(WireError::ReservedFlags(flags | head[7]));
    }
    if payload.is_empty() {
        return Err(WireError::MediaEmpty);
    }
    if payload.len() > MAX_MEDIA_PAYLOAD {
        return Err(WireError::MediaTooLarge(payload.len()));
    }
    let be64 = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[at..at + 8]);
        b
    };
    Ok((
        MediaHeader {
            kind,
            keyframe: flags & FLAG_KEYFRAME != 0,
            camera_id: i64::from_be_bytes(be64(8)),
            sequence: u64::from_be_bytes(be64(16)),
            received_us: u64::from_be_bytes(be64(24)),
            muxed_us: u64::from_be_bytes(be64(32)),
        },
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_messages_have_documented_shape() {
        let m = PortalMessage::StartStream { camera_id: 7 };
        assert_eq!(m.to_json(), r#"{"type":"start_stream","camera_id":7}"#);
        let g = GatewayMessage::from_json(
            r#"{"type":"stream_error","camera_id":3,"message":"refused","retry_in_ms":500}"#,
        )
        .unwrap();
        assert_eq!(
            g,
            GatewayMessage::StreamError {
                camera_id: 3,
                message: "refused".into(),
                retry_in_ms: 500,
                code: StreamErrorCode::Other,
                gave_up: false,
            }
        );
        // The code travels by name; one this side does not know is `other`.
        let coded = GatewayMessage::StreamError {
            camera_id: 3,
            message: "401".into(),
            retry_in_ms: 0,
            code: StreamErrorCode::AuthRefused,
            gave_up: true,
        };
        assert!(coded.to_json().contains(r#""code":"auth_refused""#));
        assert_eq!(GatewayMessage::from_json(&coded.to_json()).unwrap(), coded);
        let newer = GatewayMessage::from_json(
            r#"{"type":"stream_error","camera_id":3,"message":"x","retry_in_ms":0,"code":"quantum_flux"}"#,
        )
        .unwrap();
        assert!(matches!(
            newer,
            GatewayMessage::StreamError {
                code: StreamErrorCode::Other,
                ..
            }
        ));
        let cams = PortalMessage::from_json(
            r#"{"type":"cameras","cameras":[{"id":1,"name":"door","rtsp_url":"rtsp://10.0.0.2/live","password":"pw"}]}"#,
        )
        .unwrap();
        let PortalMessage::Cameras { cameras } = cams else {
            panic!("not cameras")
        };
        assert_eq!(cameras[0].password.as_deref(), Some("pw"));
        assert!(!format!("{cameras:?}").contains("pw\""));
    }

    #[test]
    fn garbage_control_messages_are_errors() {
        assert!(matches!(
            PortalMessage::from_json("{\"type\":\"launch_missiles\"}"),
            Err(WireError::BadJson(_))
        ));
        assert!(PortalMessage::from_json("not json").is_err());
        let big = " ".repeat(MAX_CONTROL_MESSAGE + 1);
        assert_eq!(
            PortalMessage::from_json(&big),
            Err(WireError::ControlTooLarge(MAX_CONTROL_MESSAGE + 1))
        );
    }

    #[test]
    fn redacts_url_credentials() {
        assert_eq!(
            redact_url("rtsp://admin:s3cret@10.0.0.2:554/x@y"),
            "rtsp://<redacted>@10.0.0.2:554/x@y"
        );
        assert_eq!(redact_url("rtsp://10.0.0.2/a"), "rtsp://10.0.0.2/a");
    }

    #[test]
    fn media_limits() {
        let h = MediaHeader {
            kind: MediaKind::Fragment,
            keyframe: false,
            camera_id: 1,
            sequence: 2,
            received_us: 3,
            muxed_us: 4,
        };
        assert_eq!(encode_media(&h, &[]), Err(WireError::MediaEmpty));
        let big = vec![0u8; MAX_MEDIA_PAYLOAD + 1];
        assert_eq!(
            encode_media(&h, &big),
            Err(WireError::MediaTooLarge(MAX_MEDIA_PAYLOAD + 1))
        );
        let mut frame = encode_media(&h, &[1]).unwrap();
        frame.extend_from_slice(&big);
        assert!(matches!(
            decode_media(&frame),
            Err(WireError::MediaTooLarge(_))
        ));
        let mut bad = encode_media(&h, &[1]).unwrap();
        bad[6] = 0x80;
        assert_eq!(decode_media(&bad), Err(WireError::ReservedFlags(0x80)));
        assert_eq!(decode_media(b"TVMF"), Err(WireError::MediaTooShort(4)));
    }

    fn header() -> impl Strategy<Value = MediaHeader> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<i64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(
                |(init, keyframe, camera_id, sequence, received_us, muxed_us)| MediaHeader {
                    kind: if init {
                        MediaKind::Init
                    } else {
                        MediaKind::Fragment
                    },
                    keyframe,
                    camera_id,
                    sequence,
                    received_us,
                    muxed_us,
                },
            )
    }

    proptest! {
        #[test]
        fn media_round_trips(h in header(), payload in proptest::collection::vec(any::<u8>(), 1..2048)) {
            let frame = encode_media(&h, &payload).unwrap();
            let (back, body) = decode_media(&frame).unwrap();
            prop_assert_eq!(back, h);
            prop_assert_eq!(body, &payload[..]);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_media(&bytes);
        }

        #[test]
        fn corrupted_header_is_rejected_or_consistent(
            h in header(),
            at in 0usize..MEDIA_HEADER_LEN,
            byte in any::<u8>(),
        ) {
            let mut frame = encode_media(&h, &[0xAB; 16]).unwrap();
            frame[at] = byte;
            // Whatever decodes must be the canonical encoding of what it
            // decoded to: no header byte is silently ignored.
            if let Ok((back, body)) = decode_media(&frame) {
                prop_assert_eq!(encode_media(&back, body).unwrap(), frame.clone());
            }
        }

        #[test]
        fn control_garbage_never_panics(s in ".{0,200}") {
            let _ = PortalMessage::from_json(&s);
            let _ = GatewayMessage::from_json(&s);
        }
    }
}
