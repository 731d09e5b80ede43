//! Admin: users — search, status, role, VIP.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::error_view;
use crate::{
    accounts::model::{AccountStatus, CurrentUser},
    admin::server_fns::{admin_users, AdminLiftDataCap, AdminSetRole, AdminSetStatus, AdminSetVip},
    ui::components::{
        guard::RequireAdmin,
        notice::{format_time, ActionError},
    },
};

#[component]
pub fn AdminUsers() -> impl IntoView {
    view! {
        <Title text="Users — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <UsersTable/> }/>
    }
}

#[component]
fn UsersTable() -> impl IntoView {
    let query = use_query_map();
    let status = ServerAction::<AdminSetStatus>::new();
    let role = ServerAction::<AdminSetRole>::new();
    let vip = ServerAction::<AdminSetVip>::new();
    let lift = ServerAction::<AdminLiftDataCap>::new();
    let q = move || query.read().get("q").unwrap_or_default();
    let users = Resource::new(
        move || {
            (
                q(),
                status.version().get(),
                role.version().get(),
                vip.version().get(),
                lift.version().get(),
            )
        },
        |(q, ..)| admin_users(q),
    );
    view! {
        <h1>"Users"</h1>
        <form method="get" class="form inline">
            <input type="search" name="q" value=q placeholder="Search by e-mail or name" maxlength="100"/>
            <button type="submit" class="btn btn-ghost">"Search"</button>
        </form>
        <ActionError value=status.value()/>
        <ActionError value=role.value()/>
        <ActionError value=vip.value()/>
        <ActionError value=lift.value()/>
        <Suspense fallback=|| ()>
            {move || users.get().map(|r| match r {
                Err(e) => error_view(&e),
                Ok(list) if list.is_empty() => view! { <p class="muted">"No users match."</p> }.into_any(),
                Ok(list) => view! {
                    <div class="table-wrap"><table class="table" data-testid="users">
                        <thead><tr><th>"E-mail"</th><th>"Name"</th><th>"Plan"</th><th>"Joined"</th><th>"Status"</th><th>"Role"</th><th>"VIP"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|u| view! {
                                <tr>
                                    <td>{u.email.clone()}</td>
                                    <td>{u.first_name.clone()}</td>
                                    <td>
                                        {u.plan.clone()}
                                        {u.data_capped.then(|| view! {
                                            " "<span class="badge" data-testid="data-capped">"data cap reached"</span>
                                            <ActionForm action=lift attr:class="inline-form">
                                                <input type="hidden" name="user_id" value=u.id/>
                                                <button type="submit" class="btn btn-ghost small">"Lift cap this month"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                    <td>{format_time(u.created_at)}</td>
                                    <td>
                                        <ActionForm action=status attr:class="inline-form">
                                            <input type="hidden" name="user_id" value=u.id/>
                                            <select name="status">
                                                {AccountStatus::ALL.iter().copied().map(|s| view! {
                                                    <option value=s.as_str() selected=s == u.status>{s.as_str()}</option>
                                                }).collect_view()}
                                            </select>
                                            <button type="submit" class="btn btn-ghost small">"Set"</button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        <ActionForm action=role attr:class="inline-form">
                                            <input type="hidden" name="user_id" value=u.id/>
                                            <input type="hidden" name="role" value=if u.role.as_str() == "admin" { "user" } else { "admin" }/>
                                            <span>{u.role.as_str()}</span>
                                            <button type="submit" class="btn btn-ghost small">
                                                {if u.role.as_str() == "admin" { "Make user" } else { "Make admin" }}
                                            </button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        <ActionForm action=vip attr:class="inline-form">
                                            <input type="hidden" name="email" value=u.email.clone()/>
                                            <input type="hidden" name="vip" value=(!u.vip).to_string()/>
                                            <button type="submit" class="btn btn-ghost small">{if u.vip { "VIP ✓ (remove)" } else { "Make VIP" }}</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any(),
            })}
        </Suspense>
    }
}
