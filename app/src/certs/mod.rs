//! The personal certificate authority: every eligible user's own CA
//! (ECDSA P-256, created on first use, its key sealed at rest), and the
//! certificates it issues for a device, a region identity or a home service
//! (client or server authentication), with renewal, revocation, a public
//! CRL per CA and expiry reminders. `model` and `rules` are shared with the
//! browser (types, forms, the names a user may claim); `ca` is the X.509
//! work (rcgen), `repo` and `service` hold storage and flows, `routes` the
//! downloads and the CRL, `keygen` the browser's key pair and CSR.

pub mod der;
pub mod model;
pub mod rules;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod ca;
#[cfg(feature = "hydrate")]
pub mod keygen;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod service;
