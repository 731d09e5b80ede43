//! Plan storage.

use sqlx::Row;

use super::model::{
    CheckoutStatus, InvoiceStatus, PaymentStatus, Plan, Provider, SubscriptionStatus,
};
use crate::db::Db;

pub async fn list(db: &Db, only_active: bool) -> Result<Vec<Plan>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, slug, name, price_monthly_cents, price_yearly_cents, currency, max_devices, max_cameras, \
                max_identities, max_mesh_members, bandwidth_capped, data_cap_gb, features, is_active \
         FROM plans WHERE is_active = 1 OR $1 = 0 ORDER BY sort_order, id",
    )
    .bind(only_active as i64)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let features: String = r.try_get("features")?;
            Ok(Plan {
                id: r.try_get("id")?,
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                price_monthly_cents: r.try_get("price_monthly_cents")?,
                price_yearly_cents: r.try_get("price_yearly_cents")?,
                currency: r.try_get("currency")?,
                max_devices: r.try_get("max_devices")?,
                max_cameras: r.try_get("max_cameras")?,
                max_identities: r.try_get("max_identities")?,
                max_mesh_members: r.try_get("max_mesh_members")?,
                bandwidth_capped: r.try_get::<i64, _>("bandwidth_capped")? != 0,
                data_cap_gb: r.try_get("data_cap_gb")?,
                features: features
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                is_active: r.try_get::<i64, _>("is_active")? != 0,
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &Db,
    id: i64,
    name: &str,
    monthly: i64,
    yearly: i64,
    limits: [i64; 4],
    data_cap_gb: i64,
    is_active: bool,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE plans SET name = $1, price_monthly_cents = $2, price_yearly_cents = $3, max_devices = $4, \
         max_cameras = $5, max_identities = $6, max_mesh_members = $7, is_active = $8, data_cap_gb = $10, \
         bandwidth_capped = CASE WHEN $10 > 0 THEN 1 ELSE 0 END WHERE id = $9",
    )
    .bind(name)
    .bind(monthly)
    .bind(yearly)
    .bind(limits[0])
    .bind(limits[1])
    .bind(limits[2])
    .bind(limits[3])
    .bind(is_active as i64)
    .bind(id)
    .bind(data_cap_gb)
    .execute(&db.pool)
    .await
    .map(|r| r.rows_affected())
}

// ---- subscriptions, checkouts, invoices, payments, webhook events ----

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub async fn find_plan<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
) -> Result<Option<(String, String, i64, i64, String, bool)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT slug, name, price_monthly_cents, price_yearly_cents, currency, is_active FROM plans WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get::<i64, _>(5)? != 0,
        ))
    })
    .transpose()
}

pub async fn plan_id_by_slug(tx: &mut Tx, slug: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM plans WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut **tx)
        .await
}

/// Everything the flows need about a subscription.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubRow {
    pub id: i64,
    pub user_id: i64,
    pub plan_id: i64,
    pub cycle: String,
    pub status: SubscriptionStatus,
    pub provider: Provider,
    pub provider_subscription_id: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub current_period_start: i64,
    pub current_period_end: i64,
    #[sqlx(try_from = "crate::typed::Flag")]
    pub cancel_at_period_end: bool,
    pub pending_plan_id: Option<i64>,
    pub last_event_at: i64,
}

const SUB_COLS: &str = "id, user_id, plan_id, cycle, status, provider, provider_subscription_id, amount_cents, currency, \
    current_period_start, current_period_end, cancel_at_period_end, pending_plan_id, last_event_at";

pub async fn subscription_of_user<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    user_id: i64,
) -> Result<Option<SubRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

