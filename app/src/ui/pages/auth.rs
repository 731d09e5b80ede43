//! Sign-up, e-mail verification, sign-in (with the TOTP step), password reset.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use leptos::server_fn::ServerFn;

use crate::accounts::server_fns::{
    ForgotPassword, Login, LoginTotp, Register as RegisterFn, ResetPassword, SetupAdmin,
    VerifyEmail,
};
use crate::ui::{
    components::notice::{ActionError, ActionNotice, UrlActionError},
    AuthActions,
};

/// A password field with a show/hide toggle (works once hydrated).
#[component]
fn PasswordField(
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    view! {
        <label>
            {label}
            <span class="password-field">
                <input
                    type=move || if shown.get() { "text" } else { "password" }
                    name=name
                    required
                    minlength="12"
                    maxlength="128"
                    autocomplete=autocomplete
                />
                <button
                    type="button"
                    class="btn btn-ghost toggle"
                    data-testid=format!("toggle-{name}")
                    aria-pressed=move || shown.get().to_string()
                    on:click=move |_| shown.update(|s| *s = !*s)
                >
                    {move || if shown.get() { "Hide" } else { "Show" }}
                </button>
            </span>
        </label>
    }
}

#[component]
pub fn Register() -> impl IntoView {
    let action = ServerAction::<RegisterFn>::new();
    view! {
        <Title text="Create your account — TrueVault"/>
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <ActionForm action=action attr:class="form">
                <label>"First name" <input type="text" name="first_name" maxlength="100" autocomplete="given-name"/></label>
                <label>"E-mail" <input type="email" name="email" required maxlength="254" autocomplete="email"/></label>
                <PasswordField name="password" label="Password (12–128 characters)" autocomplete="new-password"/>
                <button type="submit" class="btn btn-primary">"Create account"</button>
            </ActionForm>
            <ActionNotice value=action.value()/>
            <p class="muted">"Already have an account? " <a href="/login">"Sign in"</a></p>
        </section>
    }
}

#[component]
pub fn Verify() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<VerifyEmail>::new();
    view! {
        <Title text="Confirm your e-mail — TrueVault"/>
        <section class="card narrow">
            <h1>"Confirm your e-mail address"</h1>
            <p>"One click and your account is ready."</p>
            <ActionForm action=action attr:class="form">
                <input type="hidden" name="token" value=token/>
                <button type="submit" class="btn btn-primary">"Confirm my e-mail"</button>
            </ActionForm>
            <ActionError value=action.value()/>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let actions = expect_context::<AuthActions>();
    let query = use_query_map();
    let banner = move || {
        let q = query.read();
        if q.get("verified").is_some() {
            Some("Your e-mail address is confirmed. You can sign in now.")
        } else if q.get("reset").is_some() {
            Some("Your password was changed. Sign in with the new one.")
        } else {
            None
        }
    };
    view! {
        <Title text="Sign in — TrueVault"/>
        <section class="card narrow">
            <h1>"Sign in"</h1>
            {move || banner().map(|b| view! { <p class="notice success">{b}</p> })}
            <ActionForm action=actions.login attr:class="form">
                <label>"E-mail" <input type="email" name="email" required maxlength="254" autocomplete="username"/></label>
                <PasswordField name="password" label="Password" autocomplete="current-password"/>
                <button type="submit" class="btn btn-primary">"Sign in"</button>
            </ActionForm>
            <ActionError value=actions.login.value()/>
            <UrlActionError path={<Login as ServerFn>::PATH}/>
            <p class="muted"><a href="/forgot">"Forgot your password?"</a>" · "<a href="/register">"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn LoginTotpPage() -> impl IntoView {
    let actions = expect_context::<AuthActions>();
    view! {
        <Title text="Two-factor sign-in — TrueVault"/>
        <section class="card narrow">
            <h1>"Enter your code"</h1>
            <p>"Open your authenticator app and enter the 6-digit code, or use one of your recovery codes."</p>
            <ActionForm action=actions.login_totp attr:class="form">
                <label>"Code" <input type="text" name="code" required maxlength="32" inputmode="numeric" autocomplete="one-time-code"/></label>
                <button type="submit" class="btn btn-primary">"Verify"</button>
            </ActionForm>
            <ActionError value=actions.login_totp.value()/>
            <UrlActionError path={<LoginTotp as ServerFn>::PATH}/>
        </section>
    }
}

#[component]
pub fn Forgot() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    view! {
        <Title text="Reset your password — TrueVault"/>
        <section class="card narrow">
            <h1>"Reset your password"</h1>
            <ActionForm action=action attr:class="form">
                <label>"E-mail" <input type="email" name="email" required maxlength="254" autocomplete="email"/></label>
                <button type="submit" class="btn btn-primary">"Send reset link"</button>
            </ActionForm>
            <ActionNotice value=action.value()/>
        </section>
    }
}

#[component]
pub fn Reset() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    view! {
        <Title text="Choose a new password — TrueVault"/>
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <ActionForm action=action attr:class="form">
                <input type="hidden" name="token" value=token/>
                <PasswordField name="password" label="New password (12–128 characters)" autocomplete="new-password"/>
                <button type="submit" class="btn btn-primary">"Save new password"</button>
            </ActionForm>
            <ActionError value=action.value()/>
        </section>
    }
}

/// First run: create the administrator with the link from `first-run-admin.txt`.
#[component]
pub fn Setup() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<SetupAdmin>::new();
    view! {
        <Title text="Create the administrator — TrueVault"/>
        <section class="card narrow">
            <h1>"Create the administrator"</h1>
            <p class="muted">"This one-time page works while the portal has no administrator."</p>
            <ActionForm action=action attr:class="form">
                <input type="hidden" name="token" value=token/>
                <label>"E-mail" <input type="email" name="email" required maxlength="254" autocomplete="username"/></label>
                <PasswordField name="password" label="Password (12–128 characters)" autocomplete="new-password"/>
                <button type="submit" class="btn btn-primary">"Create administrator"</button>
            </ActionForm>
            <ActionError value=action.value()/>
        </section>
    }
}
