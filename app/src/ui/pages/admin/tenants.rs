//! The operator's tenants: each with its plan's limits, this month's usage
//! and its status; suspend and resume (its users' service follows), create
//! one on a plan that hosts tenants, and the audit of one tenant.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    tenants::{
        model::{TenantInfo, TenantStatus},
        server_fns::{admin_tenants, AdminTenantCreate, AdminTenantStatus},
    },
    ui::components::{
        guard::RequireAdmin,
        notice::{duration_text, error_notice, ActionError, Time},
    },
    vpn::model::format_bytes,
};

fn limit(n: Option<i64>) -> String {
    n.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

#[component]
pub fn AdminTenants() -> impl IntoView {
    // Made outside the guard's Suspend and awaited inside one (FLAKE.md).
    let status = ServerAction::<AdminTenantStatus>::new();
    let create = ServerAction::<AdminTenantCreate>::new();
    let tenants = Resource::new(
        move || (status.version().get(), create.version().get()),
        |_| admin_tenants(),
    );
    view! {
        <Title text="Tenants — Admin — TrueVault"/>
        <RequireAdmin children=move |_u: CurrentUser| view! {
            <h1>"Tenants"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { match tenants.await {
                    Err(e) => error_notice(&e).into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No business has signed up yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap"><table class="table stack" data-testid="tenants">
                            <thead><tr><th>"Tenant"</th><th>"Plan"</th><th>"Users"</th><th>"Devices"</th><th>"Traffic this month"</th><th>"Connected"</th><th>"API calls"</th><th>"Since"</th><th>"Status"</th><th></th></tr></thead>
                            <tbody>{list.into_iter().map(|t| row(t, status)).collect_view()}</tbody>
                        </table></div>
                    }.into_any(),
                } })}
            </Suspense>
            <ActionError value=status.value()/>
            <section class="card">
                <h2>"Create a tenant"</h2>
                <ActionForm action=create attr:class="form">
                    <label>"Business name" <input type="text" name="name" required maxlength="80"/></label>
                    <label>"Contact e-mail" <input type="email" name="contact_email" required/></label>
                    <label>"Plan" <input type="text" name="plan" value="business" required maxlength="32"/></label>
                    <button type="submit" class="btn btn-primary">"Create"</button>
                </ActionForm>
                <ActionError value=create.value()/>
            </section>
        }/>
    }
}

fn row(t: TenantInfo, status: ServerAction<AdminTenantStatus>) -> impl IntoView {
    let next = match t.status {
        TenantStatus::Active => (TenantStatus::Suspended, "Suspend", "btn btn-danger small"),
        TenantStatus::Suspended => (TenantStatus::Active, "Resume", "btn small"),
    };
    view! {
        <tr data-testid="tenant-row" data-status=t.status.as_str()>
            <td data-label="Tenant">{t.name.clone()}<br/><span class="muted small">{t.contact_email.clone()}</span></td>
            <td data-label="Plan">{t.plan.clone()}</td>
            <td data-label="Users">{format!("{} / {}", t.usage.users, limit(t.limits.users))}</td>
            <td data-label="Devices">{format!("{} / {}", t.usage.devices, limit(t.limits.devices))}</td>
            <td data-label="Traffic this month">{format!("{} of {}", format_bytes(t.usage.rx_bytes + t.usage.tx_bytes), t.limits.bandwidth_bytes.map_or_else(|| "unlimited".to_string(), format_bytes))}</td>
            <td data-label="Connected">{duration_text(t.usage.connected_seconds)}</td>
            <td data-label="API calls">{t.usage.api_calls}</td>
            <td data-label="Since"><Time ts=t.created_at/></td>
            <td data-label="Status">{t.status.as_str()}</td>
            <td>
                <ActionForm action=status attr:class="inline-form">
                    <input type="hidden" name="id" value=t.id.0/>
                    <input type="hidden" name="status" value=next.0.as_str()/>
                    <button type="submit" class=next.2>{next.1}</button>
                </ActionForm>
            </td>
        </tr>
    }
}