pub async fn subscription_by_id<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
) -> Result<Option<SubRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn subscription_by_provider_id(
    tx: &mut Tx,
    provider_subscription_id: &str,
) -> Result<Option<SubRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUB_COLS} FROM subscriptions WHERE provider_subscription_id = $1"
    ))
    .bind(provider_subscription_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Creates or replaces the user's subscription (one per user) as active.
#[allow(clippy::too_many_arguments)]
pub async fn activate_subscription(
    tx: &mut Tx,
    user_id: i64,
    plan_id: i64,
    cycle: &str,
    provider: Provider,
    provider_subscription_id: &str,
    amount_cents: i64,
    currency: &str,
    start: i64,
    end: i64,
    event_at: i64,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO subscriptions (user_id, plan_id, cycle, status, provider, provider_subscription_id, amount_cents, \
         currency, current_period_start, current_period_end, cancel_at_period_end, pending_plan_id, grace_started_at, \
         last_event_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, 0, NULL, NULL, $10, $8, $8) \
         ON CONFLICT (user_id) DO UPDATE SET plan_id = excluded.plan_id, cycle = excluded.cycle, status = 'active', \
         provider = excluded.provider, provider_subscription_id = excluded.provider_subscription_id, \
         amount_cents = excluded.amount_cents, currency = excluded.currency, \
         current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end, \
         cancel_at_period_end = 0, pending_plan_id = NULL, grace_started_at = NULL, \
         last_event_at = excluded.last_event_at, updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(user_id)
    .bind(plan_id)
    .bind(cycle)
    .bind(provider)
    .bind(provider_subscription_id)
    .bind(amount_cents)
    .bind(currency)
    .bind(start)
    .bind(end)
    .bind(event_at)
    .fetch_one(&mut **tx)
    .await?;
    // Paying again may end a suspension: nodes re-read the user's peers.
    crate::vpn::repo::bump_user_servers(tx, user_id).await?;
    Ok(id)
}

/// A subscription's status decides service (`entitlements::service`):
/// its user's nodes re-read their peers.
async fn bump_user_servers_of(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    let user: Option<i64> = sqlx::query_scalar("SELECT user_id FROM subscriptions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match user {
        Some(user) => crate::vpn::repo::bump_user_servers(tx, user).await,
        None => Ok(()),
    }
}

/// Sets the status (and what goes with it) of a subscription.
pub async fn set_status(
    tx: &mut Tx,
    id: i64,
    status: SubscriptionStatus,
    grace_started_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE subscriptions SET status = $1, grace_started_at = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(status)
    .bind(grace_started_at)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    bump_user_servers_of(tx, id).await
}

pub async fn set_period(
    tx: &mut Tx,
    id: i64,
    start: i64,
    end: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE subscriptions SET status = 'active', grace_started_at = NULL, current_period_start = $1, \
         current_period_end = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(start)
    .bind(end)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    bump_user_servers_of(tx, id).await
}

pub async fn set_event_at(tx: &mut Tx, id: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscriptions SET last_event_at = $1 WHERE id = $2 AND last_event_at < $1")
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn set_cancel_at_period_end(
    tx: &mut Tx,
    id: i64,
    cancel: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscriptions SET cancel_at_period_end = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(cancel))
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn set_pending_plan(
    tx: &mut Tx,
    id: i64,
    plan_id: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscriptions SET pending_plan_id = $1, updated_at = $2 WHERE id = $3")
        .bind(plan_id)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Switches the plan a subscription renews at (a downgrade taking effect).
pub async fn switch_plan(
    tx: &mut Tx,
    id: i64,
    plan_id: i64,
    amount_cents: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE subscriptions SET plan_id = $1, amount_cents = $2, pending_plan_id = NULL WHERE id = $3",
    )
    .bind(plan_id)
    .bind(amount_cents)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Moves a user to a plan. A data cap reached under the old plan ends
/// with it (the new plan's own cap is checked on the next stats report).
pub async fn set_user_plan(tx: &mut Tx, user_id: i64, plan_id: i64) -> Result<(), sqlx::Error> {
    let old: Option<Option<i64>> = sqlx::query_scalar("SELECT plan_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    sqlx::query("UPDATE users SET plan_id = $1 WHERE id = $2")
        .bind(plan_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    if old.flatten() != Some(plan_id) {
        crate::vpn::repo::set_data_capped(tx, user_id, None).await?;
    }
    // What the new plan does not include is paused, what it includes again
    // resumes (`pausing`), in the plan change's own transaction.
    crate::pausing::service::fit_to_plan(tx, user_id).await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckoutRow {
    pub id: i64,
    pub user_id: i64,
    pub plan_id: i64,
    pub cycle: String,
    pub provider: Provider,
    pub amount_cents: i64,
    pub currency: String,
    pub status: CheckoutStatus,
    pub reference: String,
    /// What the provider calls this checkout (Stripe `cs_…`, PayPal's subscription `I-…`).
    pub provider_session_id: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub async fn create_checkout(
    db: &Db,
    reference: &str,
    user_id: i64,
    plan_id: i64,
    cycle: &str,
    provider: Provider,
    amount_cents: i64,
    currency: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO checkouts (reference, user_id, plan_id, cycle, provider, amount_cents, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(reference)
    .bind(user_id)
    .bind(plan_id)
    .bind(cycle)
    .bind(provider)
    .bind(amount_cents)
    .bind(currency)
    .bind(now)
    .fetch_one(&db.pool)
    .await
}

pub async fn set_checkout_session(db: &Db, id: i64, session: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE checkouts SET provider_session_id = $1 WHERE id = $2")
        .bind(session)
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

const CHECKOUT_COLUMNS: &str =
    "id, user_id, plan_id, cycle, provider, amount_cents, currency, status, reference, provider_session_id";

pub async fn checkout_by_reference<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    reference: &str,
) -> Result<Option<CheckoutRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE reference = $1"
    ))
    .bind(reference)
    .fetch_optional(ex)
    .await
}

/// The open checkout whose provider-side subscription (or session) is `session`.
pub async fn open_checkout_by_session<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    provider: Provider,
    session: &str,
) -> Result<Option<CheckoutRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE provider = $1 AND provider_session_id = $2 AND status = 'open'"
    ))
    .bind(provider)
    .bind(session)
    .fetch_optional(ex)
    .await
}

pub async fn finish_checkout(
    tx: &mut Tx,
    id: i64,
    status: CheckoutStatus,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE checkouts SET status = $1, completed_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// An invoice with the next number; the counter row stays locked until
/// the transaction ends, so numbers are sequential and gapless.
#[allow(clippy::too_many_arguments)]
pub async fn insert_invoice(
    tx: &mut Tx,
    user_id: i64,
    subscription_id: i64,
    description: &str,
    amount_cents: i64,
    tax_cents: i64,
    currency: &str,
    status: InvoiceStatus,
    due_at: i64,
    paid_at: Option<i64>,
    now: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let number: i64 = sqlx::query_scalar(
        "UPDATE invoice_counter SET next_number = next_number + 1 WHERE id = 1 RETURNING next_number - 1",
    )
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invoices (number, user_id, subscription_id, description, amount_cents, tax_cents, total_cents, \
         currency, status, due_at, paid_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(number)
    .bind(user_id)
    .bind(subscription_id)
    .bind(description)
    .bind(amount_cents)
    .bind(tax_cents)
    .bind(amount_cents + tax_cents)
    .bind(currency)
    .bind(status)
    .bind(due_at)
    .bind(paid_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok((id, number))
}

/// Marks the subscription's open (overdue) invoices paid; returns how many.
pub async fn settle_open_invoices(
    tx: &mut Tx,
    subscription_id: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE invoices SET status = 'paid', paid_at = $1 WHERE subscription_id = $2 AND status IN ('sent', 'overdue')",
    )
    .bind(now)
    .bind(subscription_id)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}

/// Records a payment once per provider payment id; false when already recorded.
#[allow(clippy::too_many_arguments)]
pub async fn insert_payment(
    tx: &mut Tx,
    user_id: i64,
    subscription_id: i64,
    invoice_id: Option<i64>,
    provider: Provider,
    provider_payment_id: &str,
    amount_cents: i64,
    currency: &str,
    status: PaymentStatus,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO payments (user_id, subscription_id, invoice_id, provider, provider_payment_id, amount_cents, currency, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (provider, provider_payment_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(subscription_id)
    .bind(invoice_id)
    .bind(provider)
    .bind(provider_payment_id)
    .bind(amount_cents)
    .bind(currency)
    .bind(status)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Remembers a webhook event; false when it was seen before.
pub async fn record_event(
    tx: &mut Tx,
    provider: Provider,
    event_id: &str,
    kind: &str,
    outcome: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO webhook_events (provider, event_id, kind, outcome, received_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(kind)
    .bind(outcome)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn set_event_outcome(
    tx: &mut Tx,
    provider: Provider,
    event_id: &str,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhook_events SET outcome = $1 WHERE provider = $2 AND event_id = $3")
        .bind(outcome)
        .bind(provider)
        .bind(event_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

const INVOICE_SELECT: &str = "SELECT i.id, i.number, i.description, i.amount_cents, i.tax_cents, i.total_cents, i.currency, \
    i.status, i.due_at, i.paid_at, i.created_at, u.email, u.first_name FROM invoices i JOIN users u ON u.id = i.user_id";

fn invoice_from_row(r: &sqlx::any::AnyRow) -> Result<super::model::InvoiceInfo, sqlx::Error> {
    Ok(super::model::InvoiceInfo {
        id: r.try_get(0)?,
        number: r.try_get(1)?,
        description: r.try_get(2)?,
        amount_cents: r.try_get(3)?,
        tax_cents: r.try_get(4)?,
        total_cents: r.try_get(5)?,
        currency: r.try_get(6)?,
        status: r.try_get(7)?,
        due_at: r.try_get(8)?,
        paid_at: r.try_get(9)?,
        created_at: r.try_get(10)?,
        customer_email: r.try_get(11)?,
        customer_name: r.try_get(12)?,
    })
}

pub async fn list_invoices(
    db: &Db,
    user_id: i64,
) -> Result<Vec<super::model::InvoiceInfo>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{INVOICE_SELECT} WHERE i.user_id = $1 ORDER BY i.number DESC LIMIT 200"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(invoice_from_row).collect()
}

pub async fn invoice_of_user(
    db: &Db,
    user_id: i64,
    number: i64,
) -> Result<Option<super::model::InvoiceInfo>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{INVOICE_SELECT} WHERE i.user_id = $1 AND i.number = $2"
    ))
    .bind(user_id)
    .bind(number)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(invoice_from_row).transpose()
}

pub async fn latest_invoice_number<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    subscription_id: i64,
) -> Result<Option<(i64, i64, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT number, total_cents, currency FROM invoices WHERE subscription_id = $1 ORDER BY number DESC LIMIT 1",
    )
    .bind(subscription_id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .transpose()
}

pub async fn user_plan_name<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    user_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT p.name FROM users u JOIN plans p ON p.id = u.plan_id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(ex)
    .await
}
