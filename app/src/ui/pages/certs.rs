//! Personal certificates: the user's own CA, issuing (key made in this
//! browser by default, or on the server as a password-protected PKCS#12),
//! the list with downloads, renew and revoke, and how to trust the root on
//! each platform.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::model::CurrentUser,
    certs::{
        model::{CertInfo, CertKind, CertStatus, CertsPage, Issued, KeyOrigin},
        server_fns::{certs_overview, IssueCert, RenewCert, RevokeCert},
    },
    ui::components::{
        confirm::Confirm,
        guard::RequireUser,
        notice::{error_text, plural, ActionError, Time},
    },
};

#[component]
pub fn Certificates() -> impl IntoView {
    view! {
        <Title text="Certificates — TrueVault"/>
        <RequireUser children=|_u: CurrentUser| view! { <CertsPageView/> }/>
    }
}

/// The browser's key for the next certificate: the CSR that goes in the
/// form and the private key that stays here (offered as a file).
#[derive(Clone, Default)]
// The private half is only read by the hydrated page.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct LocalKey {
    csr: String,
    private_pem: String,
}

fn data_url(mime: &str, b64: &str) -> String {
    format!("data:{mime};base64,{b64}")
}

fn pem_data_url(pem: &str) -> String {
    use base64::{engine::general_purpose::STANDARD, Engine};
    data_url("application/x-pem-file", &STANDARD.encode(pem))
}

