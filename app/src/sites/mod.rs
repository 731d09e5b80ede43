//! Home sites (subnet routers): a customer's home LAN joins the VPN through
//! the home agent (`truevault-home`, app/node), which maps the site's range
//! from the portal's pool 1:1 onto the real LAN. `model` holds the pure
//! rules (LAN parsing, the LAN ↔ range mapping) and is shared with the
//! browser.

pub mod model;
