//! Public pages: landing, pricing, not found.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::billing::{
    model::{format_limit, format_price},
    server_fns::list_plans,
};
use crate::ui::components::notice::error_notice;

#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <Title text="TrueVault — private VPN for your home"/>
        <section class="hero">
            <h1>"Your home, private everywhere."</h1>
            <p class="lead">
                "TrueVault is a WireGuard VPN for households and small teams, with a home-network "
                "companion that finds your devices and brings your cameras to your browser — safely."
            </p>
            <div class="actions">
                <a class="btn btn-primary" href="/register">"Create your account"</a>
                <a class="btn btn-ghost" href="/pricing">"See plans"</a>
            </div>
        </section>
        <section class="grid three">
            <article class="card">
                <h2>"WireGuard, done right"</h2>
                <p>"Keys are made on your device. We only ever see the public half."</p>
            </article>
            <article class="card">
                <h2>"Same exit, every time"</h2>
                <p>"Regional identities keep a stable address in each region you use."</p>
            </article>
            <article class="card">
                <h2>"Your cameras, without the cloud"</h2>
                <p>"The gateway streams your cameras to you through your own tunnel."</p>
            </article>
        </section>
    }
}

#[component]
pub fn Pricing() -> impl IntoView {
    let plans = Resource::new(|| (), |_| list_plans());
    view! {
        <Title text="Pricing — TrueVault"/>
        <h1>"Plans"</h1>
        <p class="muted">"Prices per month in USD. Yearly billing costs ten months."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading plans…"</p> }>
            {move || plans.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(plans) if plans.is_empty() => view! { <p class="muted">"No plans are offered right now."</p> }.into_any(),
                Ok(plans) => view! {
                    <div class="grid four">
                        {plans.into_iter().map(|p| view! {
                            <article class="card plan" data-plan=p.slug.clone()>
                                <h2>{p.name.clone()}</h2>
                                <p class="price">{format_price(p.price_monthly_cents, &p.currency)}<span class="muted">" / month"</span></p>
                                <p class="muted">{format!("or {} / year", format_price(p.price_yearly_cents, &p.currency))}</p>
                                <ul class="limits">
                                    <li>{format!("Devices: {}", format_limit(p.max_devices))}</li>
                                    <li>{format!("Cameras: {}", format_limit(p.max_cameras))}</li>
                                    <li>{format!("Regional identities: {}", format_limit(p.max_identities))}</li>
                                    <li>{if p.max_mesh_members == 0 { "No mesh network".to_string() } else { format!("Mesh members: {}", format_limit(p.max_mesh_members)) }}</li>
                                    <li>{if p.data_cap_gb > 0 { format!("{} GB of data a month", p.data_cap_gb) } else { "No data cap".to_string() }}</li>
                                    {p.features.iter().map(|f| view! { <li>{f.clone()}</li> }).collect_view()}
                                </ul>
                                <a class="btn btn-primary" href="/register">"Choose"</a>
                            </article>
                        }).collect_view()}
                    </div>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found — TrueVault"/>
        <h1>"Page not found"</h1>
        <p><a href="/">"Back to the start page"</a></p>
    }
}
