//! Admin: the audit log.

use leptos::prelude::*;
use leptos_meta::Title;

use super::error_view;
use crate::{
    accounts::model::CurrentUser,
    admin::server_fns::admin_audit,
    ui::components::{guard::RequireAdmin, notice::format_time},
};

#[component]
pub fn AdminAudit() -> impl IntoView {
    view! {
        <Title text="Audit log — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| {
            let entries = Resource::new(|| (), |_| admin_audit());
            view! {
                <h1>"Audit log"</h1>
                <Suspense fallback=|| ()>
                    {move || entries.get().map(|r| match r {
                        Err(e) => error_view(&e),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"Nothing recorded yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap"><table class="table">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Address"</th><th>"Details"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|a| view! {
                                        <tr><td>{format_time(a.at)}</td><td>{a.actor}</td><td><code>{a.action}</code></td><td>{a.target}</td><td>{a.ip}</td><td>{a.details}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
