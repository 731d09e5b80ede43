//! Plans, subscriptions, checkout with the payment providers, invoices,
//! and the automation that follows payments (dunning, expiry, receipts).
//! `model` is shared with the browser; `rules` is pure; `repo` is storage;
//! `checkout` is the customer's side, `events` applies provider events,
//! `test_provider` is the built-in provider, `workflows` the scheduled steps
//! and `webhooks` the providers' endpoints.

#[cfg(feature = "ssr")]
pub mod checkout;
#[cfg(feature = "ssr")]
pub mod events;
pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod test_provider;
#[cfg(feature = "ssr")]
pub mod webhooks;
#[cfg(feature = "ssr")]
pub mod workflows;
