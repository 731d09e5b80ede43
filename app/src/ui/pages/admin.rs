//! Admin pages: users, themes (edit, preview, activate), plans, mail
//! outbox, audit log.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    accounts::model::{AccountStatus, CurrentUser},
    admin::server_fns::{
        admin_audit, admin_outbox, admin_users, AdminSetRole, AdminSetStatus, AdminSetVip,
    },
    billing::{
        model::format_price,
        server_fns::{admin_plans, AdminSavePlan},
    },
    themes::server_fns::{
        admin_theme, admin_themes, AdminActivateTheme, AdminCreateTheme, AdminPublishTheme,
        AdminSetThemeVariable,
    },
    ui::components::{
        guard::RequireAdmin,
        notice::{error_text, format_time, ActionError, ActionNotice},
    },
};

fn error_view(e: &crate::error::AppError) -> AnyView {
    view! { <p class="notice error" data-code=e.code()>{error_text(e)}</p> }.into_any()
}

#[component]
pub fn AdminUsers() -> impl IntoView {
    view! {
        <Title text="Users — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <UsersTable/> }/>
    }
}

#[component]
fn UsersTable() -> impl IntoView {
    let query = use_query_map();
    let status = ServerAction::<AdminSetStatus>::new();
    let role = ServerAction::<AdminSetRole>::new();
    let vip = ServerAction::<AdminSetVip>::new();
    let q = move || query.read().get("q").unwrap_or_default();
    let users = Resource::new(
        move || {
            (
                q(),
                status.version().get(),
                role.version().get(),
                vip.version().get(),
            )
        },
        |(q, ..)| admin_users(q),
    );
    view! {
        <h1>"Users"</h1>
        <form method="get" class="form inline">
            <input type="search" name="q" value=q placeholder="Search by e-mail or name" maxlength="100"/>
            <button type="submit" class="btn btn-ghost">"Search"</button>
        </form>
        <ActionError value=status.value()/>
        <ActionError value=role.value()/>
        <ActionError value=vip.value()/>
        <Suspense fallback=|| ()>
            {move || users.get().map(|r| match r {
                Err(e) => error_view(&e),
                Ok(list) if list.is_empty() => view! { <p class="muted">"No users match."</p> }.into_any(),
                Ok(list) => view! {
                    <table class="table" data-testid="users">
                        <thead><tr><th>"E-mail"</th><th>"Name"</th><th>"Plan"</th><th>"Joined"</th><th>"Status"</th><th>"Role"</th><th>"VIP"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|u| view! {
                                <tr>
                                    <td>{u.email.clone()}</td>
                                    <td>{u.first_name.clone()}</td>
                                    <td>{u.plan.clone()}</td>
                                    <td>{format_time(u.created_at)}</td>
                                    <td>
                                        <ActionForm action=status attr:class="inline-form">
                                            <input type="hidden" name="user_id" value=u.id/>
                                            <select name="status">
                                                {AccountStatus::ALL.into_iter().map(|s| view! {
                                                    <option value=s.as_str() selected=s == u.status>{s.as_str()}</option>
                                                }).collect_view()}
                                            </select>
                                            <button type="submit" class="btn btn-ghost small">"Set"</button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        <ActionForm action=role attr:class="inline-form">
                                            <input type="hidden" name="user_id" value=u.id/>
                                            <input type="hidden" name="role" value=if u.role.as_str() == "admin" { "user" } else { "admin" }/>
                                            <span>{u.role.as_str()}</span>
                                            <button type="submit" class="btn btn-ghost small">
                                                {if u.role.as_str() == "admin" { "Make user" } else { "Make admin" }}
                                            </button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        <ActionForm action=vip attr:class="inline-form">
                                            <input type="hidden" name="email" value=u.email.clone()/>
                                            <input type="hidden" name="vip" value=(!u.vip).to_string()/>
                                            <button type="submit" class="btn btn-ghost small">{if u.vip { "VIP ✓ (remove)" } else { "Make VIP" }}</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn AdminThemes() -> impl IntoView {
    view! {
        <Title text="Themes — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <ThemeList/> }/>
    }
}

#[component]
fn ThemeList() -> impl IntoView {
    let create = ServerAction::<AdminCreateTheme>::new();
    let activate = ServerAction::<AdminActivateTheme>::new();
    let publish = ServerAction::<AdminPublishTheme>::new();
    let themes = Resource::new(
        move || {
            (
                create.version().get(),
                activate.version().get(),
                publish.version().get(),
            )
        },
        |_| admin_themes(),
    );
    view! {
        <h1>"Themes"</h1>
        <ActionError value=activate.value()/>
        <ActionError value=publish.value()/>
        <Suspense fallback=|| ()>
            {move || themes.get().map(|r| match r {
                Err(e) => error_view(&e),
                Ok(list) => view! {
                    <table class="table" data-testid="themes">
                        <thead><tr><th>"Name"</th><th>"Slug"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {list.clone().into_iter().map(|t| view! {
                                <tr>
                                    <td><a href=format!("/admin/themes/{}", t.id)>{t.name.clone()}</a></td>
                                    <td><code>{t.slug.clone()}</code></td>
                                    <td>{if t.is_active { "active" } else if t.is_published { "published" } else { "draft" }}</td>
                                    <td class="row-actions">
                                        {(!t.is_active).then(|| view! {
                                            <ActionForm action=activate attr:class="inline-form">
                                                <input type="hidden" name="id" value=t.id/>
                                                <button type="submit" class="btn btn-ghost small">"Activate"</button>
                                            </ActionForm>
                                            <ActionForm action=publish attr:class="inline-form">
                                                <input type="hidden" name="id" value=t.id/>
                                                <input type="hidden" name="published" value=(!t.is_published).to_string()/>
                                                <button type="submit" class="btn btn-ghost small">{if t.is_published { "Unpublish" } else { "Publish" }}</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <section class="card">
                        <h2>"New theme"</h2>
                        <ActionForm action=create attr:class="form">
                            <label>"Name" <input type="text" name="name" required maxlength="60"/></label>
                            <label>"Slug" <input type="text" name="slug" required maxlength="40" pattern="[a-z0-9]+(-[a-z0-9]+)*"/></label>
                            <label>"Start from"
                                <select name="copy_from">
                                    {list.into_iter().map(|t| view! { <option value=t.id>{t.name.clone()}</option> }).collect_view()}
                                </select>
                            </label>
                            <button type="submit" class="btn btn-primary">"Create"</button>
                        </ActionForm>
                        <ActionError value=create.value()/>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn AdminThemeEdit() -> impl IntoView {
    view! {
        <Title text="Edit theme — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <ThemeEditor/> }/>
    }
}

#[component]
fn ThemeEditor() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let save = ServerAction::<AdminSetThemeVariable>::new();
    let theme = Resource::new(
        move || (id(), save.version().get()),
        |(id, _)| admin_theme(id),
    );
    view! {
        <Suspense fallback=|| ()>
            {move || theme.get().map(|r| match r {
                Err(e) => error_view(&e),
                Ok(t) => {
                    let theme_id = t.summary.id;
                    let version = save.version().get_untracked();
                    view! {
                        <h1>{format!("Theme: {}", t.summary.name)}</h1>
                        <p class="muted">"Each value becomes a CSS custom property. Values cannot contain ; { } < > \\ or url(…)."</p>
                        <div data-testid="theme-save-result"><ActionNotice value=save.value()/></div>
                        <table class="table" data-testid="theme-vars">
                            <thead><tr><th>"Property"</th><th>"Value"</th><th></th></tr></thead>
                            <tbody>
                                {t.variables.into_iter().map(|v| {
                                    let prop = format!("--{}-{}", v.category, v.name);
                                    let (p1, p2) = (prop.clone(), prop.clone());
                                    view! {
                                        <tr data-var=p1>
                                            <td><code>{p2}</code></td>
                                            <td colspan="2">
                                                <ActionForm action=save attr:class="inline-form">
                                                    <input type="hidden" name="theme_id" value=theme_id/>
                                                    <input type="hidden" name="category" value=v.category.clone()/>
                                                    <input type="hidden" name="name" value=v.name.clone()/>
                                                    <input type="text" name="value" value=v.value.clone() maxlength="200" aria-label=prop/>
                                                    <button type="submit" class="btn btn-ghost small">"Save"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <section class="card">
                            <h2>"Add a variable"</h2>
                            <ActionForm action=save attr:class="form inline">
                                <input type="hidden" name="theme_id" value=theme_id/>
                                <input type="text" name="category" placeholder="category" required maxlength="40"/>
                                <input type="text" name="name" placeholder="name" required maxlength="40"/>
                                <input type="text" name="value" placeholder="value" required maxlength="200"/>
                                <button type="submit" class="btn btn-primary">"Add"</button>
                            </ActionForm>
                        </section>
                        <section class="card">
                            <h2>"Preview"</h2>
                            <link rel="stylesheet" href=format!("/theme-preview/{theme_id}.css?v={version}")/>
                            <div class="theme-preview" data-testid="theme-preview">
                                <h3>"Heading"</h3>
                                <p>"Body text and " <span class="muted">"muted text"</span> "."</p>
                                <p><button type="button" class="btn btn-primary">"Primary"</button> " "
                                   <button type="button" class="btn btn-ghost">"Ghost"</button></p>
                                <p class="notice success">"Success"</p>
                                <p class="notice error">"Error"</p>
                            </div>
                        </section>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AdminPlans() -> impl IntoView {
    view! {
        <Title text="Plans — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| view! { <PlanEditor/> }/>
    }
}

fn cents_input(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

#[component]
fn PlanEditor() -> impl IntoView {
    let save = ServerAction::<AdminSavePlan>::new();
    let plans = Resource::new(move || save.version().get(), |_| admin_plans());
    view! {
        <h1>"Plans"</h1>
        <p class="muted">"Limits: -1 means unlimited. Prices in USD."</p>
        <ActionNotice value=save.value()/>
        <Suspense fallback=|| ()>
            {move || plans.get().map(|r| match r {
                Err(e) => error_view(&e),
                Ok(list) => list.into_iter().map(|p| view! {
                    <section class="card" data-plan=p.slug.clone()>
                        <h2>{p.name.clone()} " " <span class="muted">{format_price(p.price_monthly_cents, &p.currency)}</span></h2>
                        <ActionForm action=save attr:class="form grid-form">
                            <input type="hidden" name="id" value=p.id/>
                            <label>"Name" <input type="text" name="name" value=p.name.clone() maxlength="60"/></label>
                            <label>"Monthly" <input type="text" name="price_monthly" value=cents_input(p.price_monthly_cents)/></label>
                            <label>"Yearly" <input type="text" name="price_yearly" value=cents_input(p.price_yearly_cents)/></label>
                            <label>"Devices" <input type="number" name="max_devices" value=p.max_devices min="-1"/></label>
                            <label>"Cameras" <input type="number" name="max_cameras" value=p.max_cameras min="-1"/></label>
                            <label>"Identities" <input type="number" name="max_identities" value=p.max_identities min="-1"/></label>
                            <label>"Mesh members" <input type="number" name="max_mesh_members" value=p.max_mesh_members min="-1"/></label>
                            <label>"Data per month (GB, 0 = no cap)" <input type="number" name="data_cap_gb" value=p.data_cap_gb min="0"/></label>
                            <label class="check"><input type="checkbox" name="is_active" value="on" checked=p.is_active/>" Offered"</label>
                            <button type="submit" class="btn btn-primary">"Save"</button>
                        </ActionForm>
                    </section>
                }).collect_view().into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn AdminOutbox() -> impl IntoView {
    view! {
        <Title text="Mail outbox — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| {
            let mails = Resource::new(|| (), |_| admin_outbox());
            view! {
                <h1>"Mail outbox"</h1>
                <p class="muted">"Every message the portal sent. Without SMTP configured, messages stay here with their text."</p>
                <Suspense fallback=|| ()>
                    {move || mails.get().map(|r| match r {
                        Err(e) => error_view(&e),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No mail has been sent yet."</p> }.into_any(),
                        Ok(list) => list.into_iter().map(|m| view! {
                            <details class="card mail">
                                <summary>{format!("{} — {} — {} ({})", format_time(m.created_at), m.to_addr, m.subject, m.status)}</summary>
                                <pre>{m.body_text.clone().unwrap_or_else(|| "(sent by SMTP; body not kept)".into())}</pre>
                            </details>
                        }).collect_view().into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}

#[component]
pub fn AdminAudit() -> impl IntoView {
    view! {
        <Title text="Audit log — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| {
            let entries = Resource::new(|| (), |_| admin_audit());
            view! {
                <h1>"Audit log"</h1>
                <Suspense fallback=|| ()>
                    {move || entries.get().map(|r| match r {
                        Err(e) => error_view(&e),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"Nothing recorded yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="table">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Address"</th><th>"Details"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|a| view! {
                                        <tr><td>{format_time(a.at)}</td><td>{a.actor}</td><td><code>{a.action}</code></td><td>{a.target}</td><td>{a.ip}</td><td>{a.details}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
