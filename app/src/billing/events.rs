//! Provider events: webhooks and the built-in test provider share this one
//! path, applied exactly once in one transaction.

use truevault_payments::PaymentEvent;

use super::{
    model::{CheckoutStatus, InvoiceStatus, PaymentStatus, Provider, SubscriptionStatus},
    repo::{self, Tx},
    rules::{self, Cycle},
    workflows::{Billing, BillingStep, Dunning, Expiry},
};
use crate::{
    audit,
    error::AppResult,
    jobs::{self, NewJob},
    state::AppState,
};

/// What a provider event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(&'static str),
    /// Seen before: nothing changed.
    Duplicate,
    /// Refused and recorded (amount or plan mismatch, unknown checkout…).
    Rejected(String),
    /// Arrived before what it depends on: the provider should retry.
    RetryLater(String),
}

pub(super) fn price_for(monthly: i64, yearly: i64, cycle: Cycle) -> i64 {
    match cycle {
        Cycle::Monthly => monthly,
        Cycle::Yearly => yearly,
    }
}

fn kind(e: &PaymentEvent) -> &'static str {
    match e {
        PaymentEvent::CheckoutCompleted { .. } => "checkout_completed",
        PaymentEvent::PaymentSucceeded { .. } => "payment_succeeded",
        PaymentEvent::PaymentFailed { .. } => "payment_failed",
        PaymentEvent::SubscriptionCancelled { .. } => "subscription_cancelled",
        PaymentEvent::Ignored { .. } => "ignored",
    }
}

/// Applies one provider event, exactly once, in one transaction.
pub async fn apply_event(
    state: &AppState,
    provider: Provider,
    event: &PaymentEvent,
) -> AppResult<Outcome> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    if !repo::record_event(
        &mut tx,
        provider,
        event.event_id(),
        kind(event),
        "applied",
        now,
    )
    .await?
    {
        return Ok(Outcome::Duplicate);
    }
    let outcome = match event {
        PaymentEvent::CheckoutCompleted {
            checkout_ref,
            provider_subscription_id,
            provider_plan_id,
            amount_cents,
            currency,
            created,
            ..
        } => {
            let completion = Completion {
                reference: checkout_ref,
                provider_subscription_id: provider_subscription_id.as_deref(),
                provider_plan_id: provider_plan_id.as_deref(),
                amount: *amount_cents,
                currency,
                created: *created,
            };
            checkout_completed(state, &mut tx, provider, completion, now).await?
        }
        PaymentEvent::PaymentSucceeded {
            provider_subscription_id,
            provider_payment_id,
            amount_cents,
            currency,
            period_end,
            created,
            ..
        } => {
            payment_succeeded(
                state,
                &mut tx,
                provider,
                provider_subscription_id,
                provider_payment_id,
                *amount_cents,
                currency,
                *period_end,
                *created,
                now,
            )
            .await?
        }
        PaymentEvent::PaymentFailed {
            provider_subscription_id,
            amount_cents,
            currency,
            created,
            ..
        } => {
            payment_failed(
                &mut tx,
                provider_subscription_id,
                *amount_cents,
                currency,
                *created,
                now,
            )
            .await?
        }
        PaymentEvent::SubscriptionCancelled {
            provider_subscription_id,
            created,
            ..
        } => match repo::subscription_by_provider_id(&mut tx, provider_subscription_id).await? {
            None => Outcome::RetryLater("unknown subscription".into()),
            Some(sub) if *created < sub.last_event_at => {
                Outcome::Rejected("older than the subscription's state".into())
            }
            Some(sub) => {
                repo::set_cancel_at_period_end(&mut tx, sub.id, true, now).await?;
                schedule_expiry(&mut tx, sub.id, sub.user_id, sub.current_period_end, now).await?;
                repo::set_event_at(&mut tx, sub.id, *created).await?;
                Outcome::Applied("cancel_at_period_end")
            }
        },
        PaymentEvent::Ignored { .. } => Outcome::Applied("ignored"),
    };
    match &outcome {
        // Not remembered, so the provider's retry is processed.
        Outcome::RetryLater(_) => {
            tx.rollback().await?;
            return Ok(outcome);
        }
        Outcome::Rejected(why) => {
            repo::set_event_outcome(
                &mut tx,
                provider,
                event.event_id(),
                &format!("rejected: {why}"),
            )
            .await?;
        }
        _ => {}
    }
    tx.commit().await?;
    state.jobs_changed.notify_waiters();
    // A plan change may have lifted a data cap: nodes re-check their peers.
    state.node_changes.notify_waiters();
    if let Outcome::Rejected(why) = &outcome {
        tracing::warn!(
            provider = provider.as_str(),
            event = event.event_id(),
            why,
            "payment event rejected"
        );
        audit::record(
            &state.db,
            None,
            "billing.event_rejected",
            event.event_id(),
            "",
            why,
        )
        .await;
    }
    Ok(outcome)
}

