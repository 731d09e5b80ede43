//! The Leptos UI: the HTML shell (server only), the router, pages and
//! shared components.

pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::accounts::server_fns::{Login, LoginTotp, Logout};
use pages::*;

/// The document around the app. Runs on the server only; the active theme
/// is rendered into `<head>` so there is no flash of unthemed content.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let (theme_css, nonce) = {
        let ctx = crate::sfn::request_context().ok();
        (
            ctx.as_ref()
                .map(|c| c.theme_css.to_string())
                .unwrap_or_default(),
            ctx.map(|c| c.nonce).unwrap_or_default(),
        )
    };
    #[cfg(not(feature = "ssr"))]
    let (theme_css, nonce) = (String::new(), String::new());
    // Under the build's path with the bundle (`http::assets`).
    let stylesheet = format!("/{}/truevault.css", options.site_pkg_dir);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <style id="theme-vars" nonce=nonce inner_html=theme_css></style>
                <link rel="icon" type="image/svg+xml" href="/pkg/favicon.svg"/>
                <link rel="stylesheet" href=stylesheet/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Actions that change who is signed in; the current-user resource reloads
/// whenever one of them completes.
#[derive(Clone, Copy)]
pub struct AuthActions {
    pub login: ServerAction<Login>,
    pub login_totp: ServerAction<LoginTotp>,
    pub logout: ServerAction<Logout>,
}

pub type UserResource =
    Resource<Result<Option<crate::accounts::model::CurrentUser>, crate::error::AppError>>;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="TrueVault"/>
        <Router>
            <Site/>
        </Router>
    }
}

/// Everything inside the router, so that actions created here see the
/// router's context (e.g. a form error carried back in the URL when
/// JavaScript is off).
#[component]
fn Site() -> impl IntoView {
    let actions = AuthActions {
        login: ServerAction::<Login>::new(),
        login_totp: ServerAction::<LoginTotp>::new(),
        logout: ServerAction::<Logout>::new(),
    };
    let user: UserResource = Resource::new(
        move || {
            (
                actions.login.version().get(),
                actions.login_totp.version().get(),
                actions.logout.version().get(),
            )
        },
        |_| crate::accounts::server_fns::whoami(),
    );
    provide_context(actions);
    provide_context(user);
    provide_context(components::notice::ExactTimes(RwSignal::new(false)));

    view! {
        <components::nav::TopNav/>
        <main class="page">
            <Routes fallback=|| view! { <NotFound/> }>
                // Public
                <Route path=path!("/") view=Landing/>
                <Route path=path!("/pricing") view=Pricing/>
                // Signing up and in
                <Route path=path!("/forgot") view=Forgot/>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/login/totp") view=LoginTotpPage/>
                <Route path=path!("/register") view=Register/>
                <Route path=path!("/reset") view=Reset/>
                <Route path=path!("/setup") view=Setup/>
                <Route path=path!("/verify") view=Verify/>
                // The customer's pages
                <Route path=path!("/account") view=Account/>
                <Route path=path!("/billing") view=Billing/>
                <Route path=path!("/billing/invoices/:number") view=InvoicePage/>
                <Route path=path!("/billing/test-pay/:reference") view=TestPayPage/>
                <Route path=path!("/cameras") view=Cameras/>
                <Route path=path!("/cameras/:id") view=CameraView/>
                <Route path=path!("/camera-events") view=CameraEvents/>
                <Route path=path!("/certificates") view=Certificates/>
                <Route path=path!("/dashboard") view=Dashboard/>
                <Route path=path!("/devices") view=Devices/>
                <Route path=path!("/devices/:id") view=DeviceUsage/>
                <Route path=path!("/mesh") view=MeshNetworks/>
                <Route path=path!("/mesh/invite") view=MeshInvitePage/>
                <Route path=path!("/mesh/:id") view=MeshNetworkPage/>
                <Route path=path!("/network") view=Network/>
                <Route path=path!("/network/:id") view=NetworkDevice/>
                <Route path=path!("/sites") view=Sites/>
                // Administration (pages/admin/)
                <Route path=path!("/admin") view=AdminUsers/>
                <Route path=path!("/admin/audit") view=AdminAudit/>
                <Route path=path!("/admin/jobs") view=AdminJobs/>
                <Route path=path!("/admin/mail") view=AdminMail/>
                <Route path=path!("/admin/outbox") view=AdminOutbox/>
                <Route path=path!("/admin/plans") view=AdminPlans/>
                <Route path=path!("/admin/servers") view=AdminServers/>
                <Route path=path!("/admin/themes") view=AdminThemes/>
                <Route path=path!("/admin/themes/:id") view=AdminThemeEdit/>
                <Route path=path!("/admin/tenants") view=AdminTenants/>
                <Route path=path!("/admin/usage") view=AdminUsage/>
                <Route path=path!("/admin/users") view=AdminUsers/>
            </Routes>
        </main>
        <footer class="footer">
            <span>"TrueVault — private by design."</span>
            " "<components::notice::TimeSwitch/>
        </footer>
    }
}
