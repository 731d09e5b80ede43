//! Cameras: a grid of live tiles, the add-camera form (prefilled from a
//! scanner finding with `?from_device=<id>`), the user's gateways, and one
//! camera's large view with snapshot, edit and delete. The player itself is
//! `/cameras/player.js` (Media Source Extensions over the live WebSocket).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    accounts::model::CurrentUser,
    cameras::{
        model::{format_hhmm, CameraEvent, CameraEventKind, NotifyPrefs},
        model::{Camera, CameraDraft, GatewayInfo, StreamKind, Vendor},
        server_fns::{
            camera_detail, camera_events, camera_notify_prefs, cameras_overview, AddCamera,
            CameraNotifyChoose, CameraNotifySave, CreateGateway, DeleteCamera, RevokeGateway,
            UpdateCamera,
        },
    },
    overview::portal_url,
    ui::components::{
        confirm::Confirm,
        guard::RequireUser,
        notice::{error_notice, plural, ActionError, Time},
        refresh::refetch_after,
    },
};

#[component]
pub fn Cameras() -> impl IntoView {
    view! {
        <Title text="Cameras — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <CamerasView/> }/>
    }
}

/// One live tile: the player finds `video[data-camera-live]` by itself.
/// The grid plays the sub stream where the camera has one (less of the home
/// uplink); the large view plays the main stream, with a quality switch
/// (player.js swaps `data-camera-stream` and reconnects).
#[component]
fn LiveTile(camera: Camera, #[prop(optional)] large: bool) -> impl IntoView {
    let class = if large {
        "camera-tile large"
    } else {
        "camera-tile"
    };
    let stream = if large {
        StreamKind::Main
    } else {
        camera.stream_for(StreamKind::Sub)
    };
    let switch = large && camera.sub_stream_url.is_some();
    view! {
        <figure class=class data-camera-tile="" data-testid="camera-tile">
            <video data-camera-live=camera.id.to_string() data-camera-stream=stream.as_str() muted=true autoplay=true playsinline=true></video>
            <figcaption>
                <a href=format!("/cameras/{}", camera.id)>{camera.name.clone()}</a>
                " "<span class="camera-status" data-camera-status="" data-state="connecting">"Connecting…"</span>
                {(!camera.gateway_online).then(|| view! { " "<span class="muted small">"gateway offline"</span> })}
                {switch.then(|| view! {
                    " "<button type="button" class="btn btn-ghost small" data-camera-quality="" data-testid="camera-quality" aria-label="Switch between high and low quality">"High quality"</button>
                })}
            </figcaption>
        </figure>
    }
}

fn vendor_options(selected: Option<Vendor>) -> impl IntoView {
    Vendor::ALL
        .into_iter()
        .map(|v| {
            view! { <option value=v.as_str() selected=selected == Some(v)>{v.label()}</option> }
        })
        .collect_view()
}

fn gateway_options(gateways: &[GatewayInfo], selected: Option<i64>) -> impl IntoView {
    let live: Vec<GatewayInfo> = gateways.iter().filter(|g| !g.revoked).cloned().collect();
    let only = (live.len() == 1).then(|| live[0].id);
    view! {
        <option value="">"— none —"</option>
        {live.into_iter().map(|g| {
            let sel = selected.or(only) == Some(g.id);
            view! { <option value=g.id.to_string() selected=sel>{g.name.clone()}</option> }
        }).collect_view()}
    }
}

