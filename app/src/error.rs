//! The portal's one error type, shared by the server and the browser.
//!
//! Every error has a stable `code()` and an HTTP status. The JSON API
//! answers `{"error":{"code","message","details","request_id"}}`; server
//! functions answer the same fields without the envelope (`{"code",
//! "message","field","limit"}`) with the matching status, and the browser
//! decodes them back into an `AppError`, so pages and tests match on
//! `code()`, never on message text. Internal causes (database errors
//! included) are logged on the server and never leave it.

use leptos::server_fn::{
    self,
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::{
    accounts::model::ServiceOff, certs::model::CertError, mesh::model::MeshError,
    sites::model::LanSubnetError, tenants::model::TenantError, ui::components::notice::plural,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "ErrorBody", from = "ErrorBody")]
pub enum AppError {
    /// Input that breaks a rule; `field` names the form field when there is one.
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    /// The request did not carry the fields a form needs, or they did not parse.
    #[error("Some fields are missing or not in the expected format.")]
    BadInput,
    #[error("Invalid email or password.")]
    InvalidCredentials,
    #[error("Please sign in.")]
    Unauthenticated,
    #[error("This account is not active. Please contact support.")]
    AccountInactive,
    #[error("You do not have access to this.")]
    Forbidden,
    /// The account gets no service now; the reason is the code.
    #[error("{}", .0.explain())]
    ServiceOff(ServiceOff),
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("That public key is already in use.")]
    KeyInUse,
    #[error("Too many attempts. Please wait a few minutes and try again.")]
    RateLimited,
    #[error("This link is invalid or has expired.")]
    InvalidToken,
    #[error("That code is not valid.")]
    InvalidTotp,
    #[error("The token is invalid or has been revoked.")]
    InvalidBearer,
    #[error("Your plan allows {}. Remove one or upgrade your plan.", plural(*.0, "device", "devices"))]
    DeviceLimitExceeded(i64),
    #[error("Your plan allows {}. Remove one or upgrade your plan.", plural(*.0, "regional identity", "regional identities"))]
    IdentityLimitExceeded(i64),
    #[error("This server has no free addresses left. Please choose another server.")]
    NetworkFull,
    #[error("Your plan allows {}. Remove one or upgrade your plan.", plural(*.0, "camera", "cameras"))]
    CameraLimitExceeded(i64),
    #[error("No VPN server is available right now. Please try again later.")]
    ServerUnavailable,
    /// A home site's LAN subnet broke a rule; the inner error says which.
    #[error("{0}")]
    SiteSubnet(LanSubnetError),
    #[error("That network overlaps one of your other home sites.")]
    SiteSubnetOverlap,
    #[error("You can have at most {}.", plural(*.0, "home site", "home sites"))]
    SiteLimitExceeded(i64),
    #[error("No home-site ranges are left. Please contact support.")]
    SitePoolFull,
    /// Mesh networks' refusals (their codes live with them).
    #[error("{0}")]
    Mesh(MeshError),
    #[error("You have {} open. Close one to watch another.", plural(*.0, "live camera view", "live camera views"))]
    LiveViewLimit(i64),
    /// Personal certificates' refusals (their codes live with them).
    #[error("{0}")]
    Certs(CertError),
    /// The platform for businesses' refusals (codes live with them).
    #[error("{}", .0.message())]
    Tenant(TenantError),
    /// The public API's key refusals: missing or unknown, revoked, expired,
    /// or without the scope the call needs.
    #[error("A valid API key is required (Authorization: Bearer tvk_…).")]
    InvalidApiKey,
    #[error("This API key has been revoked.")]
    ApiKeyRevoked,
    #[error("This API key has expired.")]
    ApiKeyExpired,
    #[error("This API key does not have the scope this call needs.")]
    InsufficientScope,
    /// Creating a key with a scope the plan does not include.
    #[error("Your plan does not include API keys with that scope.")]
    ScopeNotInPlan,
    /// The same `Idempotency-Key` with a different request.
    #[error("This Idempotency-Key was already used for a different request.")]
    IdempotencyKeyReused,
    /// The same `Idempotency-Key` while its first request is still running.
    #[error("A request with this Idempotency-Key is still being processed.")]
    IdempotencyInProgress,
    /// A device, identity or camera the plan paused (it holds fewer).
    #[error("This is paused: your plan includes fewer. Upgrade, or choose to keep it instead of another.")]
    PausedByPlan,
    #[error("This camera is cloud only: it offers no local stream a gateway could pull.")]
    CameraCloudOnly,
    #[error("The camera's gateway is offline.")]
    CameraGatewayOffline,
    #[error("The camera did not give a snapshot: {0}")]
    SnapshotFailed(String),
    #[error("The camera did not answer its ONVIF questions: {0}")]
    OnvifFailed(String),
    #[error("The camera did not take the PTZ command: {0}")]
    PtzFailed(String),
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    #[error("The request took too long. Please try again.")]
    RequestTimeout,
    /// The browser could not reach the portal (or the answer did not arrive).
    #[error("The portal could not be reached. Check your connection and try again.")]
    Network,
    /// The database could not be reached (down or restarting), as opposed
    /// to refusing a query: worth retrying.
    #[error("The service is briefly unavailable. Please try again in a moment.")]
    DatabaseUnavailable,
    /// The cause stays on the server (logged where the error is made); the
    /// browser only ever sees the fixed text.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation { .. } => "VALIDATION_FAILED",
            AppError::BadInput => "BAD_INPUT",
            AppError::InvalidCredentials => "INVALID_CREDENTIALS",
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::AccountInactive => "ACCOUNT_INACTIVE",
            AppError::Forbidden => "FORBIDDEN",
            AppError::ServiceOff(ServiceOff::Suspended) => "ACCOUNT_SUSPENDED",
            AppError::ServiceOff(ServiceOff::Cancelled) => "ACCOUNT_CANCELLED",
            AppError::ServiceOff(ServiceOff::PaymentOverdue) => "PAYMENT_OVERDUE",
            AppError::NotFound => "NOT_FOUND",
            AppError::Conflict(_) => "CONFLICT",
            AppError::KeyInUse => "KEY_IN_USE",
            AppError::RateLimited => "RATE_LIMITED",
            AppError::InvalidToken | AppError::InvalidBearer => "INVALID_TOKEN",
            AppError::InvalidTotp => "INVALID_TOTP",
            AppError::DeviceLimitExceeded(_) => "DEVICE_LIMIT_EXCEEDED",
            AppError::IdentityLimitExceeded(_) => "IDENTITY_LIMIT_EXCEEDED",
            AppError::CameraLimitExceeded(_) => "CAMERA_LIMIT_EXCEEDED",
            AppError::NetworkFull => "NETWORK_FULL",
            AppError::ServerUnavailable => "SERVER_UNAVAILABLE",
            AppError::SiteSubnet(e) => e.code(),
            AppError::SiteSubnetOverlap => "SITE_SUBNET_OVERLAP",
            AppError::SiteLimitExceeded(_) => "SITE_LIMIT_EXCEEDED",
            AppError::SitePoolFull => "SITE_POOL_FULL",
            AppError::Mesh(e) => e.code(),
            AppError::LiveViewLimit(_) => "LIVE_VIEW_LIMIT",
            AppError::Certs(e) => e.code(),
            AppError::Tenant(e) => e.code(),
            AppError::InvalidApiKey => "INVALID_API_KEY",
            AppError::ApiKeyRevoked => "API_KEY_REVOKED",
            AppError::ApiKeyExpired => "API_KEY_EXPIRED",
            AppError::InsufficientScope => "INSUFFICIENT_SCOPE",
            AppError::ScopeNotInPlan => "SCOPE_NOT_IN_PLAN",
            AppError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            AppError::IdempotencyInProgress => "IDEMPOTENCY_IN_PROGRESS",
            AppError::PausedByPlan => "PAUSED_BY_PLAN",
            AppError::CameraCloudOnly => "CAMERA_CLOUD_ONLY",
            AppError::CameraGatewayOffline => "CAMERA_GATEWAY_OFFLINE",
            AppError::SnapshotFailed(_) => "CAMERA_SNAPSHOT_FAILED",
            AppError::OnvifFailed(_) => "CAMERA_ONVIF_FAILED",
            AppError::PtzFailed(_) => "CAMERA_PTZ_FAILED",
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::RequestTimeout => "REQUEST_TIMEOUT",
            AppError::Network => "NETWORK",
            AppError::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status, as a number so the browser build needs no `http`.
    pub fn status_code(&self) -> u16 {
        match self {
            // A mistyped form and a broken rule are both the client's to fix.
            AppError::Validation { .. }
            | AppError::BadInput
            | AppError::SiteSubnet(_)
            | AppError::CameraCloudOnly => 422,
            AppError::InvalidToken | AppError::InvalidTotp => 400,
            AppError::InvalidCredentials
            | AppError::Unauthenticated
            | AppError::InvalidBearer
            | AppError::InvalidApiKey
            | AppError::ApiKeyRevoked
            | AppError::ApiKeyExpired => 401,
            AppError::Forbidden
            | AppError::AccountInactive
            | AppError::ServiceOff(_)
            | AppError::InsufficientScope
            | AppError::ScopeNotInPlan => 403,
            AppError::IdempotencyKeyReused => 422,
            AppError::NotFound => 404,
            AppError::Conflict(_)
            | AppError::KeyInUse
            | AppError::DeviceLimitExceeded(_)
            | AppError::IdentityLimitExceeded(_)
            | AppError::CameraLimitExceeded(_)
            | AppError::SiteSubnetOverlap
            | AppError::SiteLimitExceeded(_)
            | AppError::SitePoolFull
            | AppError::IdempotencyInProgress
            | AppError::PausedByPlan
            | AppError::NetworkFull => 409,
            AppError::RateLimited | AppError::LiveViewLimit(_) => 429,
            // Down or restarting (PostgreSQL): a retryable 503, not a 500.
            AppError::ServerUnavailable
            | AppError::RequestTimeout
            | AppError::DatabaseUnavailable => 503,
            AppError::Mesh(e) => e.status(),
            AppError::Certs(e) => e.status(),
            AppError::Tenant(e) => e.status(),
            AppError::PayloadTooLarge => 413,
            AppError::MethodNotAllowed => 405,
            AppError::Network
            | AppError::SnapshotFailed(_)
            | AppError::OnvifFailed(_)
            | AppError::PtzFailed(_) => 502,
            AppError::CameraGatewayOffline => 503,
            AppError::Internal(_) => 500,
        }
    }

    /// A broken rule with no particular field.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Validation {
            field: None,
            message: message.into(),
        }
    }

    /// A broken rule of one form field (`field` is the form's name for it).
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The form field a validation error is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Validation { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// Logs the cause and returns the opaque internal error.
    #[cfg(feature = "ssr")]
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %e, "internal error");
        AppError::Internal(e.to_string())
    }
}

