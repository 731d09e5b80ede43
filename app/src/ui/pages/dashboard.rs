//! The signed-in home: account state and the sections of the service.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::{AccountStatus, CurrentUser, ServiceOff},
    certs::{model::CertCounts, server_fns::certs_summary},
    error::AppError,
    mesh::{model::NetworksPage, server_fns::mesh_networks},
    overview::{
        dashboard_cameras, dashboard_home, dashboard_plan, month_traffic, CameraCounts,
        HomeSummary, PlanSummary, Renewal, TrafficThisMonth,
    },
    ui::components::{
        guard::RequireUser,
        notice::{plural, traffic_text, Time},
    },
    vpn::{
        model::{format_bytes, DeviceInfo},
        server_fns::list_devices,
    },
};

type Loaded<T> = Resource<Result<T, AppError>>;

/// The cards' data, created once per page; each card loads only what it
/// shows (`overview`), not the full page's data. Created inside the guard's
/// `Suspend` instead, each card's resource is made anew every time the SSR
/// walks that closure again (Leptos re-runs it to find pending loads), so
/// every card's queries ran three times per page view. Each card awaits its
/// resource inside a `Suspend` rather than reading it with `.get()`: the
/// tracked-read path of server-side `Suspense` can lose its wake-up when
/// several boundaries resolve together (leptos#4578), and one CI run saw a
/// dashboard response stop mid-body for a minute.
#[derive(Clone, Copy)]
struct CardData {
    devices: Loaded<Vec<DeviceInfo>>,
    traffic: Loaded<TrafficThisMonth>,
    home: Loaded<HomeSummary>,
    mesh: Loaded<NetworksPage>,
    certs: Loaded<CertCounts>,
    cameras: Loaded<CameraCounts>,
    plan: Loaded<PlanSummary>,
}

/// What the scanners last saw, and new devices not yet acknowledged.
#[component]
fn HomeNetworkCard(inv: Loaded<HomeSummary>) -> impl IntoView {
    view! {
        <article class="card" data-testid="home-network-card">
            <h2>"Home network"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { inv.await.ok().map(|inv| {
                    if inv.devices.is_empty() {
                        return view! { <p class="muted">"No scanner has reported yet. Create a scanner token on the home network page and run the scanner at home to see your devices here."</p> }.into_any();
                    }
                    let online = inv.devices.iter().filter(|d| d.online).count() as i64;
                    let cameras = inv.devices.iter().filter(|d| d.is_camera).count() as i64;
                    view! {
                        <p class="stat">{plural(inv.devices.len() as i64, "device", "devices")}</p>
                        <p>{format!("{online} online now · {} found", plural(cameras, "camera", "cameras"))}</p>
                        {(!inv.alerts.is_empty()).then(|| view! {
                            <p class="notice warning" data-testid="dashboard-new-devices">
                                {format!("{} joined your network: ", plural(inv.alerts.len() as i64, "new device", "new devices"))}
                                {inv.alerts.iter().take(3).map(|a| a.detail.clone()).collect::<Vec<_>>().join("; ")}
                            </p>
                        })}
                    }.into_any()
                }) })}
            </Suspense>
            <a class="btn btn-primary" href="/network">"Open home network"</a>
        </article>
    }
}

/// How many devices, how many connected now, and identities still to set up.
#[component]
fn DevicesCard(devices: Loaded<Vec<DeviceInfo>>) -> impl IntoView {
    view! {
        <article class="card" data-testid="devices-card">
            <h2>"VPN devices"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { devices.await.ok().map(|list| {
                    let (identities, devices): (Vec<_>, Vec<_>) = list.into_iter().partition(|d| d.identity_region.is_some());
                    let connected = devices.iter().chain(identities.iter()).filter(|d| d.connected).count() as i64;
                    let waiting = identities.iter().filter(|d| d.awaiting_key).count() as i64;
                    view! {
                        <p class="stat" data-testid="devices-count">{plural(devices.len() as i64, "device", "devices")}</p>
                        <p data-testid="devices-connected">{format!("{connected} connected now")}</p>
                        {(!identities.is_empty()).then(|| view! {
                            <p class="muted">{format!("{} (a fixed exit per region)", plural(identities.len() as i64, "regional identity", "regional identities"))}</p>
                        })}
                        {(waiting > 0).then(|| view! {
                            <p class="notice warning">{format!("{} reserved for you, not set up yet: open Devices and choose “Set up”.", plural(waiting, "identity is", "identities are"))}</p>
                        })}
                        // Filled by /live/live.js from the live events (the
                        // server renders the fields empty).
                        <ul class="live-devices" data-testid="live-devices">
                            {devices.iter().filter(|d| !d.paused).map(|d| view! {
                                <li data-live-device=d.id>
                                    {d.name.clone()}" "
                                    <span data-live="status"></span>" "
                                    <span class="muted small" data-live="traffic"></span>" "
                                    <span class="muted small" data-live="rate"></span>
                                </li>
                            }).collect_view()}
                        </ul>
                        <script src="/live/live.js" defer=true></script>
                    }
                }) })}
            </Suspense>
            <a class="btn btn-primary" href="/devices">"Manage devices"</a>
        </article>
    }
}