#[component]
fn CamerasView() -> impl IntoView {
    let query = use_query_map();
    let from_device = move || {
        query
            .read()
            .get("from_device")
            .and_then(|s| s.parse::<i64>().ok())
    };
    let add = ServerAction::<AddCamera>::new();
    let create_gw = ServerAction::<CreateGateway>::new();
    let revoke_gw = ServerAction::<RevokeGateway>::new();
    let data = Resource::new(from_device, cameras_overview);
    refetch_after(data, move || {
        add.version().get() + create_gw.version().get() + revoke_gw.version().get()
    });
    view! {
        <h1>"Cameras"</h1>
        <p><a href="/camera-events" data-testid="camera-events-link">"Events: when cameras went offline and came back"</a></p>
        <script src="/cameras/player.js" defer=true></script>
        <Suspense fallback=|| view! { <p class="muted">"Loading your cameras…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(page) => {
                    let at_limit = page.camera_limit.is_some_and(|l| page.cameras.len() as i64 >= l);
                    let draft = page.draft.clone().unwrap_or_default();
                    view! {
                        {if page.cameras.is_empty() {
                            view! { <p class="muted" data-testid="no-cameras">"No cameras yet. Add one below; a gateway at home pulls it and relays it here."</p> }.into_any()
                        } else {
                            view! {
                                <div class="camera-grid" data-testid="camera-grid">
                                    {page.cameras.iter().cloned().map(|c| view! { <LiveTile camera=c/> }).collect_view()}
                                </div>
                            }.into_any()
                        }}
                        {(!page.shared.is_empty()).then(|| view! {
                            <h2>"Shared with you"</h2>
                            <div class="camera-grid" data-testid="shared-camera-grid">
                                {page.shared.iter().cloned().map(|c| view! { <LiveTile camera=c/> }).collect_view()}
                            </div>
                        })}
                        <section class="card" data-testid="add-camera">
                            <h2>"Add a camera"</h2>
                            {page.camera_limit.map(|l| view! {
                                <p class="muted small" data-testid="camera-limit">{format!("Your plan allows {}; you have {}.", plural(l, "camera", "cameras"), page.cameras.len())}</p>
                            })}
                            {at_limit.then(|| view! {
                                <p class="notice" data-testid="camera-limit-reached">"You have reached your plan's camera limit. "<a href="/billing">"Upgrade your plan"</a>" to add more."</p>
                            })}
                            <CameraFormFields action=add draft gateways=page.gateways.clone()/>
                            <ActionError value=add.value()/>
                        </section>
                        <Gateways gateways=page.gateways.clone() create=create_gw revoke=revoke_gw/>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
fn CameraFormFields(
    action: ServerAction<AddCamera>,
    draft: CameraDraft,
    gateways: Vec<GatewayInfo>,
) -> impl IntoView {
    // A cloud-only vendor is said at once instead of a form that cannot work.
    let cloud_only = RwSignal::new(draft.vendor.is_some_and(Vendor::cloud_only));
    view! {
        <ActionForm action=action attr:class="form camera-form">
            <input type="hidden" name="lan_device_id" value=draft.lan_device_id.map(|i| i.to_string()).unwrap_or_default()/>
            <label>"Name"<input type="text" name="name" required maxlength="64" value=draft.name.clone()/></label>
            <label>"Vendor"<select name="vendor" on:change=move |ev| {
                cloud_only.set(Vendor::parse(&event_target_value(&ev)).is_some_and(Vendor::cloud_only));
            }>{vendor_options(draft.vendor)}</select></label>
            {move || cloud_only.get().then(|| view! {
                <p class="notice" data-testid="camera-cloud-only" data-code="CAMERA_CLOUD_ONLY">"Ring cameras are cloud only: they give no local stream, so a gateway at home cannot pull them. Cameras with RTSP or ONVIF (most others) work."</p>
            })}
            <label>"Model"<input type="text" name="model" maxlength="64" value=draft.model.clone().unwrap_or_default()/></label>
            <label>"IP address"<input type="text" name="ip" required maxlength="253" value=draft.ip.clone()/></label>
            <label>"MAC address"<input type="text" name="mac" maxlength="17" value=draft.mac.clone().unwrap_or_default()/></label>
            <label>"RTSP port"<input type="number" name="rtsp_port" min="1" max="65535" placeholder="554"/></label>
            <label>"HTTP port"<input type="number" name="http_port" min="1" max="65535" placeholder="80"/></label>
            <label>"Main stream URL"<input type="text" name="main_stream_url" maxlength="512" placeholder="from the vendor's pattern" value=draft.main_stream_url.clone()/></label>
            <label>"Sub stream URL"<input type="text" name="sub_stream_url" maxlength="512" value=draft.sub_stream_url.clone()/></label>
            <label>"Snapshot URL"<input type="text" name="snapshot_url" maxlength="512" value=draft.snapshot_url.clone()/></label>
            <label>"User name"<input type="text" name="username" maxlength="128" autocomplete="off"/></label>
            <label>"Password"<input type="password" name="password" maxlength="128" autocomplete="new-password"/></label>
            <label>"Gateway"<select name="gateway_id">{gateway_options(&gateways, None)}</select></label>
            <button type="submit" class="btn btn-primary" disabled=move || cloud_only.get()>"Add camera"</button>
        </ActionForm>
    }
}

#[component]
fn Gateways(
    gateways: Vec<GatewayInfo>,
    create: ServerAction<CreateGateway>,
    revoke: ServerAction<RevokeGateway>,
) -> impl IntoView {
    let portal = Resource::new(|| (), |_| portal_url());
    view! {
        <section class="card" data-testid="gateways">
            <h2>"Gateways"</h2>
            <p class="muted">"A gateway runs at home, pulls your cameras and relays them here over one outbound connection. Its token is shown once."</p>
            <ActionForm action=create attr:class="form inline">
                <input type="text" name="name" required maxlength="64" placeholder="Home gateway" aria-label="Gateway name"/>
                <button type="submit" class="btn btn-primary">"Create gateway"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            <ActionError value=revoke.value()/>
            <Suspense fallback=|| ()>
            {move || create.value().get().and_then(|r| r.ok()).map(|g| {
                let url = portal.get().and_then(|r| r.ok()).unwrap_or_else(|| "<this portal's URL>".into());
                view! {
                    <div class="notice success" data-testid="gateway-token">
                        <p>{format!("Token for {} (copy it now; it is not shown again):", g.name)}</p>
                        <pre class="config">{g.token.clone()}</pre>
                        <p>"On the computer at home that reaches your cameras, run:"</p>
                        <pre class="config">{format!("truevault-gateway --portal {url} --token={}", g.token)}</pre>
                    </div>
                }
            })}
            </Suspense>
            {(!gateways.is_empty()).then(|| view! {
                <div class="table-wrap"><table class="table stack">
                    <thead><tr><th>"Name"</th><th>"State"</th><th>"Last seen"</th><th>"Cameras"</th><th>"Actions"</th></tr></thead>
                    <tbody>
                        {gateways.into_iter().map(|g| view! {
                            <tr data-testid="gateway-row">
                                <td data-label="Name">{g.name.clone()}<br/><span class="muted small">{g.agent.clone().unwrap_or_default()}</span></td>
                                <td data-label="State">{if g.revoked { "revoked" } else if g.online { "online" } else { "offline" }}</td>
                                <td data-label="Last seen">{match g.last_seen_at { Some(t) => view! { <Time ts=t/> }.into_any(), None => view! { "never" }.into_any() }}</td>
                                <td data-label="Cameras">{g.cameras}</td>
                                <td data-label="">{(!g.revoked).then(|| view! {
                                    <Confirm label="Revoke" question=format!("Revoke {}? It disconnects at once, and its {} stop playing here until you give them another gateway.", g.name, plural(g.cameras, "camera", "cameras"))>
                                        <ActionForm action=revoke attr:class="inline-form">
                                            <input type="hidden" name="id" value=g.id/>
                                            <button type="submit" class="btn btn-danger small">"Yes, revoke"</button>
                                        </ActionForm>
                                    </Confirm>
                                })}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            })}
        </section>
    }
}

#[component]
pub fn CameraView() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    view! {
        <Title text="Camera — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| {
            let update = ServerAction::<UpdateCamera>::new();
            let delete = ServerAction::<DeleteCamera>::new();
            let data = Resource::new(
                move || (id(), update.version().get()),
                |(id, _)| async move {
                    let camera = camera_detail(id).await?;
                    let page = cameras_overview(None).await?;
                    // Someone else's camera shared with the user has no
                    // timeline here (events are the owner's).
                    let events = camera_events(id.to_string(), String::new(), String::new())
                        .await
                        .unwrap_or_default();
                    Ok::<_, crate::error::AppError>((camera, page.gateways, events))
                },
            );
            view! {
                <p><a href="/cameras">"← Cameras"</a></p>
                <script src="/cameras/player.js" defer=true></script>
                <Suspense fallback=|| ()>
                    {move || data.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok((c, gateways, events)) => {
                            let delete_question = format!("Delete {}? It leaves your grid and its stored password is erased.", c.name);
                            view! {
                            <h1>{c.name.clone()}</h1>
                            <LiveTile camera=c.clone() large=true/>
                            // player.js shows the picture, or why there is
                            // none, in the page (the link alone opens it).
                            {c.snapshot_url.is_some().then(|| view! {
                                <div class="camera-snapshot" data-testid="camera-snapshot">
                                    <p><a class="btn btn-ghost" href=format!("/cameras/{}/snapshot", c.id) data-camera-snapshot=c.id.to_string()>"Snapshot"</a></p>
                                    <p class="notice" data-snapshot-error="" hidden=true></p>
                                    <img data-snapshot-image="" alt=format!("Snapshot of {}", c.name) hidden=true/>
                                </div>
                            })}
                            {c.vendor.speaks_onvif().then(|| view! { <PtzPanel camera=c.id/> })}
                            <Timeline camera=c.id events/>
                            <section class="card">
                                <h2>"Settings"</h2>
                                <ActionForm action=update attr:class="form camera-form">
                                    <input type="hidden" name="id" value=c.id/>
                                    <label>"Name"<input type="text" name="name" required maxlength="64" value=c.name.clone()/></label>
                                    <label>"Vendor"<select name="vendor">{vendor_options(Some(c.vendor))}</select></label>
                                    <label>"Model"<input type="text" name="model" maxlength="64" value=c.model.clone().unwrap_or_default()/></label>
                                    <label>"IP address"<input type="text" name="ip" required maxlength="253" value=c.ip.clone()/></label>
                                    <label>"MAC address"<input type="text" name="mac" maxlength="17" value=c.mac.clone().unwrap_or_default()/></label>
                                    <label>"RTSP port"<input type="number" name="rtsp_port" min="1" max="65535" value=c.rtsp_port/></label>
                                    <label>"HTTP port"<input type="number" name="http_port" min="1" max="65535" value=c.http_port/></label>
                                    <label>"Main stream URL"<input type="text" name="main_stream_url" maxlength="512" value=c.main_stream_url.clone()/></label>
                                    <label>"Sub stream URL"<input type="text" name="sub_stream_url" maxlength="512" value=c.sub_stream_url.clone().unwrap_or_default()/></label>
                                    <label>"Snapshot URL"<input type="text" name="snapshot_url" maxlength="512" value=c.snapshot_url.clone().unwrap_or_default()/></label>
                                    <label>"User name"<input type="text" name="username" maxlength="128" autocomplete="off" value=c.username.clone().unwrap_or_default()/></label>
                                    <label>"Password"<input type="password" name="password" maxlength="128" autocomplete="new-password" placeholder=if c.has_password { "unchanged (stored encrypted)" } else { "" }/></label>
                                    <label>"Gateway"<select name="gateway_id">{gateway_options(&gateways, c.gateway_id)}</select></label>
                                    <button type="submit" class="btn btn-primary">"Save"</button>
                                </ActionForm>
                                <ActionError value=update.value()/>
                            </section>
                            <Confirm label="Delete this camera" question=delete_question>
                                <ActionForm action=delete attr:class="inline-form">
                                    <input type="hidden" name="id" value=c.id/>
                                    <button type="submit" class="btn btn-danger small">"Yes, delete it"</button>
                                </ActionForm>
                            </Confirm>
                            <ActionError value=delete.value()/>
                        }.into_any()
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}

/// Rows of events: when, which camera (on the events page), what.
fn event_rows(events: Vec<CameraEvent>, with_camera: bool) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="muted" data-testid="no-camera-events">"Nothing has happened yet."</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap"><table class="table stack" data-testid="camera-events">
            <thead><tr><th>"When"</th>{with_camera.then(|| view! { <th>"Camera"</th> })}<th>"What"</th><th>"Picture"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr data-testid="camera-event" data-kind=e.kind.as_str()>
                        <td data-label="When"><Time ts=e.at/></td>
                        {with_camera.then(|| view! {
                            <td data-label="Camera"><a href=format!("/cameras/{}", e.camera_id)>{e.camera_name.clone()}</a></td>
                        })}
                        <td data-label="What">{e.kind.label()}</td>
                        <td data-label="Picture">{e.has_thumbnail.then(|| {
                            let src = format!("/cameras/{}/events/{}/thumbnail", e.camera_id, e.id);
                            let href = src.clone();
                            view! {
                                <a href=href><img class="event-thumbnail" src=src loading="lazy" width="160"
                                    alt=format!("{} at {}", e.kind.label(), e.camera_name) data-testid="camera-event-thumbnail"/></a>
                            }
                        })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

/// Pan, tilt and zoom for an ONVIF camera: player.js sends a move while a
/// button (or an arrow key, +/- for zoom, with the panel focused) is held
/// and a stop on release, and works the presets. A camera without PTZ
/// answers with `CAMERA_PTZ_FAILED`, shown here.
#[component]
fn PtzPanel(camera: i64) -> impl IntoView {
    let dir = |label: &'static str, pan: &'static str, tilt: &'static str, zoom: &'static str| {
        view! {
            <button type="button" class="btn btn-ghost" data-ptz-move="" data-pan=pan data-tilt=tilt data-zoom=zoom
                aria-label=label>{label}</button>
        }
    };
    view! {
        <details class="card ptz" data-testid="camera-ptz" data-camera-ptz=camera.to_string() tabindex="0">
            <summary>"Pan, tilt and zoom (cameras that can move)"</summary>
            <p class="muted">"Hold a button, or an arrow key (+ and − zoom) while this panel has focus."</p>
            <div class="ptz-pad">
                {dir("Up", "0", "0.5", "0")}
                {dir("Left", "-0.5", "0", "0")}
                {dir("Right", "0.5", "0", "0")}
                {dir("Down", "0", "-0.5", "0")}
                {dir("Zoom in", "0", "0", "0.5")}
                {dir("Zoom out", "0", "0", "-0.5")}
            </div>
            <p class="notice error" data-ptz-error="" hidden=true></p>
            <div class="form inline">
                <button type="button" class="btn btn-ghost" data-ptz-presets="">"Presets"</button>
                <label>"Name"<input type="text" maxlength="64" data-ptz-preset-name=""/></label>
                <button type="button" class="btn btn-ghost" data-ptz-save="">"Save this position"</button>
            </div>
            <ul class="ptz-presets" data-ptz-preset-list=""></ul>
        </details>
    }
}

/// One camera's recent events, on its own page (loaded with the camera).
#[component]
fn Timeline(camera: i64, events: Vec<CameraEvent>) -> impl IntoView {
    view! {
        <section class="card" data-testid="camera-timeline">
            <h2>"Timeline"</h2>
            <p><a href=format!("/camera-events?camera={camera}")>"All of this camera's events"</a></p>
            {event_rows(events.into_iter().take(20).collect(), false)}
        </section>
    }
}

/// The e-mail settings: which kinds, which cameras, quiet hours (UTC).
fn notify_settings(
    p: NotifyPrefs,
    save: ServerAction<CameraNotifySave>,
    choose: ServerAction<CameraNotifyChoose>,
) -> impl IntoView {
    let (from, to) = p
        .quiet
        .map(|(f, t)| (format_hhmm(f), format_hhmm(t)))
        .unwrap_or_default();
    view! {
        <section class="card" data-testid="camera-notify">
            <h2>"E-mail me about"</h2>
            <p class="muted">"At most one mail per camera every 10 minutes."</p>
            <ActionForm action=save attr:class="form">
                <fieldset><legend>"Events"</legend>
                    {CameraEventKind::ALL.into_iter().map(|k| view! {
                        <label><input type="checkbox" name=k.as_str() value="on" checked=p.kinds.contains(&k)/>{k.label()}</label>
                    }).collect_view()}
                </fieldset>
                <label>"Cameras"<select name="cameras">
                    <option value="all" selected=p.all_cameras>"All my cameras"</option>
                    <option value="chosen" selected=!p.all_cameras>"Only the cameras picked below"</option>
                </select></label>
                <label>"Quiet from (UTC)"<input type="time" name="quiet_from" value=from/></label>
                <label>"Quiet until (UTC)"<input type="time" name="quiet_to" value=to/></label>
                <button type="submit" class="btn btn-primary">"Save"</button>
                <ActionError value=save.value()/>
            </ActionForm>
            <ul class="chips" data-testid="camera-notify-cameras">
                {p.cameras.into_iter().map(|c| view! {
                    <li>
                        <ActionForm action=choose attr:class="form inline">
                            <input type="hidden" name="camera" value=c.id/>
                            <input type="hidden" name="on" value=if c.chosen { "" } else { "on" }/>
                            <button type="submit" class="btn btn-ghost small" aria-pressed=c.chosen.to_string()>
                                {if c.chosen { format!("✓ {}", c.name) } else { c.name.clone() }}
                            </button>
                        </ActionForm>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// Every camera's events, filterable by type and day (a GET form: the
/// filters live in the address, so a filtered view can be bookmarked).
#[component]
pub fn CameraEvents() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let q = query.read();
        (
            q.get("camera").unwrap_or_default(),
            q.get("kind").unwrap_or_default(),
            q.get("day").unwrap_or_default(),
        )
    };
    let events = Resource::new(filters, |(camera, kind, day)| {
        camera_events(camera, kind, day)
    });
    let save = ServerAction::<CameraNotifySave>::new();
    let choose = ServerAction::<CameraNotifyChoose>::new();
    let notify = Resource::new(
        move || (save.version().get(), choose.version().get()),
        |_| camera_notify_prefs(),
    );
    view! {
        <Title text="Camera events — TrueVault"/>
        <RequireUser children=move |_u: CurrentUser| {
            let (camera, kind, day) = filters();
            view! {
                <p><a href="/cameras">"← Cameras"</a></p>
                <h1>"Camera events"</h1>
                <form method="get" action="/camera-events" class="form inline" data-testid="camera-event-filters">
                    <input type="hidden" name="camera" value=camera/>
                    <label>"Type"<select name="kind">
                        <option value="" selected=kind.is_empty()>"All"</option>
                        {CameraEventKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=kind == k.as_str()>{k.label()}</option>
                        }).collect_view()}
                    </select></label>
                    <label>"Day (UTC)"<input type="date" name="day" value=day/></label>
                    <button type="submit" class="btn btn-primary">"Show"</button>
                </form>
                <Suspense fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                    {move || Suspend::new(async move {
                        match events.await {
                            Err(e) => error_notice(&e).into_any(),
                            Ok(list) => event_rows(list, true).into_any(),
                        }
                    })}
                </Suspense>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match notify.await {
                            Err(e) => error_notice(&e).into_any(),
                            Ok(p) => notify_settings(p, save, choose).into_any(),
                        }
                    })}
                </Suspense>
            }
        }/>
    }
}
