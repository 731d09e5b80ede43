//! Tenant types shared by server and browser, and the pure rules: a new
//! tenant and its branding, credential and token shapes, and the HMAC
//! request signature (what is signed, the five-minute window).

use serde::{Deserialize, Serialize};

use crate::accounts::model::Email;

crate::id_types! {
    /// A tenant (a business on the platform).
    TenantId;
    /// A user of a tenant (`tenant_users.id`; its devices hang off its
    /// `users` row).
    TenantUserId;
    /// A tenant's key id + secret pair.
    CredentialId;
}

crate::string_enum! {
    /// Whether the tenant's users get service. Suspension is the
    /// operator's, and stops every one of its users like an account
    /// suspension (`entitlements::service_off_sql`).
    pub enum TenantStatus {
        Active = "active",
        Suspended = "suspended",
    }
}

/// Key ids start with this; secrets with [`SECRET_PREFIX`]; a tenant user's
/// access and refresh tokens with [`ACCESS_PREFIX`] and [`REFRESH_PREFIX`].
/// Distinct prefixes keep any of them from being mistaken for another kind
/// of token (or for a customer's `tvk_` API key).
pub const KEY_ID_PREFIX: &str = "tvtk_";
pub const SECRET_PREFIX: &str = "tvts_";
pub const ACCESS_PREFIX: &str = "tvua_";
pub const REFRESH_PREFIX: &str = "tvur_";

/// A signed request older (or newer) than this is refused.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;
/// A tenant user's access token lives this long; the refresh token 30 days.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_LOGO_CHARS: usize = 500;

/// What a developer (or an operator) fills in to sign a business up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantForm {
    pub name: String,
    pub contact_email: String,
}

/// A new tenant, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub name: String,
    pub contact_email: Email,
}

fn one_line(s: &str, max: usize) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control))
        .then(|| s.to_string())
}

impl TryFrom<TenantForm> for NewTenant {
    type Error = crate::error::AppError;

    fn try_from(f: TenantForm) -> Result<Self, Self::Error> {
        use crate::error::AppError;
        let name = one_line(&f.name, MAX_NAME_CHARS).ok_or_else(|| {
            AppError::invalid_field("name", "Give the business a name of at most 80 characters.")
        })?;
        let contact_email = Email::parse(&f.contact_email)
            .map_err(|e| AppError::invalid_field("contact_email", e))?;
        Ok(NewTenant {
            name,
            contact_email,
        })
    }
}

/// The branding form as sent: the name its users see, a logo address
/// (https, or empty), a theme id from the themes system (empty: the
/// portal's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandingForm {
    pub brand_name: String,
    pub logo_url: String,
    pub theme_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    pub brand_name: String,
    pub logo_url: Option<String>,
    pub theme_id: Option<i64>,
}

impl TryFrom<BrandingForm> for Branding {
    type Error = crate::error::AppError;

    fn try_from(f: BrandingForm) -> Result<Self, Self::Error> {
        use crate::error::AppError;
        let brand_name = one_line(&f.brand_name, MAX_NAME_CHARS).ok_or_else(|| {
            AppError::invalid_field("brand_name", "A name of at most 80 characters.")
        })?;
        let logo = f.logo_url.trim();
        let logo_url = if logo.is_empty() {
            None
        } else {
            // Shown as an <img> on its users' pages: an https address only
            // (no data:, no javascript:, no plain http on an https page).
            let ok = logo.len() <= MAX_LOGO_CHARS
                && logo.starts_with("https://")
                && logo.len() > "https://".len()
                && !logo
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '<');
            if !ok {
                return Err(AppError::invalid_field(
                    "logo_url",
                    "The logo must be an https:// address.",
                ));
            }
            Some(logo.to_string())
        };
        let theme_id = match f.theme_id.trim() {
            "" => None,
            t => Some(
                t.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| AppError::invalid_field("theme_id", "Unknown theme."))?,
            ),
        };
        Ok(Branding {
            brand_name,
            logo_url,
            theme_id,
        })
    }
}

/// The limits a tenant's plan gives it (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimitsView {
    pub users: Option<i64>,
    pub devices: Option<i64>,
    pub bandwidth_bytes: Option<i64>,
}

