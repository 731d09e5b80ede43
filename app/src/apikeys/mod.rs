//! API keys: what a customer's scripts and the command-line client call
//! `/api/v1` with. `model` holds the scopes and the pure rules of a new key
//! (shared with the browser); `repo` and `service` storage and flows
//! (creation, listing, revocation, authenticating a request); `workflows`
//! the hourly removal of old idempotency answers; `server_fns`
//! what the account page calls. The endpoints themselves live in `api`.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod workflows;
