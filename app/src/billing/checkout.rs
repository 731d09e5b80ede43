//! The customer's side of billing: starting a checkout with a provider,
//! cancel and resume, and the billing page's overview.
//!
//! Plan changes: an upgrade takes effect at once and starts a new period;
//! the unused part of the old period is credited against its price
//! (prorated to the second). A downgrade waits for the end of the paid
//! period, so nobody pays for something they lose before its end.

use truevault_payments::{paypal::PayPalClient, stripe::StripeClient, CheckoutRequest, Interval};

use super::{
    events::{price_for, schedule_expiry},
    model::{BillingOverview, Provider, SubscriptionInfo, SubscriptionStatus},
    repo,
    rules::{self, Cycle},
};
use crate::{
    accounts::{model::CurrentUser, tokens},
    audit,
    error::{AppError, AppResult},
    state::AppState,
};

/// Starts paying for `plan_id`; returns where to send the browser (the
/// provider's checkout, or a message when nothing needs paying now).
pub async fn start_checkout(
    state: &AppState,
    user: &CurrentUser,
    plan_id: i64,
    cycle: &str,
    provider: Provider,
) -> AppResult<CheckoutStart> {
    let cycle = Cycle::parse(cycle)
        .ok_or_else(|| AppError::invalid("Choose monthly or yearly billing."))?;
    let providers = state.config.billing.providers();
    if !providers.contains(&provider) {
        return Err(AppError::invalid("That payment method is not available."));
    }
    if crate::entitlements::is_vip(&state.db.pool, user.id).await? {
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
    if let Some(sub) = current
        .as_ref()
        .filter(|s| s.status == SubscriptionStatus::Active)
    {
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
        Provider::Test => format!("{base}/billing/test-pay/{reference}"),
        Provider::Stripe => {
            let session = stripe_client(state)?
                .create_checkout_session(&request)
                .await
                .map_err(|e| provider_error("Stripe", e))?;
            repo::set_checkout_session(&state.db, checkout_id, &session.id).await?;
            session.url
        }
        Provider::Paypal => {
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
    };
    audit::record(
        &state.db,
        Some(user.id),
        "billing.checkout_started",
        &slug,
        "",
        provider.as_str(),
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

pub async fn cancel(state: &AppState, user: &CurrentUser, resume: bool) -> AppResult<String> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let sub = repo::subscription_of_user(&mut *tx, user.id)
        .await?
        .filter(|s| s.status.grants_plan())
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

/// What the customer sees of a subscription row; `plan_name` names plans.
pub fn subscription_info(
    s: repo::SubRow,
    plan_name: impl Fn(i64) -> Option<String>,
) -> SubscriptionInfo {
    SubscriptionInfo {
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
    }
}

/// The dashboard's plan card: the overview's plan, VIP flag and renewal,
/// without the plan list and invoices it does not show (two queries fewer).
pub async fn plan_summary(
    db: &crate::db::Db,
    user_id: i64,
) -> AppResult<crate::overview::PlanSummary> {
    use crate::overview::Renewal;
    let renewal = match repo::subscription_of_user(&db.pool, user_id).await? {
        None => Renewal::None,
        Some(s) => {
            let info = subscription_info(s, |_| None);
            if info.cancel_at_period_end {
                Renewal::Ends(info.current_period_end)
            } else if info.grants_plan() {
                Renewal::Renews(info.current_period_end)
            } else {
                Renewal::None
            }
        }
    };
    let (is_vip, service) = crate::entitlements::vip_and_service(&db.pool, user_id).await?;
    Ok(crate::overview::PlanSummary {
        current_plan: repo::user_plan_name(&db.pool, user_id)
            .await?
            .unwrap_or_else(|| "Free".into()),
        is_vip,
        renewal,
        service_off: match service {
            crate::entitlements::Service::On => None,
            crate::entitlements::Service::Off(why) => Some(why),
        },
    })
}

pub async fn overview(state: &AppState, user: &CurrentUser) -> AppResult<BillingOverview> {
    let db = &state.db;
    let sub = repo::subscription_of_user(&db.pool, user.id).await?;
    let plans = repo::list(db, true).await?;
    let plan_name = |id: i64| plans.iter().find(|p| p.id == id).map(|p| p.name.clone());
    // Read only when a smaller plan may be coming, so the common page pays
    // no extra statement.
    let keep = match &sub {
        Some(s) if s.pending_plan_id.is_some() || s.cancel_at_period_end => {
            crate::pausing::service::preview(db, user.id).await?
        }
        _ => None,
    };
    let subscription = sub.map(|s| subscription_info(s, plan_name));
    Ok(BillingOverview {
        keep,
        subscription,
        invoices: repo::list_invoices(db, user.id).await?,
        current_plan: repo::user_plan_name(&db.pool, user.id)
            .await?
            .unwrap_or_else(|| "Free".into()),
        is_vip: crate::entitlements::is_vip(&db.pool, user.id).await?,
        plans,
        providers: state.config.billing.providers(),
    })
}
