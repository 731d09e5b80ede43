//! The crate's one error type. Each variant maps to a process exit code so
//! that a supervisor (systemd, a shell script) can tell "fix the token" from
//! "the portal is down" without parsing text.

use std::io;

/// Exit codes of `truevault-scanner` (also listed in the README).
pub mod exit {
    pub const OK: u8 = 0;
    /// Anything not covered below.
    pub const OTHER: u8 = 1;
    /// Bad command line (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// No raw-socket permission and the unprivileged fallback failed too.
    pub const PERMISSION: u8 = 3;
    /// The portal refused the scanner token (401/403).
    pub const TOKEN_REFUSED: u8 = 4;
    /// The portal could not be reached or answered 5xx.
    pub const PORTAL_UNREACHABLE: u8 = 5;
    /// The payload is over the sync limits (refused locally, or 413/422).
    pub const PAYLOAD_REFUSED: u8 = 6;
    /// The interface or network to scan is unusable (missing, no IPv4, too large).
    pub const NETWORK: u8 = 7;
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("interface {0:?} not found")]
    NoSuchInterface(String),
    #[error("no default route in /proc/net/route; pass --iface")]
    NoDefaultRoute,
    #[error("interface {0} has no IPv4 address; pass --cidr")]
    NoIpv4(String),
    #[error("network {0} has {1} addresses; at most {2} are swept (pass a narrower --cidr)")]
    NetworkTooLarge(String, u64, u64),
    #[error(
        "raw sockets need root or CAP_NET_RAW, and the fallback (neighbour table + TCP probes) failed: {0}"
    )]
    NoPermission(String),
    #[error("datalink channel on {0}: {1}")]
    Datalink(String, io::Error),
    #[error("malformed {what}: {why}")]
    Parse { what: &'static str, why: String },
    #[error("sync payload over the limits: {0}")]
    PayloadTooLarge(String),
    #[error("the portal refused the scanner token ({status}): {message}")]
    TokenRefused { status: u16, message: String },
    #[error("the portal rejected the payload ({status}): {message}")]
    PayloadRejected { status: u16, message: String },
    #[error("portal unreachable: {0}")]
    PortalUnreachable(String),
    #[error("portal answered {status}: {message}")]
    Portal { status: u16, message: String },
    #[error("no scanner token: pass --token, set TRUEVAULT_SCANNER_TOKEN or --token-file")]
    NoToken,
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ScanError {
    pub fn parse(what: &'static str, why: impl Into<String>) -> Self {
        ScanError::Parse {
            what,
            why: why.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            ScanError::Usage(_) | ScanError::NoToken => exit::USAGE,
            ScanError::NoPermission(_) => exit::PERMISSION,
            ScanError::TokenRefused { .. } => exit::TOKEN_REFUSED,
            ScanError::PortalUnreachable(_) => exit::PORTAL_UNREACHABLE,
            ScanError::Portal { status, .. } if *status >= 500 => exit::PORTAL_UNREACHABLE,
            ScanError::PayloadTooLarge(_) | ScanError::PayloadRejected { .. } => {
                exit::PAYLOAD_REFUSED
            }
            ScanError::NoSuchInterface(_)
            | ScanError::NoDefaultRoute
            | ScanError::NoIpv4(_)
            | ScanError::NetworkTooLarge(..)
            | ScanError::Datalink(..) => exit::NETWORK,
            ScanError::Portal { .. } | ScanError::Parse { .. } | ScanError::Io(_) => exit::OTHER,
        }
    }
}

pub type Result<T, E = ScanError> = std::result::Result<T, E>;
