//! Server functions: the public plan list and the admin's plan editor.

// A form's fields are a server function's arguments, so admin forms with
// many fields make functions with many arguments.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;

use super::model::{BillingOverview, InvoiceInfo, MailTemplateInfo, Plan};
use crate::jobs::model::JobRow;
#[cfg(feature = "ssr")]
use {
    super::{checkout, model, repo, test_provider},
    crate::{audit, sfn},
};

#[server(endpoint = "plans")]
pub async fn list_plans() -> Result<Vec<Plan>, AppError> {
    Ok(repo::list(&sfn::state().db, true).await?)
}

#[server(endpoint = "admin/plans")]
pub async fn admin_plans() -> Result<Vec<Plan>, AppError> {
    sfn::admin()?;
    Ok(repo::list(&sfn::state().db, false).await?)
}

/// Prices are entered in dollars with cents (`9.99`).
#[server(endpoint = "admin/plan_save")]
pub async fn admin_save_plan(
    id: i64,
    name: String,
    price_monthly: String,
    price_yearly: String,
    max_devices: i64,
    max_cameras: i64,
    max_identities: i64,
    max_mesh_members: i64,
    data_cap_gb: i64,
    is_active: Option<String>,
) -> Result<String, AppError> {
    let admin = sfn::admin()?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(AppError::invalid("A plan name is 1-60 characters."));
    }
    let monthly = parse_price(&price_monthly)?;
    let yearly = parse_price(&price_yearly)?;
    let limits = [max_devices, max_cameras, max_identities, max_mesh_members];
    model::validate_limits(&limits).map_err(AppError::invalid)?;
    if !(0..=1_000_000).contains(&data_cap_gb) {
        return Err(AppError::invalid("A data cap is 0 (none) to 1,000,000 GB."));
    }
    let state = sfn::state();
    let n = repo::update(
        &state.db,
        id,
        &name,
        monthly,
        yearly,
        limits,
        data_cap_gb,
        is_active.is_some(),
    )
    .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "plan.updated",
        &id.to_string(),
        "",
        &format!("{name} {monthly}/{yearly} {limits:?}"),
    )
    .await;
    Ok(format!("Saved plan {name}."))
}

#[cfg(feature = "ssr")]
fn parse_price(s: &str) -> Result<i64, AppError> {
    let bad = || {
        AppError::invalid(format!(
            "\"{}\" is not a price like 9.99.",
            s.chars().take(20).collect::<String>()
        ))
    };
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    if whole.is_empty()
        || whole.len() > 7
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    Ok(whole * 100 + frac)
}

// ---- the customer's billing ----

#[server(endpoint = "billing/overview")]
pub async fn my_billing() -> Result<BillingOverview, AppError> {
    let user = sfn::user()?;
    checkout::overview(&sfn::state(), &user).await
}

/// Starts a checkout and sends the browser to the provider (or answers
/// with a message when a downgrade is only scheduled).
#[server(endpoint = "billing/checkout")]
pub async fn checkout(plan_id: i64, cycle: String, provider: String) -> Result<String, AppError> {
    let user = sfn::user()?;
    let provider = super::model::Provider::parse(&provider)
        .ok_or_else(|| AppError::invalid("That payment method is not available."))?;
    match checkout::start_checkout(&sfn::state(), &user, plan_id, &cycle, provider).await? {
        checkout::CheckoutStart::Redirect(url) => {
            leptos_axum::redirect(&url);
            Ok(String::new())
        }
        checkout::CheckoutStart::Message(m) => Ok(m),
    }
}

#[server(endpoint = "billing/cancel")]
pub async fn cancel_subscription() -> Result<String, AppError> {
    let user = sfn::user()?;
    checkout::cancel(&sfn::state(), &user, false).await
}

#[server(endpoint = "billing/resume")]
pub async fn resume_subscription() -> Result<String, AppError> {
    let user = sfn::user()?;
    checkout::cancel(&sfn::state(), &user, true).await
}

#[server(endpoint = "billing/invoice")]
pub async fn invoice(number: i64) -> Result<InvoiceInfo, AppError> {
    let user = sfn::user()?;
    repo::invoice_of_user(&sfn::state().db, user.id, number)
        .await?
        .ok_or(AppError::NotFound)
}

/// The test provider's checkout page: what is being paid.
#[server(endpoint = "billing/test_checkout")]
pub async fn test_checkout(reference: String) -> Result<(String, String), AppError> {
    let user = sfn::user()?;
    let state = sfn::state();
    if !state.config.billing.test_enabled() {
        return Err(AppError::NotFound);
    }
    let c = repo::checkout_by_reference(&state.db.pool, &reference)
        .await?
        .filter(|c| {
            c.user_id == user.id
                && c.provider == super::model::Provider::Test
                && c.status == super::model::CheckoutStatus::Open
        })
        .ok_or(AppError::NotFound)?;
    let plan = repo::find_plan(&state.db.pool, c.plan_id)
        .await?
        .map(|p| p.1)
        .unwrap_or_default();
    Ok((
        format!("TrueVault {plan} ({})", c.cycle),
        model::format_price(c.amount_cents, &c.currency),
    ))
}

