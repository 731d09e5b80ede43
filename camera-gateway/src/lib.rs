//! TrueVault camera gateway: runs at home, dials out to the portal over one
//! WebSocket (see `truevault_wire::gateway` for the protocol), pulls the
//! cameras the portal asks for over RTSP with `retina`, and sends them back
//! as fragmented MP4.

pub mod backoff;
pub mod config;
pub mod fmp4;
pub mod ingest;
pub mod onvif;
pub mod ptz;
pub mod snapshot;
pub mod tunnel;
pub mod watch;

/// The gateway's one error type.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("bad camera URL: {0}")]
    Url(String),
    #[error("camera refused the credentials: {0}")]
    AuthRefused(String),
    #[error("RTSP: {0}")]
    Rtsp(String),
    #[error("camera stream not supported: {0}")]
    Unsupported(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("fMP4: {0}")]
    Mux(String),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("ONVIF: {0}")]
    Onvif(String),
    #[error("portal refused the gateway: {0}")]
    TunnelRefused(String),
    #[error("tunnel: {0}")]
    Tunnel(String),
    #[error(transparent)]
    Wire(#[from] truevault_wire::gateway::WireError),
}

impl GatewayError {
    /// The stable code the portal shows in words.
    pub fn stream_code(&self) -> truevault_wire::gateway::StreamErrorCode {
        use truevault_wire::gateway::StreamErrorCode as C;
        match self {
            Self::AuthRefused(_) => C::AuthRefused,
            Self::Rtsp(_) | Self::Tunnel(_) => C::Unreachable,
            Self::Timeout(_) => C::Timeout,
            Self::Unsupported(_) | Self::Mux(_) => C::Unsupported,
            Self::Url(_) => C::BadUrl,
            _ => C::Other,
        }
    }
}

pub const AGENT: &str = concat!("truevault-gateway/", env!("CARGO_PKG_VERSION"));

/// µs since the Unix epoch (0 if the clock is before 1970).
pub fn unix_micros(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// User names and passwords inside URLs are percent-encoded.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
