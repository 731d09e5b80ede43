//! The built-in test provider: the whole payment flow with no real money.
//! It emits the same events a real provider would send.

use truevault_payments::PaymentEvent;

use super::{
    events::{apply_event, Outcome},
    model::{CheckoutStatus, Provider},
    repo::{self, SubRow},
};
use crate::{
    accounts::model::CurrentUser,
    error::{AppError, AppResult},
    state::AppState,
};

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
        .filter(|c| c.user_id == user.id && c.provider == Provider::Test)
        .ok_or(AppError::NotFound)?;
    let created = state.clock.now();
    match result {
        "decline" => {
            let mut tx = state.db.begin_write().await?;
            repo::finish_checkout(&mut tx, checkout.id, CheckoutStatus::Failed, created).await?;
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
                provider_plan_id: None,
                amount_cents: checkout.amount_cents,
                currency: checkout.currency.clone(),
            };
            apply_event(state, Provider::Test, &event).await
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
    apply_event(state, Provider::Test, &event).await
}