/// What this month looks like for a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    pub users: i64,
    /// Users with traffic this month.
    pub active_users: i64,
    pub devices: i64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub connected_seconds: i64,
    pub api_calls: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: TenantId,
    pub name: String,
    pub contact_email: String,
    pub status: TenantStatus,
    pub plan: String,
    pub branding: Branding,
    pub created_at: i64,
    pub limits: TenantLimitsView,
    pub usage: TenantUsage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialInfo {
    pub id: CredentialId,
    pub name: String,
    pub key_id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub calls_this_month: i64,
}

/// A new (or regenerated) credential: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedCredential {
    pub info: CredentialInfo,
    pub secret: String,
}

/// Tenant refusals, each with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantError {
    /// The owner's plan does not host tenants (the business plan does).
    NotInPlan,
    /// No credential, an unknown key id, a wrong secret, or a revoked one.
    InvalidCredential,
    /// The HMAC does not match the request.
    SignatureInvalid,
    /// The signed timestamp is more than five minutes away from now.
    SignatureExpired,
    /// This exact signature was accepted before.
    SignatureReplayed,
    /// The operator suspended the tenant.
    Suspended,
    /// A tenant user's access token is missing, unknown, expired or revoked.
    InvalidAccessToken,
    /// A refresh token is unknown or expired.
    InvalidRefreshToken,
    /// A refresh token that was already rotated: its family is revoked.
    RefreshTokenReused,
    /// The plan's tenant users are all taken.
    UserLimit(i64),
    /// That e-mail already has a user in this tenant.
    EmailTaken,
    /// The account already runs a tenant.
    AlreadyTenant,
}

impl TenantError {
    pub fn code(&self) -> &'static str {
        match self {
            TenantError::NotInPlan => "TENANTS_NOT_IN_PLAN",
            TenantError::InvalidCredential => "INVALID_TENANT_CREDENTIAL",
            TenantError::SignatureInvalid => "SIGNATURE_INVALID",
            TenantError::SignatureExpired => "SIGNATURE_EXPIRED",
            TenantError::SignatureReplayed => "SIGNATURE_REPLAYED",
            TenantError::Suspended => "TENANT_SUSPENDED",
            TenantError::InvalidAccessToken => "INVALID_ACCESS_TOKEN",
            TenantError::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            TenantError::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            TenantError::UserLimit(_) => "TENANT_USER_LIMIT",
            TenantError::EmailTaken => "EMAIL_TAKEN",
            TenantError::AlreadyTenant => "TENANT_EXISTS",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            TenantError::NotInPlan | TenantError::Suspended => 403,
            TenantError::InvalidCredential
            | TenantError::SignatureInvalid
            | TenantError::SignatureExpired
            | TenantError::SignatureReplayed
            | TenantError::InvalidAccessToken
            | TenantError::InvalidRefreshToken
            | TenantError::RefreshTokenReused => 401,
            TenantError::UserLimit(_) | TenantError::EmailTaken | TenantError::AlreadyTenant => 409,
        }
    }

    pub fn message(&self) -> String {
        match self {
            TenantError::NotInPlan => {
                "Your plan does not include the platform for businesses. The Business plan does."
                    .into()
            }
            TenantError::InvalidCredential => "A valid tenant credential is required \
                (X-TrueVault-Key with X-TrueVault-Secret, or a signature)."
                .into(),
            TenantError::SignatureInvalid => "The request signature does not match.".into(),
            TenantError::SignatureExpired => {
                "The signed timestamp is more than five minutes from now.".into()
            }
            TenantError::SignatureReplayed => "This signed request was already received.".into(),
            TenantError::Suspended => "This tenant is suspended. Please contact support.".into(),
            TenantError::InvalidAccessToken => {
                "A valid access token is required (Authorization: Bearer tvua_…).".into()
            }
            TenantError::InvalidRefreshToken => "The refresh token is invalid or expired.".into(),
            TenantError::RefreshTokenReused => {
                "This refresh token was already used; every session of its sign-in is revoked."
                    .into()
            }
            TenantError::UserLimit(n) => format!("This tenant's plan allows {n} users."),
            TenantError::EmailTaken => "That e-mail already has an account here.".into(),
            TenantError::AlreadyTenant => "This account already runs a tenant.".into(),
        }
    }

    pub fn limit(&self) -> Option<i64> {
        match self {
            TenantError::UserLimit(n) => Some(*n),
            _ => None,
        }
    }
}

impl From<TenantError> for crate::error::AppError {
    fn from(e: TenantError) -> Self {
        crate::error::AppError::Tenant(e)
    }
}

