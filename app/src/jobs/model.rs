//! What the admin's scheduled-steps page shows.

use serde::{Deserialize, Serialize};

/// A row of the admin's scheduled-steps page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobRow {
    pub id: i64,
    pub workflow: String,
    pub step: String,
    pub user_email: Option<String>,
    pub due_at: i64,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}
