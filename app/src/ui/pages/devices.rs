//! The user's VPN devices: add (key made here or on the server), configs
//! as file and QR code, rename, re-key, remove, live status and usage.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    pausing::{model::KeepKind, server_fns::KeepOnPlan},
    ui::components::{
        chart::usage_svg,
        confirm::Confirm,
        guard::RequireUser,
        notice::{clock_now, duration_text, error_notice, traffic_text, ActionError, Time},
        refresh::refetch_after,
    },
    vpn::{
        model::{CreatedDevice, DeviceInfo, TunnelMode, PRIVATE_KEY_PLACEHOLDER},
        server_fns::{
            available_servers, device_usage, list_devices, CreateDevice, CreateIdentity,
            DeleteDevice, RekeyDevice, RenameDevice, SetTunnel,
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
    let tunnel = ServerAction::<SetTunnel>::new();
    let keep = ServerAction::<KeepOnPlan>::new();
    let devices = Resource::new(|| (), |_| list_devices());
    refetch_after(devices, move || {
        keep.version().get()
            + tunnel.version().get()
            + create.version().get()
            + identity.version().get()
            + rename.version().get()
            + rekey.version().get()
            + delete.version().get()
    });
    let servers = Resource::new(|| (), |_| available_servers());
    let local_keys = LocalKeys(RwSignal::new(Vec::new()));
    provide_context(local_keys);
    // Once hydrated, make a fresh key pair for each new device (and each
    // re-key) right here; without JavaScript the field stays empty and the
    // server makes one.
    let browser_public = RwSignal::new(String::new());
    let add_form = NodeRef::<leptos::html::Form>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        create.version().track();
        identity.version().track();
        rekey.version().track();
        // A device was added: empty the form for the next one, before the
        // fresh key goes into it.
        if create.value().get_untracked().is_some_and(|r| r.is_ok()) {
            if let Some(form) = add_form.get_untracked() {
                form.reset();
            }
        }
        let pair = crate::vpn::keys::generate_keypair();
        browser_public.set(pair.public.clone());
        local_keys.0.update(|v| v.push((pair.public, pair.private)));
    });
    view! {
        <h1>"Devices"</h1>
        <p class="muted">"Each phone, laptop or router gets its own WireGuard config. Its key pair is made here, in your browser: only the public half reaches TrueVault."</p>
        <section class="card">
            <h2>"Add a device"</h2>
            <ActionForm action=create node_ref=add_form attr:class="form grid-form" attr:data-testid="add-device">
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
                <label>"Tunnel"
                    <select name="tunnel" data-testid="tunnel-mode">
                        <option value="full" selected>"Full: all traffic through the VPN"</option>
                        <option value="split">"Split: only your home sites and the VPN"</option>
                    </select>
                </label>
                <label>"Public key"
                    <input type="text" name="public_key" maxlength="64" placeholder="empty: generated for you" prop:value=move || browser_public.get() data-testid="public-key"/>
                    {move || (!browser_public.get().is_empty()).then(|| view! { <span class="muted small">"Made in this browser; the private key stays here."</span> })}
                </label>
                <button type="submit" class="btn btn-primary">"Add device"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            <ActionError value=tunnel.value()/>
            {move || tunnel.value().get().and_then(|r| r.ok()).map(|(file, config)| view! {
                <div class="notice success" data-testid="tunnel-config">
                    <p>{format!("New config ({file}): import it on the device; it keeps its private key, only AllowedIPs changed.")}</p>
                    <pre class="config">{config}</pre>
                </div>
            })}
            <noscript>
                <form method="post" action="/devices/download" class="form inline">
                    <p class="muted">"Without JavaScript the key pair is made on our server and the file downloads at once (we keep no copy of the private key). New keys, too, are then made on our server and shown once."</p>
                    <input type="text" name="name" required maxlength="64" placeholder="Device name" aria-label="Device name"/>
                    <input type="text" name="region" maxlength="32" placeholder="Region (optional)" aria-label="Region"/>
                    <button type="submit" class="btn btn-ghost">"Create and download"</button>
                </form>
            </noscript>
        </section>
        <section class="card">
            <h2>"Regional identities"</h2>
            <p class="muted">"An identity is a fixed exit in one region: whenever you use it, you leave from the same server with the same address, so sites in that region see the same visitor each time. Your plan may include one, reserved when you signed up; set it up on a device to use it."</p>
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
        <ActionError value=keep.value()/>
        <Suspense fallback=|| view! { <p class="muted">"Loading devices…"</p> }>
            {move || devices.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(list) if list.is_empty() => view! {
                    <p class="muted" data-testid="no-devices">"No devices yet. Add one above to get a WireGuard config."</p>
                }.into_any(),
                Ok(list) => view! {
                    <div class="table-wrap"><table class="table stack" data-testid="devices">
                        <thead><tr><th>"Device"</th><th>"Server"</th><th>"Address"</th><th>"Status"</th><th>"Traffic"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|d| view! { <DeviceRow d=d rename rekey delete tunnel keep browser_public/> }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn DeviceRow(
    d: DeviceInfo,
    rename: ServerAction<RenameDevice>,
    rekey: ServerAction<RekeyDevice>,
    delete: ServerAction<DeleteDevice>,
    tunnel: ServerAction<SetTunnel>,
    keep: ServerAction<KeepOnPlan>,
    browser_public: RwSignal<String>,
) -> impl IntoView {
    let id = d.id;
    let kind = if d.identity_region.is_some() {
        KeepKind::Identity
    } else {
        KeepKind::Device
    };
    let (tunnel_to, tunnel_label) = match d.tunnel_mode {
        TunnelMode::Full => ("split", "Use split tunnel"),
        TunnelMode::Split => ("full", "Use full tunnel"),
    };
    let name = d.name.clone();
    let status = if d.paused {
        view! {
            <span class="dot offline"></span>
            <span data-testid="device-status" data-paused="true">"paused"</span>
            <p class="muted small">"Your plan includes fewer, so this one is paused: kept with its keys and address, back when you upgrade. "</p>
            <ActionForm action=keep attr:class="inline-form">
                <input type="hidden" name="kind" value=kind.as_str()/>
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="btn btn-ghost small" data-testid="keep-instead">"Keep this one instead"</button>
            </ActionForm>
            " "<a class="small" href="/billing">"Upgrade"</a>
        }.into_any()
    } else if d.awaiting_key {
        view! { <span class="dot offline"></span><span data-testid="device-status">"not set up yet"</span> }.into_any()
    } else if !d.server_healthy {
        view! { <span class="dot offline"></span><span data-testid="device-status">"server not reporting"</span> }.into_any()
    } else if d.connected {
        view! {
            <span class="dot online"></span>
            <span data-testid="device-status">"connected · handshake "{d.last_handshake_at.map(|t| view! { <Time ts=t/> })}</span>
        }.into_any()
    } else {
        match d.last_handshake_at {
            Some(t) => view! { <span class="dot offline"></span><span data-testid="device-status">"last seen "<Time ts=t/></span> }.into_any(),
            None => view! { <span class="dot offline"></span><span data-testid="device-status">"never connected"</span> }.into_any(),
        }
    };
    let identity_note = d.identity_region.clone().map(|r| {
        if d.awaiting_key {
            view! {
                <p class="muted small" data-testid="identity-explained">
                    {format!("Your fixed exit in {r}, reserved when you signed up: this server and address stay yours. No key exists for it yet, so nothing connects with it until you set it up on a device.")}
                </p>
            }.into_any()
        } else {
            view! { <p class="muted small">{format!("Regional identity: you always exit in {r} from this address.")}</p> }.into_any()
        }
    });
    let (setup_label, setup_question, setup_button) = if d.awaiting_key {
        (
            "Set up",
            format!("Set up “{name}” on this device? A key pair is made in this browser and the config is shown once."),
            "Make keys and show the config",
        )
    } else {
        (
            "New keys",
            format!("New keys for “{name}”? Its current config stops working; you get a new file with a key made in this browser."),
            "Yes, make new keys",
        )
    };
    let (row_name, input_name) = (name.clone(), name.clone());
    let remove_question = format!("Remove “{name}”? Its config stops working at once and its address is freed. This cannot be undone.");
    let remove_button = format!("Remove {name}");
    view! {
        <tr data-device=row_name>
            <td data-label="Device">
                <ActionForm action=rename attr:class="inline-form">
                    <input type="hidden" name="id" value=id/>
                    <input type="text" name="name" value=input_name maxlength="64" aria-label="Device name"/>
                    <button type="submit" class="btn btn-ghost small">"Rename"</button>
                </ActionForm>
                {identity_note}
            </td>
            <td data-label="Server">{format!("{} ({})", d.server_name, d.region)}</td>
            <td data-label="Address"><code>{d.address_v4.clone()}</code>{d.address_v6.clone().map(|a| view! { <br/><code class="addr6">{a}</code> })}</td>
            <td data-label="Status">{status}</td>
            <td data-label="Traffic" data-testid="device-traffic">{traffic_text(d.rx_bytes, d.tx_bytes)}</td>
            <td data-label="Actions">
                <div class="row-actions">
                    <a class="btn btn-ghost small" href=format!("/devices/{id}")>"Usage"</a>
                    <details class="confirm">
                        <summary class="btn btn-ghost small" data-testid="rekey-open">{setup_label}</summary>
                        <div class="confirm-panel">
                            <p>{setup_question}</p>
                            <ActionForm action=rekey attr:class="inline-form">
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="public_key" prop:value=move || browser_public.get()/>
                                <button type="submit" class="btn btn-primary small" data-testid="rekey-confirm">{setup_button}</button>
                            </ActionForm>
                        </div>
                    </details>
                    <ActionForm action=tunnel attr:class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="tunnel" value=tunnel_to/>
                        <button type="submit" class="btn btn-ghost small" data-testid="tunnel-toggle">{tunnel_label}</button>
                    </ActionForm>
                    <Confirm label="Remove" question=remove_question>
                        <ActionForm action=delete attr:class="inline-form">
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="btn btn-danger small" data-testid="remove-confirm">{remove_button}</button>
                        </ActionForm>
                    </Confirm>
                </div>
            </td>
        </tr>
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
            let devices = Resource::new(|| (), |_| list_devices());
            view! {
                <p><a href="/devices">"← Devices"</a></p>
                <Suspense fallback=|| ()>
                    {move || {
                        let device = devices.get().and_then(|r| r.ok()).and_then(|l| l.into_iter().find(|d| d.id == id()));
                        usage.get().map(|r| match r {
                            Err(e) => view! { <h1>"Usage"</h1>{error_notice(&e)} }.into_any(),
                            Ok(days) => {
                                let name = device.as_ref().map(|d| d.name.clone()).unwrap_or_else(|| "Device".into());
                                let total_rx: i64 = days.iter().map(|d| d.rx_bytes).sum();
                                let total_tx: i64 = days.iter().map(|d| d.tx_bytes).sum();
                                let connected: i64 = days.iter().map(|d| d.connected_seconds).sum();
                                let live = device.as_ref().map(|d| if d.connected {
                                    view! { <p data-testid="usage-live"><span class="dot online"></span>"Connected now."</p> }.into_any()
                                } else {
                                    view! { <p data-testid="usage-live"><span class="dot offline"></span>"Not connected now."</p> }.into_any()
                                });
                                let (now, _) = clock_now();
                                view! {
                                    <h1>{format!("{name}: usage, last 14 days")}</h1>
                                    {live}
                                    {if days.is_empty() {
                                        view! { <p class="muted">"No traffic recorded yet."</p> }.into_any()
                                    } else {
                                        view! { <div class="card chart" inner_html=usage_svg(&name, &days, now / 86_400)></div> }.into_any()
                                    }}
                                    <p data-testid="usage-totals">{format!("{} · connected {} in these 14 days", traffic_text(total_rx, total_tx), duration_text(connected))}</p>
                                }.into_any()
                            }
                        })
                    }}
                </Suspense>
            }
        }/>
    }
}