#[component]
fn UsageCard(traffic: Loaded<TrafficThisMonth>) -> impl IntoView {
    view! {
        <article class="card" data-testid="usage-card">
            <h2>"Usage this month"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { traffic.await.ok().map(|t| view! {
                    {match t.meter_text() {
                        Some(meter) => view! {
                            <p class="stat" data-testid="usage-meter">{meter}</p>
                            <progress max="100" value=t.percent().unwrap_or(0) aria-label="Share of this month's data used"></progress>
                        }.into_any(),
                        None => view! { <p class="stat">{format_bytes(t.sent + t.received)}</p> }.into_any(),
                    }}
                    <p>{traffic_text(t.sent, t.received)}</p>
                }) })}
            </Suspense>
            <p class="muted small">"Per device, with daily charts, under Devices → Usage."</p>
        </article>
    }
}

#[component]
fn CamerasCard(counts: Loaded<CameraCounts>) -> impl IntoView {
    view! {
        <article class="card" data-testid="cameras-card">
            <h2>"Cameras"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { counts.await.ok().map(|c| {
                    if c.cameras == 0 {
                        return view! { <p class="muted">"No cameras yet. A gateway at home brings them here, without a cloud."</p> }.into_any();
                    }
                    view! {
                        <p class="stat">{plural(c.cameras, "camera", "cameras")}</p>
                        <p>{format!("{} reachable now", c.reachable)}</p>
                    }.into_any()
                }) })}
            </Suspense>
            <a class="btn btn-primary" href="/cameras">"Open cameras"</a>
        </article>
    }
}

#[component]
fn PlanCard(plan: Loaded<PlanSummary>) -> impl IntoView {
    view! {
        <article class="card" data-testid="plan-card">
            <h2>"Plan"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { plan.await.ok().map(|o| view! {
                    <p class="stat">{o.current_plan.clone()}</p>
                    {if o.is_vip {
                        view! { <p>"VIP: no payment needed, no limits."</p> }.into_any()
                    } else {
                        match o.renewal {
                            Renewal::Ends(ts) => view! { <p>"Ends "<Time ts=ts day_only=true/>", will not renew."</p> }.into_any(),
                            Renewal::Renews(ts) => view! { <p>"Renews "<Time ts=ts day_only=true/>"."</p> }.into_any(),
                            Renewal::None => view! { <p class="muted">"No paid subscription."</p> }.into_any(),
                        }
                    }}
                }) })}
            </Suspense>
            <a class="btn btn-ghost" href="/billing">"Plans and invoices"</a>
        </article>
    }
}

/// While the month's data cap is used up: say so, with the upgrade link.
#[component]
fn CapBanner(traffic: Loaded<TrafficThisMonth>) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move { traffic.await.ok().filter(|t| t.capped).map(|_| view! {
                <p class="notice error" data-testid="data-capped">
                    "This month's data is used up: your VPN devices are paused until the month ends. "
                    <a href="/billing">"Upgrade your plan"</a>" to use them again now."
                </p>
            }) })}
        </Suspense>
    }
}

/// Why service is paused and what to do, while it is (from the plan card's
/// data, so no extra load).
#[component]
fn ServiceBanner(plan: Loaded<PlanSummary>) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || plan.get().and_then(|r| r.ok()).and_then(|o| o.service_off).map(|why| {
                let code = AppError::ServiceOff(why).code();
                view! {
                    <p class="notice error" data-testid="service-off" data-code=code>
                        {why.explain()}" "
                        {(why == ServiceOff::PaymentOverdue).then(|| view! { <a href="/billing">"Pay now"</a> })}
                    </p>
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    // Signed out, each load answers Unauthenticated without a query.
    let data = CardData {
        devices: Resource::new(|| (), |_| list_devices()),
        traffic: Resource::new(|| (), |_| month_traffic()),
        home: Resource::new(|| (), |_| dashboard_home()),
        mesh: Resource::new(|| (), |_| mesh_networks()),
        certs: Resource::new(|| (), |_| certs_summary()),
        cameras: Resource::new(|| (), |_| dashboard_cameras()),
        plan: Resource::new(|| (), |_| dashboard_plan()),
    };
    view! {
        <Title text="Dashboard — TrueVault"/>
        <RequireUser children=move |u: CurrentUser| view! { <DashboardBody user=u data/> }/>
    }
}

#[component]
fn DashboardBody(user: CurrentUser, data: CardData) -> impl IntoView {
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
                <a href="/cameras">"Cameras"</a>
                <a href="/mesh">"Mesh networks"</a>
                <a href="/billing">"Billing"</a>
                <a href="/account">"Account & security"</a>
                <a href="/pricing">"Plans"</a>
            </aside>
            <section class="dashboard-main">
                <h1 data-testid="dashboard-title">{greeting}</h1>
                <ServiceBanner plan=data.plan/>
                <CapBanner traffic=data.traffic/>
                <div class="grid two">
                    <article class="card">
                        <h2>"Your account"</h2>
                        <dl class="facts">
                            <dt>"E-mail"</dt><dd>{user.email.clone()}</dd>
                            <dt>"Status"</dt><dd>{match user.status { AccountStatus::Active => "active", AccountStatus::Pending => "waiting for e-mail confirmation", _ => user.status.as_str() }}</dd>
                            <dt>"Two-factor"</dt>
                            <dd>{if user.totp_enabled { "On" } else { "Off — turn it on under Account & security" }}</dd>
                        </dl>
                        {(user.status == AccountStatus::Pending).then(|| view! {
                            <p class="notice warning">"Please confirm your e-mail address: we sent you a link."</p>
                        })}
                    </article>
                    <DevicesCard devices=data.devices/>
                    <UsageCard traffic=data.traffic/>
                    <HomeNetworkCard inv=data.home/>
                    <super::MeshCard data=data.mesh/>
                    <super::CertsCard data=data.certs/>
                    <CamerasCard counts=data.cameras/>
                    <PlanCard plan=data.plan/>
                </div>
            </section>
        </div>
    }
}
