//! What stays when a plan shrinks. A downgrade, an expiry or a suspension
//! that leaves the account with more devices, regional identities or
//! cameras than its plan includes pauses the rest instead of deleting it:
//! a paused device or identity is in no node config, a paused camera is not
//! pulled by its gateway and cannot be viewed. The limits are the plan's
//! (`entitlements::Entitlements`); what is kept is the user's choice, made
//! before the change takes effect (the billing page), and otherwise the most
//! recently used. A bigger plan (or a keep choice) resumes paused items with
//! the same keys, addresses and settings.

pub mod model;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod service;