/// What crosses the wire: code, the public message, and the details a page
/// needs (the field at fault, the plan's limit). Never the internal cause.
#[derive(Clone, Serialize, Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mesh: Option<MeshError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certs: Option<CertError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<TenantError>,
}

impl From<AppError> for ErrorBody {
    fn from(e: AppError) -> Self {
        let limit = match &e {
            AppError::DeviceLimitExceeded(n)
            | AppError::IdentityLimitExceeded(n)
            | AppError::CameraLimitExceeded(n)
            | AppError::SiteLimitExceeded(n)
            | AppError::LiveViewLimit(n)
            | AppError::Certs(CertError::Limit(n)) => Some(*n),
            AppError::Tenant(t) => t.limit(),
            _ => None,
        };
        let mesh = match &e {
            AppError::Mesh(m) => Some(m.clone()),
            _ => None,
        };
        let certs = match &e {
            AppError::Certs(c) => Some(c.clone()),
            _ => None,
        };
        let tenant = match &e {
            AppError::Tenant(t) => Some(*t),
            _ => None,
        };
        ErrorBody {
            tenant,
            code: e.code().into(),
            message: e.to_string(),
            field: e.field().map(String::from),
            limit,
            mesh,
            certs,
        }
    }
}

impl From<ErrorBody> for AppError {
    fn from(b: ErrorBody) -> Self {
        let limit = b.limit.unwrap_or_default();
        if let Some(m) = b.mesh {
            return AppError::Mesh(m);
        }
        if let Some(c) = b.certs {
            return AppError::Certs(c);
        }
        if let Some(t) = b.tenant {
            return AppError::Tenant(t);
        }
        match b.code.as_str() {
            "VALIDATION_FAILED" => AppError::Validation {
                field: b.field,
                message: b.message,
            },
            "BAD_INPUT" => AppError::BadInput,
            "INVALID_CREDENTIALS" => AppError::InvalidCredentials,
            "UNAUTHENTICATED" => AppError::Unauthenticated,
            "ACCOUNT_INACTIVE" => AppError::AccountInactive,
            "FORBIDDEN" => AppError::Forbidden,
            "ACCOUNT_SUSPENDED" => AppError::ServiceOff(ServiceOff::Suspended),
            "ACCOUNT_CANCELLED" => AppError::ServiceOff(ServiceOff::Cancelled),
            "PAYMENT_OVERDUE" => AppError::ServiceOff(ServiceOff::PaymentOverdue),
            "NOT_FOUND" => AppError::NotFound,
            "CONFLICT" => AppError::Conflict(b.message),
            "KEY_IN_USE" => AppError::KeyInUse,
            "RATE_LIMITED" => AppError::RateLimited,
            "INVALID_TOKEN" => AppError::InvalidToken,
            "INVALID_TOTP" => AppError::InvalidTotp,
            "DEVICE_LIMIT_EXCEEDED" => AppError::DeviceLimitExceeded(limit),
            "IDENTITY_LIMIT_EXCEEDED" => AppError::IdentityLimitExceeded(limit),
            "CAMERA_LIMIT_EXCEEDED" => AppError::CameraLimitExceeded(limit),
            "NETWORK_FULL" => AppError::NetworkFull,
            "SERVER_UNAVAILABLE" => AppError::ServerUnavailable,
            "SITE_SUBNET_OVERLAP" => AppError::SiteSubnetOverlap,
            "SITE_LIMIT_EXCEEDED" => AppError::SiteLimitExceeded(limit),
            "SITE_POOL_FULL" => AppError::SitePoolFull,
            "LIVE_VIEW_LIMIT" => AppError::LiveViewLimit(limit),
            "INVALID_API_KEY" => AppError::InvalidApiKey,
            "API_KEY_REVOKED" => AppError::ApiKeyRevoked,
            "API_KEY_EXPIRED" => AppError::ApiKeyExpired,
            "INSUFFICIENT_SCOPE" => AppError::InsufficientScope,
            "SCOPE_NOT_IN_PLAN" => AppError::ScopeNotInPlan,
            "IDEMPOTENCY_KEY_REUSED" => AppError::IdempotencyKeyReused,
            "IDEMPOTENCY_IN_PROGRESS" => AppError::IdempotencyInProgress,
            "PAYLOAD_TOO_LARGE" => AppError::PayloadTooLarge,
            "METHOD_NOT_ALLOWED" => AppError::MethodNotAllowed,
            "REQUEST_TIMEOUT" => AppError::RequestTimeout,
            "NETWORK" => AppError::Network,
            "PAUSED_BY_PLAN" => AppError::PausedByPlan,
            "CAMERA_CLOUD_ONLY" => AppError::CameraCloudOnly,
            "CAMERA_GATEWAY_OFFLINE" => AppError::CameraGatewayOffline,
            "CAMERA_SNAPSHOT_FAILED" => AppError::SnapshotFailed(detail_of(&b.message)),
            "CAMERA_ONVIF_FAILED" => AppError::OnvifFailed(detail_of(&b.message)),
            "CAMERA_PTZ_FAILED" => AppError::PtzFailed(detail_of(&b.message)),
            "DATABASE_UNAVAILABLE" => AppError::DatabaseUnavailable,
            other => LanSubnetError::from_code(other)
                .map(AppError::SiteSubnet)
                .unwrap_or(AppError::Internal(String::new())),
        }
    }
}

