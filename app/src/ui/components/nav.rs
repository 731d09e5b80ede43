//! The top navigation, aware of who is signed in.

use leptos::prelude::*;

use crate::ui::{AuthActions, UserResource};

#[component]
pub fn TopNav() -> impl IntoView {
    let user = expect_context::<UserResource>();
    let actions = expect_context::<AuthActions>();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"TrueVault"</a>
            <nav class="topnav" aria-label="Main">
                <a href="/pricing">"Pricing"</a>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! {
                                <a href="/dashboard">"Dashboard"</a>
                                <a href="/devices">"Devices"</a>
                                <a href="/network">"Network"</a>
                                <a href="/sites">"Sites"</a>
                                <a href="/cameras">"Cameras"</a>
                                <a href="/mesh">"Mesh"</a>
                                <a href="/billing">"Billing"</a>
                                <a href="/account">"Account"</a>
                                {u.is_admin().then(|| view! { <a href="/admin/users">"Admin"</a> })}
                                <ActionForm action=actions.logout attr:class="inline-form">
                                    <button type="submit" class="btn btn-ghost" data-testid="logout">"Sign out"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <a href="/login">"Sign in"</a>
                                <a class="btn btn-primary" href="/register">"Get started"</a>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
