//! Operator side: user administration, VIPs, mail outbox, audit log.

pub mod model;
pub mod server_fns;
