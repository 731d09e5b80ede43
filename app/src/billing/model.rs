//! Plan types and limits. `-1` means unlimited everywhere.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub price_monthly_cents: i64,
    pub price_yearly_cents: i64,
    pub currency: String,
    pub max_devices: i64,
    pub max_cameras: i64,
    pub max_identities: i64,
    pub max_mesh_members: i64,
    pub bandwidth_capped: bool,
    /// Monthly data allowance in GB; 0 means none.
    pub data_cap_gb: i64,
    pub features: Vec<String>,
    pub is_active: bool,
}

pub const UNLIMITED: i64 = -1;

/// Whether one more item fits under `limit` when `used` exist.
pub fn within_limit(limit: i64, used: i64) -> bool {
    limit == UNLIMITED || used < limit
}

pub fn format_limit(limit: i64) -> String {
    if limit == UNLIMITED {
        "Unlimited".into()
    } else {
        limit.to_string()
    }
}

/// `999` → `$9.99`.
pub fn format_price(cents: i64, currency: &str) -> String {
    let symbol = if currency == "USD" { "$" } else { "" };
    format!("{symbol}{}.{:02}", cents / 100, cents % 100)
}

/// Validates an admin's plan edit.
pub fn validate_limits(values: &[i64]) -> Result<(), String> {
    if values.iter().any(|v| *v < -1 || *v > 1_000_000) {
        return Err("Limits are -1 (unlimited) or between 0 and 1,000,000.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_formatting() {
        assert!(within_limit(1, 0));
        assert!(!within_limit(1, 1));
        assert!(!within_limit(0, 0));
        assert!(within_limit(UNLIMITED, 10_000));
        assert_eq!(format_price(999, "USD"), "$9.99");
        assert_eq!(format_price(14990, "USD"), "$149.90");
        assert_eq!(format_limit(-1), "Unlimited");
        assert!(validate_limits(&[-1, 0, 3]).is_ok());
        assert!(validate_limits(&[-2]).is_err());
    }
}

crate::string_enum! {
    /// Where a subscription stands.
    pub enum SubscriptionStatus {
        Active = "active",
        /// A payment failed; the customer still has the plan while they retry.
        GracePeriod = "grace_period",
        PastDue = "past_due",
        Cancelled = "cancelled",
        Expired = "expired",
        Suspended = "suspended",
    }
}

impl SubscriptionStatus {
    /// Paid features stay on while the customer still has time to pay.
    pub fn grants_plan(self) -> bool {
        matches!(self, Self::Active | Self::GracePeriod | Self::PastDue)
    }

    /// A payment failed and the dunning steps are running.
    pub fn in_dunning(self) -> bool {
        matches!(self, Self::GracePeriod | Self::PastDue)
    }

    /// What the billing page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::GracePeriod => "Payment failed — grace period",
            Self::PastDue => "Past due",
            Self::Cancelled => "Cancelled",
            Self::Expired => "Expired",
            Self::Suspended => "Suspended",
        }
    }
}

crate::string_enum! {
    /// A payment provider.
    pub enum Provider {
        /// The built-in test provider: no real money.
        Test = "test",
        Stripe = "stripe",
        Paypal = "paypal",
    }
}

impl Provider {
    /// What the checkout form calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Stripe => "Card (Stripe)",
            Self::Paypal => "PayPal",
            Self::Test => "Test payment (no real money)",
        }
    }
}

crate::string_enum! {
    /// Where a checkout (what we asked a provider to charge) stands.
    pub enum CheckoutStatus {
        Open = "open",
        Completed = "completed",
        Failed = "failed",
        Expired = "expired",
    }
}

crate::string_enum! {
    /// Where an invoice stands.
    pub enum InvoiceStatus {
        Draft = "draft",
        Sent = "sent",
        Paid = "paid",
        Overdue = "overdue",
        Cancelled = "cancelled",
    }
}

crate::string_enum! {
    /// Where a payment stands.
    pub enum PaymentStatus {
        Pending = "pending",
        Completed = "completed",
        Failed = "failed",
        Refunded = "refunded",
    }
}

/// The user's subscription as the billing page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    pub id: i64,
    pub plan_id: i64,
    pub plan_name: String,
    pub cycle: String,
    pub status: SubscriptionStatus,
    pub provider: Provider,
    pub amount_cents: i64,
    pub currency: String,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub cancel_at_period_end: bool,
    pub pending_plan_name: Option<String>,
}

impl SubscriptionInfo {
    /// Paid features stay on while the customer still has time to pay.
    pub fn grants_plan(&self) -> bool {
        self.status.grants_plan()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceInfo {
    pub id: i64,
    pub number: i64,
    pub description: String,
    pub amount_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub currency: String,
    pub status: InvoiceStatus,
    pub due_at: i64,
    pub paid_at: Option<i64>,
    pub created_at: i64,
    pub customer_email: String,
    pub customer_name: String,
}

/// `TV-000042`.
pub fn invoice_label(number: i64) -> String {
    format!("TV-{number:06}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingOverview {
    pub subscription: Option<SubscriptionInfo>,
    pub invoices: Vec<InvoiceInfo>,
    pub plans: Vec<Plan>,
    pub current_plan: String,
    pub is_vip: bool,
    /// Providers the customer may pay with here.
    pub providers: Vec<Provider>,
    /// What a coming smaller plan keeps and pauses (`pausing`), while one
    /// is coming and something would be paused.
    #[serde(default)]
    pub keep: Option<crate::pausing::model::KeepPreview>,
}

/// A workflow mail template in the admin's editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailTemplateInfo {
    pub name: String,
    pub subject: String,
    pub body: String,
    pub customised: bool,
    pub preview_subject: String,
    pub preview_body: String,
}
