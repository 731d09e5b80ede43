//! Integration tests: each starts the real server on port 0 with a fresh
//! database — a SQLite file by default, or a new PostgreSQL database when
//! `TRUEVAULT_TEST_PG_URL` is set — and talks to it over HTTP.

mod accounts;
mod assets;
mod billing;
mod cameras;
mod certs;
mod churn;
mod hardening;
mod helpers;
mod inventory;
mod live;
mod mesh;
mod onvif_device;
mod platform;
mod public_api;
mod queries;
mod security;
mod service;
mod sites;
mod smtp;
mod themes;
mod ux;
mod vpn;
