//! Billing's scheduled workflows: the receipt, the payment-failed
//! (dunning) steps and the end-of-period (expiry) steps. Steps re-read the
//! subscription when they run, so a step made moot by later events (paid
//! meanwhile, resumed, renewed) ends as done without acting.

use serde::{Deserialize, Serialize};

use super::{
    events,
    model::{format_price, invoice_label, Provider, SubscriptionStatus},
    repo::{self, SubRow},
    rules::{self, DunningStep, ExpiryStep},
    test_provider,
};
use crate::{
    jobs::{self, Job, NewJob, Workflow},
    mail::workflow::MailVars,
    state::AppState,
};

/// After a payment: the receipt.
pub struct Billing;
/// A failed payment: reminders, past due, suspension.
pub struct Dunning;
/// The end of a period: notices if it will not renew, then the renewal.
pub struct Expiry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingStep {
    Receipt,
}

/// The job's subscription; `None` when it is gone (account deleted), when
/// there is nothing left to do.
async fn subscription(state: &AppState, job: &Job) -> Result<Option<SubRow>, String> {
    let Some(id) = job.subscription_id else {
        return Err("step has no subscription".into());
    };
    repo::subscription_by_id(&state.db.pool, id)
        .await
        .map_err(|e| e.to_string())
}

impl Workflow for Billing {
    const NAME: &'static str = "billing";
    type Step = BillingStep;
    type Ctx = AppState;

    async fn run(state: &AppState, job: &Job, step: BillingStep) -> Result<(), String> {
        let Some(sub) = subscription(state, job).await? else {
            return Ok(());
        };
        match step {
            BillingStep::Receipt => receipt(state, job, &sub).await,
        }
    }
}

impl Workflow for Dunning {
    const NAME: &'static str = "dunning";
    type Step = DunningStep;
    type Ctx = AppState;

    async fn run(state: &AppState, job: &Job, step: DunningStep) -> Result<(), String> {
        let Some(sub) = subscription(state, job).await? else {
            return Ok(());
        };
        match step {
            DunningStep::Reminder { day } => {
                if !in_dunning(&sub) {
                    return Ok(());
                }
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
            DunningStep::PastDue => {
                if sub.status == SubscriptionStatus::GracePeriod {
                    set_status(state, &sub, SubscriptionStatus::PastDue).await?;
                }
                Ok(())
            }
            DunningStep::Suspend => {
                let vip = crate::entitlements::is_vip(&state.db.pool, sub.user_id)
                    .await
                    .map_err(|e| e.to_string())?;
                if vip || !in_dunning(&sub) {
                    return Ok(());
                }
                suspend(state, &sub).await?;
                mail(state, job, "suspended", Some((MailVars::default(), &sub))).await
            }
        }
    }
}

impl Workflow for Expiry {
    const NAME: &'static str = "expiry";
    type Step = ExpiryStep;
    type Ctx = AppState;

    async fn run(state: &AppState, job: &Job, step: ExpiryStep) -> Result<(), String> {
        let Some(sub) = subscription(state, job).await? else {
            return Ok(());
        };
        match step {
            ExpiryStep::Expiring { days } => {
                if !sub.cancel_at_period_end || sub.status != SubscriptionStatus::Active {
                    return Ok(());
                }
                let vars = MailVars {
                    days_left: crate::ui::components::notice::plural(days, "day", "days"),
                    ..Default::default()
                };
                mail(state, job, "expiring", Some((vars, &sub))).await
            }
            ExpiryStep::RenewalCheck => renewal_check(state, &sub).await,
        }
    }
}

fn in_dunning(sub: &SubRow) -> bool {
    sub.status.in_dunning()
}

async fn set_status(
    state: &AppState,
    sub: &SubRow,
    status: SubscriptionStatus,
) -> Result<(), String> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    repo::set_status(&mut tx, sub.id, status, None, now)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// Suspension and expiry both put the account back on the free plan's limits.
async fn end_paid_service(
    state: &AppState,
    sub: &SubRow,
    status: SubscriptionStatus,
) -> Result<(), String> {
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
    jobs::cancel_pending_in::<Dunning>(&mut tx, sub.id, now)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    // A suspension takes the account's service away (`entitlements::service`):
    // nodes drop its peers now, its gateway tunnels end.
    state.node_changes.notify_waiters();
    crate::cameras::service::close_user_tunnels(state, sub.user_id)
        .await
        .map_err(|e| e.to_string())?;
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
    end_paid_service(state, sub, SubscriptionStatus::Suspended).await
}

/// At the end of a period: expire a cancelled subscription, apply a
/// waiting downgrade, and renew. The test provider charges here itself;
/// real providers charge on their side and tell us by webhook, so for them
/// a period long past its end without payment starts the dunning.
async fn renewal_check(state: &AppState, sub: &SubRow) -> Result<(), String> {
    let now = state.clock.now();
    if now < sub.current_period_end || sub.status != SubscriptionStatus::Active {
        // Renewed meanwhile (a new check is scheduled) or already in dunning.
        return Ok(());
    }
    if sub.cancel_at_period_end {
        return end_paid_service(state, sub, SubscriptionStatus::Expired).await;
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
    if sub.provider == Provider::Test {
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
        return events::apply_event(state, sub.provider, &event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    // Not yet: look again once the provider has had two days.
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    jobs::schedule_in(
        &mut tx,
        &[NewJob::new::<Expiry>(
            &ExpiryStep::RenewalCheck,
            sub.current_period_end + 2 * rules::DAY,
        )
        .for_user(sub.user_id)
        .for_subscription(sub.id)],
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

/// Sends a workflow mail to the job's user, with the subscription's plan
/// and amount.
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
    crate::mail::workflow::send(
        &state.db,
        &state.mailer,
        &state.config,
        &user.email,
        name,
        vars,
    )
    .await
}
