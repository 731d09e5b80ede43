//! VPN: WireGuard keys, address pools, servers, devices and their configs,
//! and the portal side of the node agents (enrollment, the long-polled
//! desired state, stats). `model` is shared with the browser; `keys`,
//! `ipam`, `selection` and `wgconfig` are pure rules; `repo` holds storage;
//! `servers`, `devices` and `nodes` the flows, `writer` the group commit of
//! device creations; `node_api` the JSON API nodes call. The agent itself
//! is the `truevault-node` crate (`app/node`).

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod config_cache;
#[cfg(feature = "ssr")]
pub mod devices;
#[cfg(feature = "ssr")]
pub mod download;
#[cfg(feature = "ssr")]
pub mod ipam;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod node_api;
#[cfg(feature = "ssr")]
pub mod nodes;
#[cfg(feature = "ssr")]
pub mod policy;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod qr;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod selection;
#[cfg(feature = "ssr")]
pub mod servers;
#[cfg(feature = "ssr")]
pub mod wgconfig;
#[cfg(feature = "ssr")]
pub mod workflows;
#[cfg(feature = "ssr")]
pub mod writer;
