//! HTTP plumbing shared by pages, server functions and the JSON API:
//! request context (session, theme, CSP nonce), CSRF and security headers,
//! rate limits, metrics, health.

pub mod assets;
pub mod body;
pub mod client;
pub mod context;
pub mod cookies;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod rate_limit;
pub mod security;
pub mod stopping;
