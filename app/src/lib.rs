//! TrueVault portal: a Leptos full-stack app (server-side rendering plus
//! hydration) on axum and sqlx.
//!
//! Each concept is one module shaped the same way: `model` (types shared
//! with the browser and pure rules), `repo` (sqlx, server only), `service`
//! (flows, server only) and `server_fns` (the functions pages call).

// Deep view types (the cameras page with its gateway list) pass the
// default limit in the hydrate build.
#![recursion_limit = "256"]

pub mod accounts;
pub mod admin;
pub mod apikeys;
pub mod billing;
pub mod cameras;
pub mod certs;
pub mod error;
pub mod inventory;
pub mod jobs;
pub mod mesh;
pub mod overview;
pub mod pausing;
pub mod sites;
pub mod tenants;
pub mod themes;
pub mod typed;
pub mod ui;
pub mod vpn;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod entitlements;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod sfn;
#[cfg(feature = "ssr")]
pub mod startup;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod telemetry;

/// Browser entry point: hydrate the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::App);
}
