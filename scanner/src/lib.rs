//! `truevault-scanner`: finds the devices on a home LAN and syncs them to
//! the TrueVault portal's inventory.
//!
//! Discovery steps, each its own module: [`arp`] (raw ARP sweep, or the
//! unprivileged neighbour-table fallback in [`scan`]), [`mdns`] (DNS-SD),
//! [`wsd`] (ONVIF WS-Discovery) and [`onvif`] (authenticated camera
//! queries), [`ports`] (TCP probes); then [`oui`] and [`classify`] name
//! what was found, and [`sync`] sends it. [`scan::run`] ties them together.

pub mod arp;
pub mod classify;
pub mod error;
pub mod mdns;
pub mod net;
pub mod onvif;
pub mod oui;
pub mod ports;
pub mod scan;
pub mod sync;
pub mod table;
pub mod txt;
pub mod wsd;

pub use error::{Result, ScanError};
