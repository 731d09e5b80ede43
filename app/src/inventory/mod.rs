//! Home network inventory: scanner tokens, the devices scanners report, and
//! their history. `model` is shared with the browser; `rules` (validation
//! and the diff against what we knew) is pure; `repo`, `service` and `api`
//! hold storage, flows and the scanner's endpoint.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
