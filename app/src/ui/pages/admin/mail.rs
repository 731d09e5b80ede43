//! Admin: mail — the outbox (every message sent) and the workflow mail
//! templates.

use leptos::prelude::*;
use leptos_meta::Title;

use super::error_view;
use crate::{
    accounts::model::CurrentUser,
    admin::server_fns::admin_outbox,
    billing::server_fns::{admin_mail_templates, AdminResetMailTemplate, AdminSaveMailTemplate},
    ui::components::{
        guard::RequireAdmin,
        notice::{error_notice, format_time, ActionNotice},
    },
};

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
                                <summary>{format!("{} — ", format_time(m.created_at))}<span class="mail-to">{m.to_addr.clone()}</span>{format!(" — {} ({})", m.subject, m.status)}</summary>
                                {m.link_expires_at.map(|at| {
                                    let live = m.body_text.is_some();
                                    view! {
                                        <p class="notice warning small" data-testid="one-time-link" data-live=live.to_string()>
                                            {one_time_link_notice(live, at)}
                                        </p>
                                    }
                                })}
                                <pre>{m.body_text.clone().unwrap_or_else(|| if m.link_expires_at.is_some() { "(the link expired; body not kept)".into() } else { "(sent by SMTP; body not kept)".into() })}</pre>
                            </details>
                        }).collect_view().into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}

/// One text node (a fixed UTC time, like the line above it): a `<Time>`
/// here, between two texts, rendered differently on the server and in the
/// browser and broke the page's hydration.
fn one_time_link_notice(live: bool, expires_at: i64) -> String {
    if live {
        format!(
            "Carries a one-time link for the addressee only: do not open or forward it. Removed when it expires, {}.",
            format_time(expires_at)
        )
    } else {
        format!(
            "Its one-time link expired {} and its text was removed.",
            format_time(expires_at)
        )
    }
}

#[component]
pub fn AdminMail() -> impl IntoView {
    view! {
        <Title text="Mail templates — Admin — TrueVault"/>
        <RequireAdmin children=|_u: CurrentUser| {
            let save = ServerAction::<AdminSaveMailTemplate>::new();
            let reset = ServerAction::<AdminResetMailTemplate>::new();
            let list = Resource::new(move || (save.version().get(), reset.version().get()), |_| admin_mail_templates());
            view! {
                <h1>"Mail templates"</h1>
                <p class="muted">"Variables: {{ first_name }}, {{ plan_name }}, {{ amount }}, {{ invoice_number }}, {{ dashboard_url }}, {{ support }}, {{ days_left }}."</p>
                <ActionNotice value=save.value()/>
                <ActionNotice value=reset.value()/>
                <Suspense fallback=|| ()>
                    {move || list.get().map(|r| match r {
                        Err(e) => error_notice(&e).into_any(),
                        Ok(list) => list.into_iter().map(|t| {
                            let name = t.name.clone();
                            let form_name = t.name.clone();
                            let (subject, body) = (t.subject.clone(), t.body.clone());
                            view! {
                            <section class="card" data-template=t.name.clone()>
                                <h2>{t.name.clone()}{t.customised.then_some(" (edited)")}</h2>
                                <ActionForm action=save attr:class="form">
                                    <input type="hidden" name="name" value=form_name.clone()/>
                                    <label>"Subject" <input type="text" name="subject" value=subject.clone() maxlength="200"/></label>
                                    <label>"Body" <textarea name="body" rows="8">{body.clone()}</textarea></label>
                                    <button type="submit" class="btn btn-primary">"Save"</button>
                                </ActionForm>
                                {t.customised.then(|| view! {
                                    <ActionForm action=reset attr:class="inline-form">
                                        <input type="hidden" name="name" value=name.clone()/>
                                        <button type="submit" class="btn btn-ghost small">"Back to built-in text"</button>
                                    </ActionForm>
                                })}
                                <details><summary>"Preview"</summary>
                                    <p><strong>{t.preview_subject.clone()}</strong></p>
                                    <pre class="config">{t.preview_body.clone()}</pre>
                                </details>
                            </section>
                        }}).collect_view().into_any(),
                    })}
                </Suspense>
            }
        }/>
    }
}
