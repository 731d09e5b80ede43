//! The platform for businesses: tenants put the VPN into their own apps for
//! their own users. `model` holds the types and pure rules (a new tenant,
//! branding, credential and token shapes, what a request signature signs);
//! `repo` the storage; `service` the flows (signing a business up, the
//! operator's suspension, credentials and request authentication, tenant
//! users and their token families, usage); `server_fns` what the developer
//! section and the operator's pages call. The HTTP endpoints live in
//! `api::platform`.
//!
//! A tenant user is a `users` row with `tenant_id` set, so the device
//! service, address pools, node configs, the usage ledger and the service
//! rule (`entitlements::service_off_sql`, which also reads the tenant's
//! status) apply unchanged; its identity (an e-mail unique only inside its
//! tenant, a password) is in `tenant_users`. Its `users.email` is a
//! synthetic `…@tenants.invalid` and its `users.password_hash` is not a PHC
//! string, so it can never sign in as a consumer, and every consumer query
//! that finds users by e-mail or lists them says `tenant_id IS NULL`.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
