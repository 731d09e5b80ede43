//! The account page's API keys: make one (shown once), see when each was
//! last used, revoke. Links to the API documentation the portal serves.

use leptos::prelude::*;

use crate::{
    apikeys::{
        model::Scope,
        server_fns::{list_api_keys, CreateApiKey, RevokeApiKey},
    },
    ui::components::notice::{error_notice, ActionError, Time},
};

type Keys =
    Resource<Result<(Vec<crate::apikeys::model::ApiKeyInfo>, Vec<Scope>), crate::error::AppError>>;

/// The card's actions and list, made by the page outside `RequireUser`:
/// a resource made inside its Suspend is loaded again on each of the SSR's
/// walks of it (see `dashboard::CardData`).
#[derive(Clone, Copy)]
pub struct ApiKeysData {
    create: ServerAction<CreateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    keys: Keys,
}

impl ApiKeysData {
    pub fn new() -> Self {
        let create = ServerAction::<CreateApiKey>::new();
        let revoke = ServerAction::<RevokeApiKey>::new();
        let keys = Resource::new(
            move || (create.version().get(), revoke.version().get()),
            |_| list_api_keys(),
        );
        ApiKeysData {
            create,
            revoke,
            keys,
        }
    }
}

#[component]
pub fn ApiKeys(data: ApiKeysData) -> impl IntoView {
    let ApiKeysData {
        create,
        revoke,
        keys,
    } = data;
    view! {
        <section class="card" data-testid="api-keys">
            <h2>"API keys"</h2>
            <p class="muted small">
                "Scripts and the command-line client call the API with a key. "
                <a href="/api/docs">"API documentation"</a>
                " · "
                <a href="/api/v1/openapi.json">"OpenAPI document"</a>
            </p>
            <Suspense fallback=|| ()>
                {move || keys.get().map(|r| match r {
                    Err(e) => error_notice(&e).into_any(),
                    Ok((_, allowed)) if allowed.is_empty() => view! {
                        <p class="muted" data-testid="api-keys-not-in-plan">"API keys come with the paid plans (every scope with Business)."</p>
                    }.into_any(),
                    Ok((list, allowed)) => {
                        view! {
                            <ActionForm action=create attr:class="form">
                                <label>"Name" <input type="text" name="name" required maxlength="64"/></label>
                                <fieldset>
                                    <legend>"Scopes"</legend>
                                    {allowed.into_iter().map(|s| {
                                        let field = match s {
                                            Scope::Read => "read",
                                            Scope::DevicesWrite => "devices_write",
                                            Scope::CamerasRead => "cameras_read",
                                        };
                                        view! { <label class="check"><input type="checkbox" name=field value="on" checked=s == Scope::Read/>" "<code>{s.as_str()}</code></label> }
                                    }).collect_view()}
                                </fieldset>
                                <label>"Expires after (days, empty for never)" <input type="number" name="expires_days" min="1" max="3650"/></label>
                                <button type="submit" class="btn btn-primary">"Create key"</button>
                            </ActionForm>
                            {(!list.is_empty()).then(|| view! {
                                <div class="table-wrap"><table class="table stack" data-testid="api-key-list">
                                    <thead><tr><th>"Name"</th><th>"Key"</th><th>"Scopes"</th><th>"Created"</th><th>"Last used"</th><th>"Status"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|k| {
                                            let st = k.state.as_str();
                                            view! {
                                                <tr data-testid="api-key-row" data-status=st>
                                                    <td data-label="Name">{k.name.clone()}</td>
                                                    <td data-label="Key"><code>{format!("{}…", k.prefix)}</code></td>
                                                    <td data-label="Scopes">{k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")}</td>
                                                    <td data-label="Created"><Time ts=k.created_at/></td>
                                                    <td data-label="Last used">{match k.last_used_at {
                                                        Some(t) => view! { <Time ts=t/> }.into_any(),
                                                        None => view! { <span class="muted">"never"</span> }.into_any(),
                                                    }}</td>
                                                    <td data-label="Status">{st}</td>
                                                    <td>{(st == "active").then(|| view! {
                                                        <ActionForm action=revoke attr:class="inline-form">
                                                            <input type="hidden" name="id" value=k.id.0/>
                                                            <button type="submit" class="btn btn-danger small">"Revoke"</button>
                                                        </ActionForm>
                                                    })}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                            })}
                        }.into_any()
                    }
                })}
            </Suspense>
            <ActionError value=create.value()/>
            <ActionError value=revoke.value()/>
            {move || create.value().get().and_then(|r| r.ok()).map(|c| view! {
                <div class="notice success" data-testid="api-key-created">
                    <p>{format!("Key \"{}\", shown once. Keep it somewhere safe:", c.info.name)}</p>
                    <pre class="config">{c.key.clone()}</pre>
                </div>
            })}
        </section>
    }
}
