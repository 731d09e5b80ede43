//! Account types shared by server and browser, and input rules that both
//! sides apply (the browser for instant feedback, the server always).

use serde::{Deserialize, Serialize};

crate::string_enum! {
    pub enum Role {
        User = "user",
        Admin = "admin",
    }
}

crate::string_enum! {
    pub enum AccountStatus {
        /// Signed up, e-mail not yet confirmed.
        Pending = "pending",
        Active = "active",
        Suspended = "suspended",
        Cancelled = "cancelled",
    }
}

crate::string_enum! {
    /// Why an account gets no service now: no peers in any node config, no
    /// scanner or gateway token accepted, no live camera view. The rule that
    /// decides it is `entitlements::service`; each reason has its own error
    /// code (`AppError::ServiceOff`) and tells the customer what to do.
    pub enum ServiceOff {
        /// An administrator suspended the account.
        Suspended = "suspended",
        /// The account was closed.
        Cancelled = "cancelled",
        /// The dunning steps suspended the subscription (day 8 of a failed
        /// payment); paying restores everything.
        PaymentOverdue = "payment_overdue",
    }
}

impl ServiceOff {
    /// What the customer reads: why, and what to do about it.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Suspended => {
                "This account is suspended by an administrator: VPN devices, cameras and agents are \
                 paused. Please contact support to have it restored."
            }
            Self::Cancelled => {
                "This account is closed: VPN devices, cameras and agents no longer work. Please \
                 contact support if you want it back."
            }
            Self::PaymentOverdue => {
                "Service is paused because a payment is overdue: VPN devices, cameras and agents \
                 stop until it is paid. Pay on the billing page and everything comes back with the \
                 same keys and addresses."
            }
        }
    }
}

/// The signed-in user as pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub role: Role,
    pub status: AccountStatus,
    pub totp_enabled: bool,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A row of the "your sessions" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub user_agent: String,
    pub ip: String,
    pub current: bool,
}

/// A row of the admin user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub role: Role,
    pub status: AccountStatus,
    pub plan: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub vip: bool,
    pub created_at: i64,
    /// The month's data cap is used up (an admin may lift it).
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::typed::Flag"))]
    pub data_capped: bool,
}

/// What enabling two-factor shows once: the secret and the recovery codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;

/// An e-mail address as stored: trimmed, lower-cased (addresses are
/// case-insensitive and unique), one `@`, a dotted domain, no spaces or
/// control characters, within RFC 5321 lengths. Only [`Email::parse`]
/// makes one (serde too goes through it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, String> {
        normalize_email(input).map(Email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Email {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Email::parse(&s)
    }
}

#[cfg(feature = "ssr")]
impl sqlx::Type<sqlx::Any> for Email {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
}

#[cfg(feature = "ssr")]
impl<'q> sqlx::Encode<'q, sqlx::Any> for Email {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&self.0, buf)
    }
}

#[cfg(feature = "ssr")]
impl<'r> sqlx::Decode<'r, sqlx::Any> for Email {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        // Stored addresses were parsed on the way in.
        Ok(Email(<String as sqlx::Decode<'r, sqlx::Any>>::decode(
            value,
        )?))
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

fn normalize_email(input: &str) -> Result<String, String> {
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return Err("Please enter your e-mail address.".into());
    }
    if email.len() > EMAIL_MAX {
        return Err(format!(
            "E-mail address must be at most {EMAIL_MAX} characters."
        ));
    }
    let invalid = || Err("That does not look like an e-mail address.".to_string());
    let Some((local, domain)) = email.split_once('@') else {
        return invalid();
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return invalid();
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain_ok = domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if !local_ok || !domain_ok {
        return invalid();
    }
    Ok(email)
}

/// A display name: trimmed, no control characters, bounded.
pub fn normalize_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.chars().count() > NAME_MAX {
        return Err(format!("Name must be at most {NAME_MAX} characters."));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("Name must not contain control characters.".into());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").as_deref(),
            Ok("alice@example.com")
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@.b.com",
            "a<script>@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn names_reject_control_characters_and_length() {
        assert_eq!(normalize_name(" Ada ").as_deref(), Ok("Ada"));
        assert!(normalize_name("Ada\u{0}").is_err());
        assert!(normalize_name(&"x".repeat(101)).is_err());
    }
}
