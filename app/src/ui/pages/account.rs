//! Account settings: profile, password, two-factor, sessions, theme, API keys,
//! the developer section (a business on the platform).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::{
        model::CurrentUser,
        server_fns::{
            list_sessions, ChangePassword, RevokeOtherSessions, TotpBegin, TotpConfirm,
            TotpDisable, UpdateProfile,
        },
    },
    themes::server_fns::{theme_choices, ChooseTheme},
    ui::components::{
        confirm::Confirm,
        guard::RequireUser,
        notice::{error_notice, ActionError, ActionNotice, Time},
    },
};

#[component]
pub fn Account() -> impl IntoView {
    let api_keys = super::api_keys::ApiKeysData::new();
    let developer = super::developer::DeveloperData::new();
    view! {
        <Title text="Account — TrueVault"/>
        <RequireUser children=move |u: CurrentUser| view! {
            <h1>"Account & security"</h1>
            <div class="grid two">
                <Profile user=u.clone()/>
                <Password/>
                <TwoFactor enabled=u.totp_enabled/>
                <ThemeChoice/>
                <Sessions/>
                <super::api_keys::ApiKeys data=api_keys/>
                <super::developer::Developer data=developer/>
            </div>
        }/>
    }
}

#[component]
fn Profile(user: CurrentUser) -> impl IntoView {
    let action = ServerAction::<UpdateProfile>::new();
    view! {
        <section class="card">
            <h2>"Profile"</h2>
            <ActionForm action=action attr:class="form">
                <label>"E-mail" <input type="email" value=user.email.clone() disabled/></label>
                <label>"First name" <input type="text" name="first_name" value=user.first_name.clone() maxlength="100"/></label>
                <button type="submit" class="btn btn-primary">"Save"</button>
            </ActionForm>
            <ActionNotice value=action.value()/>
        </section>
    }
}

#[component]
fn Password() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    view! {
        <section class="card">
            <h2>"Password"</h2>
            <ActionForm action=action attr:class="form">
                <label>"Current password" <input type="password" name="current_password" required autocomplete="current-password"/></label>
                <label>"New password" <input type="password" name="new_password" required minlength="12" maxlength="128" autocomplete="new-password"/></label>
                <button type="submit" class="btn btn-primary">"Change password"</button>
            </ActionForm>
            <ActionNotice value=action.value()/>
        </section>
    }
}

#[component]
fn TwoFactor(enabled: bool) -> impl IntoView {
    let begin = ServerAction::<TotpBegin>::new();
    let confirm = ServerAction::<TotpConfirm>::new();
    let disable = ServerAction::<TotpDisable>::new();
    view! {
        <section class="card" data-testid="twofa">
            <h2>"Two-factor authentication"</h2>
            {if enabled {
                view! {
                    <p>"Two-factor authentication is " <strong>"on"</strong> "."</p>
                    <ActionForm action=disable attr:class="form">
                        <label>"Password" <input type="password" name="password" required autocomplete="current-password"/></label>
                        <button type="submit" class="btn btn-danger">"Turn off"</button>
                    </ActionForm>
                    <ActionNotice value=disable.value()/>
                }.into_any()
            } else {
                view! {
                    <p>"Protect your account with an authenticator app (RFC 6238 codes)."</p>
                    <ActionForm action=begin attr:class="form">
                        <button type="submit" class="btn btn-primary">"Set up two-factor"</button>
                    </ActionForm>
                    <ActionError value=begin.value()/>
                    {move || begin.value().get().and_then(|r| r.ok()).map(|enrol| view! {
                        <div class="enrol">
                            <p>"Add this key to your authenticator app, then enter the code it shows."</p>
                            <p><code data-testid="totp-secret">{enrol.secret_base32.clone()}</code></p>
                            <p class="muted small">{enrol.otpauth_uri.clone()}</p>
                            <ActionForm action=confirm attr:class="form">
                                <label>"Code" <input type="text" name="code" required maxlength="32" inputmode="numeric" autocomplete="one-time-code"/></label>
                                <button type="submit" class="btn btn-primary">"Turn on"</button>
                            </ActionForm>
                        </div>
                    })}
                    <ActionError value=confirm.value()/>
                    {move || confirm.value().get().and_then(|r| r.ok()).map(|codes| view! {
                        <div class="notice success" data-testid="recovery-codes">
                            <p>"Two-factor authentication is on. Keep these recovery codes somewhere safe; each works once:"</p>
                            <ul class="codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
                        </div>
                    })}
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn ThemeChoice() -> impl IntoView {
    let action = ServerAction::<ChooseTheme>::new();
    let choices = Resource::new(move || action.version().get(), |_| theme_choices());
    view! {
        <section class="card">
            <h2>"Theme"</h2>
            <Suspense fallback=|| ()>
                {move || choices.get().map(|r| match r {
                    Err(e) => error_notice(&e).into_any(),
                    Ok((themes, chosen)) => view! {
                        <ActionForm action=action attr:class="form">
                            <label>"Look of the site"
                                <select name="slug">
                                    <option value="" selected=chosen.is_none()>"Site default"</option>
                                    {themes.into_iter().map(|t| {
                                        let selected = chosen.as_deref() == Some(t.slug.as_str());
                                        view! { <option value=t.slug.clone() selected=selected>{t.name.clone()}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                            <button type="submit" class="btn btn-primary">"Use this theme"</button>
                        </ActionForm>
                    }.into_any(),
                })}
            </Suspense>
            <ActionError value=action.value()/>
        </section>
    }
}

#[component]
fn Sessions() -> impl IntoView {
    let revoke = ServerAction::<RevokeOtherSessions>::new();
    let sessions = Resource::new(move || revoke.version().get(), |_| list_sessions());
    view! {
        <section class="card">
            <h2>"Your sessions"</h2>
            <Suspense fallback=|| ()>
                {move || sessions.get().map(|r| match r {
                    Err(e) => error_notice(&e).into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap"><table class="table stack" data-testid="sessions">
                            <thead><tr><th>"Started"</th><th>"Last seen"</th><th>"Browser"</th><th>"Address"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|s| view! {
                                    <tr class:current=s.current>
                                        <td data-label="Started"><Time ts=s.created_at/></td>
                                        <td data-label="Last seen"><Time ts=s.last_seen_at/>{s.current.then_some(" (this one)")}</td>
                                        <td data-label="Browser" class="truncate" title=s.user_agent.clone()>{s.user_agent.clone()}</td>
                                        <td data-label="Address"><code>{s.ip.clone()}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any(),
                })}
            </Suspense>
            <Confirm label="Sign out everywhere else" question="Sign out every other browser and device? This one stays signed in; the others must sign in again.".to_string()>
                <ActionForm action=revoke attr:class="form">
                    <button type="submit" class="btn btn-danger small">"Yes, sign them out"</button>
                </ActionForm>
            </Confirm>
            <ActionNotice value=revoke.value()/>
        </section>
    }
}
