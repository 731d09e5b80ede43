//! The account page's developer section: sign a business up as a tenant
//! (business name, contact), its limits and this month's usage, its
//! credentials (made and regenerated with the secret shown once, revoked)
//! and its branding. Links to the API documentation.

use leptos::prelude::*;

use crate::{
    error::AppError,
    tenants::{
        model::{CredentialInfo, TenantInfo},
        server_fns::{
            my_tenant, tenant_credentials, TenantBranding, TenantCredentialCreate,
            TenantCredentialRegenerate, TenantCredentialRevoke, TenantSignup,
        },
    },
    ui::components::notice::{error_notice, ActionError, Time},
};

type Loaded = Resource<Result<Option<(TenantInfo, Vec<CredentialInfo>)>, AppError>>;

/// The card's actions and data, made by the page outside `RequireUser` and
/// awaited inside a `Suspend` (see `api_keys::ApiKeysData`).
#[derive(Clone, Copy)]
pub struct DeveloperData {
    signup: ServerAction<TenantSignup>,
    branding: ServerAction<TenantBranding>,
    create: ServerAction<TenantCredentialCreate>,
    regenerate: ServerAction<TenantCredentialRegenerate>,
    revoke: ServerAction<TenantCredentialRevoke>,
    loaded: Loaded,
}

impl DeveloperData {
    pub fn new() -> Self {
        let signup = ServerAction::<TenantSignup>::new();
        let branding = ServerAction::<TenantBranding>::new();
        let create = ServerAction::<TenantCredentialCreate>::new();
        let regenerate = ServerAction::<TenantCredentialRegenerate>::new();
        let revoke = ServerAction::<TenantCredentialRevoke>::new();
        let loaded = Resource::new(
            move || {
                (
                    signup.version().get(),
                    branding.version().get(),
                    create.version().get(),
                    regenerate.version().get(),
                    revoke.version().get(),
                )
            },
            |_| async move {
                match my_tenant().await? {
                    None => Ok(None),
                    Some(t) => Ok(Some((t, tenant_credentials().await?))),
                }
            },
        );
        DeveloperData {
            signup,
            branding,
            create,
            regenerate,
            revoke,
            loaded,
        }
    }
}

fn limit(n: Option<i64>) -> String {
    n.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

#[component]
pub fn Developer(data: DeveloperData) -> impl IntoView {
    let DeveloperData {
        signup,
        branding,
        create,
        regenerate,
        revoke,
        loaded,
    } = data;
    let shown = move || {
        create
            .value()
            .get()
            .or_else(|| regenerate.value().get())
            .and_then(|r| r.ok())
    };
    view! {
        <section class="card" data-testid="developer">
            <h2>"Developer: your business on the platform"</h2>
            <p class="muted small">
                "Put the VPN into your own app for your own users. "
                <a href="/api/docs">"API documentation"</a>
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { match loaded.await {
                    Err(e) => error_notice(&e).into_any(),
                    Ok(None) => view! {
                        <ActionForm action=signup attr:class="form" attr:data-testid="tenant-signup">
                            <label>"Business name" <input type="text" name="name" required maxlength="80"/></label>
                            <label>"Contact e-mail" <input type="email" name="contact_email" required/></label>
                            <button type="submit" class="btn btn-primary">"Sign the business up"</button>
                        </ActionForm>
                    }.into_any(),
                    Ok(Some((t, creds))) => view! {
                        <p data-testid="tenant" data-status=t.status.as_str()>
                            <strong>{t.name.clone()}</strong>" · "{t.plan.clone()}" · "{t.status.as_str()}
                        </p>
                        <p class="muted small">
                            {format!("Users {} of {}, devices {} of {}, API calls this month {}.",
                                t.usage.users, limit(t.limits.users), t.usage.devices, limit(t.limits.devices), t.usage.api_calls)}
                        </p>
                        <h3>"Credentials"</h3>
                        <ActionForm action=create attr:class="form">
                            <label>"Name" <input type="text" name="name" required maxlength="64"/></label>
                            <button type="submit" class="btn btn-primary">"Create credential"</button>
                        </ActionForm>
                        {(!creds.is_empty()).then(|| view! {
                            <div class="table-wrap"><table class="table stack" data-testid="credential-list">
                                <thead><tr><th>"Name"</th><th>"Key id"</th><th>"Created"</th><th>"Last used"</th><th>"Calls this month"</th><th></th></tr></thead>
                                <tbody>{creds.into_iter().map(|c| {
                                    let live = c.revoked_at.is_none();
                                    view! {
                                        <tr data-testid="credential-row" data-status=if live { "active" } else { "revoked" }>
                                            <td data-label="Name">{c.name.clone()}</td>
                                            <td data-label="Key id"><code>{c.key_id.clone()}</code></td>
                                            <td data-label="Created"><Time ts=c.created_at/></td>
                                            <td data-label="Last used">{match c.last_used_at {
                                                Some(ts) => view! { <Time ts=ts/> }.into_any(),
                                                None => view! { <span class="muted">"never"</span> }.into_any(),
                                            }}</td>
                                            <td data-label="Calls this month">{c.calls_this_month}</td>
                                            <td>{live.then(|| view! {
                                                <ActionForm action=regenerate attr:class="inline-form">
                                                    <input type="hidden" name="id" value=c.id.0/>
                                                    <button type="submit" class="btn small">"Regenerate"</button>
                                                </ActionForm>
                                                <ActionForm action=revoke attr:class="inline-form">
                                                    <input type="hidden" name="id" value=c.id.0/>
                                                    <button type="submit" class="btn btn-danger small">"Revoke"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table></div>
                        })}
                        <h3>"Branding"</h3>
                        <ActionForm action=branding attr:class="form">
                            <label>"Name your users see" <input type="text" name="brand_name" required maxlength="80" value=t.branding.brand_name.clone()/></label>
                            <label>"Logo (https:// address)" <input type="url" name="logo_url" value=t.branding.logo_url.clone().unwrap_or_default()/></label>
                            <label>"Theme id (empty: the portal's)" <input type="number" name="theme_id" min="1" value=t.branding.theme_id.map(|i| i.to_string()).unwrap_or_default()/></label>
                            <button type="submit" class="btn">"Save branding"</button>
                        </ActionForm>
                    }.into_any(),
                } })}
            </Suspense>
            <ActionError value=signup.value()/>
            <ActionError value=create.value()/>
            <ActionError value=regenerate.value()/>
            <ActionError value=revoke.value()/>
            <ActionError value=branding.value()/>
            {move || branding.value().get().and_then(|r| r.ok()).map(|_| view! {
                <p class="notice success" data-testid="branding-saved">"Branding saved."</p>
            })}
            {move || shown().map(|c| view! {
                <div class="notice success" data-testid="credential-created">
                    <p>{format!("Credential \"{}\": key id {}. The secret is shown once, keep it somewhere safe:", c.info.name, c.info.key_id)}</p>
                    <pre class="config">{c.secret.clone()}</pre>
                </div>
            })}
        </section>
    }
}
