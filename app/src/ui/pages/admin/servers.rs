//! Admin: VPN servers — add (with a one-time node enrollment token),
//! status, health, peers and load, token rotation.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    overview::portal_url,
    ui::components::{
        confirm::Confirm,
        guard::RequireAdmin,
        notice::{duration_text, error_notice, ActionError, ActionNotice, Time},
    },
    vpn::{
        model::{format_bytes, ServerStatus, ServerType},
        server_fns::{
            admin_servers, admin_usage, AdminCreateServer, AdminRotateNodeToken, AdminServerStatus,
            AdminUpdateServer,
        },
    },
};

#[component]
pub fn AdminServers() -> impl IntoView {
    view! {
        <Title text="Servers — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <ServerTable/> }/>
    }
}

#[component]
fn ServerTable() -> impl IntoView {
    let create = ServerAction::<AdminCreateServer>::new();
    let status = ServerAction::<AdminServerStatus>::new();
    let rotate = ServerAction::<AdminRotateNodeToken>::new();
    let update = ServerAction::<AdminUpdateServer>::new();
    let servers = Resource::new(
        move || {
            (
                create.version().get(),
                status.version().get(),
                rotate.version().get(),
                update.version().get(),
            )
        },
        |_| admin_servers(),
    );
    let portal = Resource::new(|| (), |_| portal_url());
    let token_view = move |token: String| {
        let url = portal
            .get()
            .and_then(|r| r.ok())
            .unwrap_or_else(|| "<this portal's URL>".into());
        view! {
            <div class="notice success" data-testid="node-token">
                <p>"Node enrollment token, shown once. On the VPN server, as root, run:"</p>
                <pre>{format!("truevault node --portal {url} --interface wg0 --token={token}")}</pre>
                <p class="small">"The server needs WireGuard (the kernel module, or wireguard-go) and "<code>"wg"</code>" from wireguard-tools, its WireGuard UDP port open to the internet, and HTTPS access to this portal. The node keeps its key and node token in "<code>"/var/lib/truevault-node"</code>" (see "<code>"--state-dir"</code>"); later runs need no token."</p>
            </div>
        }
    };
    view! {
        <h1>"VPN servers"</h1>
        <Suspense fallback=|| ()>{move || portal.get().map(|_| ())}</Suspense>
        <ActionNotice value=update.value()/>
        {move || create.value().get().and_then(|r| r.ok()).map(token_view)}
        {move || rotate.value().get().and_then(|r| r.ok()).map(token_view)}
        <ActionError value=status.value()/>
        <ActionError value=rotate.value()/>
        <Suspense fallback=|| ()>
            {move || servers.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted">"No servers yet. Add the first one below."</p> }.into_any(),
                Ok(list) => view! {
                    <div class="table-wrap">
                    <table class="table" data-testid="servers">
                        <thead><tr><th>"Name"</th><th>"Region"</th><th>"Type"</th><th>"Endpoint"</th><th>"Health"</th><th>"Peers"</th><th>"Status"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|s| {
                                let load = if s.capacity > 0 { s.peers * 100 / s.capacity } else { 0 };
                                let health = if !s.enrolled { view! { "not enrolled" }.into_any() }
                                    else if s.healthy { view! { "healthy, reported "{s.last_report_at.map(|t| view! { <Time ts=t/> })} }.into_any() }
                                    // Stale: left out of selection for new devices.
                                    else { match s.last_report_at {
                                        Some(t) => view! { <span data-testid="node-stale">"stale, not chosen for new devices: not reporting since "<Time ts=t/></span> }.into_any(),
                                        None => view! { <span data-testid="node-stale">"stale, not chosen for new devices: not reporting since enrolment"</span> }.into_any(),
                                    } };
                                let server_name = s.name.clone();
                                view! {
                                    <tr>
                                        <td>{s.name.clone()}</td>
                                        <td>{format!("{} {} {}", s.region, s.country, s.city)}</td>
                                        <td>{s.server_type.as_str()}</td>
                                        <td><code>{format!("{}:{}", s.endpoint_host, s.endpoint_port)}</code></td>
                                        <td><span class=if s.healthy { "dot online" } else { "dot offline" }></span>{health}</td>
                                        <td>{format!("{} / {} ({load}%)", s.peers, s.capacity)}</td>
                                        <td>
                                            <ActionForm action=status attr:class="inline-form">
                                                <input type="hidden" name="id" value=s.id.0/>
                                                <select name="status">
                                                    {ServerStatus::ALL.iter().map(|&st| view! { <option value=st.as_str() selected=st == s.status>{st.as_str()}</option> }).collect_view()}
                                                </select>
                                                <button type="submit" class="btn btn-ghost small">"Set"</button>
                                            </ActionForm>
                                        </td>
                                        <td>
                                            <div class="row-actions">
                                            <Confirm label="New node token" question=format!("Issue a new node token for {server_name}? The node's current token stops working at once; the node must enrol again with the new one.")>
                                                <ActionForm action=rotate attr:class="inline-form">
                                                    <input type="hidden" name="id" value=s.id.0/>
                                                    <button type="submit" class="btn btn-danger small">"Yes, new token"</button>
                                                </ActionForm>
                                            </Confirm>
                                            <details class="edit">
                                                <summary class="btn btn-ghost small">"Edit"</summary>
                                                <ActionForm action=update attr:class="form">
                                                    <input type="hidden" name="id" value=s.id.0/>
                                                    <input type="hidden" name="server_type" value=s.server_type.as_str()/>
                                                    <label>"Name" <input type="text" name="name" value=s.name.clone() maxlength="64"/></label>
                                                    <label>"Region" <input type="text" name="region" value=s.region.clone() maxlength="32"/></label>
                                                    <label>"Country" <input type="text" name="country" value=s.country.clone() maxlength="64"/></label>
                                                    <label>"City" <input type="text" name="city" value=s.city.clone() maxlength="64"/></label>
                                                    <label>"Endpoint host" <input type="text" name="endpoint_host" value=s.endpoint_host.clone() maxlength="253"/></label>
                                                    <label>"Port" <input type="number" name="endpoint_port" value=s.endpoint_port min="1" max="65535"/></label>
                                                    <label>"VIP e-mail" <input type="email" name="vip_email" value=s.vip_email.clone().unwrap_or_default() maxlength="254"/></label>
                                                    <label>"Capacity" <input type="number" name="capacity" value=s.capacity min="1"/></label>
                                                    <label>"IPv4 pool" <input type="text" name="ipv4_pool" value=s.ipv4_pool.clone()/></label>
                                                    <label>"IPv6 pool" <input type="text" name="ipv6_pool" value=s.ipv6_pool.clone().unwrap_or_default()/></label>
                                                    <label>"DNS" <input type="text" name="dns" value=s.dns.clone()/></label>
                                                    <button type="submit" class="btn btn-primary small">"Save"</button>
                                                </ActionForm>
                                            </details>
                                            </div>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any(),
            })}
        </Suspense>
        <section class="card">
            <h2>"Add a server"</h2>
            <ActionForm action=create attr:class="form grid-form">
                <label>"Name" <input type="text" name="name" required maxlength="64"/></label>
                <label>"Region" <input type="text" name="region" required maxlength="32" placeholder="eu"/></label>
                <label>"Country" <input type="text" name="country" maxlength="64"/></label>
                <label>"City" <input type="text" name="city" maxlength="64"/></label>
                <label>"Endpoint host" <input type="text" name="endpoint_host" required maxlength="253"/></label>
                <label>"Port" <input type="number" name="endpoint_port" value="51820" min="1" max="65535"/></label>
                <label>"Type"
                    <select name="server_type">{ServerType::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}</select>
                </label>
                <label>"VIP e-mail (dedicated only)" <input type="email" name="vip_email" maxlength="254"/></label>
                <label>"Capacity (peers)" <input type="number" name="capacity" value="1000" min="1"/></label>
                <label>"IPv4 pool" <input type="text" name="ipv4_pool" required value="10.8.0.0/16"/></label>
                <label>"IPv6 pool (optional)" <input type="text" name="ipv6_pool" placeholder="fd00:8::/64"/></label>
                <label>"DNS resolvers" <input type="text" name="dns" placeholder="10.8.0.1"/></label>
                <button type="submit" class="btn btn-primary">"Add server"</button>
            </ActionForm>
            <ActionError value=create.value()/>
        </section>
    }
}

#[component]
pub fn AdminUsage() -> impl IntoView {
    view! {
        <Title text="Usage — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| {
            let usage = Resource::new(|| (), |_| admin_usage());
            view! {
                <h1>"Usage, last 14 days"</h1>
                <Suspense fallback=|| ()>
                    {move || usage.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No devices yet, so no traffic."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                            <table class="table" data-testid="usage">
                                <thead><tr><th>"User"</th><th>"Devices"</th><th>"Sent by devices"</th><th>"Received by devices"</th><th>"Connected"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! {
                                        <tr>
                                            <td>{u.email}</td>
                                            <td>{u.devices}</td>
                                            <td>{format_bytes(u.rx_bytes)}</td>
                                            <td>{format_bytes(u.tx_bytes)}</td>
                                            <td>{duration_text(u.connected_seconds)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                        }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
