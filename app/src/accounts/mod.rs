//! Accounts: users, sessions, e-mail verification, password reset, TOTP
//! two-factor, settings. `model` is shared with the browser; the rest is
//! server-only: pure rules (`password`, `tokens`, `totp`), storage (`repo`)
//! and flows (`service`). Server functions live in `server_fns`.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod bootstrap;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod tokens;
#[cfg(feature = "ssr")]
pub mod totp;
#[cfg(feature = "ssr")]
pub mod workflows;