#[component]
fn CertsPageView() -> impl IntoView {
    let issue = ServerAction::<IssueCert>::new();
    let renew = ServerAction::<RenewCert>::new();
    let revoke = ServerAction::<RevokeCert>::new();
    let page = Resource::new(
        move || {
            (
                issue.version().get(),
                renew.version().get(),
                revoke.version().get(),
            )
        },
        |_| certs_overview(),
    );
    let key_mode = RwSignal::new("browser".to_string());
    let kind = RwSignal::new("device".to_string());
    let next_key = RwSignal::new(LocalKey::default());
    // The private key of the certificate just issued from this browser.
    let issued_key = RwSignal::new(None::<String>);
    let issue_form = NodeRef::<leptos::html::Form>::new();
    // Once hydrated, a fresh key pair waits for each certificate; the one
    // just used moves to `issued_key` for its download.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        issue.version().track();
        if issue.value().get_untracked().is_some_and(|r| r.is_ok()) {
            let used = next_key.get_untracked();
            let browser = key_mode.get_untracked() == "browser";
            issued_key.set((browser && !used.private_pem.is_empty()).then_some(used.private_pem));
            if let Some(form) = issue_form.get_untracked() {
                form.reset();
            }
            kind.set("device".into());
            key_mode.set("browser".into());
        }
        next_key.set(LocalKey::default());
        leptos::task::spawn_local(async move {
            match crate::certs::keygen::make("TrueVault browser key").await {
                Ok(k) => next_key.set(LocalKey {
                    csr: k.csr_pem,
                    private_pem: k.private_pem,
                }),
                Err(e) => leptos::logging::warn!("browser key: {e}"),
            }
        });
    });
    let browser_ready = move || !next_key.get().csr.is_empty();
    view! {
        <h1>"Certificates"</h1>
        <p class="muted">"Your own certificate authority: certificates for your devices (they prove who they are to your home services), your regional identities, and your home services (so your browser trusts https://nas.… at home without warnings). Only devices that trust your root accept them; nobody else's certificates pass."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || page.get().map(|r| match r {
                Err(e) => view! { <p class="notice error" data-code=e.code()>{error_text(&e)}</p> }.into_any(),
                Ok(p) => view! { <Authority p=p.clone()/> <CertList p=p renew revoke/> }.into_any(),
            })}
        </Suspense>
        <section class="card" data-testid="issue-cert">
            <h2>"New certificate"</h2>
            <ActionForm action=issue node_ref=issue_form attr:class="form grid-form">
                <label>"Name" <input type="text" name="form[name]" required maxlength="64" placeholder="Ada's phone"/></label>
                <label>"For"
                    <select name="form[kind]" on:change=move |ev| kind.set(event_target_value(&ev)) prop:value=move || kind.get()>
                        {CertKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || kind.get() != "service">"Names and addresses"
                    <textarea name="form[names]" rows="3" maxlength="5200" placeholder="nas.u1.tv.home.arpa 192.168.1.20" data-testid="cert-names"></textarea>
                    <Suspense fallback=|| ()>
                        {move || page.get().and_then(|r| r.ok()).map(|p| view! {
                            <span class="muted small">{format!("Names under {} (anything.{}), your home network's devices and your home sites' addresses. Yours: {}", p.suffix, p.suffix, if p.suggestions.is_empty() { "none found yet".to_string() } else { p.suggestions.join(", ") })}</span>
                        })}
                    </Suspense>
                </label>
                <label>"Key"
                    <select on:change=move |ev| key_mode.set(event_target_value(&ev)) prop:value=move || key_mode.get() data-testid="key-mode">
                        <option value="browser">"In this browser (recommended)"</option>
                        <option value="server">"On the server: a .p12 file with a password"</option>
                    </select>
                    <span class="muted small">{move || if key_mode.get() == "browser" {
                        if browser_ready() { "Made here: only a certificate request reaches TrueVault; you download the private key." } else { "Making a key in this browser…" }
                    } else {
                        "For phones and browsers that import .p12 files. The server forgets the key once the file is handed over."
                    }}</span>
                </label>
                <input type="hidden" name="form[csr]" prop:value=move || next_key.get().csr prop:disabled=move || key_mode.get() != "browser"/>
                <label class:hidden=move || key_mode.get() == "browser">"File password"
                    <input type="password" name="form[password]" minlength="8" maxlength="128" autocomplete="new-password" prop:disabled=move || key_mode.get() == "browser"/>
                </label>
                <button type="submit" class="btn btn-primary" data-testid="issue" prop:disabled=move || key_mode.get() == "browser" && !browser_ready()>"Issue certificate"</button>
            </ActionForm>
            <noscript><p class="muted small">"Without JavaScript the key is made on the server: choose the .p12 option and give the file a password."</p></noscript>
            <ActionError value=issue.value()/>
            {move || issue.value().get().and_then(|r| r.ok()).map(|i| view! { <IssuedFiles issued=i key=issued_key.get()/> })}
            <ActionError value=renew.value()/>
            {move || renew.value().get().and_then(|r| r.ok()).map(|i| view! { <IssuedFiles issued=i key=None/> })}
            <ActionError value=revoke.value()/>
        </section>
        <PlatformGuide/>
    }
}

#[component]
fn IssuedFiles(issued: Issued, key: Option<String>) -> impl IntoView {
    let id = issued.id.0;
    view! {
        <div class="notice success" data-testid="issued">
            <p>"Certificate issued. Download what the device needs:"</p>
            <ul class="plain">
                <li><a href=format!("/certificates/download/{id}/cert.pem") download data-testid="issued-cert">"Certificate (PEM)"</a></li>
                <li><a href=format!("/certificates/download/{id}/chain.pem") download>"Certificate and root (chain, PEM)"</a></li>
                {key.map(|k| view! {
                    <li><a href=pem_data_url(&k) download="private-key.pem" data-testid="issued-key">"Private key (PEM) — made in this browser; keep it safe, it is not stored anywhere else"</a></li>
                })}
                {issued.pkcs12_b64.map(|p| view! {
                    <li><a href=data_url("application/x-pkcs12", &p) download=format!("certificate-{id}.p12") data-testid="issued-p12">"Key and certificate (.p12, protected by your password) — shown once"</a></li>
                })}
            </ul>
            <pre class="config" data-testid="issued-pem">{issued.cert_pem}</pre>
        </div>
    }
}

