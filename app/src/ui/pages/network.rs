//! The home network: what the user's scanners found, a map of it, new
//! device alerts, detected cameras, scanner tokens, and one device's history.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    inventory::{
        model::{icon_svg, scanner_setup_steps, type_label, CreatedScannerToken, LanDevice},
        server_fns::{
            home_network, lan_device_history, CreateScannerToken, DismissAlerts, ForgetLanDevice,
            RenameLanDevice, RevealScannerToken, RevokeScannerToken,
        },
    },
    ui::components::{
        confirm::Confirm,
        guard::RequireUser,
        network_map::network_map_svg,
        notice::{error_notice, ActionError, Time},
        refresh::refetch_after,
    },
};
use truevault_wire::inventory::service_label;

#[component]
pub fn Network() -> impl IntoView {
    view! {
        <Title text="Home network — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <NetworkInventory/> }/>
    }
}

fn plural(n: usize, word: &str) -> String {
    crate::ui::components::notice::plural(n as i64, word, &format!("{word}s"))
}

/// Each service in words ("web page", "printer (IPP)"), one per item so a
/// name never breaks in the middle.
fn services_list(d: &LanDevice) -> impl IntoView {
    let mut labels: Vec<String> = d.services.iter().map(|s| service_label(&s.kind)).collect();
    labels.dedup();
    view! {
        <ul class="chips">
            {labels.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
        </ul>
    }
}

fn ports_list(d: &LanDevice) -> impl IntoView {
    view! {
        <ul class="chips">
            {d.open_ports.iter().map(|p| view! { <li><code>{p.to_string()}</code></li> }).collect_view()}
        </ul>
    }
}

fn icon(d: &LanDevice) -> impl IntoView {
    view! { <span class="icon-box" inner_html=icon_svg(d.device_type)></span> }
}

#[component]
fn NetworkInventory() -> impl IntoView {
    let sites = Resource::new(|| (), |_| crate::sites::server_fns::list_sites());
    let create = ServerAction::<CreateScannerToken>::new();
    let revoke = ServerAction::<RevokeScannerToken>::new();
    let reveal = ServerAction::<RevealScannerToken>::new();
    let dismiss = ServerAction::<DismissAlerts>::new();
    let data = Resource::new(|| (), |_| home_network());
    refetch_after(data, move || {
        create.version().get()
            + revoke.version().get()
            + reveal.version().get()
            + dismiss.version().get()
    });
    view! {
        <h1>"Home network"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading your network…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(inv) => {
                    let online = inv.devices.iter().filter(|d| d.online).count();
                    let cameras: Vec<LanDevice> = inv.devices.iter().filter(|d| d.is_camera).cloned().collect();
                    view! {
                        {(!inv.alerts.is_empty()).then(|| view! {
                            <section class="card alert-card" data-testid="new-device-alerts">
                                <h2>"New devices on your network"</h2>
                                <ul>
                                    {inv.alerts.iter().map(|a| view! {
                                        <li><a href=format!("/network/{}", a.device_id)>{a.detail.clone()}</a>
                                        " "<span class="muted small"><Time ts=a.created_at/></span></li>
                                    }).collect_view()}
                                </ul>
                                <ActionForm action=dismiss attr:class="inline-form">
                                    <button type="submit" class="btn btn-ghost small">"I know these devices"</button>
                                </ActionForm>
                            </section>
                        })}
                        {if inv.devices.is_empty() {
                            view! {
                                <p class="muted" data-testid="no-lan-devices">"No devices yet. Create a scanner token below, run "<code>"truevault-scanner sync"</code>" on a computer at home, and your network appears here."</p>
                            }.into_any()
                        } else {
                            let map = network_map_svg(&inv.devices);
                            view! {
                                <p class="muted" data-testid="lan-summary">{format!("{}, {online} online, {}", plural(inv.devices.len(), "device"), plural(cameras.len(), "camera"))}</p>
                                <section class="card"><h2>"Map"</h2><div class="map" inner_html=map></div></section>
                                <DeviceTable devices=inv.devices.clone() sites=sites.get().and_then(|r| r.ok()).unwrap_or_default()/>
                            }.into_any()
                        }}
                        {(!cameras.is_empty()).then(|| view! {
                            <section class="card" data-testid="detected-cameras">
                                <h2>"Cameras found"</h2>
                                <ul class="camera-finds">
                                    {cameras.into_iter().map(|c| {
                                        let add = format!("/cameras?from_device={}", c.id);
                                        view! {
                                            <li>
                                                {icon(&c)}{format!(" {} — {}", c.display_name(), c.ip)}
                                                {c.stream_url.clone().map(|u| view! { " "<code class="small">{u}</code> })}
                                                " "<a class="btn btn-primary small" href=add>"Add camera"</a>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </section>
                        })}
                        <ScannerTokens tokens=inv.tokens.clone() portal=inv.portal_url.clone() create revoke reveal/>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

/// The address a VPN device uses for a LAN address: through the first home
/// site whose network holds it.
fn vpn_address(sites: &[crate::sites::model::SiteInfo], ip: &str) -> Option<String> {
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    sites
        .iter()
        .find_map(|s| s.mapping.to_range(ip))
        .map(|a| a.to_string())
}

#[component]
fn DeviceTable(
    devices: Vec<LanDevice>,
    sites: Vec<crate::sites::model::SiteInfo>,
) -> impl IntoView {
    view! {
        <div class="table-wrap"><table class="table stack" data-testid="lan-devices">
            <thead><tr><th>"Name"</th><th>"Vendor"</th><th>"Type"</th><th>"IP"</th><th title="The address to use from a VPN device (through your home site)">"From VPN"</th><th>"MAC"</th><th>"Last seen"</th><th>"Services"</th><th>"Ports"</th></tr></thead>
            <tbody>
                {devices.into_iter().map(|d| {
                    let from_vpn = vpn_address(&sites, &d.ip);
                    view! {
                        <tr data-mac=d.mac.clone()>
                            <td data-label="">
                                <span class=if d.online { "dot online" } else { "dot offline" } title=if d.online { "online" } else { "offline" }></span>
                                {icon(&d)}" "<a href=format!("/network/{}", d.id)>{d.display_name()}</a>
                            </td>
                            <td data-label="Vendor" data-testid="vendor">{d.vendor.clone().unwrap_or_else(|| if d.randomized_mac { "private address".into() } else { "—".into() })}</td>
                            <td data-label="Type" data-testid="type">{type_label(d.device_type)}</td>
                            <td data-label="IP"><code>{d.ip.clone()}</code></td>
                            <td data-label="From VPN" data-testid="vpn-address">{match from_vpn {
                                Some(a) => view! { <code>{a}</code> }.into_any(),
                                None => view! { <a class="small" href="/sites">"add a home site"</a> }.into_any(),
                            }}</td>
                            <td data-label="MAC"><code class="nowrap">{d.mac.clone()}</code></td>
                            <td data-label="Last seen" class="nowrap">{if d.online { view! { "now" }.into_any() } else { view! { <Time ts=d.last_seen/> }.into_any() }}</td>
                            <td data-label="Services">{services_list(&d)}</td>
                            <td data-label="Ports">{ports_list(&d)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

#[component]
fn ScannerTokens(
    tokens: Vec<crate::inventory::model::ScannerTokenInfo>,
    portal: String,
    create: ServerAction<CreateScannerToken>,
    revoke: ServerAction<RevokeScannerToken>,
    reveal: ServerAction<RevealScannerToken>,
) -> impl IntoView {
    // The one token just made or revealed (whichever came last).
    let shown = move || -> Option<CreatedScannerToken> {
        let created = create.value().get().and_then(|r| r.ok());
        let revealed = reveal.value().get().and_then(|r| r.ok());
        if create.version().get() >= reveal.version().get() {
            created.or(revealed)
        } else {
            revealed.or(created)
        }
    };
    let unrevealed = tokens.iter().any(|t| t.unrevealed);
    view! {
        <section class="card">
            <h2>"Scanners"</h2>
            <p class="muted">"A scanner token lets "<code>"truevault-scanner"</code>" on your home network send what it finds here. It is shown once."</p>
            {unrevealed.then(|| view! {
                <div class="notice" data-testid="signup-scanner-token">
                    <p>"Your account came with a scanner token, "<strong>"Home"</strong>". Show it once to set up your scanner."</p>
                    <ActionForm action=reveal attr:class="inline-form">
                        <button type="submit" class="btn btn-primary small">"Show my scanner token"</button>
                    </ActionForm>
                </div>
            })}
            <ActionForm action=create attr:class="form inline">
                <input type="text" name="name" required maxlength="64" placeholder="Living-room Pi" aria-label="Scanner name"/>
                <button type="submit" class="btn btn-primary">"Create token"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            <ActionError value=revoke.value()/>
            <ActionError value=reveal.value()/>
            {move || shown().map(|t| view! {
                <div class="notice success" data-testid="scanner-token">
                    <p>{format!("Token for {} (copy it now; it is not shown again):", t.name)}</p>
                    <pre class="config">{t.token.clone()}</pre>
                </div>
            })}
            <p>"On the computer at home that runs the scanner, put the token in a file only root reads, then run the scanner with it:"</p>
            <pre class="config" data-testid="scanner-setup">{scanner_setup_steps(&portal)}</pre>
            {(!tokens.is_empty()).then(|| view! {
                <div class="table-wrap"><table class="table stack">
                    <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last sync"</th><th>"Actions"</th></tr></thead>
                    <tbody>
                        {tokens.into_iter().map(|t| view! {
                            <tr>
                                <td data-label="Name">{t.name.clone()}</td>
                                <td data-label="Created"><Time ts=t.created_at/></td>
                                <td data-label="Last sync">{match t.last_used_at {
                                    Some(at) => view! { <Time ts=at/>{t.last_network.clone().map(|n| format!(" from {n}"))} }.into_any(),
                                    None => view! { "never" }.into_any(),
                                }}</td>
                                <td data-label="">{if t.revoked {
                                    view! { <span class="muted">"revoked"</span> }.into_any()
                                } else {
                                    let question = format!("Revoke the token of {}? That scanner can no longer send what it finds.", t.name);
                                    view! {
                                        <Confirm label="Revoke" question=question>
                                            <ActionForm action=revoke attr:class="inline-form">
                                                <input type="hidden" name="id" value=t.id/>
                                                <button type="submit" class="btn btn-danger small">"Yes, revoke"</button>
                                            </ActionForm>
                                        </Confirm>
                                    }.into_any()
                                }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            })}
        </section>
    }
}

#[component]
pub fn NetworkDevice() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    view! {
        <Title text="Network device — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| {
            let rename = ServerAction::<RenameLanDevice>::new();
            let forget = ServerAction::<ForgetLanDevice>::new();
            let data = Resource::new(move || (id(), rename.version().get()), |(id, _)| lan_device_history(id));
            view! {
                <p><a href="/network">"← Home network"</a></p>
                <Suspense fallback=|| ()>
                    {move || data.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok((d, events)) => {
                            let forget_question = format!("Forget {}? Its name and history are removed; if it is still on your network, the next scan finds it as new.", d.display_name());
                            view! {
                            <h1>{icon(&d)}" "{d.display_name()}</h1>
                            <dl class="facts">
                                <dt>"Type"</dt><dd>{type_label(d.device_type)}</dd>
                                <dt>"Vendor"</dt><dd>{d.vendor.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Model"</dt><dd>{d.model.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"IP"</dt><dd><code>{d.ip.clone()}</code></dd>
                                <dt>"MAC"</dt><dd><code>{d.mac.clone()}</code>{d.randomized_mac.then_some(" (private, randomised address)")}</dd>
                                <dt>"Status"</dt><dd>{if d.online { "online" } else { "offline" }}</dd>
                                <dt>"First seen"</dt><dd><Time ts=d.first_seen/></dd>
                                <dt>"Last seen"</dt><dd><Time ts=d.last_seen/></dd>
                                <dt>"Services"</dt><dd>{services_list(&d)}</dd>
                                <dt>"Open ports"</dt><dd>{ports_list(&d)}</dd>
                            </dl>
                            <ActionForm action=rename attr:class="form inline">
                                <input type="hidden" name="id" value=d.id/>
                                <input type="text" name="label" maxlength="64" value=d.label.clone().unwrap_or_default() placeholder="Name this device" aria-label="Name"/>
                                <button type="submit" class="btn btn-ghost">"Save name"</button>
                            </ActionForm>
                            <ActionError value=rename.value()/>
                            <h2>"History"</h2>
                            <ul class="history" data-testid="lan-history">
                                {events.into_iter().map(|e| view! {
                                    <li><span class="muted small"><Time ts=e.created_at/></span>" "{e.describe()}</li>
                                }).collect_view()}
                            </ul>
                            <Confirm label="Forget this device" question=forget_question>
                                <ActionForm action=forget attr:class="inline-form">
                                    <input type="hidden" name="id" value=d.id/>
                                    <button type="submit" class="btn btn-danger small">"Yes, forget it"</button>
                                </ActionForm>
                            </Confirm>
                            <ActionError value=forget.value()/>
                        }.into_any()
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}
