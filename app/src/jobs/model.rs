//! What the admin's scheduled-steps page shows.

use serde::{Deserialize, Serialize};

crate::string_enum! {
    /// Where a scheduled step is.
    pub enum JobStatus {
        Pending = "pending",
        Running = "running",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

/// A row of the admin's scheduled-steps page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobRow {
    pub id: i64,
    pub workflow: String,
    pub step: String,
    pub user_email: Option<String>,
    pub due_at: i64,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
}