#[server(endpoint = "billing/test_pay")]
pub async fn test_pay(reference: String, result: String) -> Result<(), AppError> {
    let user = sfn::user()?;
    let outcome = test_provider::test_pay(&sfn::state(), &user, &reference, &result).await?;
    match outcome {
        super::events::Outcome::Applied(_) | super::events::Outcome::Duplicate => {
            leptos_axum::redirect("/billing?checkout=done")
        }
        _ => leptos_axum::redirect("/billing?checkout=declined"),
    }
    Ok(())
}

// ---- the admin's automation and mail templates ----

#[server(endpoint = "admin/jobs")]
pub async fn admin_jobs(status: String) -> Result<Vec<JobRow>, AppError> {
    sfn::admin()?;
    // Anything but a status (the filter's "all") lists every step.
    let status = crate::jobs::model::JobStatus::parse(&status);
    Ok(crate::jobs::list(&sfn::state().db, status, 300).await?)
}

#[server(endpoint = "admin/job_retry")]
pub async fn admin_retry_job(id: i64) -> Result<String, AppError> {
    let admin = sfn::admin()?;
    let state = sfn::state();
    if !crate::jobs::retry(&state, id).await? {
        return Err(AppError::Conflict(
            "Only a failed step can be retried.".into(),
        ));
    }
    audit::record(
        &state.db,
        Some(admin.id),
        "job.retried",
        &id.to_string(),
        "",
        "",
    )
    .await;
    Ok(format!("Step {id} is queued again."))
}

#[server(endpoint = "admin/mail_templates")]
pub async fn admin_mail_templates() -> Result<Vec<MailTemplateInfo>, AppError> {
    use crate::mail::workflow;
    sfn::admin()?;
    let db = &sfn::state().db;
    let sample = workflow::sample_vars();
    let mut out = Vec::new();
    for name in workflow::NAMES {
        let custom = workflow::custom(db, name).await?;
        let (preview_subject, preview_body) = workflow::render(db, name, &sample)
            .await
            .map_err(AppError::Internal)?;
        let (subject, body, customised) = match custom {
            Some((s, b)) => (s, b, true),
            None => (
                workflow::default_subject(name)
                    .unwrap_or_default()
                    .to_string(),
                default_body_source(name),
                false,
            ),
        };
        out.push(MailTemplateInfo {
            name: name.to_string(),
            subject,
            body,
            customised,
            preview_subject,
            preview_body,
        });
    }
    Ok(out)
}

/// The built-in body with its variables unfilled, as a starting point.
#[cfg(feature = "ssr")]
fn default_body_source(name: &str) -> String {
    use crate::mail::workflow::{self, MailVars, VARIABLES};
    // Render with each variable set to its own placeholder.
    let mut v = MailVars::default();
    let fields: [&mut String; 7] = [
        &mut v.first_name,
        &mut v.plan_name,
        &mut v.amount,
        &mut v.invoice_number,
        &mut v.dashboard_url,
        &mut v.support,
        &mut v.days_left,
    ];
    for (f, name) in fields.into_iter().zip(VARIABLES) {
        *f = format!("{{{{ {name} }}}}");
    }
    workflow::default_text(name, &v)
        .and_then(|r| r.ok())
        .map(|(_, body)| body)
        .unwrap_or_default()
}

#[server(endpoint = "admin/mail_template_save")]
pub async fn admin_save_mail_template(
    name: String,
    subject: String,
    body: String,
) -> Result<String, AppError> {
    use crate::mail::workflow;
    let admin = sfn::admin()?;
    let Some(name) = workflow::NAMES.iter().find(|n| **n == name) else {
        return Err(AppError::NotFound);
    };
    workflow::validate(&subject, &body)?;
    let state = sfn::state();
    workflow::save(&state.db, name, subject.trim(), &body).await?;
    audit::record(
        &state.db,
        Some(admin.id),
        "mail_template.saved",
        name,
        "",
        "",
    )
    .await;
    Ok(format!("Saved the {name} mail."))
}

#[server(endpoint = "admin/mail_template_reset")]
pub async fn admin_reset_mail_template(name: String) -> Result<String, AppError> {
    use crate::mail::workflow;
    let admin = sfn::admin()?;
    let Some(name) = workflow::NAMES.iter().find(|n| **n == name) else {
        return Err(AppError::NotFound);
    };
    let state = sfn::state();
    workflow::reset(&state.db, name).await?;
    audit::record(
        &state.db,
        Some(admin.id),
        "mail_template.reset",
        name,
        "",
        "",
    )
    .await;
    Ok(format!("The {name} mail is back to the built-in text."))
}
