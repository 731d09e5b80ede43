//! Home sites: register a home network, the one-command set-up of the home
//! agent, online state and each site's range.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    sites::{
        model::{SiteInfo, SiteStatus},
        server_fns::{list_sites, portal_url, CreateSite, DeleteSite, RotateSiteToken},
    },
    ui::components::{
        guard::RequireUser,
        notice::{error_notice, format_time, ActionError},
        refresh::refetch_after,
    },
};

#[component]
pub fn Sites() -> impl IntoView {
    view! {
        <Title text="Home sites — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <SitesPage/> }/>
    }
}

fn status_text(s: &SiteInfo) -> (&'static str, &'static str) {
    match s.status {
        SiteStatus::Waiting => ("dot offline", "waiting for the home agent"),
        SiteStatus::Online => ("dot online", "online"),
        SiteStatus::Offline => ("dot offline", "offline"),
    }
}

/// The set-up steps: the token goes into a file through stdin (never onto a
/// command line or into shell history), then the agent starts with one
/// command (or its systemd unit).
fn setup_steps(portal: &str) -> String {
    format!(
        "sudo install -d -m 700 /etc/truevault\n\
         sudo sh -c 'umask 077; cat > /etc/truevault/site.token'   # paste the token, Enter, Ctrl-D\n\
         sudo truevault-home --portal {portal} --token-file /etc/truevault/site.token"
    )
}

#[component]
fn SitesPage() -> impl IntoView {
    let create = ServerAction::<CreateSite>::new();
    let rotate = ServerAction::<RotateSiteToken>::new();
    let delete = ServerAction::<DeleteSite>::new();
    let sites = Resource::new(|| (), |_| list_sites());
    refetch_after(sites, move || {
        create.version().get() + rotate.version().get() + delete.version().get()
    });
    let portal = Resource::new(|| (), |_| portal_url());
    let portal_text = move || {
        portal
            .get()
            .and_then(|r| r.ok())
            .unwrap_or_else(|| "https://<this portal>".into())
    };
    view! {
        <h1>"Home sites"</h1>
        <p class="muted">"A home site makes your home network reachable from your VPN devices, from anywhere. One computer at home (the one running the scanner and the camera gateway) runs "<code>"truevault-home"</code>"; it joins the VPN and maps your site's range onto your home network, so a printer at 192.168.1.20 is reachable at the matching address of your site's range. Only your own devices reach it."</p>
        <section class="card">
            <h2>"Add a home site"</h2>
            <ActionForm action=create attr:class="form inline">
                <input type="text" name="name" required maxlength="64" placeholder="Home" aria-label="Site name"/>
                <input type="text" name="lan" required maxlength="18" placeholder="192.168.1.0/24" aria-label="Home network (LAN subnet)"/>
                <button type="submit" class="btn btn-primary">"Add site"</button>
            </ActionForm>
            <ActionError value=create.value()/>
            {move || create.value().get().and_then(|r| r.ok()).map(|c| view! {
                <div class="notice success" data-testid="site-token">
                    <p>{format!("Site {} gets the range {} (server {}). Its token, shown once:", c.site.name, c.site.range, c.site.server_name)}</p>
                    <pre class="config">{c.token.clone()}</pre>
                    <p>"On the computer at home, as root:"</p>
                    <pre class="config" data-testid="site-setup">{setup_steps(&portal_text())}</pre>
                    <p class="muted small">"To keep it running, install the "<code>"truevault-home.service"</code>" unit (app/node/systemd) and run "<code>"sudo systemctl enable --now truevault-home"</code>"."</p>
                </div>
            })}
            {move || rotate.value().get().and_then(|r| r.ok()).map(|token| view! {
                <div class="notice success" data-testid="site-new-token">
                    <p>"New token (shown once); set the home agent up again with it:"</p>
                    <pre class="config">{token}</pre>
                </div>
            })}
            <ActionError value=rotate.value()/>
            <ActionError value=delete.value()/>
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || sites.get().map(|r| match r {
                Err(e) => error_notice(&e).into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="no-sites">"No home sites yet."</p> }.into_any(),
                Ok(list) => view! {
                    <table class="table" data-testid="sites">
                        <thead><tr><th></th><th>"Site"</th><th>"Home network"</th><th>"Reach it at"</th><th>"Server"</th><th>"Last seen"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|s| {
                                let (dot, label) = status_text(&s);
                                view! {
                                    <tr data-testid="site-row">
                                        <td><span class=dot title=label></span>" "<span class="small">{label}</span></td>
                                        <td>{s.name.clone()}</td>
                                        <td><code>{s.lan.clone()}</code></td>
                                        <td><code>{s.range.clone()}</code></td>
                                        <td>{s.server_name.clone()}</td>
                                        <td class="small">{s.last_handshake_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                        <td>
                                            <ActionForm action=rotate attr:class="inline-form">
                                                <input type="hidden" name="id" value=s.id/>
                                                <button type="submit" class="btn btn-ghost small">"New token"</button>
                                            </ActionForm>
                                            <ActionForm action=delete attr:class="inline-form">
                                                <input type="hidden" name="id" value=s.id/>
                                                <button type="submit" class="btn btn-danger small">"Remove"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <p class="muted small">"Your devices on the same server as a site reach it; new devices are placed on that server. A device on another server does not reach the site."</p>
                }.into_any(),
            })}
        </Suspense>
    }
}
