//! One module per page group.

mod account;
mod admin;
mod api_keys;
mod auth;
mod billing;
mod cameras;
mod certs;
mod dashboard;
mod developer;
mod devices;
mod mesh;
mod network;
mod public;
mod sites;

pub use account::Account;
pub use admin::{
    AdminAudit, AdminJobs, AdminMail, AdminOutbox, AdminPlans, AdminServers, AdminTenants,
    AdminThemeEdit, AdminThemes, AdminUsage, AdminUsers,
};
pub use auth::{Forgot, LoginPage, LoginTotpPage, Register, Reset, Setup, Verify};
pub use billing::{Billing, InvoicePage, TestPayPage};
pub use cameras::{CameraEvents, CameraView, Cameras};
pub use certs::{Certificates, CertsCard};
pub use dashboard::Dashboard;
pub use devices::{DeviceUsage, Devices};
pub use mesh::{MeshCard, MeshInvitePage, MeshNetworkPage, MeshNetworks};
pub use network::{Network, NetworkDevice};
pub use public::{Landing, NotFound, Pricing};
pub use sites::Sites;
