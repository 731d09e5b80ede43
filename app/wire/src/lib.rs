//! Wire types exchanged between the portal and its agents over `/api/v1`.
//!
//! Agents (scanner, camera gateway, VPN node) depend on this crate instead of
//! on the portal, so they stay small; the portal uses the same types, so the
//! two sides cannot drift apart.

use serde::{Deserialize, Serialize};

/// The JSON error body every `/api/v1` endpoint returns on failure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub error: ApiError,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `INVALID_API_KEY`.
    pub code: String,
    pub message: String,
    /// Always present (null when there is nothing to add): clients can rely on four keys.
    #[serde(default)]
    pub details: Option<String>,
    pub request_id: String,
}

pub mod gateway;
pub mod inventory;
pub mod node;
