//! The home network: what the user's scanners found, a map of it, new
//! device alerts, detected cameras, scanner tokens, and one device's history.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    inventory::{
        model::{type_icon, type_label, LanDevice},
        server_fns::{
            home_network, lan_device_history, CreateScannerToken, DismissAlerts, ForgetLanDevice,
            RenameLanDevice, RevokeScannerToken,
        },
    },
    ui::components::{
        guard::RequireUser,
        network_map::network_map_svg,
        notice::{error_text, format_time, ActionError},
    },
};

#[component]
pub fn Network() -> impl IntoView {
    view! {
        <Title text="Home network — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <NetworkInventory/> }/>
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn services_text(d: &LanDevice) -> String {
    d.services
        .iter()
        .map(|s| match (&s.name, s.port) {
            (Some(n), _) => format!("{} ({n})", s.kind),
            (None, Some(p)) => format!("{}:{p}", s.kind),
            (None, None) => s.kind.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ports_text(d: &LanDevice) -> String {
    d.open_ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn NetworkInventory() -> impl IntoView {
    let create = ServerAction::<CreateScannerToken>::new();
    let revoke = ServerAction::<RevokeScannerToken>::new();
    let dismiss = ServerAction::<DismissAlerts>::new();
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                dismiss.version().get(),
            )
        },
        |_| home_network(),
    );
    view! {
        <h1>"Home network"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading your network…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <p class="notice error" data-code=e.code()>{error_text(&e)}</p> }.into_any(),
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
                                        " "<span class="muted small">{format_time(a.created_at)}</span></li>
                                    }).collect_view()}
                                </ul>
                                <ActionForm action=dismiss attr:class="inline-form">
                                    <button type="submit" class="btn btn-ghost small">"I know these"</button>
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
                                <DeviceTable devices=inv.devices.clone()/>
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
                                                {format!("{} {} — {}", type_icon(c.device_type), c.display_name(), c.ip)}
                                                {c.stream_url.clone().map(|u| view! { " "<code class="small">{u}</code> })}
                                                " "<a class="btn btn-primary small" href=add>"Add camera"</a>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </section>
                        })}
                        <ScannerTokens tokens=inv.tokens.clone() create revoke/>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
fn DeviceTable(devices: Vec<LanDevice>) -> impl IntoView {
    view! {
        <table class="table" data-testid="lan-devices">
            <thead><tr><th></th><th>"Name"</th><th>"Vendor"</th><th>"Type"</th><th>"IP"</th><th>"MAC"</th><th>"Seen"</th><th>"Services"</th><th>"Ports"</th></tr></thead>
            <tbody>
                {devices.into_iter().map(|d| {
                    let services = services_text(&d);
                    let ports = ports_text(&d);
                    view! {
                        <tr data-mac=d.mac.clone()>
                            <td><span class=if d.online { "dot online" } else { "dot offline" } title=if d.online { "online" } else { "offline" }></span>" "<span class="icon">{type_icon(d.device_type)}</span></td>
                            <td><a href=format!("/network/{}", d.id)>{d.display_name()}</a></td>
                            <td data-testid="vendor">{d.vendor.clone().unwrap_or_else(|| if d.randomized_mac { "private address".into() } else { "—".into() })}</td>
                            <td data-testid="type">{type_label(d.device_type)}</td>
                            <td><code>{d.ip.clone()}</code></td>
                            <td><code>{d.mac.clone()}</code></td>
                            <td class="small">{format!("first {}", format_time(d.first_seen))}<br/>{format!("last {}", format_time(d.last_seen))}</td>
                            <td class="small">{services}</td>
                            <td class="small">{ports}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn ScannerTokens(
    tokens: Vec<crate::inventory::model::ScannerTokenInfo>,
    create: ServerAction<CreateScannerToken>,
    revoke: ServerAction<RevokeScannerToken>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Scanners"</h2>
            <p class="muted">"A scanner token lets "<code>"truevault-scanner"</code>" on your home network send what it finds here. It is shown once."</p>
            <ActionForm action=create attr:class="form inline">
                <input type="text" name="name" required maxlength="64" placeholder="Living-room Pi" aria-label="Scanner name"/>
                <button type="submit" class="btn btn-primary">"Create token"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            <ActionError value=revoke.value()/>
            {move || create.value().get().and_then(|r| r.ok()).map(|t| view! {
                <div class="notice success" data-testid="scanner-token">
                    <p>{format!("Token for {} (copy it now; it is not shown again):", t.name)}</p>
                    <pre class="config">{t.token.clone()}</pre>
                    <pre class="config">{format!("truevault-scanner sync --portal {} --token {}", "https://<this portal>", t.token)}</pre>
                </div>
            })}
            {(!tokens.is_empty()).then(|| view! {
                <table class="table">
                    <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last sync"</th><th></th></tr></thead>
                    <tbody>
                        {tokens.into_iter().map(|t| view! {
                            <tr>
                                <td>{t.name.clone()}</td>
                                <td>{format_time(t.created_at)}</td>
                                <td>{t.last_used_at.map(|at| format!("{} ({})", format_time(at), t.last_network.clone().unwrap_or_default())).unwrap_or_else(|| "never".into())}</td>
                                <td>{if t.revoked {
                                    view! { <span class="muted">"revoked"</span> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=revoke attr:class="inline-form">
                                            <input type="hidden" name="id" value=t.id/>
                                            <button type="submit" class="btn btn-danger small">"Revoke"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
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
                        Err(e) => view! { <p class="notice error" data-code=e.code()>{error_text(&e)}</p> }.into_any(),
                        Ok((d, events)) => view! {
                            <h1>{format!("{} {}", type_icon(d.device_type), d.display_name())}</h1>
                            <dl class="facts">
                                <dt>"Type"</dt><dd>{type_label(d.device_type)}</dd>
                                <dt>"Vendor"</dt><dd>{d.vendor.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Model"</dt><dd>{d.model.clone().unwrap_or_else(|| "—".into())}</dd>
                                <dt>"IP"</dt><dd><code>{d.ip.clone()}</code></dd>
                                <dt>"MAC"</dt><dd><code>{d.mac.clone()}</code>{d.randomized_mac.then_some(" (private, randomised address)")}</dd>
                                <dt>"Status"</dt><dd>{if d.online { "online" } else { "offline" }}</dd>
                                <dt>"First seen"</dt><dd>{format_time(d.first_seen)}</dd>
                                <dt>"Last seen"</dt><dd>{format_time(d.last_seen)}</dd>
                                <dt>"Services"</dt><dd>{services_text(&d)}</dd>
                                <dt>"Open ports"</dt><dd>{ports_text(&d)}</dd>
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
                                    <li><span class="muted small">{format_time(e.created_at)}</span>" "{e.describe()}</li>
                                }).collect_view()}
                            </ul>
                            <ActionForm action=forget attr:class="inline-form">
                                <input type="hidden" name="id" value=d.id/>
                                <button type="submit" class="btn btn-danger small">"Forget this device"</button>
                            </ActionForm>
                            <ActionError value=forget.value()/>
                        }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