/// A provider says a checkout of ours was paid (or, for PayPal, that the
/// subscription we created for it was approved).
struct Completion<'a> {
    reference: &'a str,
    provider_subscription_id: Option<&'a str>,
    provider_plan_id: Option<&'a str>,
    amount: i64,
    currency: &'a str,
    created: i64,
}

async fn checkout_completed(
    state: &AppState,
    tx: &mut Tx,
    provider: Provider,
    c: Completion<'_>,
    now: i64,
) -> AppResult<Outcome> {
    let Some(checkout) = repo::checkout_by_reference(&mut **tx, c.reference).await? else {
        return Ok(Outcome::Rejected("unknown checkout".into()));
    };
    if checkout.provider != provider {
        return Ok(Outcome::Rejected(
            "checkout belongs to another provider".into(),
        ));
    }
    match checkout.status {
        CheckoutStatus::Open => {}
        CheckoutStatus::Completed => return Ok(Outcome::Applied("already completed")),
        other => return Ok(Outcome::Rejected(format!("checkout is {other}"))),
    }
    if provider == Provider::Paypal {
        // Anyone can create a PayPal subscription carrying our reference as
        // its custom_id: only the one we created, on the plan we asked for, counts.
        if checkout.provider_session_id.as_deref() != c.provider_subscription_id {
            return Ok(Outcome::Rejected(
                "subscription id differs from the checkout's".into(),
            ));
        }
        if c.provider_plan_id.is_none()
            || c.provider_plan_id != paypal_plan(state, tx, &checkout).await?.as_deref()
        {
            return Ok(Outcome::Rejected("plan differs from the checkout's".into()));
        }
        if c.amount == 0 && c.currency.is_empty() {
            // Approved but not yet charged: the plan waits for the payment
            // event of this subscription (see `payment_succeeded`).
            return Ok(Outcome::Applied("awaiting_payment"));
        }
    }
    // Never trust the provider's amount: it must be what we asked for. The
    // checkout stays open: the rejection is in the audit log for an
    // operator, and a correct later event still activates.
    if c.amount != checkout.amount_cents || !c.currency.eq_ignore_ascii_case(&checkout.currency) {
        return Ok(Outcome::Rejected(format!(
            "amount {} {} differs from the checkout's {} {}",
            c.amount, c.currency, checkout.amount_cents, checkout.currency
        )));
    }
    let psid = c
        .provider_subscription_id
        .map(str::to_string)
        .unwrap_or_else(|| format!("{provider}_{}", c.reference));
    let payment_id = format!("checkout_{}", c.reference);
    activate(state, tx, &checkout, &psid, &payment_id, c.created, now).await
}

/// The PayPal plan (`P-…`) configured for a checkout's plan and cycle.
async fn paypal_plan(
    state: &AppState,
    tx: &mut Tx,
    checkout: &repo::CheckoutRow,
) -> AppResult<Option<String>> {
    let slug = repo::find_plan(&mut **tx, checkout.plan_id)
        .await?
        .map(|p| p.0)
        .unwrap_or_default();
    Ok(state
        .config
        .billing
        .paypal_plans
        .get(&format!("{slug}_{}", checkout.cycle))
        .cloned())
}

