//! Payment provider adapters (Stripe, PayPal): REST clients, webhook
//! verification, normalised events.
//!
//! This crate is deliberately pure: no database, no web framework. The portal
//! (`app/`) owns idempotency (it stores [`PaymentEvent::event_id`]), ordering
//! (it compares [`PaymentEvent::created`] with what it already recorded) and
//! trust in amounts (it checks every amount and reference against its own
//! records). What this crate guarantees:
//!
//! * a webhook is accepted only after its signature was checked
//!   ([`stripe::verify_signature`], [`paypal::PayPalClient::verify_webhook`]);
//! * bodies larger than [`MAX_BODY_BYTES`] are refused before parsing;
//! * money is integer minor units (cents) everywhere; PayPal's decimal strings
//!   are parsed exactly, never through floats ([`parse_decimal_amount`]);
//! * errors never carry secrets, signatures or authorisation headers.
//!
//! Typical webhook handler (Stripe):
//!
//! ```text
//! stripe::verify_signature(&endpoint_secret, sig_header, &body, now)?; // 400 on Err
//! let event = stripe::parse_event(&body)?;                            // 400 on Err
//! // dedupe on event.event_id(), then apply.
//! ```

use std::fmt;

pub mod paypal;
pub mod stripe;

mod money;

pub use money::{currency_exponent, parse_decimal_amount};

/// Largest webhook body accepted, in bytes. Real Stripe and PayPal events are
/// a few KiB; refusing anything over 1 MiB bounds the work an unauthenticated
/// sender can cause. The portal should use the same figure for its own
/// request-body limit on the webhook routes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A provider event normalised to what the billing domain needs.
///
/// `event_id` is the provider's event id (Stripe `evt_…`, PayPal `WH-…`): the
/// key for idempotency. `created` is the provider's event time in Unix
/// seconds: the key for ordering. Currencies are upper-case ISO 4217 codes;
/// amounts are minor units (cents; whole yen for JPY).
///
/// Note for dedup: Stripe sends both `invoice.paid` and
/// `invoice.payment_succeeded` for one payment (two event ids). Both map to
/// [`PaymentEvent::PaymentSucceeded`] with the same `provider_payment_id`
/// (the invoice id), so record payments by `provider_payment_id` too.
///
/// Serialises as `{"type": "payment_succeeded", "event_id": …, …}`, handy
/// for storing the normalised event next to the raw one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentEvent {
    /// The customer finished checkout.
    ///
    /// * Stripe `checkout.session.completed`: `checkout_ref` is
    ///   `client_reference_id`, `provider_session_id` the `cs_…` id,
    ///   `provider_subscription_id` the `sub_…` id (None for one-off
    ///   payments), amount `amount_total`.
    /// * PayPal `BILLING.SUBSCRIPTION.ACTIVATED`: `checkout_ref` is
    ///   `custom_id`, `provider_session_id` and `provider_subscription_id`
    ///   are both the `I-…` subscription id. The amount is
    ///   `billing_info.last_payment.amount`; when PayPal has not reported a
    ///   payment yet (e.g. a trial) `amount_cents` is 0 and `currency` is
    ///   empty — the money then arrives as a `PaymentSucceeded`.
    CheckoutCompleted {
        event_id: String,
        created: i64,
        checkout_ref: String,
        provider_session_id: String,
        provider_subscription_id: Option<String>,
        /// The provider's plan the subscription is on (PayPal `P-…`), when the event says.
        provider_plan_id: Option<String>,
        amount_cents: i64,
        currency: String,
    },
    /// A (renewal or first) payment of a subscription went through.
    ///
    /// * Stripe `invoice.paid` / `invoice.payment_succeeded`:
    ///   `provider_payment_id` is the invoice id (`in_…`), amount
    ///   `amount_paid`, `period_end` the latest `lines.data[].period.end`.
    /// * PayPal `PAYMENT.SALE.COMPLETED`: `provider_payment_id` is the sale
    ///   id, `provider_subscription_id` the `billing_agreement_id`, amount
    ///   `amount.total`; `period_end` is None (PayPal does not say).
    PaymentSucceeded {
        event_id: String,
        created: i64,
        provider_subscription_id: String,
        provider_payment_id: String,
        amount_cents: i64,
        currency: String,
        period_end: Option<i64>,
    },
    /// A subscription payment failed.
    ///
    /// * Stripe `invoice.payment_failed`: payment id is the invoice id,
    ///   amount `amount_due`, `reason` mentions the attempt count.
    /// * PayPal `BILLING.SUBSCRIPTION.PAYMENT.FAILED`: no payment id, amount
    ///   from `billing_info.last_failed_payment.amount` (else
    ///   `outstanding_balance`), `reason` PayPal's `reason_code`.
    PaymentFailed {
        event_id: String,
        created: i64,
        provider_subscription_id: String,
        provider_payment_id: Option<String>,
        amount_cents: i64,
        currency: String,
        reason: String,
    },
    /// The provider ended the subscription (Stripe
    /// `customer.subscription.deleted`, PayPal `BILLING.SUBSCRIPTION.CANCELLED`).
    SubscriptionCancelled {
        event_id: String,
        created: i64,
        provider_subscription_id: String,
    },
    /// A verified event we do not act on (`kind` is the provider's event
    /// type). Also used for mapped types that do not concern a subscription,
    /// e.g. a Stripe invoice with no subscription or a PayPal sale with no
    /// billing agreement. Answer 2xx so the provider stops retrying.
    Ignored {
        event_id: String,
        created: i64,
        kind: String,
    },
}

