//! Components shared by pages.

pub mod chart;
pub mod guard;
pub mod nav;
pub mod notice;