#[component]
fn Authority(p: CertsPage) -> impl IntoView {
    let limit = match p.limit {
        Some(n) => format!("{} of {n} live certificates", p.live),
        None => plural(p.live, "live certificate", "live certificates"),
    };
    view! {
        <section class="card" data-testid="cert-authority">
            <h2>"Your certificate authority"</h2>
            {(!p.allowed).then(|| view! {
                <p class="notice warning" data-code="CERTS_NOT_IN_PLAN">"Your plan does not include personal certificates, so no new ones can be issued. Certificates you already have stay valid until they end. "<a href="/billing">"See plans"</a></p>
            })}
            {match p.ca {
                None => view! { <p class="muted">"Made when you issue your first certificate: an ECDSA P-256 root that only signs your certificates. Its private key is sealed on our server and never shown."</p> }.into_any(),
                Some(ca) => view! {
                    <dl class="facts">
                        <dt>"Root"</dt><dd>{ca.subject.clone()}</dd>
                        <dt>"SHA-256 fingerprint"</dt><dd><code class="small">{ca.fingerprint.clone()}</code></dd>
                        <dt>"Valid until"</dt><dd><Time ts=ca.not_after day_only=true/></dd>
                        <dt>"Revocation list"</dt><dd><code class="small">{ca.crl_url.clone()}</code></dd>
                    </dl>
                    <a class="btn btn-ghost" href=format!("/certificates/ca/{}/root.pem", ca.id.0) download data-testid="root-download">"Download the root certificate"</a>
                }.into_any(),
            }}
            <p class="muted small">{format!("{limit}; each is valid {} days.", p.validity_days)}</p>
        </section>
    }
}

fn status_class(s: CertStatus) -> &'static str {
    match s {
        CertStatus::Valid => "dot online",
        CertStatus::ExpiringSoon => "dot warning",
        CertStatus::Expired | CertStatus::Revoked => "dot offline",
    }
}