impl PaymentEvent {
    /// The provider's event id, the idempotency key.
    pub fn event_id(&self) -> &str {
        match self {
            PaymentEvent::CheckoutCompleted { event_id, .. }
            | PaymentEvent::PaymentSucceeded { event_id, .. }
            | PaymentEvent::PaymentFailed { event_id, .. }
            | PaymentEvent::SubscriptionCancelled { event_id, .. }
            | PaymentEvent::Ignored { event_id, .. } => event_id,
        }
    }

    /// The provider's event time, Unix seconds.
    pub fn created(&self) -> i64 {
        match self {
            PaymentEvent::CheckoutCompleted { created, .. }
            | PaymentEvent::PaymentSucceeded { created, .. }
            | PaymentEvent::PaymentFailed { created, .. }
            | PaymentEvent::SubscriptionCancelled { created, .. }
            | PaymentEvent::Ignored { created, .. } => *created,
        }
    }

    /// The provider subscription this event is about, when there is one.
    pub fn provider_subscription_id(&self) -> Option<&str> {
        match self {
            PaymentEvent::CheckoutCompleted {
                provider_subscription_id,
                ..
            } => provider_subscription_id.as_deref(),
            PaymentEvent::PaymentSucceeded {
                provider_subscription_id,
                ..
            }
            | PaymentEvent::PaymentFailed {
                provider_subscription_id,
                ..
            }
            | PaymentEvent::SubscriptionCancelled {
                provider_subscription_id,
                ..
            } => Some(provider_subscription_id),
            PaymentEvent::Ignored { .. } => None,
        }
    }
}

/// Billing interval of a plan price. Serialises as `"month"` / `"year"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Month,
    Year,
}

impl std::str::FromStr for Interval {
    type Err = String;
    /// Accepts `month`/`monthly` and `year`/`yearly`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "month" | "monthly" => Ok(Interval::Month),
            "year" | "yearly" => Ok(Interval::Year),
            _ => Err(format!("unknown billing interval {:?}", truncate(s, 20))),
        }
    }
}

impl Interval {
    /// `"month"` / `"year"`.
    pub fn as_str(self) -> &'static str {
        self.as_stripe()
    }

    /// Stripe's `recurring[interval]` spelling.
    pub fn as_stripe(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

/// What the portal asks a provider to start a checkout for.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our reference, echoed back in the webhook (Stripe
    /// `client_reference_id`, PayPal `custom_id`). At most 127 characters
    /// (PayPal's limit; Stripe allows 200). Use one per checkout attempt:
    /// PayPal also receives it as `PayPal-Request-Id`, so a retried create
    /// with the same reference returns the same subscription.
    pub reference: String,
    /// Product name shown on Stripe's page.
    pub plan_name: String,
    /// Price per interval in minor units. Used by Stripe (inline
    /// `price_data`); PayPal takes the price from `provider_plan_id`.
    pub amount_cents: i64,
    /// ISO 4217 code, any case (sent lower-case to Stripe).
    pub currency: String,
    pub interval: Interval,
    pub customer_email: String,
    pub success_url: String,
    pub cancel_url: String,
    /// PayPal billing plan id (`P-…`); required by PayPal, ignored by Stripe.
    pub provider_plan_id: Option<String>,
}

impl fmt::Debug for CheckoutRequest {
    // The e-mail address is personal data; keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckoutRequest")
            .field("reference", &self.reference)
            .field("plan_name", &self.plan_name)
            .field("amount_cents", &self.amount_cents)
            .field("currency", &self.currency)
            .field("interval", &self.interval)
            .field("customer_email", &"<redacted>")
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .field("provider_plan_id", &self.provider_plan_id)
            .finish()
    }
}

impl CheckoutRequest {
    /// Checks done before anything is sent, so a bad request fails the same
    /// way for both providers.
    pub(crate) fn validate(&self) -> Result<(), PaymentError> {
        let bad = |m: &str| Err(PaymentError::InvalidRequest(m.to_string()));
        if self.reference.is_empty() || self.reference.chars().count() > 127 {
            return bad("reference must be 1 to 127 characters");
        }
        if self.amount_cents <= 0 {
            return bad("amount_cents must be positive");
        }
        if !is_currency_code(&self.currency) {
            return bad("currency must be a three-letter ISO 4217 code");
        }
        if self.success_url.is_empty() || self.cancel_url.is_empty() {
            return bad("success_url and cancel_url are required");
        }
        Ok(())
    }
}

