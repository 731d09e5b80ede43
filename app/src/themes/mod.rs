//! Themes: variables stored in the database, validated, rendered by the
//! server into every page as CSS custom properties `--{category}-{name}`.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod repo;