#[component]
fn CertList(
    p: CertsPage,
    renew: ServerAction<RenewCert>,
    revoke: ServerAction<RevokeCert>,
) -> impl IntoView {
    if p.certs.is_empty() {
        return view! { <p class="muted" data-testid="no-certs">"No certificates yet."</p> }
            .into_any();
    }
    let allowed = p.allowed;
    view! {
        <div class="table-wrap"><table class="table stack" data-testid="certs">
            <thead><tr><th>"Certificate"</th><th>"For"</th><th>"Names"</th><th>"Status"</th><th>"Ends"</th><th>"Actions"</th></tr></thead>
            <tbody>
                {p.certs.into_iter().map(|c| view! { <CertRow c=c allowed renew revoke/> }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

#[component]
fn CertRow(
    c: CertInfo,
    allowed: bool,
    renew: ServerAction<RenewCert>,
    revoke: ServerAction<RevokeCert>,
) -> impl IntoView {
    let id = c.id.0;
    let live = c.status.is_live();
    let origin = match c.key_origin {
        KeyOrigin::Csr => "key made on your device",
        KeyOrigin::Server => "key made on the server (.p12)",
    };
    view! {
        <tr data-testid="cert-row">
            <td data-label="Certificate">{c.name.clone()}<br/><span class="muted small">{origin}</span></td>
            <td data-label="For">{c.kind.label()}</td>
            <td data-label="Names" class="small">{if c.names.is_empty() { "—".to_string() } else { c.names.join(", ") }}</td>
            <td data-label="Status"><span class=status_class(c.status)></span>" "{c.status.label()}</td>
            <td data-label="Ends"><Time ts=c.not_after day_only=true/></td>
            <td data-label="Actions">
                <a class="btn btn-ghost small" href=format!("/certificates/download/{id}/cert.pem") download>"PEM"</a>
                <a class="btn btn-ghost small" href=format!("/certificates/download/{id}/chain.pem") download>"Chain"</a>
                {(live && allowed).then(|| view! {
                    <ActionForm action=renew attr:class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="btn btn-ghost small">"Renew"</button>
                    </ActionForm>
                })}
                {live.then(|| view! {
                    <Confirm label="Revoke" question=format!("Revoke “{}”? Devices and services that check the revocation list stop accepting it; this cannot be undone.", c.name)>
                        <ActionForm action=revoke attr:class="inline-form">
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="btn btn-danger small">"Revoke for good"</button>
                        </ActionForm>
                    </Confirm>
                })}
            </td>
        </tr>
    }
}

#[component]
fn PlatformGuide() -> impl IntoView {
    view! {
        <section class="card" data-testid="cert-guide">
            <h2>"What each certificate is for"</h2>
            <dl class="facts">
                <dt>"Device"</dt><dd>"A client certificate (TLS client authentication) for a phone, laptop or browser: home services that ask for a certificate from your root let that device in and nobody else."</dd>
                <dt>"Region identity"</dt><dd>"A client certificate naming one of your regional identities, for services that should only admit that identity."</dd>
                <dt>"Home service"</dt><dd>"A server certificate (TLS server authentication) for a service at home — your NAS, printer or a mesh name under your suffix — so https to it is trusted on devices that trust your root. It names exactly the hosts and addresses you list, and only ones that are yours."</dd>
            </dl>
            <h2>"Trusting your root"</h2>
            <p class="muted">"Download the root certificate above and install it on each device that should trust your home services. Compare the SHA-256 fingerprint the device shows with the one above."</p>
            <dl class="facts">
                <dt>"iPhone, iPad"</dt><dd>"Open the root file (AirDrop, Mail or Safari) → Settings → Profile Downloaded → Install; then Settings → General → About → Certificate Trust Settings → turn on full trust for it. A .p12 installs the same way (you type its password)."</dd>
                <dt>"Android"</dt><dd>"Settings → Security → More security settings → Encryption & credentials → Install a certificate → CA certificate, and pick the root file. For a device certificate choose \"VPN & app user certificate\" and the .p12 file. Apps must opt in to user-installed roots; Chrome does."</dd>
                <dt>"macOS"</dt><dd>"Double-click the root file to add it to the login keychain, open it in Keychain Access → Trust → \"Always Trust\". Double-click a .p12 to import a device certificate."</dd>
                <dt>"Windows"</dt><dd>"Double-click the root file → Install Certificate → Current User → \"Place all certificates in the following store\" → Trusted Root Certification Authorities. Double-click a .p12 to import a device certificate into Personal."</dd>
                <dt>"Linux (Debian, Ubuntu)"</dt><dd><code>"sudo cp truevault-root.pem /usr/local/share/ca-certificates/truevault-root.crt && sudo update-ca-certificates"</code></dd>
                <dt>"Firefox"</dt><dd>"Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import, tick \"Trust this CA to identify websites\". Device certificates go under Your Certificates → Import (.p12)."</dd>
                <dt>"A home service"</dt><dd>"Give it the certificate chain and its private key (nginx: ssl_certificate chain.pem; ssl_certificate_key private-key.pem). To require device certificates: ssl_client_certificate truevault-root.pem; ssl_verify_client on; ssl_crl with the revocation list above, fetched regularly."</dd>
            </dl>
            <p class="muted small">"Keys are ECDSA P-256: every phone, browser and operating system accepts them. Ed25519 would be smaller, but browsers and phones still refuse Ed25519 client and server certificates."</p>
        </section>
    }
}

/// The dashboard's card, for users whose plan includes certificates (or who have some).
#[component]
pub fn CertsCard(
    data: Resource<Result<crate::certs::model::CertCounts, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move { data.await.ok().filter(|p| p.allowed || p.total > 0).map(|p| view! {
                <article class="card" data-testid="certs-card">
                    <h2>"Certificates"</h2>
                    <p class="muted">{if p.total == 0 {
                        "Your own certificate authority: trusted https for home services and certificates for your devices.".to_string()
                    } else {
                        plural(p.live, "live certificate", "live certificates")
                    }}</p>
                    <a class="btn btn-primary" href="/certificates">"Open certificates"</a>
                </article>
            }) })}
        </Suspense>
    }
}
