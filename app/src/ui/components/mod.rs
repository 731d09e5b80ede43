//! Components shared by pages.

pub mod guard;
pub mod nav;
pub mod notice;
