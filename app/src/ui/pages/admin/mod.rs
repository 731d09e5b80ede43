//! Every admin page, one file per area: users, servers and usage, themes,
//! plans, tenants, mail (outbox and templates), automation, audit. Each page sits
//! inside `RequireAdmin`, which adds the admin navigation.

mod audit;
mod jobs;
mod mail;
mod plans;
mod servers;
mod tenants;
mod themes;
mod users;

use leptos::prelude::*;

pub use audit::AdminAudit;
pub use jobs::AdminJobs;
pub use mail::{AdminMail, AdminOutbox};
pub use plans::AdminPlans;
pub use servers::{AdminServers, AdminUsage};
pub use tenants::AdminTenants;
pub use themes::{AdminThemeEdit, AdminThemes};
pub use users::AdminUsers;

fn error_view(e: &crate::error::AppError) -> AnyView {
    view! { <p class="notice error">{crate::ui::components::notice::error_text(e)}</p> }.into_any()
}