/// Starts the subscription a checkout paid for: its charge (already checked
/// against the checkout) is this period's invoice and receipt.
async fn activate(
    state: &AppState,
    tx: &mut Tx,
    checkout: &repo::CheckoutRow,
    psid: &str,
    payment_id: &str,
    created: i64,
    now: i64,
) -> AppResult<Outcome> {
    let amount = checkout.amount_cents;
    let cycle = Cycle::parse(&checkout.cycle).unwrap_or(Cycle::Monthly);
    let Some((_, plan_name, monthly, yearly, plan_currency, _)) =
        repo::find_plan(&mut **tx, checkout.plan_id).await?
    else {
        return Ok(Outcome::Rejected("plan no longer exists".into()));
    };
    let end = rules::period_end(now, cycle);
    let sub_id = repo::activate_subscription(
        tx,
        checkout.user_id,
        checkout.plan_id,
        cycle.as_str(),
        checkout.provider,
        psid,
        price_for(monthly, yearly, cycle),
        &plan_currency,
        now,
        end,
        created,
    )
    .await?;
    repo::finish_checkout(tx, checkout.id, CheckoutStatus::Completed, now).await?;
    repo::set_user_plan(tx, checkout.user_id, checkout.plan_id).await?;
    let tax = rules::tax(amount, state.config.billing.tax_rate_bp);
    let (invoice_id, _) = repo::insert_invoice(
        tx,
        checkout.user_id,
        sub_id,
        &format!("TrueVault {plan_name} ({})", cycle.as_str()),
        amount,
        tax,
        &checkout.currency,
        InvoiceStatus::Paid,
        now,
        Some(now),
        now,
    )
    .await?;
    repo::insert_payment(
        tx,
        checkout.user_id,
        sub_id,
        Some(invoice_id),
        checkout.provider,
        payment_id,
        amount,
        &checkout.currency,
        PaymentStatus::Completed,
        now,
    )
    .await?;
    jobs::cancel_pending_in::<Dunning>(tx, sub_id, now).await?;
    schedule_expiry(tx, sub_id, checkout.user_id, end, now).await?;
    schedule::<Billing>(
        tx,
        sub_id,
        checkout.user_id,
        vec![(BillingStep::Receipt, now)],
        now,
    )
    .await?;
    tracing::info!(user_id = checkout.user_id, "subscription activated");
    Ok(Outcome::Applied("subscription_active"))
}

/// The expiry workflow for a period ending at `end`: notices if it will
/// not renew, and the renewal check at the end.
pub(super) async fn schedule_expiry(
    tx: &mut Tx,
    subscription_id: i64,
    user_id: i64,
    end: i64,
    now: i64,
) -> AppResult<()> {
    jobs::cancel_pending_in::<Expiry>(tx, subscription_id, now).await?;
    schedule::<Expiry>(
        tx,
        subscription_id,
        user_id,
        rules::expiry_steps(end, now),
        now,
    )
    .await
}

