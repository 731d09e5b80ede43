//! Billing flows: checkout, provider events (webhooks and the built-in test
//! provider share one path), plan changes, cancel and resume.
//!
//! Plan changes: an upgrade takes effect at once and starts a new period;
//! the unused part of the old period is credited against its price
//! (prorated to the second). A downgrade waits for the end of the paid
//! period, so nobody pays for something they lose before its end.

use truevault_payments::{
    paypal::PayPalClient, stripe::StripeClient, CheckoutRequest, Interval, PaymentEvent,
};

use super::{
    model::{BillingOverview, SubscriptionInfo},
    repo::{self, SubRow, Tx},
    rules::{self, Cycle},
};
use crate::{
    accounts::{model::CurrentUser, tokens},
    audit,
    error::{AppError, AppResult},
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

pub const DUNNING: &str = "dunning";
pub const EXPIRY: &str = "expiry";
pub const BILLING: &str = "billing";

fn price_for(monthly: i64, yearly: i64, cycle: Cycle) -> i64 {
    match cycle {
        Cycle::Monthly => monthly,
        Cycle::Yearly => yearly,
    }
}

/// Starts paying for `plan_id`; returns where to send the browser (the
/// provider's checkout, or a message when nothing needs paying now).
pub async fn start_checkout(
    state: &AppState,
    user: &CurrentUser,
    plan_id: i64,
    cycle: &str,
    provider: &str,
) -> AppResult<CheckoutStart> {
    let cycle = Cycle::parse(cycle)
        .ok_or_else(|| AppError::invalid("Choose monthly or yearly billing."))?;
    let providers = state.config.billing.providers();
    if !providers.iter().any(|p| p == provider) {
        return Err(AppError::invalid("That payment method is not available."));
    }
    if repo::is_vip(&state.db.pool, user.id).await? {
        return Err(AppError::Conflict(
            "Your VIP account needs no payment.".into(),
        ));
    }
    let (slug, name, monthly, yearly, currency, active) = repo::find_plan(&state.db.pool, plan_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !active {
        return Err(AppError::invalid("That plan is not offered any more."));
    }
    let price = price_for(monthly, yearly, cycle);
    let now = state.clock.now();
    let current = repo::subscription_of_user(&state.db.pool, user.id).await?;
    let mut amount = price;
    if let Some(sub) = current.as_ref().filter(|s| s.status == "active") {
        if sub.plan_id == plan_id && sub.cycle == cycle.as_str() {
            return Err(AppError::Conflict("You are already on this plan.".into()));
        }
        let period_len = sub.current_period_end - sub.current_period_start;
        let cycle_len = rules::period_end(now, cycle) - now;
        // Compare per-second prices so monthly ↔ yearly switches are judged fairly.
        let old_rate = sub.amount_cents as i128 * cycle_len as i128;
        let new_rate = price as i128 * period_len.max(1) as i128;
        if new_rate <= old_rate || price == 0 {
            let mut tx = state.db.begin_write().await?;
            repo::set_pending_plan(&mut tx, sub.id, Some(plan_id), now).await?;
            tx.commit().await?;
            audit::record(
                &state.db,
                Some(user.id),
                "billing.downgrade_scheduled",
                &slug,
                "",
                "",
            )
            .await;
            return Ok(CheckoutStart::Message(format!(
                "You move to {name} when your current period ends; until then nothing changes."
            )));
        }
        let credit = rules::proration_credit(
            sub.amount_cents,
            sub.current_period_start,
            sub.current_period_end,
            now,
        );
        amount = rules::upgrade_charge(price, credit);
    }
    if price == 0 {
        return Err(AppError::invalid("The free plan needs no checkout."));
    }
    let reference = tokens::random_token();
    let checkout_id = repo::create_checkout(
        &state.db,
        &reference,
        user.id,
        plan_id,
        cycle.as_str(),
        provider,
        amount,
        &currency,
        now,
    )
    .await?;
    let base = &state.config.public_url;
    let request = CheckoutRequest {
        reference: reference.clone(),
        plan_name: name.clone(),
        amount_cents: amount,
        currency: currency.clone(),
        interval: match cycle {
            Cycle::Monthly => Interval::Month,
            Cycle::Yearly => Interval::Year,
        },
        customer_email: user.email.clone(),
        success_url: format!("{base}/billing?checkout=done"),
        cancel_url: format!("{base}/billing?checkout=cancelled"),
        provider_plan_id: state
            .config
            .billing
            .paypal_plans
            .get(&format!("{slug}_{}", cycle.as_str()))
            .cloned(),
    };
    let url = match provider {
        "test" => format!("{base}/billing/test-pay/{reference}"),
        "stripe" => {
            let session = stripe_client(state)?
                .create_checkout_session(&request)
                .await
                .map_err(|e| provider_error("Stripe", e))?;
            repo::set_checkout_session(&state.db, checkout_id, &session.id).await?;
            session.url
        }
        "paypal" => {
            if request.provider_plan_id.is_none() {
                return Err(AppError::invalid("PayPal is not set up for this plan."));
            }
            let session = paypal_client(state)?
                .create_subscription(&request)
                .await
                .map_err(|e| provider_error("PayPal", e))?;
            repo::set_checkout_session(&state.db, checkout_id, &session.id).await?;
            session.url
        }
        _ => return Err(AppError::invalid("That payment method is not available.")),
    };
    audit::record(
        &state.db,
        Some(user.id),
        "billing.checkout_started",
        &slug,
        "",
        provider,
    )
    .await;
    Ok(CheckoutStart::Redirect(url))
}

pub enum CheckoutStart {
    Redirect(String),
    Message(String),
}

fn provider_error(name: &str, e: impl std::fmt::Display) -> AppError {
    tracing::warn!(provider = name, error = %e, "payment provider call failed");
    AppError::Conflict(format!(
        "{name} could not start the payment. Please try again in a moment."
    ))
}

/// The configured providers' clients.
#[derive(Default)]
pub struct PaymentClients {
    pub stripe: Option<StripeClient>,
    pub paypal: Option<PayPalClient>,
}

impl PaymentClients {
    pub fn from_config(b: &crate::config::BillingConfig) -> Self {
        Self {
            stripe: b
                .stripe_secret_key
                .as_ref()
                .map(|key| StripeClient::new(&b.stripe_api_base, key.expose())),
            paypal: match (&b.paypal_client_id, &b.paypal_secret) {
                (Some(id), Some(secret)) => {
                    Some(PayPalClient::new(&b.paypal_api_base, id, secret.expose()))
                }
                _ => None,
            },
        }
    }
}

pub fn stripe_client(state: &AppState) -> AppResult<&StripeClient> {
    state.payments.stripe.as_ref().ok_or(AppError::NotFound)
}

pub fn paypal_client(state: &AppState) -> AppResult<&PayPalClient> {
    state.payments.paypal.as_ref().ok_or(AppError::NotFound)
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
    provider: &str,
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
            amount_cents,
            currency,
            created,
            ..
        } => {
            checkout_completed(
                state,
                &mut tx,
                provider,
                checkout_ref,
                provider_subscription_id.as_deref(),
                *amount_cents,
                currency,
                *created,
                now,
            )
            .await?
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
            provider,
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

#[allow(clippy::too_many_arguments)]
async fn checkout_completed(
    state: &AppState,
    tx: &mut Tx,
    provider: &str,
    reference: &str,
    provider_subscription_id: Option<&str>,
    amount: i64,
    currency: &str,
    created: i64,
    now: i64,
) -> AppResult<Outcome> {
    let Some(checkout) = repo::checkout_by_reference(&mut **tx, reference).await? else {
        return Ok(Outcome::Rejected("unknown checkout".into()));
    };
    if checkout.provider != provider {
        return Ok(Outcome::Rejected(
            "checkout belongs to another provider".into(),
        ));
    }
    if checkout.status != "open" {
        return Ok(Outcome::Applied("already completed"));
    }
    // PayPal may announce an activation before it reports the charge; the
    // charge then arrives as its own payment event and is checked there.
    let charge_known = !(provider == "paypal" && amount == 0 && currency.is_empty());
    // Never trust the provider's amount: it must be what we asked for.
    if charge_known
        && (amount != checkout.amount_cents || !currency.eq_ignore_ascii_case(&checkout.currency))
    {
        repo::finish_checkout(tx, checkout.id, "failed", now).await?;
        return Ok(Outcome::Rejected(format!(
            "amount {amount} {currency} differs from the checkout's {} {}",
            checkout.amount_cents, checkout.currency
        )));
    }
    let cycle = Cycle::parse(&checkout.cycle).unwrap_or(Cycle::Monthly);
    let Some((_, plan_name, monthly, yearly, plan_currency, _)) =
        repo::find_plan(&mut **tx, checkout.plan_id).await?
    else {
        return Ok(Outcome::Rejected("plan no longer exists".into()));
    };
    let end = rules::period_end(now, cycle);
    let psid = provider_subscription_id
        .map(str::to_string)
        .unwrap_or_else(|| format!("{provider}_{reference}"));
    let sub_id = repo::activate_subscription(
        tx,
        checkout.user_id,
        checkout.plan_id,
        cycle.as_str(),
        provider,
        &psid,
        price_for(monthly, yearly, cycle),
        &plan_currency,
        now,
        end,
        created,
    )
    .await?;
    repo::finish_checkout(tx, checkout.id, "completed", now).await?;
    repo::set_user_plan(tx, checkout.user_id, checkout.plan_id).await?;
    if charge_known {
        // The checkout's charge is this period's payment: invoice and receipt now.
        let tax = rules::tax(amount, state.config.billing.tax_rate_bp);
        let (invoice_id, _) = repo::insert_invoice(
            tx,
            checkout.user_id,
            sub_id,
            &format!("TrueVault {plan_name} ({})", cycle.as_str()),
            amount,
            tax,
            &checkout.currency,
            "paid",
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
            provider,
            &format!("checkout_{reference}"),
            amount,
            &checkout.currency,
            "completed",
            now,
        )
        .await?;
    }
    jobs::cancel_pending_in(tx, sub_id, DUNNING, now).await?;
    schedule_expiry(tx, sub_id, checkout.user_id, end, now).await?;
    if charge_known {
        schedule(
            tx,
            sub_id,
            checkout.user_id,
            BILLING,
            vec![("receipt".into(), now)],
            now,
        )
        .await?;
    }
    tracing::info!(user_id = checkout.user_id, "subscription activated");
    Ok(Outcome::Applied("subscription_active"))
}

/// The expiry workflow for a period ending at `end`: notices if it will
/// not renew, and the renewal check at the end.
async fn schedule_expiry(
    tx: &mut Tx,
    subscription_id: i64,
    user_id: i64,
    end: i64,
    now: i64,
) -> AppResult<()> {
    jobs::cancel_pending_in(tx, subscription_id, EXPIRY, now).await?;
    schedule(
        tx,
        subscription_id,
        user_id,
        EXPIRY,
        rules::expiry_steps(end, now),
        now,
    )
    .await
}

/// Schedules steps of one of a subscription's workflows.
async fn schedule(
    tx: &mut Tx,
    subscription_id: i64,
    user_id: i64,
    workflow: &'static str,
    steps: Vec<(String, i64)>,
    now: i64,
) -> AppResult<()> {
    let jobs: Vec<NewJob> = steps
        .into_iter()
        .map(|(step, due_at)| NewJob {
            workflow,
            step,
            user_id: Some(user_id),
            subscription_id: Some(subscription_id),
            due_at,
        })
        .collect();
    jobs::schedule_in(tx, &jobs, now).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn payment_succeeded(
    state: &AppState,
    tx: &mut Tx,
    provider: &str,
    provider_subscription_id: &str,
    provider_payment_id: &str,
    amount: i64,
    currency: &str,
    period_end: Option<i64>,
    created: i64,
    now: i64,
) -> AppResult<Outcome> {
    let Some(sub) = repo::subscription_by_provider_id(tx, provider_subscription_id).await? else {
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
    let renewal_due = now >= sub.current_period_end - rules::DAY || sub.status != "active";
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
            "completed",
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
        let start = if sub.status == "active" {
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
                "paid",
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
        "completed",
        now,
    )
    .await?
    {
        return Ok(Outcome::Rejected("payment already recorded".into()));
    }
    repo::set_period(tx, sub.id, start, end, now).await?;
    repo::set_user_plan(tx, sub.user_id, sub.plan_id).await?;
    repo::set_event_at(tx, sub.id, created).await?;
    jobs::cancel_pending_in(tx, sub.id, DUNNING, now).await?;
    schedule_expiry(tx, sub.id, sub.user_id, end, now).await?;
    schedule(
        tx,
        sub.id,
        sub.user_id,
        BILLING,
        vec![("receipt".into(), now)],
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
    if repo::is_vip(&mut **tx, sub.user_id).await? {
        return Ok(Outcome::Applied("vip_exempt"));
    }
    if sub.status != "active" {
        return Ok(Outcome::Applied("already in dunning"));
    }
    repo::set_status(tx, sub.id, "grace_period", Some(now), now).await?;
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
        "overdue",
        now,
        None,
        now,
    )
    .await?;
    schedule(
        tx,
        sub.id,
        sub.user_id,
        DUNNING,
        rules::dunning_steps(now),
        now,
    )
    .await?;
    Ok(Outcome::Applied("grace_period"))
}

/// The built-in test provider's "bank": pays (or declines) a checkout by
/// emitting the same events a real provider would send.
pub async fn test_pay(
    state: &AppState,
    user: &CurrentUser,
    reference: &str,
    result: &str,
) -> AppResult<Outcome> {
    if !state.config.billing.test_enabled() {
        return Err(AppError::NotFound);
    }
    let checkout = repo::checkout_by_reference(&state.db.pool, reference)
        .await?
        .filter(|c| c.user_id == user.id && c.provider == "test")
        .ok_or(AppError::NotFound)?;
    let created = state.clock.now();
    match result {
        "decline" => {
            let mut tx = state.db.begin_write().await?;
            repo::finish_checkout(&mut tx, checkout.id, "failed", created).await?;
            tx.commit().await?;
            Ok(Outcome::Rejected("declined".into()))
        }
        "pay" | "pay_fail_renewals" => {
            // The test provider's subscription id says how renewals go.
            let psid = if result == "pay" {
                format!("test_ok_{reference}")
            } else {
                format!("test_fail_{reference}")
            };
            let event = PaymentEvent::CheckoutCompleted {
                event_id: format!("evt_test_checkout_{reference}"),
                created,
                checkout_ref: reference.to_string(),
                provider_session_id: reference.to_string(),
                provider_subscription_id: Some(psid),
                amount_cents: checkout.amount_cents,
                currency: checkout.currency.clone(),
            };
            apply_event(state, "test", &event).await
        }
        _ => Err(AppError::invalid("Unknown test payment result.")),
    }
}

/// The test provider charges a renewal itself (real providers charge and
/// tell us by webhook).
pub async fn test_renew(state: &AppState, sub: &SubRow) -> AppResult<Outcome> {
    let psid = sub.provider_subscription_id.clone().unwrap_or_default();
    let now = state.clock.now();
    let event_id = format!("evt_test_renewal_{}_{}", sub.id, sub.current_period_end);
    let event = if psid.starts_with("test_fail_") {
        PaymentEvent::PaymentFailed {
            event_id,
            created: now,
            provider_subscription_id: psid,
            provider_payment_id: None,
            amount_cents: sub.amount_cents,
            currency: sub.currency.clone(),
            reason: "card declined (test provider)".into(),
        }
    } else {
        PaymentEvent::PaymentSucceeded {
            event_id,
            created: now,
            provider_payment_id: format!("pay_test_{}_{}", sub.id, sub.current_period_end),
            provider_subscription_id: psid,
            amount_cents: sub.amount_cents,
            currency: sub.currency.clone(),
            period_end: None,
        }
    };
    apply_event(state, "test", &event).await
}

pub async fn cancel(state: &AppState, user: &CurrentUser, resume: bool) -> AppResult<String> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let sub = repo::subscription_of_user(&mut *tx, user.id)
        .await?
        .filter(|s| s.status == "active" || s.status == "grace_period" || s.status == "past_due")
        .ok_or_else(|| AppError::Conflict("You have no running subscription.".into()))?;
    repo::set_cancel_at_period_end(&mut tx, sub.id, !resume, now).await?;
    if resume {
        repo::set_pending_plan(&mut tx, sub.id, None, now).await?;
    }
    schedule_expiry(&mut tx, sub.id, sub.user_id, sub.current_period_end, now).await?;
    tx.commit().await?;
    state.jobs_changed.notify_waiters();
    audit::record(
        &state.db,
        Some(user.id),
        if resume {
            "billing.resumed"
        } else {
            "billing.cancelled"
        },
        "",
        "",
        "",
    )
    .await;
    Ok(if resume {
        "Your subscription will renew as usual.".into()
    } else {
        format!(
            "Your subscription ends on {}; until then everything keeps working.",
            crate::ui::components::notice::format_time(sub.current_period_end)
        )
    })
}

pub async fn overview(state: &AppState, user: &CurrentUser) -> AppResult<BillingOverview> {
    let db = &state.db;
    let sub = repo::subscription_of_user(&db.pool, user.id).await?;
    let plans = repo::list(db, true).await?;
    let plan_name = |id: i64| plans.iter().find(|p| p.id == id).map(|p| p.name.clone());
    let subscription = sub.map(|s| SubscriptionInfo {
        id: s.id,
        plan_id: s.plan_id,
        plan_name: plan_name(s.plan_id).unwrap_or_default(),
        cycle: s.cycle,
        status: s.status,
        provider: s.provider,
        amount_cents: s.amount_cents,
        currency: s.currency,
        current_period_start: s.current_period_start,
        current_period_end: s.current_period_end,
        cancel_at_period_end: s.cancel_at_period_end,
        pending_plan_name: s.pending_plan_id.and_then(plan_name),
    });
    Ok(BillingOverview {
        subscription,
        invoices: repo::list_invoices(db, user.id).await?,
        current_plan: repo::user_plan_name(&db.pool, user.id)
            .await?
            .unwrap_or_else(|| "Free".into()),
        is_vip: repo::is_vip(&db.pool, user.id).await?,
        plans,
        providers: state.config.billing.providers(),
    })
}
