//! Account types shared by server and browser, and input rules that both
//! sides apply (the browser for instant feedback, the server always).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Pending,
    Active,
    Suspended,
    Cancelled,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 4] = [
        AccountStatus::Pending,
        AccountStatus::Active,
        AccountStatus::Suspended,
        AccountStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
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
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub role: Role,
    pub status: AccountStatus,
    pub plan: String,
    pub vip: bool,
    pub created_at: i64,
}

/// What enabling two-factor shows once: the secret and the recovery codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;

/// Normalises and checks an e-mail address: trimmed, lower-cased (addresses
/// are case-insensitive and unique), one `@`, a dotted domain, no spaces or
/// control characters, within RFC 5321 lengths.
pub fn normalize_email(input: &str) -> Result<String, String> {
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
            normalize_email("  Alice@Example.COM ").as_deref(),
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
            assert!(normalize_email(bad).is_err(), "{bad} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn names_reject_control_characters_and_length() {
        assert_eq!(normalize_name(" Ada ").as_deref(), Ok("Ada"));
        assert!(normalize_name("Ada\u{0}").is_err());
        assert!(normalize_name(&"x".repeat(101)).is_err());
    }
}
