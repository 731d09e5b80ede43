//! Plans, subscriptions, checkout with the payment providers, invoices,
//! and the automation that follows payments (dunning, expiry, receipts).
//! `model` is shared with the browser; `rules` is pure; `repo`, `service`,
//! `workflows` and `webhooks` hold storage, flows, scheduled steps and the
//! providers' endpoints.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod webhooks;
#[cfg(feature = "ssr")]
pub mod workflows;
