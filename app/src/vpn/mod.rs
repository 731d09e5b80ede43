//! VPN: WireGuard keys, address pools, servers, devices and their configs.
//! `model` is shared with the browser; `keys`, `ipam`, `selection` and
//! `wgconfig` are pure rules; `repo` and `service` hold storage and flows.

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod download;
#[cfg(feature = "ssr")]
pub mod ipam;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod keys;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod qr;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod selection;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod wgconfig;
