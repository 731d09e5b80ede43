//! Plans (this wave) — subscriptions, payments and invoices build on it.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod repo;
