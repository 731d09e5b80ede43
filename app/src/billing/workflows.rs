//! What each scheduled step does. Steps re-read the subscription when they
//! run, so a step made moot by later events (paid meanwhile, resumed,
//! renewed) ends as done without acting.

use super::{
    events::{self, BILLING, DUNNING, EXPIRY},
    model::{format_price, invoice_label},
    repo::{self, SubRow},
    rules, test_provider,
};
use crate::{
    jobs::{self, Job, NewJob},
    mail::{
        templates::{Mail, Rendered},
        workflow::{self, MailVars},
    },
    state::AppState,
};

pub const SIGNUP: &str = "signup";

/// Onboarding mails after e-mail verification: getting started after an
/// hour, tips after a day.
pub async fn schedule_signup(state: &AppState, user_id: i64) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    jobs::schedule_in(
        &mut tx,
        &[
            NewJob {
                workflow: SIGNUP,
                step: "getting_started".into(),
                user_id: Some(user_id),
                subscription_id: None,
                due_at: now + 3600,
            },
            NewJob {
                workflow: SIGNUP,
                step: "tips".into(),
                user_id: Some(user_id),
                subscription_id: None,
                due_at: now + 24 * 3600,
            },
        ],
        now,
    )
    .await?;
    tx.commit().await
}

pub async fn run_step(state: &AppState, job: &Job) -> Result<(), String> {
    let sub = match job.subscription_id {
        Some(id) => {
            let sub = repo::subscription_by_id(&state.db.pool, id)
                .await
                .map_err(|e| e.to_string())?;
            match sub {
                Some(s) => Some(s),
                // The subscription is gone (account deleted): nothing to do.
                None => return Ok(()),
            }
        }
        None => None,
    };
    match (job.workflow.as_str(), job.step.as_str(), sub) {
        (SIGNUP, "getting_started" | "tips", _) => mail(state, job, job.step.as_str(), None).await,
        ("vpn", "lift_data_cap", _) => {
            let Some(user_id) = job.user_id else {
                return Err("step has no user".into());
            };
            lift_data_cap(state, user_id).await
        }
        (BILLING, "receipt", Some(sub)) => receipt(state, job, &sub).await,
        (DUNNING, step, Some(sub)) if step.starts_with("reminder_day") => {
            if !in_dunning(&sub) {
                return Ok(());
            }
            let day: i64 = step.trim_start_matches("reminder_day").parse().unwrap_or(0);
            let vars = MailVars {
                days_left: crate::ui::components::notice::plural(
                    rules::SUSPEND_DAY - day,
                    "day",
                    "days",
                ),
                amount: format_price(sub.amount_cents, &sub.currency),
                ..Default::default()
            };
            mail(state, job, "payment_failed", Some((vars, &sub))).await
        }
        (DUNNING, "past_due", Some(sub)) => {
            if sub.status == "grace_period" {
                set_status(state, &sub, "past_due").await?;
            }
            Ok(())
        }
        (DUNNING, "suspend", Some(sub)) => {
            let vip = crate::entitlements::is_vip(&state.db.pool, sub.user_id)
                .await
                .map_err(|e| e.to_string())?;
            if vip || !in_dunning(&sub) {
                return Ok(());
            }
            suspend(state, &sub).await?;
            mail(state, job, "suspended", Some((MailVars::default(), &sub))).await
        }
        (EXPIRY, step, Some(sub)) if step.starts_with("expiring_") => {
            if !sub.cancel_at_period_end || sub.status != "active" {
                return Ok(());
            }
            let days = step
                .trim_start_matches("expiring_")
                .trim_end_matches('d')
                .parse::<i64>()
                .map(|n| crate::ui::components::notice::plural(n, "day", "days"))
                .unwrap_or_default();
            mail(
                state,
                job,
                "expiring",
                Some((
                    MailVars {
                        days_left: days,
                        ..Default::default()
                    },
                    &sub,
                )),
            )
            .await
        }
        (EXPIRY, "renewal_check", Some(sub)) => renewal_check(state, &sub).await,
        (_, _, _) => Err(format!("unknown step {}/{}", job.workflow, job.step)),
    }
}

fn in_dunning(sub: &SubRow) -> bool {
    matches!(sub.status.as_str(), "grace_period" | "past_due")
}

async fn set_status(state: &AppState, sub: &SubRow, status: &str) -> Result<(), String> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    repo::set_status(&mut tx, sub.id, status, None, now)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// Suspension and expiry both put the account back on the free plan's limits.
async fn end_paid_service(state: &AppState, sub: &SubRow, status: &str) -> Result<(), String> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    repo::set_status(&mut tx, sub.id, status, None, now)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(free) = repo::plan_id_by_slug(&mut tx, "free")
        .await
        .map_err(|e| e.to_string())?
    {
        repo::set_user_plan(&mut tx, sub.user_id, free)
            .await
            .map_err(|e| e.to_string())?;
    }
    jobs::cancel_pending_in(&mut tx, sub.id, DUNNING, now)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    crate::audit::record(
        &state.db,
        None,
        &format!("billing.{status}"),
        &sub.user_id.to_string(),
        "",
        "",
    )
    .await;
    Ok(())
}