/// What a signed request signs: its timestamp, method, path (with the
/// query string) and the hex SHA-256 of its body, one per line. The key is
/// the lowercase hex SHA-256 of the secret (what the portal stores), so
/// the portal never keeps the secret itself.
pub fn signing_string(
    timestamp: &str,
    method: &str,
    path_and_query: &str,
    body_sha256_hex: &str,
) -> String {
    format!(
        "{timestamp}\n{}\n{path_and_query}\n{body_sha256_hex}",
        method.to_uppercase()
    )
}

/// Whether a signed timestamp is inside the window around `now`.
pub fn timestamp_fresh(timestamp: i64, now: i64) -> bool {
    (now - timestamp).abs() <= SIGNATURE_WINDOW_SECS
}

fn token_shape(s: &str, prefix: &str, len: usize) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == len
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Key ids are `tvtk_` and 16 characters.
pub fn looks_like_key_id(s: &str) -> bool {
    token_shape(s, KEY_ID_PREFIX, 16)
}

/// Secrets and tokens are their prefix and 43 characters.
pub fn looks_like_secret(s: &str) -> bool {
    token_shape(s, SECRET_PREFIX, 43)
}

pub fn looks_like_access(s: &str) -> bool {
    token_shape(s, ACCESS_PREFIX, 43)
}

pub fn looks_like_refresh(s: &str) -> bool {
    token_shape(s, REFRESH_PREFIX, 43)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_tenant_parses_or_names_its_field() {
        let t = NewTenant::try_from(TenantForm {
            name: " Acme ".into(),
            contact_email: "Ops@Acme.example".into(),
        })
        .unwrap();
        assert_eq!(t.name, "Acme");
        assert_eq!(t.contact_email.as_str(), "ops@acme.example");
        let field = |name: &str, email: &str| {
            NewTenant::try_from(TenantForm {
                name: name.into(),
                contact_email: email.into(),
            })
            .unwrap_err()
            .field()
            .map(String::from)
        };
        assert_eq!(field("", "a@b.example").as_deref(), Some("name"));
        assert_eq!(field("a\nb", "a@b.example").as_deref(), Some("name"));
        assert_eq!(field("Acme", "nope").as_deref(), Some("contact_email"));
    }

    #[test]
    fn branding_takes_https_logos_and_theme_ids_only() {
        let ok = Branding::try_from(BrandingForm {
            brand_name: "Acme VPN".into(),
            logo_url: "https://acme.example/logo.png".into(),
            theme_id: "2".into(),
        })
        .unwrap();
        assert_eq!(ok.theme_id, Some(2));
        for logo in [
            "http://acme.example/l.png",
            "javascript:alert(1)",
            "data:image/png;base64,AA",
            "https://a.example/\"onload=x",
            "https://",
        ] {
            let e = Branding::try_from(BrandingForm {
                brand_name: "A".into(),
                logo_url: logo.into(),
                theme_id: String::new(),
            })
            .unwrap_err();
            assert_eq!(e.field(), Some("logo_url"), "{logo}");
        }
        let e = Branding::try_from(BrandingForm {
            brand_name: "A".into(),
            logo_url: String::new(),
            theme_id: "-1".into(),
        })
        .unwrap_err();
        assert_eq!(e.field(), Some("theme_id"));
    }

    #[test]
    fn the_signature_window_is_five_minutes_either_way() {
        assert!(timestamp_fresh(1000, 1300));
        assert!(timestamp_fresh(1300, 1000));
        assert!(!timestamp_fresh(1000, 1301));
        assert!(!timestamp_fresh(1301, 1000));
        assert_eq!(
            signing_string("1", "post", "/api/v1/platform/users?x=1", "ab"),
            "1\nPOST\n/api/v1/platform/users?x=1\nab"
        );
    }

    #[test]
    fn shapes() {
        assert!(looks_like_key_id(&format!("tvtk_{}", "a".repeat(16))));
        assert!(!looks_like_key_id(&format!("tvts_{}", "a".repeat(16))));
        assert!(looks_like_secret(&format!("tvts_{}", "a".repeat(43))));
        assert!(!looks_like_secret(&format!("tvts_{}'", "a".repeat(42))));
        assert!(looks_like_access(&format!("tvua_{}", "a".repeat(43))));
        assert!(!looks_like_access(&format!("tvur_{}", "a".repeat(43))));
        assert!(looks_like_refresh(&format!("tvur_{}", "a".repeat(43))));
    }
}
