//! Components shared by pages.

pub mod chart;
pub mod confirm;
pub mod guard;
pub mod nav;
pub mod network_map;
pub mod notice;
pub mod refresh;