async fn suspend(state: &AppState, sub: &SubRow) -> Result<(), String> {
    end_paid_service(state, sub, "suspended").await
}

/// At the end of a period: expire a cancelled subscription, apply a
/// waiting downgrade, and renew. The test provider charges here itself;
/// real providers charge on their side and tell us by webhook, so for them
/// a period long past its end without payment starts the dunning.
async fn renewal_check(state: &AppState, sub: &SubRow) -> Result<(), String> {
    let now = state.clock.now();
    if now < sub.current_period_end || !matches!(sub.status.as_str(), "active") {
        // Renewed meanwhile (a new check is scheduled) or already in dunning.
        return Ok(());
    }
    if sub.cancel_at_period_end {
        return end_paid_service(state, sub, "expired").await;
    }
    let mut sub = sub.clone();
    if let Some(plan_id) = sub.pending_plan_id {
        let cycle = rules::Cycle::parse(&sub.cycle).unwrap_or(rules::Cycle::Monthly);
        let plan = repo::find_plan(&state.db.pool, plan_id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some((_, _, monthly, yearly, _, _)) = plan {
            let amount = if cycle == rules::Cycle::Yearly {
                yearly
            } else {
                monthly
            };
            let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
            repo::switch_plan(&mut tx, sub.id, plan_id, amount)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            sub.plan_id = plan_id;
            sub.amount_cents = amount;
        }
    }
    if sub.provider == "test" {
        return test_provider::test_renew(state, &sub)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if now >= sub.current_period_end + 2 * rules::DAY {
        let event = truevault_payments::PaymentEvent::PaymentFailed {
            event_id: format!("renewal_missing_{}_{}", sub.id, sub.current_period_end),
            created: now,
            provider_subscription_id: sub.provider_subscription_id.clone().unwrap_or_default(),
            provider_payment_id: None,
            amount_cents: sub.amount_cents,
            currency: sub.currency.clone(),
            reason: "no renewal payment arrived".into(),
        };
        return events::apply_event(state, &sub.provider, &event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    // Not yet: look again once the provider has had two days.
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    jobs::schedule_in(
        &mut tx,
        &[NewJob {
            workflow: EXPIRY,
            step: "renewal_check".into(),
            user_id: Some(sub.user_id),
            subscription_id: Some(sub.id),
            due_at: sub.current_period_end + 2 * rules::DAY,
        }],
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

async fn receipt(state: &AppState, job: &Job, sub: &SubRow) -> Result<(), String> {
    let latest = repo::latest_invoice_number(&state.db.pool, sub.id)
        .await
        .map_err(|e| e.to_string())?;
    let Some((number, total, currency)) = latest else {
        return Ok(());
    };
    let vars = MailVars {
        amount: format_price(total, &currency),
        invoice_number: invoice_label(number),
        ..Default::default()
    };
    mail(state, job, "receipt", Some((vars, sub))).await
}

/// Sends a workflow mail to the job's user, filling the common variables.
async fn mail(
    state: &AppState,
    job: &Job,
    name: &str,
    extra: Option<(MailVars, &SubRow)>,
) -> Result<(), String> {
    let Some(user_id) = job.user_id else {
        return Err("step has no user".into());
    };
    let Some(user) = crate::accounts::repo::find_by_id(&state.db, user_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let (mut vars, sub) = match extra {
        Some((v, s)) => (v, Some(s)),
        None => (MailVars::default(), None),
    };
    vars.first_name = user.first_name.clone();
    vars.dashboard_url = state.config.public_url.clone();
    vars.support = state.config.support_email.clone();
    if let Some(sub) = sub {
        vars.plan_name = repo::find_plan(&state.db.pool, sub.plan_id)
            .await
            .map_err(|e| e.to_string())?
            .map(|p| p.1)
            .unwrap_or_default();
        if vars.amount.is_empty() {
            vars.amount = format_price(sub.amount_cents, &sub.currency);
        }
    }
    let Some(static_name) = workflow::NAMES.iter().find(|n| **n == name).copied() else {
        return Err(format!("no mail named {name}"));
    };
    let (subject, body) = workflow::render(&state.db, static_name, &vars).await?;
    state
        .mailer
        .send_checked(
            &user.email,
            Mail::Rendered(Rendered {
                name: static_name,
                subject,
                body,
            }),
        )
        .await
}

/// A new month (or a new plan) gives a capped user their peers back.
pub async fn lift_data_cap(state: &AppState, user_id: i64) -> Result<(), String> {
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    crate::vpn::repo::set_data_capped(&mut tx, user_id, None)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    state.node_changes.notify_waiters();
    Ok(())
}