/// A checkout the customer must be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// Stripe Checkout Session id (`cs_…`) or PayPal subscription id (`I-…`).
    pub id: String,
    /// Where to redirect the customer (Stripe's page, PayPal's approve link).
    pub url: String,
}

/// Errors of the REST clients. Messages never contain API keys, tokens or
/// the customer's e-mail.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Network failure or time-out: worth retrying later.
    #[error("{provider} is unreachable: {detail}")]
    Unreachable {
        provider: &'static str,
        detail: String,
    },
    /// The provider answered with an error status.
    #[error("{provider} refused the request (HTTP {status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Refused {
        provider: &'static str,
        status: u16,
        /// Provider error code when given (Stripe `error.code` or
        /// `error.type`, PayPal `name` / `error`).
        code: Option<String>,
        message: String,
    },
    /// The provider answered 2xx with something we could not use.
    #[error("{provider} sent an unusable response: {detail}")]
    BadResponse {
        provider: &'static str,
        detail: String,
    },
    /// The request was refused before anything was sent.
    #[error("invalid checkout request: {0}")]
    InvalidRequest(String),
}

impl PaymentError {
    /// True when trying again later may succeed (network trouble, provider
    /// 5xx or 429).
    pub fn is_retryable(&self) -> bool {
        match self {
            PaymentError::Unreachable { .. } => true,
            PaymentError::Refused { status, .. } => *status >= 500 || *status == 429,
            PaymentError::BadResponse { .. } | PaymentError::InvalidRequest(_) => false,
        }
    }
}

/// Errors of webhook verification and parsing. Answer 400 for all of them
/// except [`WebhookError::Provider`] with a retryable cause (answer 5xx so
/// the provider redelivers); see [`WebhookError::is_retryable`].
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {header} header: {detail}")]
    MalformedHeader {
        header: &'static str,
        detail: String,
    },
    #[error("no signature in the header matches the body")]
    NoMatchingSignature,
    #[error("webhook timestamp {timestamp} is {age} s away from now, more than the {tolerance} s allowed")]
    StaleTimestamp {
        timestamp: i64,
        age: u64,
        tolerance: u64,
    },
    /// PayPal answered the verification call with something else than
    /// `SUCCESS` (the status it gave).
    #[error("the provider refused the webhook signature (status {0})")]
    VerificationRefused(String),
    /// PayPal's certificate URL is not on a PayPal host.
    #[error("certificate URL is not on a PayPal host")]
    UntrustedCertUrl,
    /// The verification call itself failed.
    #[error("webhook verification call failed: {0}")]
    Provider(#[from] PaymentError),
    #[error("webhook body is empty")]
    EmptyBody,
    #[error("webhook body is {len} bytes, more than the {max} allowed")]
    BodyTooLarge { len: usize, max: usize },
    #[error("malformed webhook body: {0}")]
    MalformedBody(String),
    #[error("webhook event lacks {0}")]
    MissingField(&'static str),
    #[error("bad amount {value:?}: {detail}")]
    BadAmount { value: String, detail: String },
    #[error("bad currency code {0:?}")]
    BadCurrency(String),
}

impl WebhookError {
    /// True when the failure was ours or the network's, not the sender's:
    /// answer 5xx so the provider delivers again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WebhookError::Provider(e) if e.is_retryable())
    }
}

/// Refuses empty and oversized bodies before any parsing or hashing.
pub(crate) fn check_body_size(body: &[u8]) -> Result<(), WebhookError> {
    if body.is_empty() {
        return Err(WebhookError::EmptyBody);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::BodyTooLarge {
            len: body.len(),
            max: MAX_BODY_BYTES,
        });
    }
    Ok(())
}

pub(crate) fn is_currency_code(c: &str) -> bool {
    c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Validates and upper-cases a currency code from a provider.
pub(crate) fn normalise_currency(c: &str) -> Result<String, WebhookError> {
    if is_currency_code(c) {
        Ok(c.to_ascii_uppercase())
    } else {
        Err(WebhookError::BadCurrency(truncate(c, 16)))
    }
}

/// Keeps error messages bounded when they quote outside input.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

/// Timeouts for the REST clients: a checkout is created while the customer
/// waits, so fail fast rather than hang the page.
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
pub(crate) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("truevault-payments/", env!("CARGO_PKG_VERSION")))
        .build()
        // Building only fails when the TLS backend cannot initialise, which
        // is a broken build, not a runtime condition; fall back to defaults.
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Describes a reqwest failure without the request URL's query or headers
/// (none of ours carry secrets in the URL, but keep the habit).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut detail = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    detail
}
