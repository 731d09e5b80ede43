//! Cameras: the user's cameras and camera gateways, the gateway tunnel, and
//! live view. `model` is shared with the browser; `rules` (vendor stream-URL
//! patterns, validation) is pure; `repo` and `service` hold storage and
//! flows; `tunnel` is the gateway's WebSocket, `live` the viewers' side
//! (fMP4 over WebSocket, snapshots, the player script).

pub mod model;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod notify;
#[cfg(feature = "ssr")]
pub mod relay;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod tunnel;
#[cfg(feature = "ssr")]
pub mod viewers;