/// Schedules steps of one of a subscription's workflows.
async fn schedule<W: jobs::Workflow>(
    tx: &mut Tx,
    subscription_id: i64,
    user_id: i64,
    steps: Vec<(W::Step, i64)>,
    now: i64,
) -> AppResult<()> {
    let jobs: Vec<NewJob> = steps
        .into_iter()
        .map(|(step, due_at)| {
            NewJob::new::<W>(&step, due_at)
                .for_user(user_id)
                .for_subscription(subscription_id)
        })
        .collect();
    jobs::schedule_in(tx, &jobs, now).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn payment_succeeded(
    state: &AppState,
    tx: &mut Tx,
    provider: Provider,
    provider_subscription_id: &str,
    provider_payment_id: &str,
    amount: i64,
    currency: &str,
    period_end: Option<i64>,
    created: i64,
    now: i64,
) -> AppResult<Outcome> {
    let Some(sub) = repo::subscription_by_provider_id(tx, provider_subscription_id).await? else {
        // The first charge of a subscription we created (PayPal reports it
        // apart from the approval) is what activates its checkout.
        if let Some(checkout) =
            repo::open_checkout_by_session(&mut **tx, provider, provider_subscription_id).await?
        {
            if amount != checkout.amount_cents || !currency.eq_ignore_ascii_case(&checkout.currency)
            {
                return Ok(Outcome::Rejected(format!(
                    "amount {amount} {currency} differs from the checkout's {} {}",
                    checkout.amount_cents, checkout.currency
                )));
            }
            return activate(
                state,
                tx,
                &checkout,
                provider_subscription_id,
                provider_payment_id,
                created,
                now,
            )
            .await;
        }
        // The checkout event has not arrived yet: ask the provider to retry.
        return Ok(Outcome::RetryLater("unknown subscription".into()));
    };
    if sub.provider != provider {
        return Ok(Outcome::Rejected(
            "subscription belongs to another provider".into(),
        ));
    }
    if amount != sub.amount_cents || !currency.eq_ignore_ascii_case(&sub.currency) {
        return Ok(Outcome::Rejected(format!(
            "amount {amount} {currency} differs from the subscription's {} {}",
            sub.amount_cents, sub.currency
        )));
    }
    // The first charge of a provider subscription is usually the checkout we
    // already invoiced; only a charge near or after the period's end renews.
    let renewal_due =
        now >= sub.current_period_end - rules::DAY || sub.status != SubscriptionStatus::Active;
    let extends =
        renewal_due || period_end.is_some_and(|e| e > sub.current_period_end + rules::DAY);
    let invoiced = repo::latest_invoice_number(&mut **tx, sub.id)
        .await?
        .is_some();
    if !extends && invoiced {
        repo::insert_payment(
            tx,
            sub.user_id,
            sub.id,
            None,
            provider,
            provider_payment_id,
            amount,
            currency,
            PaymentStatus::Completed,
            now,
        )
        .await?;
        repo::set_event_at(tx, sub.id, created).await?;
        return Ok(Outcome::Applied("initial charge"));
    }
    let cycle = Cycle::parse(&sub.cycle).unwrap_or(Cycle::Monthly);
    let (start, end) = if !extends {
        // An activation that carried no amount (PayPal): this first charge
        // is the period's invoice; the period stays as it is.
        (sub.current_period_start, sub.current_period_end)
    } else {
        let start = if sub.status == SubscriptionStatus::Active {
            sub.current_period_end
        } else {
            now
        };
        (
            start,
            period_end
                .filter(|e| *e > start)
                .unwrap_or_else(|| rules::period_end(start, cycle)),
        )
    };
    let settled = repo::settle_open_invoices(tx, sub.id, now).await?;
    let plan_name = repo::find_plan(&mut **tx, sub.plan_id)
        .await?
        .map(|p| p.1)
        .unwrap_or_default();
    let invoice_id = if settled == 0 {
        let tax = rules::tax(amount, state.config.billing.tax_rate_bp);
        Some(
            repo::insert_invoice(
                tx,
                sub.user_id,
                sub.id,
                &format!("TrueVault {plan_name} ({})", sub.cycle),
                amount,
                tax,
                currency,
                InvoiceStatus::Paid,
                now,
                Some(now),
                now,
            )
            .await?
            .0,
        )
    } else {
        None
    };
    if !repo::insert_payment(
        tx,
        sub.user_id,
        sub.id,
        invoice_id,
        provider,
        provider_payment_id,
        amount,
        currency,
        PaymentStatus::Completed,
        now,
    )
    .await?
    {
        return Ok(Outcome::Rejected("payment already recorded".into()));
    }
    repo::set_period(tx, sub.id, start, end, now).await?;
    repo::set_user_plan(tx, sub.user_id, sub.plan_id).await?;
    repo::set_event_at(tx, sub.id, created).await?;
    jobs::cancel_pending_in::<Dunning>(tx, sub.id, now).await?;
    schedule_expiry(tx, sub.id, sub.user_id, end, now).await?;
    schedule::<Billing>(
        tx,
        sub.id,
        sub.user_id,
        vec![(BillingStep::Receipt, now)],
        now,
    )
    .await?;
    Ok(Outcome::Applied("renewed"))
}

async fn payment_failed(
    tx: &mut Tx,
    provider_subscription_id: &str,
    amount: i64,
    currency: &str,
    created: i64,
    now: i64,
) -> AppResult<Outcome> {
    let Some(sub) = repo::subscription_by_provider_id(tx, provider_subscription_id).await? else {
        return Ok(Outcome::RetryLater("unknown subscription".into()));
    };
    if created < sub.last_event_at {
        // A newer event (a success) already decided the state.
        return Ok(Outcome::Rejected(
            "older than the subscription's state".into(),
        ));
    }
    repo::set_event_at(tx, sub.id, created).await?;
    if crate::entitlements::is_vip(&mut **tx, sub.user_id).await? {
        return Ok(Outcome::Applied("vip_exempt"));
    }
    if sub.status != SubscriptionStatus::Active {
        return Ok(Outcome::Applied("already in dunning"));
    }
    repo::set_status(tx, sub.id, SubscriptionStatus::GracePeriod, Some(now), now).await?;
    let plan_name = repo::find_plan(&mut **tx, sub.plan_id)
        .await?
        .map(|p| p.1)
        .unwrap_or_default();
    repo::insert_invoice(
        tx,
        sub.user_id,
        sub.id,
        &format!("TrueVault {plan_name} ({})", sub.cycle),
        amount.max(sub.amount_cents),
        0,
        currency,
        InvoiceStatus::Overdue,
        now,
        None,
        now,
    )
    .await?;
    schedule::<Dunning>(tx, sub.id, sub.user_id, rules::dunning_steps(now), now).await?;
    Ok(Outcome::Applied("grace_period"))
}
