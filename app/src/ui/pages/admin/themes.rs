//! Admin: themes — list, create, activate, publish, edit with a live preview.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::error_view;
use crate::{
    accounts::model::CurrentUser,
    themes::server_fns::{
        admin_theme, admin_themes, AdminActivateTheme, AdminCreateTheme, AdminPublishTheme,
        AdminSetThemeVariable,
    },
    ui::components::{
        guard::RequireAdmin,
        notice::{ActionError, ActionNotice},
    },
};

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
                    <div class="table-wrap"><table class="table" data-testid="themes">
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
                    </table></div>
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
                        <div class="table-wrap"><table class="table" data-testid="theme-vars">
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
                        </table></div>
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