/// The part of a message after its fixed lead ("…: detail"), so a decoded
/// error displays as it did on the server.
fn detail_of(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, d)| d)
        .to_string()
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => AppError::BadInput,
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Network,
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                AppError::Internal(other.to_string())
            }
        }
    }

    /// Encoding an error on the server is the moment its status is known,
    /// so it is set here (server_fn itself answers every error with 500).
    /// Plain form posts keep their redirect back to the page.
    fn ser(&self) -> server_fn::Bytes {
        #[cfg(feature = "ssr")]
        ssr::set_status(self.status_code());
        <JsonEncoding as server_fn::Encodes<Self>>::encode(self).unwrap_or_default()
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use axum::{
        http::{header, request::Parts, StatusCode},
        response::{IntoResponse, Response},
        Json,
    };
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;
    use truevault_wire::{ApiError, ApiErrorBody};

    use super::AppError;

    pub(super) fn set_status(code: u16) {
        let (Some(parts), Some(res)) = (use_context::<Parts>(), use_context::<ResponseOptions>())
        else {
            return;
        };
        let form_post = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if !form_post {
            if let Ok(status) = StatusCode::from_u16(code) {
                res.set_status(status);
            }
        }
    }

    impl AppError {
        /// The status on the agent API (`/api/v1`), which has always
        /// answered a bad body with 400.
        pub fn status(&self) -> StatusCode {
            match self {
                AppError::Validation { .. } | AppError::BadInput => StatusCode::BAD_REQUEST,
                _ => StatusCode::from_u16(self.status_code())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            }
        }

        /// What the user is told. Internal causes stay in the log.
        pub fn public_message(&self) -> String {
            self.to_string()
        }

        pub fn into_api_response(self, request_id: String) -> Response {
            let status = self.status();
            let details = self.field().map(String::from);
            let body = ApiErrorBody {
                error: ApiError {
                    code: self.code().into(),
                    message: self.public_message(),
                    details,
                    request_id,
                },
            };
            (status, Json(body)).into_response()
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            self.into_api_response(String::new())
        }
    }

    /// Database failures are logged here, where they become an `AppError`;
    /// the user sees only the fixed internal text.
    impl From<sqlx::Error> for AppError {
        fn from(e: sqlx::Error) -> Self {
            tracing::error!(error = %e, "database error");
            if database_unreachable(&e) {
                AppError::DatabaseUnavailable
            } else {
                AppError::Internal("database".into())
            }
        }
    }

    /// The database could not be reached (as opposed to refusing a query).
    fn database_unreachable(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // PostgreSQL's admin_shutdown / cannot_connect_now while restarting.
            sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
            }
            _ => false,
        }
    }
}

impl From<CertError> for AppError {
    fn from(e: CertError) -> Self {
        AppError::Certs(e)
    }
}

impl From<MeshError> for AppError {
    fn from(e: MeshError) -> Self {
        AppError::Mesh(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;
