//! The user's VPN devices: add (key made here or on the server), configs
//! as file and QR code, rename, re-key, remove, live status and usage.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    ui::components::{
        chart::usage_svg,
        guard::RequireUser,
        notice::{error_text, format_time, ActionError},
    },
    vpn::{
        model::{format_bytes, CreatedDevice, PRIVATE_KEY_PLACEHOLDER},
        server_fns::{
            available_servers, device_usage, list_devices, CreateDevice, CreateIdentity,
            DeleteDevice, RekeyDevice, RenameDevice,
        },
    },
};

/// A `data:` URL so the config downloads without the server keeping it.
fn data_url(text: &str) -> String {
    let mut out = String::from("data:text/plain;charset=utf-8,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Key pairs made in this browser (public, private), newest last. They live
/// only in this page's memory.
#[derive(Clone, Copy)]
struct LocalKeys(RwSignal<Vec<(String, String)>>);

impl LocalKeys {
    fn private_for(&self, public: &str) -> Option<String> {
        self.0
            .with(|v| v.iter().find(|(p, _)| p == public).map(|(_, k)| k.clone()))
    }
}

#[component]
fn CreatedConfig(created: CreatedDevice) -> impl IntoView {
    let mut created = created;
    // A key made in this browser goes into the file here, on this device.
    let local = use_context::<LocalKeys>().and_then(|k| k.private_for(&created.device.public_key));
    let made_here = local.is_some() && created.config.contains(PRIVATE_KEY_PLACEHOLDER);
    if let (true, Some(private)) = (made_here, local) {
        created.config = created.config.replace(PRIVATE_KEY_PLACEHOLDER, &private);
        created.qr_svg = crate::vpn::qr::qr_svg(&created.config);
    }
    let has_private_key = created.qr_svg.is_some();
    view! {
        <section class="card" data-testid="device-config">
            <h2>{format!("Config for {}", created.device.name)}</h2>
            {(!created.chosen_because.is_empty()).then(|| view! { <p class="muted" data-testid="chosen-because">{format!("Server: {}", created.chosen_because)}</p> })}
            {if made_here {
                view! { <p class="notice success" data-testid="key-made-here">"The key pair was made in this browser; the private key never reached TrueVault. Download the file now: it is not kept anywhere."</p> }.into_any()
            } else if has_private_key {
                view! { <p class="notice warning">"This file contains the device's private key. We do not keep it: download it now."</p> }.into_any()
            } else {
                view! { <p class="muted">"Put your device's private key where the file says; it never left your device."</p> }.into_any()
            }}
            <p>
                <a class="btn btn-primary" download=created.file_name.clone() href=data_url(&created.config) data-testid="download-config">
                    {format!("Download {}", created.file_name)}
                </a>
            </p>
            <pre class="config" data-testid="config-text">{created.config.clone()}</pre>
            {created.qr_svg.clone().map(|svg| view! { <div class="qr" data-testid="config-qr" inner_html=svg></div> })}
        </section>
    }
}

#[component]
pub fn Devices() -> impl IntoView {
    view! {
        <Title text="Devices — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <DeviceList/> }/>
    }
}

#[component]
fn DeviceList() -> impl IntoView {
    let create = ServerAction::<CreateDevice>::new();
    let identity = ServerAction::<CreateIdentity>::new();
    let rename = ServerAction::<RenameDevice>::new();
    let rekey = ServerAction::<RekeyDevice>::new();
    let delete = ServerAction::<DeleteDevice>::new();
    let devices = Resource::new(
        move || {
            (
                create.version().get(),
                rename.version().get(),
                rekey.version().get(),
                delete.version().get(),
            )
        },
        |_| list_devices(),
    );
    let servers = Resource::new(|| (), |_| available_servers());
    let local_keys = LocalKeys(RwSignal::new(Vec::new()));
    provide_context(local_keys);
    // Once hydrated, make a fresh key pair for each new device right here;
    // without JavaScript the field stays empty and the server makes one.
    let browser_public = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        create.version().track();
        identity.version().track();
        let pair = crate::vpn::keys::generate_keypair();
        browser_public.set(pair.public.clone());
        local_keys.0.update(|v| v.push((pair.public, pair.private)));
    });
    view! {
        <h1>"Devices"</h1>
        <section class="card">
            <h2>"Add a device"</h2>
            <ActionForm action=create attr:class="form grid-form">
                <label>"Name" <input type="text" name="name" required maxlength="64" placeholder="Ada's phone"/></label>
                <label>"Server"
                    <select name="server_id">
                        <option value="auto">"Best for me (automatic)"</option>
                        <Suspense fallback=|| ()>
                            {move || servers.get().and_then(|r| r.ok()).map(|list| list.into_iter().map(|s| view! {
                                <option value=s.id.to_string()>{format!("{} — {} {}", s.name, s.region, s.city)}</option>
                            }).collect_view())}
                        </Suspense>
                    </select>
                </label>
                <label>"Preferred region (optional)" <input type="text" name="region" maxlength="32" placeholder="eu"/></label>
                <label>"Public key"
                    <input type="text" name="public_key" maxlength="64" placeholder="empty: generated for you" prop:value=move || browser_public.get() data-testid="public-key"/>
                    {move || (!browser_public.get().is_empty()).then(|| view! { <span class="muted small">"Made in this browser; the private key stays here."</span> })}
                </label>
                <button type="submit" class="btn btn-primary">"Add device"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            <noscript>
                <form method="post" action="/devices/download" class="form inline">
                    <p class="muted">"Without JavaScript the key pair is made on our server and the file downloads at once (we keep no copy of the private key):"</p>
                    <input type="text" name="name" required maxlength="64" placeholder="Device name" aria-label="Device name"/>
                    <input type="text" name="region" maxlength="32" placeholder="Region (optional)" aria-label="Region"/>
                    <button type="submit" class="btn btn-ghost">"Create and download"</button>
                </form>
            </noscript>
        </section>
        <section class="card">
            <h2>"Regional identities"</h2>
            <p class="muted">"An identity is a stable peer in one region: you exit from the same server and address every time you use that region."</p>
            <ActionForm action=identity attr:class="form inline">
                <select name="region" aria-label="Region">
                    <Suspense fallback=|| ()>
                        {move || servers.get().and_then(|r| r.ok()).map(|list| {
                            let mut regions: Vec<String> = list.into_iter().map(|s| s.region).collect();
                            regions.sort();
                            regions.dedup();
                            regions.into_iter().map(|r| view! { <option value=r.clone()>{r.clone()}</option> }).collect_view()
                        })}
                    </Suspense>
                </select>
                <input type="hidden" name="public_key" prop:value=move || browser_public.get()/>
                <button type="submit" class="btn btn-ghost">"Add identity"</button>
            </ActionForm>
            <ActionError value=identity.value()/>
        </section>
        {move || create.value().get().and_then(|r| r.ok()).map(|c| view! { <CreatedConfig created=c/> })}
        {move || identity.value().get().and_then(|r| r.ok()).map(|c| view! { <CreatedConfig created=c/> })}
        {move || rekey.value().get().and_then(|r| r.ok()).map(|c| view! { <CreatedConfig created=c/> })}
        <ActionError value=rename.value()/>
        <ActionError value=rekey.value()/>
        <ActionError value=delete.value()/>
        <Suspense fallback=|| view! { <p class="muted">"Loading devices…"</p> }>
            {move || devices.get().map(|r| match r {
                Err(e) => view! { <p class="notice error" data-code=e.code()>{error_text(&e)}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! {
                    <p class="muted" data-testid="no-devices">"No devices yet. Add one above to get a WireGuard config."</p>
                }.into_any(),
                Ok(list) => view! {
                    <table class="table" data-testid="devices">
                        <thead><tr><th>"Device"</th><th>"Server"</th><th>"Address"</th><th>"Status"</th><th>"Traffic"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|d| {
                                let id = d.id;
                                let (row_name, input_name) = (d.name.clone(), d.name.clone());
                                let status = if !d.server_healthy {
                                    "server not reporting".to_string()
                                } else if d.connected {
                                    format!("connected (handshake {})", d.last_handshake_at.map(format_time).unwrap_or_default())
                                } else {
                                    d.last_handshake_at.map(|t| format!("last seen {}", format_time(t))).unwrap_or_else(|| "never connected".into())
                                };
                                view! {
                                    <tr data-device=row_name>
                                        <td>
                                            <ActionForm action=rename attr:class="inline-form">
                                                <input type="hidden" name="id" value=id/>
                                                <input type="text" name="name" value=input_name maxlength="64" aria-label="Device name"/>
                                                <button type="submit" class="btn btn-ghost small">"Rename"</button>
                                            </ActionForm>
                                        </td>
                                        <td>
                                            {format!("{} ({})", d.server_name, d.region)}
                                            {d.identity_region.clone().map(|r| view! { <br/><span class="muted small">{format!("identity: {r}")}</span> })}
                                        </td>
                                        <td><code>{d.address_v4.clone()}</code>{d.address_v6.clone().map(|a| view! { <br/><code>{a}</code> })}</td>
                                        <td>
                                            <span class=if d.connected { "dot online" } else { "dot offline" }></span>
                                            <span data-testid="device-status">{status}</span>
                                        </td>
                                        <td data-testid="device-traffic">{format!("↑ {} ↓ {}", format_bytes(d.rx_bytes), format_bytes(d.tx_bytes))}</td>
                                        <td class="row-actions">
                                            <a class="btn btn-ghost small" href=format!("/devices/{id}")>"Usage"</a>
                                            <ActionForm action=rekey attr:class="inline-form">
                                                <input type="hidden" name="id" value=id/>
                                                <input type="hidden" name="public_key" value=""/>
                                                <button type="submit" class="btn btn-ghost small">"New keys"</button>
                                            </ActionForm>
                                            <ActionForm action=delete attr:class="inline-form">
                                                <input type="hidden" name="id" value=id/>
                                                <button type="submit" class="btn btn-danger small">"Remove"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn DeviceUsage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    view! {
        <Title text="Device usage — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| {
            let usage = Resource::new(id, device_usage);
            view! {
                <h1>"Usage, last 14 days"</h1>
                <p><a href="/devices">"← Devices"</a></p>
                <Suspense fallback=|| ()>
                    {move || usage.get().map(|r| match r {
                        Err(e) => view! { <p class="notice error" data-code=e.code()>{error_text(&e)}</p> }.into_any(),
                        Ok(days) if days.is_empty() => view! { <p class="muted">"No traffic recorded yet."</p> }.into_any(),
                        Ok(days) => {
                            let total_rx: i64 = days.iter().map(|d| d.rx_bytes).sum();
                            let total_tx: i64 = days.iter().map(|d| d.tx_bytes).sum();
                            let connected: i64 = days.iter().map(|d| d.connected_seconds).sum();
                            view! {
                                <div class="card" inner_html=usage_svg(&days)></div>
                                <p>{format!("Sent {} · received {} · connected {} min", format_bytes(total_rx), format_bytes(total_tx), connected / 60)}</p>
                            }.into_any()
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}
