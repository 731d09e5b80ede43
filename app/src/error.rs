//! The portal's error type and its mapping to HTTP: JSON for the API
//! (`{"error":{"code","message","details","request_id"}}`) and a plain
//! message for server functions. Internal causes are logged, never shown.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use truevault_wire::{ApiError, ApiErrorBody};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(String),
    #[error("Invalid email or password.")]
    InvalidCredentials,
    #[error("Please sign in.")]
    Unauthenticated,
    #[error("You do not have access to this.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("Too many attempts. Please wait a few minutes and try again.")]
    RateLimited,
    #[error("This link is invalid or has expired.")]
    InvalidToken,
    #[error("That code is not valid.")]
    InvalidTotp,
    #[error("The token is invalid or has been revoked.")]
    InvalidBearer,
    #[error("Your plan allows {0} device(s). Remove one or upgrade your plan.")]
    DeviceLimitExceeded(i64),
    #[error("Your plan allows {0} regional identit(ies). Remove one or upgrade your plan.")]
    IdentityLimitExceeded(i64),
    #[error("This server has no free addresses left. Please choose another server.")]
    NetworkFull,
    #[error("Your plan allows {0} camera(s). Remove one or upgrade your plan.")]
    CameraLimitExceeded(i64),
    #[error("No VPN server is available right now. Please try again later.")]
    ServerUnavailable,
    #[error("{0}")]
    SiteSubnet(crate::sites::model::LanSubnetError),
    #[error("That network overlaps one of your other home sites.")]
    SiteSubnetOverlap,
    #[error("You can have at most {0} home site(s).")]
    SiteLimitExceeded(i64),
    #[error("No home-site ranges are left. Please contact support.")]
    SitePoolFull,
    /// Mesh networks' refusals (their codes live with them).
    #[error("{0}")]
    Mesh(crate::mesh::model::MeshError),
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    #[error("The request took too long. Please try again.")]
    RequestTimeout,
    #[error("Something went wrong on our side. Please try again.")]
    Database(sqlx::Error),
    #[error("Something went wrong on our side. Please try again.")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "VALIDATION_FAILED",
            AppError::InvalidCredentials => "INVALID_CREDENTIALS",
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden => "FORBIDDEN",
            AppError::NotFound => "NOT_FOUND",
            AppError::Conflict(_) => "CONFLICT",
            AppError::RateLimited => "RATE_LIMITED",
            AppError::InvalidToken => "INVALID_TOKEN",
            AppError::InvalidTotp => "INVALID_TOTP",
            AppError::InvalidBearer => "INVALID_TOKEN",
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
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::RequestTimeout => "REQUEST_TIMEOUT",
            AppError::Database(_) | AppError::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) | AppError::InvalidToken | AppError::InvalidTotp => {
                StatusCode::BAD_REQUEST
            }
            AppError::SiteSubnet(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::InvalidCredentials | AppError::Unauthenticated | AppError::InvalidBearer => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_)
            | AppError::DeviceLimitExceeded(_)
            | AppError::IdentityLimitExceeded(_)
            | AppError::CameraLimitExceeded(_)
            | AppError::SiteSubnetOverlap
            | AppError::SiteLimitExceeded(_)
            | AppError::SitePoolFull
            | AppError::NetworkFull => StatusCode::CONFLICT,
            AppError::ServerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            AppError::Mesh(e) => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::CONFLICT),
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RequestTimeout => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the user is told. Internal causes stay in the log.
    pub fn public_message(&self) -> String {
        if let AppError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        self.to_string()
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    pub fn into_api_response(self, request_id: String) -> Response {
        let status = self.status();
        let body = ApiErrorBody {
            error: ApiError {
                code: self.code().into(),
                message: self.public_message(),
                details: None,
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

impl From<crate::mesh::model::MeshError> for AppError {
    fn from(e: crate::mesh::model::MeshError) -> Self {
        AppError::Mesh(e)
    }
}

/// Database failures are logged where they turn into an `AppError`, so
/// server functions (which show only the Display text) keep the cause.
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        AppError::Database(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;
