//! Shared application state handed to handlers and server functions.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::{
    clock::Clock, config::Config, db::Db, http::metrics::Metrics, http::rate_limit::RateLimiter,
    jobs::Workflows, mail::Mailer, secrets::Keys, themes::cache::ThemeCache,
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub mailer: Mailer,
    pub auth_limiter: RateLimiter,
    /// Device changes per user (`http::rate_limit::device_changes`).
    pub device_limiter: RateLimiter,
    /// Public API requests per key (`api::v1`).
    pub api_limiter: RateLimiter,
    pub metrics: Metrics,
    pub themes: ThemeCache,
    pub leptos_options: LeptosOptions,
    /// Woken whenever any node's desired peer set changes; long-polling
    /// nodes then check their own version.
    pub node_changes: Arc<tokio::sync::Notify>,
    /// Connections the accept loop is serving (and whether it is at its cap).
    pub connections: Arc<crate::http::limits::Connections>,
    /// Device creations' writes, group-committed by one task.
    pub device_writer: crate::vpn::writer::DeviceWriter,
    /// Each node's desired config, built once per peers version.
    pub node_configs: crate::vpn::config_cache::ConfigCache,
    /// Billing automation's notion of now (moved forward in tests).
    pub clock: Clock,
    /// Woken when a workflow step is scheduled, so the worker runs it at once.
    pub jobs_changed: Arc<tokio::sync::Notify>,
    /// Clients of the configured payment providers, made once so PayPal's
    /// access token is reused across calls.
    pub payments: Arc<crate::billing::checkout::PaymentClients>,
    /// Live view: camera fan-out and the connected gateways.
    pub cameras: crate::cameras::relay::CameraRelay,
    /// Set when shutdown begins: held requests answer at once.
    pub stopping: crate::http::stopping::Stopping,
    /// Live updates for open pages (`live`): SSE streams of this instance.
    pub live: crate::live::LiveBus,
    /// Every concept's scheduled workflows, registered at start-up.
    pub workflows: Arc<Workflows<AppState>>,
}

impl crate::jobs::Context for AppState {
    fn db(&self) -> &Db {
        &self.db
    }
    fn clock(&self) -> &Clock {
        &self.clock
    }
    fn workflows(&self) -> &Workflows<Self> {
        &self.workflows
    }
    fn jobs_changed(&self) -> &tokio::sync::Notify {
        &self.jobs_changed
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
