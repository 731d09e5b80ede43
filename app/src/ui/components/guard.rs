//! Page guards: render children for a signed-in user (or admin), send
//! everyone else to the sign-in page.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::{accounts::model::CurrentUser, ui::UserResource};

#[component]
pub fn RequireUser<F, IV>(children: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> IV + Send + Sync + 'static,
    IV: IntoView + 'static,
{
    let user = expect_context::<UserResource>();
    let children = StoredValue::new(children);
    // Awaiting the resource (rather than reading it) waits for a refetch in
    // flight, so a page reached right after signing in sees the new user.
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(u)) => children.with_value(|f| f(u)).into_any(),
                    _ => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn RequireAdmin<F, IV>(children: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> IV + Send + Sync + 'static,
    IV: IntoView + 'static,
{
    view! {
        <RequireUser children=move |u: CurrentUser| {
            if u.is_admin() {
                view! {
                    <div class="admin-layout">
                        <nav class="subnav" aria-label="Admin">
                            <a href="/admin/users">"Users"</a>
                            <a href="/admin/servers">"Servers"</a>
                            <a href="/admin/usage">"Usage"</a>
                            <a href="/admin/themes">"Themes"</a>
                            <a href="/admin/plans">"Plans"</a>
                            <a href="/admin/tenants">"Tenants"</a>
                            <a href="/admin/outbox">"Mail outbox"</a>
                            <a href="/admin/jobs">"Automation"</a>
                            <a href="/admin/mail">"Mail templates"</a>
                            <a href="/admin/audit">"Audit log"</a>
                        </nav>
                        <div class="admin-content">{children(u)}</div>
                    </div>
                }
                .into_any()
            } else {
                view! { <p class="notice error">"This page is for administrators."</p> }.into_any()
            }
        }/>
    }
}
