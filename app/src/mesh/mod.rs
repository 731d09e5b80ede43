//! Mesh networks: an owner on a plan with mesh members creates a network
//! on one VPN server, invites people by e-mail (single-use codes, stored
//! hashed, a week to accept), gives roles (owner, admin, member) and shares
//! home devices with an access level (view, use, full). `model` and
//! `rules` are shared with the browser (types, forms, pure rules); `repo`
//! and `service` hold storage and flows; `policy` turns memberships,
//! devices and shares into the allow rules a node enforces.

pub mod model;
pub mod rules;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod policy;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
