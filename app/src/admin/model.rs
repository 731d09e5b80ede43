use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub id: i64,
    pub to_addr: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub status: String,
    pub created_at: i64,
    /// For a message carrying a one-time link (reset, verify, invite): when
    /// that link stops working. Past it the body is no longer kept.
    pub link_expires_at: Option<i64>,
}
