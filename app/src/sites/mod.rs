//! Home sites (subnet routers): a customer's home LAN joins the VPN through
//! the home agent (`truevault-home`, app/node), which maps the site's range
//! from the portal's pool 1:1 onto the real LAN. `model` holds the pure
//! rules (LAN parsing, the LAN ↔ range mapping) and is shared with the
//! browser; `repo` and `service` storage and flows (including the grants
//! and peers nodes get); `api` the home agent's endpoint.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
