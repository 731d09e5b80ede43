//! API key types shared by server and browser, and the rules of a new key.

use serde::{Deserialize, Serialize};

crate::id_types! {
    /// An API key.
    ApiKeyId;
}

crate::string_enum! {
    /// What a key may do. `read` covers everything the account may look at
    /// except cameras; each write or camera scope is asked for on its own.
    pub enum Scope {
        Read = "read",
        DevicesWrite = "devices:write",
        CamerasRead = "cameras:read",
    }
}

crate::string_enum! {
    /// Whether a key still works (worked out when the list is read).
    pub enum KeyState {
        Active = "active",
        Revoked = "revoked",
        Expired = "expired",
    }
}

impl KeyState {
    pub fn of(expires_at: Option<i64>, revoked_at: Option<i64>, now: i64) -> Self {
        if revoked_at.is_some() {
            KeyState::Revoked
        } else if expires_at.is_some_and(|e| now >= e) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

/// Every key starts with this, so a leaked one is recognisable (secret
/// scanners, logs) and never mistaken for a node or scanner token.
pub const KEY_PREFIX: &str = "tvk_";
/// How much of a key the list shows to tell keys apart.
pub const SHOWN_PREFIX_LEN: usize = KEY_PREFIX.len() + 8;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_EXPIRY_DAYS: i64 = 3650;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    pub name: String,
    /// The key's first characters (`tvk_` and eight more).
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub state: KeyState,
}

/// A new key: the only time the key itself is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub info: ApiKeyInfo,
    pub key: String,
}

/// The account page's form as sent: a checkbox per scope, the expiry in
/// days (empty: never).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyForm {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_days: String,
}

/// A key's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewKeyError {
    #[error("Give the key a name of at most 64 characters, on one line.")]
    Name,
    #[error("Pick at least one scope.")]
    NoScope,
    #[error("Unknown scope.")]
    UnknownScope,
    #[error("The expiry must be a whole number of days from 1 to 3650, or empty for none.")]
    Expiry,
}

impl NewKeyError {
    pub fn field(&self) -> &'static str {
        match self {
            NewKeyError::Name => "name",
            NewKeyError::NoScope | NewKeyError::UnknownScope => "scopes",
            NewKeyError::Expiry => "expires_days",
        }
    }
}

impl From<NewKeyError> for crate::error::AppError {
    fn from(e: NewKeyError) -> Self {
        crate::error::AppError::invalid_field(e.field(), e.to_string())
    }
}

impl TryFrom<ApiKeyForm> for NewApiKey {
    type Error = NewKeyError;

    fn try_from(f: ApiKeyForm) -> Result<Self, NewKeyError> {
        let name = f.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(NewKeyError::Name);
        }
        let mut scopes = Vec::new();
        for s in &f.scopes {
            let scope = Scope::parse(s.trim()).ok_or(NewKeyError::UnknownScope)?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(NewKeyError::NoScope);
        }
        scopes.sort_by_key(|s| Scope::ALL.iter().position(|a| a == s));
        let expires_in_days = match f.expires_days.trim() {
            "" => None,
            d => Some(
                d.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_EXPIRY_DAYS).contains(n))
                    .ok_or(NewKeyError::Expiry)?,
            ),
        };
        Ok(NewApiKey {
            name: name.to_string(),
            scopes,
            expires_in_days,
        })
    }
}

/// Scopes as stored: their names joined by `|`.
pub fn scopes_to_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("|")
}

/// Stored scopes back; a name this build does not know is dropped (never
/// widened into something else).
pub fn scopes_from_text(s: &str) -> Vec<Scope> {
    s.split('|').filter_map(Scope::parse).collect()
}

/// Whether `s` has the shape of a key we hand out (checked before any
/// database work).
pub fn looks_like_key(s: &str) -> bool {
    s.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, scopes: &[&str], days: &str) -> ApiKeyForm {
        ApiKeyForm {
            name: name.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_days: days.into(),
        }
    }

    #[test]
    fn a_new_key_parses_or_names_its_field() {
        let k =
            NewApiKey::try_from(form(" ci ", &["devices:write", "read", "read"], "30")).unwrap();
        assert_eq!(k.name, "ci");
        assert_eq!(k.scopes, vec![Scope::Read, Scope::DevicesWrite]);
        assert_eq!(k.expires_in_days, Some(30));
        assert_eq!(
            NewApiKey::try_from(form("x", &["read"], ""))
                .unwrap()
                .expires_in_days,
            None
        );
        let err = |f| NewApiKey::try_from(f).unwrap_err();
        assert_eq!(err(form("", &["read"], "")), NewKeyError::Name);
        assert_eq!(err(form("a\nb", &["read"], "")), NewKeyError::Name);
        assert_eq!(err(form("x", &[], "")), NewKeyError::NoScope);
        assert_eq!(err(form("x", &["admin"], "")), NewKeyError::UnknownScope);
        assert_eq!(err(form("x", &["read"], "0")), NewKeyError::Expiry);
        assert_eq!(err(form("x", &["read"], "3651")), NewKeyError::Expiry);
        assert_eq!(err(form("x", &["read"], "1.5")), NewKeyError::Expiry);
    }

    #[test]
    fn scopes_round_trip_and_unknown_ones_are_dropped() {
        let all = Scope::ALL.to_vec();
        assert_eq!(scopes_from_text(&scopes_to_text(&all)), all);
        assert_eq!(scopes_from_text("read|superuser"), vec![Scope::Read]);
    }

    #[test]
    fn key_shape() {
        let body = "a".repeat(43);
        assert!(looks_like_key(&format!("tvk_{body}")));
        assert!(!looks_like_key(&body));
        assert!(!looks_like_key(&format!("tvk_{}", &body[..42])));
        assert!(!looks_like_key(&format!("tvk_{}'", &body[..42])));
    }
}
