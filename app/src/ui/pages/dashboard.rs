//! The signed-in home: account state and the sections of the service.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::{AccountStatus, CurrentUser},
    inventory::server_fns::home_network,
    ui::components::guard::RequireUser,
};

/// What the scanners last saw, and new devices not yet acknowledged.
#[component]
fn HomeNetworkCard() -> impl IntoView {
    let inv = Resource::new(|| (), |_| home_network());
    view! {
        <article class="card" data-testid="home-network-card">
            <h2>"Home network"</h2>
            <Suspense fallback=|| ()>
                {move || inv.get().and_then(|r| r.ok()).map(|inv| {
                    if inv.devices.is_empty() {
                        return view! { <p class="muted">"No scanner has reported yet. Create a scanner token to see your home network here."</p> }.into_any();
                    }
                    let online = inv.devices.iter().filter(|d| d.online).count();
                    let cameras = inv.devices.iter().filter(|d| d.is_camera).count();
                    view! {
                        <p>{format!("{} devices seen, {online} online now, {cameras} camera(s).", inv.devices.len())}</p>
                        {(!inv.alerts.is_empty()).then(|| view! {
                            <p class="notice warning" data-testid="dashboard-new-devices">
                                {format!("{} new device(s) joined your network: ", inv.alerts.len())}
                                {inv.alerts.iter().take(3).map(|a| a.detail.clone()).collect::<Vec<_>>().join("; ")}
                            </p>
                        })}
                    }.into_any()
                })}
            </Suspense>
            <a class="btn btn-primary" href="/network">"Open home network"</a>
        </article>
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <Title text="Dashboard — TrueVault"/>
        <RequireUser children=|u: CurrentUser| view! { <DashboardBody user=u/> }/>
    }
}

#[component]
fn DashboardBody(user: CurrentUser) -> impl IntoView {
    let greeting = if user.first_name.is_empty() {
        "Welcome back".to_string()
    } else {
        format!("Welcome back, {}", user.first_name)
    };
    view! {
        <div class="dashboard">
            <aside class="sidenav" aria-label="Dashboard">
                <a href="/dashboard" aria-current="page">"Overview"</a>
                <a href="/devices">"Devices"</a>
                <a href="/network">"Home network"</a>
                <a href="/mesh">"Mesh networks"</a>
                <a href="/billing">"Billing"</a>
                <a href="/account">"Account & security"</a>
                <a href="/pricing">"Plans"</a>
            </aside>
            <section class="dashboard-main">
                <h1 data-testid="dashboard-title">{greeting}</h1>
                <div class="grid two">
                    <article class="card">
                        <h2>"Your account"</h2>
                        <dl class="facts">
                            <dt>"E-mail"</dt><dd>{user.email.clone()}</dd>
                            <dt>"Status"</dt><dd>{user.status.as_str()}</dd>
                            <dt>"Two-factor"</dt>
                            <dd>{if user.totp_enabled { "On" } else { "Off — turn it on under Account & security" }}</dd>
                        </dl>
                        {(user.status == AccountStatus::Pending).then(|| view! {
                            <p class="notice warning">"Please confirm your e-mail address: we sent you a link."</p>
                        })}
                    </article>
                    <article class="card">
                        <h2>"Devices"</h2>
                        <p class="muted">"Your phones, laptops and routers, each with its own WireGuard config and QR code."</p>
                        <a class="btn btn-primary" href="/devices">"Manage devices"</a>
                    </article>
                    <HomeNetworkCard/>
                    <super::MeshCard/>
                    <article class="card">
                        <h2>"Cameras"</h2>
                        <p class="muted">"No cameras yet."</p>
                    </article>
                </div>
            </section>
        </div>
    }
}
