//! Certificate types shared by the server and the browser: ids, kinds,
//! statuses, what the page shows, and the refusals with their stable codes
//! (the UI and the tests match on `code()`, never on the text).

use serde::{Deserialize, Serialize};

crate::id_types! {
    /// A certificate's id.
    CertId;
    /// A certificate authority's id (one per user).
    CaId;
}

/// What a certificate is for; decides its key usage and extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// A phone, laptop or browser proving who it is (clientAuth).
    Device,
    /// A regional identity proving who it is (clientAuth).
    Region,
    /// A home service or mesh name answering TLS (serverAuth).
    Service,
}

impl CertKind {
    pub const ALL: [CertKind; 3] = [CertKind::Device, CertKind::Region, CertKind::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::Device => "device",
            CertKind::Region => "region",
            CertKind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CertKind::Device => "Device (client)",
            CertKind::Region => "Region identity (client)",
            CertKind::Service => "Home service (server)",
        }
    }

    /// A server certificate: TLS servers present it, so it names hosts.
    pub fn is_server(self) -> bool {
        self == CertKind::Service
    }
}

impl TryFrom<String> for CertKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown certificate kind {s:?}"))
    }
}

/// Where the private key was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOrigin {
    /// In the user's browser (or their own tool): only a CSR reached us.
    Csr,
    /// On the server, handed over once in a PKCS#12 file and not kept.
    Server,
}

impl KeyOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrigin::Csr => "csr",
            KeyOrigin::Server => "server",
        }
    }
}

impl TryFrom<String> for KeyOrigin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "csr" => Ok(KeyOrigin::Csr),
            "server" => Ok(KeyOrigin::Server),
            _ => Err(format!("unknown key origin {s:?}")),
        }
    }
}

/// A certificate's state as of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    Valid,
    /// Within the reminder window (14 days) of its end.
    ExpiringSoon,
    Expired,
    Revoked,
}

impl CertStatus {
    pub fn label(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::ExpiringSoon => "expiring soon",
            CertStatus::Expired => "expired",
            CertStatus::Revoked => "revoked",
        }
    }

    /// Counts against the plan's limit and can be renewed or revoked.
    pub fn is_live(self) -> bool {
        matches!(self, CertStatus::Valid | CertStatus::ExpiringSoon)
    }
}

/// Reminders go out this long before a certificate ends.
pub const REMINDER_BEFORE_SECS: i64 = 14 * 86_400;

/// One certificate as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub id: CertId,
    pub name: String,
    pub kind: CertKind,
    pub status: CertStatus,
    pub key_origin: KeyOrigin,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// DNS names and IP addresses (server certificates).
    pub names: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

/// The user's CA as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaInfo {
    pub id: CaId,
    pub subject: String,
    /// SHA-256 of the root certificate, colon-separated hex (to compare
    /// with what a device shows when the root is installed).
    pub fingerprint: String,
    pub not_after: i64,
    pub crl_url: String,
}

/// What the dashboard's card shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertCounts {
    pub allowed: bool,
    pub total: i64,
    pub live: i64,
}

/// What the certificates page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertsPage {
    /// The plan includes personal certificates (or the user is a VIP).
    pub allowed: bool,
    /// Live certificates the plan allows; `None` is unlimited.
    pub limit: Option<i64>,
    pub live: i64,
    pub validity_days: i64,
    /// `None` until the first certificate is issued (the CA is made then).
    pub ca: Option<CaInfo>,
    pub certs: Vec<CertInfo>,
    /// Names the user may put in a server certificate: their suffix, their
    /// inventory hosts and home-site addresses, as suggestions.
    pub suffix: String,
    pub suggestions: Vec<String>,
}

/// A certificate just issued. `pkcs12` (base64) is only set when the
/// server made the key: it is shown this once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub id: CertId,
    pub cert_pem: String,
    pub chain_pem: String,
    pub pkcs12_b64: Option<String>,
}

/// Certificate refusals. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertError {
    /// The plan does not include personal certificates.
    NotInPlan,
    /// The plan allows this many live certificates.
    Limit(i64),
    /// The CSR is not a CSR, or its signature does not verify.
    CsrInvalid,
    /// The CSR's key is not ECDSA P-256 (or another accepted key).
    CsrKeyUnsupported,
    /// The CSR is larger than [`crate::certs::rules::MAX_CSR_BYTES`].
    CsrTooLarge,
    /// A name or address the user may not claim (not theirs).
    NameNotAllowed(String),
    /// A name that is not a valid DNS name or IP address.
    NameInvalid(String),
    /// A server certificate needs at least one name; too many names.
    NamesRequired,
    TooManyNames,
    /// Only live certificates can be renewed or revoked.
    NotLive,
    /// The PKCS#12 password is too short.
    PasswordTooShort,
}

impl CertError {
    pub fn code(&self) -> &'static str {
        match self {
            CertError::NotInPlan => "CERTS_NOT_IN_PLAN",
            CertError::Limit(_) => "CERT_LIMIT_EXCEEDED",
            CertError::CsrInvalid => "CSR_INVALID",
            CertError::CsrKeyUnsupported => "CSR_KEY_UNSUPPORTED",
            CertError::CsrTooLarge => "CSR_TOO_LARGE",
            CertError::NameNotAllowed(_) => "CERT_NAME_NOT_ALLOWED",
            CertError::NameInvalid(_) => "CERT_NAME_INVALID",
            CertError::NamesRequired => "CERT_NAMES_REQUIRED",
            CertError::TooManyNames => "CERT_TOO_MANY_NAMES",
            CertError::NotLive => "CERT_NOT_LIVE",
            CertError::PasswordTooShort => "PKCS12_PASSWORD_TOO_SHORT",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            CertError::NotInPlan => 403,
            CertError::Limit(_) | CertError::NotLive => 409,
            CertError::CsrTooLarge => 413,
            _ => 422,
        }
    }

    pub fn message(&self) -> String {
        match self {
            CertError::NotInPlan => "Your plan does not include personal certificates. The Personal, Family and Business plans do.".into(),
            CertError::Limit(n) => format!("Your plan allows {n} live certificates. Revoke one or upgrade your plan."),
            CertError::CsrInvalid => "That certificate request could not be read or its signature does not match its key.".into(),
            CertError::CsrKeyUnsupported => "That certificate request's key is not an ECDSA P-256 key.".into(),
            CertError::CsrTooLarge => "That certificate request is too large.".into(),
            CertError::NameNotAllowed(n) => format!("{n} is not one of your names or addresses. Use a name under your own suffix, one of your home network's devices, or an address on your home sites."),
            CertError::NameInvalid(n) => format!("{n} is not a valid DNS name or IP address."),
            CertError::NamesRequired => "A home service certificate needs at least one DNS name or IP address.".into(),
            CertError::TooManyNames => format!("A certificate can name at most {} hosts.", crate::certs::rules::MAX_NAMES),
            CertError::NotLive => "Only a certificate that has not expired or been revoked can be renewed or revoked.".into(),
            CertError::PasswordTooShort => format!("The file's password must be at least {} characters.", crate::certs::rules::MIN_P12_PASSWORD),
        }
    }

    /// The name at fault, for the form.
    pub fn name(&self) -> Option<&str> {
        match self {
            CertError::NameNotAllowed(n) | CertError::NameInvalid(n) => Some(n),
            _ => None,
        }
    }
}

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}
