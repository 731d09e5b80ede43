//! One module per page group.

mod account;
mod admin;
mod auth;
mod billing;
mod cameras;
mod dashboard;
mod devices;
mod network;
mod public;
mod servers;
mod sites;

pub use account::Account;
pub use admin::{AdminAudit, AdminOutbox, AdminPlans, AdminThemeEdit, AdminThemes, AdminUsers};
pub use auth::{Forgot, LoginPage, LoginTotpPage, Register, Reset, Setup, Verify};
pub use billing::{AdminJobs, AdminMail, Billing, InvoicePage, TestPayPage};
pub use cameras::{CameraView, Cameras};
pub use dashboard::Dashboard;
pub use devices::{DeviceUsage, Devices};
pub use network::{Network, NetworkDevice};
pub use public::{Landing, NotFound, Pricing};
pub use servers::{AdminServers, AdminUsage};
pub use sites::Sites;
