//! Pure certificate rules, shared with the browser: the issue form and its
//! validated form, host names and addresses, and which of them a user may
//! claim (their own suffix, their home network's devices, their home sites).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::model::{CertError, CertKind};

/// A PEM CSR larger than this is refused before it is parsed (a P-256
/// request with a few names is well under 1 KiB).
pub const MAX_CSR_BYTES: usize = 8 * 1024;
/// Names in one certificate.
pub const MAX_NAMES: usize = 20;
/// A PKCS#12 file's password, at least.
pub const MIN_P12_PASSWORD: usize = 8;
const MAX_NAME_CHARS: usize = 64;
/// Every user's own name space: `u<id>.<ZONE>` and any name under it.
/// `home.arpa` is reserved for home networks (RFC 8375): no public CA
/// issues for it and no public resolver answers for it.
pub const ZONE: &str = "tv.home.arpa";

/// The names under which a user may name anything: `u42.tv.home.arpa`.
pub fn user_suffix(user_id: i64) -> String {
    format!("u{user_id}.{ZONE}")
}

/// What the issue form sent, as text (`form[...]` fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CertForm {
    pub name: String,
    /// `device`, `region` or `service`.
    pub kind: String,
    /// DNS names and IP addresses, separated by commas, spaces or lines.
    #[serde(default)]
    pub names: String,
    /// A PEM certificate request; empty: the server makes the key.
    #[serde(default)]
    pub csr: String,
    /// The PKCS#12 file's password when the server makes the key.
    #[serde(default)]
    pub password: String,
}

/// A DNS name (lower case, no trailing dot) or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostName {
    Dns(String),
    Ip(IpAddr),
}

impl std::fmt::Display for HostName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostName::Dns(n) => f.write_str(n),
            HostName::Ip(ip) => ip.fmt(f),
        }
    }
}

impl HostName {
    pub fn parse(s: &str) -> Result<Self, CertError> {
        let s = s.trim();
        let bad = || CertError::NameInvalid(s.chars().take(80).collect());
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(HostName::Ip(ip));
        }
        let name = s.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.len() > 253 {
            return Err(bad());
        }
        for (i, label) in name.split('.').enumerate() {
            // A wildcard only as the whole first label.
            if label == "*" && i == 0 {
                continue;
            }
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(bad());
            }
        }
        // A name of digits and dots that did not parse as an address.
        if name
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        Ok(HostName::Dns(name))
    }
}

/// How the key pair is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRequest {
    /// A PEM CSR, size-checked; its signature is checked on the server.
    Csr(String),
    /// The server makes the key and seals it into a PKCS#12 with this password.
    Server { password: String },
}

/// An issue request that passed the rules that need no database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCert {
    pub name: String,
    pub kind: CertKind,
    pub names: Vec<HostName>,
    pub key: KeyRequest,
}

impl TryFrom<CertForm> for ValidCert {
    type Error = crate::error::AppError;

    fn try_from(f: CertForm) -> Result<Self, Self::Error> {
        use crate::error::AppError;
        let name = f.name.trim().to_string();
        if name.is_empty() {
            return Err(AppError::invalid_field(
                "name",
                "Give the certificate a name.",
            ));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::invalid_field(
                "name",
                format!("Name must be at most {MAX_NAME_CHARS} characters."),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid_field(
                "name",
                "Name holds control characters.",
            ));
        }
        let kind = CertKind::parse(f.kind.trim()).ok_or_else(|| {
            AppError::invalid_field("kind", "Choose what the certificate is for.")
        })?;
        if f.names.len() > MAX_NAMES * 260 {
            return Err(CertError::TooManyNames.into());
        }
        let mut names: Vec<HostName> = Vec::new();
        for part in f
            .names
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let host = HostName::parse(part)?;
            if !names.contains(&host) {
                names.push(host);
            }
        }
        if names.len() > MAX_NAMES {
            return Err(CertError::TooManyNames.into());
        }
        if kind.is_server() && names.is_empty() {
            return Err(CertError::NamesRequired.into());
        }
        let csr = f.csr.trim();
        let key = if csr.is_empty() {
            if f.password.chars().count() < MIN_P12_PASSWORD {
                return Err(CertError::PasswordTooShort.into());
            }
            if f.password.chars().count() > 128 {
                return Err(AppError::invalid_field(
                    "password",
                    "Password must be at most 128 characters.",
                ));
            }
            KeyRequest::Server {
                password: f.password,
            }
        } else {
            if csr.len() > MAX_CSR_BYTES {
                return Err(CertError::CsrTooLarge.into());
            }
            KeyRequest::Csr(csr.to_string())
        };
        Ok(ValidCert {
            name,
            kind,
            names,
            key,
        })
    }
}

/// What a user may name in a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// `u<id>.tv.home.arpa`: the name and everything under it.
    pub suffix: String,
    /// Host names of devices in their home network (as the scanner saw
    /// them, lower case); each also with `.local`.
    pub hosts: Vec<String>,
    /// Addresses of devices in their home network.
    pub addrs: Vec<IpAddr>,
    /// Their home sites' LANs and site ranges (network, prefix).
    pub nets: Vec<(Ipv4Addr, u8)>,
}

impl Claims {
    pub fn allows(&self, host: &HostName) -> bool {
        match host {
            HostName::Dns(name) => {
                let name = name.strip_prefix("*.").unwrap_or(name);
                let under_suffix = name == self.suffix
                    || name
                        .strip_suffix(self.suffix.as_str())
                        .is_some_and(|head| head.ends_with('.'));
                under_suffix
                    || (!host_is_wildcard(host)
                        && self.hosts.iter().any(|h| {
                            name == h.as_str() || name.strip_suffix(".local") == Some(h.as_str())
                        }))
            }
            HostName::Ip(ip) => {
                self.addrs.contains(ip)
                    || match ip {
                        IpAddr::V4(v4) => self.nets.iter().any(|(net, prefix)| {
                            let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                            u32::from(*v4) & mask == u32::from(*net) & mask
                        }),
                        IpAddr::V6(_) => false,
                    }
            }
        }
    }

    /// The first name the user may not claim.
    pub fn check(&self, names: &[HostName]) -> Result<(), CertError> {
        match names.iter().find(|n| !self.allows(n)) {
            Some(n) => Err(CertError::NameNotAllowed(n.to_string())),
            None => Ok(()),
        }
    }
}

fn host_is_wildcard(host: &HostName) -> bool {
    matches!(host, HostName::Dns(n) if n.starts_with("*."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            suffix: user_suffix(7),
            hosts: vec!["nas".into()],
            addrs: vec!["192.168.1.20".parse().unwrap()],
            nets: vec![("10.240.7.0".parse().unwrap(), 24)],
        }
    }

    #[test]
    fn names_under_the_suffix_own_hosts_and_site_addresses_are_claimable() {
        let c = claims();
        for ok in [
            "u7.tv.home.arpa",
            "nas.u7.tv.home.arpa",
            "*.u7.tv.home.arpa",
            "nas",
            "NAS.local",
            "192.168.1.20",
            "10.240.7.99",
        ] {
            assert!(c.allows(&HostName::parse(ok).unwrap()), "{ok}");
        }
        for no in [
            "u77.tv.home.arpa",
            "xu7.tv.home.arpa",
            "nas.u8.tv.home.arpa",
            "example.com",
            "*.nas",
            "192.168.1.21",
            "10.240.8.1",
            "::1",
        ] {
            assert!(!c.allows(&HostName::parse(no).unwrap()), "{no}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a_b.c",
            "ex ample",
            "1.2.3.999",
            "a.*.b",
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
