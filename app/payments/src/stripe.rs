//! Stripe: Checkout Session creation, `Stripe-Signature` verification and
//! event parsing.
//!
//! Both invoice shapes are understood: the one before API version
//! 2025-03-31 (`invoice.subscription`) and the one after
//! (`invoice.parent.subscription_details.subscription`), so the portal works
//! whatever API version the webhook endpoint is pinned to.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{
    check_body_size, describe_reqwest, normalise_currency, truncate, CheckoutRequest,
    CheckoutSession, PaymentError, PaymentEvent, WebhookError,
};

const PROVIDER: &str = "stripe";

/// Header name, for the portal's handler.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Largest allowed distance between the signed timestamp and now, seconds.
pub const TOLERANCE_SECS: u64 = 300;

/// Longest `Stripe-Signature` header considered; real ones are ~150 bytes
/// (a few more during secret rolls). Bounds the hashing/compare work.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// Stripe REST client (Checkout Sessions).
#[derive(Clone)]
pub struct StripeClient {
    base_url: String,
    secret_key: String,
    http: reqwest::Client,
}

impl fmt::Debug for StripeClient {
    // Never print the secret key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base_url", &self.base_url)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct SessionResponse {
    id: String,
    url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

impl StripeClient {
    /// `base_url` is `https://api.stripe.com` in production, a local
    /// stand-in in tests; a trailing slash is fine.
    pub fn new(base_url: &str, secret_key: &str) -> Self {
        StripeClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            http: crate::http_client(),
        }
    }

    /// The form fields sent to `POST /v1/checkout/sessions` (exposed for
    /// tests and debugging; contains the customer e-mail, so do not log).
    pub fn checkout_form(req: &CheckoutRequest) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("mode", "subscription".to_string()),
            ("client_reference_id", req.reference.clone()),
            ("success_url", req.success_url.clone()),
            ("cancel_url", req.cancel_url.clone()),
            ("line_items[0][quantity]", "1".to_string()),
            (
                "line_items[0][price_data][currency]",
                req.currency.to_ascii_lowercase(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                req.amount_cents.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                req.plan_name.clone(),
            ),
            (
                "line_items[0][price_data][recurring][interval]",
                req.interval.as_stripe().to_string(),
            ),
            // Our reference also on the subscription, so later invoice
            // events can be traced to it from Stripe's dashboard.
            (
                "subscription_data[metadata][truevault_reference]",
                req.reference.clone(),
            ),
            ("metadata[truevault_reference]", req.reference.clone()),
        ];
        // Stripe refuses an empty customer_email; without one its page asks.
        if !req.customer_email.is_empty() {
            form.push(("customer_email", req.customer_email.clone()));
        }
        form
    }

    /// Creates a Checkout Session in subscription mode with an inline price
    /// (`price_data`), so no Stripe-side price objects need to be kept in
    /// sync with our plans table. Sends `Idempotency-Key:
    /// truevault-checkout-{reference}`: use a fresh reference per checkout
    /// attempt (Stripe answers 400 `idempotency_error` when one key is reused
    /// with different parameters within 24 h).
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        req.validate()?;
        let form = Self::checkout_form(req);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let resp = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.base_url))
            .bearer_auth(&self.secret_key)
            // A retried create (time-out, double click) with the same
            // reference gets the same session back instead of a second one.
            .header(
                "Idempotency-Key",
                format!("truevault-checkout-{}", req.reference),
            )
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| PaymentError::Unreachable {
                provider: PROVIDER,
                detail: describe_reqwest(&e),
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| PaymentError::Unreachable {
            provider: PROVIDER,
            detail: describe_reqwest(&e),
        })?;
        if !status.is_success() {
            return Err(self.refusal(status.as_u16(), &bytes));
        }
        let session: SessionResponse =
            serde_json::from_slice(&bytes).map_err(|e| PaymentError::BadResponse {
                provider: PROVIDER,
                detail: format!("checkout session is not the expected JSON: {e}"),
            })?;
        let url = session.url.ok_or_else(|| PaymentError::BadResponse {
            provider: PROVIDER,
            detail: format!("checkout session {} has no url", session.id),
        })?;
        Ok(CheckoutSession {
            id: session.id,
            url,
        })
    }

    fn refusal(&self, status: u16, body: &[u8]) -> PaymentError {
        let (code, message) = match serde_json::from_slice::<ErrorEnvelope>(body) {
            Ok(env) => (
                env.error.code.or(env.error.kind),
                env.error
                    .message
                    .unwrap_or_else(|| "no message".to_string()),
            ),
            Err(_) => (
                None,
                format!(
                    "non-JSON error body: {}",
                    truncate(&String::from_utf8_lossy(body), 200)
                ),
            ),
        };
        // Stripe masks keys in its messages ("sk_test_****1234"); redact the
        // full key anyway in case a stand-in or proxy echoes it.
        let message = if self.secret_key.is_empty() {
            message
        } else {
            message.replace(&self.secret_key, "<redacted>")
        };
        PaymentError::Refused {
            provider: PROVIDER,
            status,
            code,
            message: truncate(&message, 500),
        }
    }
}

/// Computes the `v1` signature Stripe would send (hex). For tests, the
/// bench and the portal's own test provider; production only verifies.
pub fn sign(endpoint_secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(endpoint_secret, timestamp, body))
}

/// Builds a full `Stripe-Signature` header value for `body`.
pub fn signature_header(endpoint_secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        sign(endpoint_secret, timestamp, body)
    )
}

fn mac(endpoint_secret: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(endpoint_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// Verifies a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`) against
/// the raw body: HMAC-SHA256 with the endpoint secret over `"{t}.{body}"`;
/// any matching `v1` is accepted (Stripe sends several while a secret is
/// rolled), compared in constant time; `|now - t|` must be at most
/// [`TOLERANCE_SECS`]. `now` is Unix seconds, passed in so tests and the
/// portal's injectable clock decide the time.
///
/// The signature is checked before the timestamp, so a forged request
/// learns nothing about timing windows. Empty and oversized bodies are
/// refused first. `v0` and unknown schemes are ignored; a `v1` that is not
/// 64 hex digits simply does not match.
pub fn verify_signature(
    endpoint_secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), WebhookError> {
    check_body_size(body)?;
    let malformed = |detail: &str| WebhookError::MalformedHeader {
        header: SIGNATURE_HEADER,
        detail: detail.to_string(),
    };
    if header.trim().is_empty() {
        return Err(WebhookError::MissingHeader(SIGNATURE_HEADER));
    }
    if header.len() > MAX_HEADER_LEN {
        return Err(malformed("too long"));
    }
    if endpoint_secret.is_empty() {
        // A misconfigured portal must not accept everything signed with "".
        return Err(WebhookError::NoMatchingSignature);
    }
    let mut timestamp: Option<i64> = None;
    let mut candidates: Vec<[u8; 32]> = Vec::new();
    let mut saw_v1 = false;
    for item in header.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(malformed("an element is not key=value"));
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(malformed("more than one timestamp"));
                }
                let t = value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| malformed("timestamp is not an integer"))?;
                timestamp = Some(t);
            }
            "v1" => {
                saw_v1 = true;
                let mut buf = [0u8; 32];
                if hex::decode_to_slice(value.trim(), &mut buf).is_ok() {
                    candidates.push(buf);
                }
            }
            // v0 (test-mode legacy) and future schemes: ignored, as
            // Stripe's own libraries do.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed("no timestamp (t=)"))?;
    if !saw_v1 {
        return Err(malformed("no v1 signature"));
    }
    let expected = mac(endpoint_secret, timestamp, body);
    // Compare against every candidate without early exit, so timing says
    // nothing about which (if any) matched.
    let mut matched = subtle::Choice::from(0u8);
    for c in &candidates {
        matched |= c.ct_eq(&expected);
    }
    if !bool::from(matched) {
        return Err(WebhookError::NoMatchingSignature);
    }
    let age = now.abs_diff(timestamp);
    if age > TOLERANCE_SECS {
        return Err(WebhookError::StaleTimestamp {
            timestamp,
            age,
            tolerance: TOLERANCE_SECS,
        });
    }
    Ok(())
}

/// [`verify_signature`] then [`parse_event`]: what a webhook handler does.
pub fn verify_and_parse(
    endpoint_secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<PaymentEvent, WebhookError> {
    verify_signature(endpoint_secret, header, body, now)?;
    parse_event(body)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    created: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    data: EnvelopeData<'a>,
}

#[derive(Deserialize)]
struct EnvelopeData<'a> {
    #[serde(borrow)]
    object: &'a RawValue,
}

/// A field Stripe may send as an id or as the expanded object.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn into_id(self) -> String {
        match self {
            Expandable::Id(s) | Expandable::Object { id: s } => s,
        }
    }
}

#[derive(Deserialize)]
struct Session {
    id: String,
    client_reference_id: Option<String>,
    subscription: Option<Expandable>,
    amount_total: Option<i64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct Invoice {
    id: Option<String>,
    subscription: Option<Expandable>,
    parent: Option<InvoiceParent>,
    amount_paid: Option<i64>,
    amount_due: Option<i64>,
    currency: Option<String>,
    attempt_count: Option<i64>,
    lines: Option<InvoiceLines>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize)]
struct SubscriptionDetails {
    subscription: Option<Expandable>,
}

#[derive(Deserialize)]
struct InvoiceLines {
    #[serde(default)]
    data: Vec<InvoiceLine>,
}

#[derive(Deserialize)]
struct InvoiceLine {
    period: Option<Period>,
}

#[derive(Deserialize)]
struct Period {
    end: Option<i64>,
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
}

impl Invoice {
    fn subscription_id(&mut self) -> Option<String> {
        self.subscription
            .take()
            .map(Expandable::into_id)
            .or_else(|| {
                self.parent
                    .take()
                    .and_then(|p| p.subscription_details)
                    .and_then(|d| d.subscription)
                    .map(Expandable::into_id)
            })
    }

    fn period_end(&self) -> Option<i64> {
        self.lines
            .as_ref()
            .and_then(|l| l.data.iter().filter_map(|d| d.period.as_ref()?.end).max())
    }
}

fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue, what: &str) -> Result<T, WebhookError> {
    serde_json::from_str(raw.get()).map_err(|e| WebhookError::MalformedBody(format!("{what}: {e}")))
}

fn non_negative(v: Option<i64>, field: &'static str) -> Result<i64, WebhookError> {
    match v {
        None => Err(WebhookError::MissingField(field)),
        Some(n) if n < 0 => Err(WebhookError::BadAmount {
            value: n.to_string(),
            detail: format!("{field} is negative"),
        }),
        Some(n) => Ok(n),
    }
}

/// Parses a Stripe event (call only after [`verify_signature`]). Mapped:
/// `checkout.session.completed`, `invoice.paid`,
/// `invoice.payment_succeeded`, `invoice.payment_failed`,
/// `customer.subscription.deleted`; every other type, and invoices without
/// a subscription, become [`PaymentEvent::Ignored`].
pub fn parse_event(body: &[u8]) -> Result<PaymentEvent, WebhookError> {
    check_body_size(body)?;
    let env: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|e| WebhookError::MalformedBody(format!("not a Stripe event: {e}")))?;
    let Envelope {
        id: event_id,
        created,
        kind,
        data,
    } = env;
    let raw = data.object;
    let event = match kind.as_str() {
        "checkout.session.completed" => {
            let s: Session = object(raw, "checkout session")?;
            let checkout_ref = s
                .client_reference_id
                .filter(|r| !r.is_empty())
                .ok_or(WebhookError::MissingField("client_reference_id"))?;
            let currency = normalise_currency(
                s.currency
                    .as_deref()
                    .ok_or(WebhookError::MissingField("currency"))?,
            )?;
            PaymentEvent::CheckoutCompleted {
                event_id,
                created,
                checkout_ref,
                provider_session_id: s.id,
                provider_subscription_id: s.subscription.map(Expandable::into_id),
                provider_plan_id: None,
                amount_cents: non_negative(s.amount_total, "amount_total")?,
                currency,
            }
        }
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            let mut inv: Invoice = object(raw, "invoice")?;
            let Some(sub) = inv.subscription_id() else {
                // A one-off invoice: not ours to act on.
                return Ok(PaymentEvent::Ignored {
                    event_id,
                    created,
                    kind,
                });
            };
            let invoice_id = inv.id.take().ok_or(WebhookError::MissingField("id"))?;
            let currency = normalise_currency(
                inv.currency
                    .as_deref()
                    .ok_or(WebhookError::MissingField("currency"))?,
            )?;
            if kind == "invoice.payment_failed" {
                let reason = match inv.attempt_count {
                    Some(n) => format!("invoice payment failed (attempt {n})"),
                    None => "invoice payment failed".to_string(),
                };
                PaymentEvent::PaymentFailed {
                    event_id,
                    created,
                    provider_subscription_id: sub,
                    provider_payment_id: Some(invoice_id),
                    amount_cents: non_negative(inv.amount_due, "amount_due")?,
                    currency,
                    reason,
                }
            } else {
                PaymentEvent::PaymentSucceeded {
                    event_id,
                    created,
                    provider_subscription_id: sub,
                    provider_payment_id: invoice_id,
                    amount_cents: non_negative(inv.amount_paid, "amount_paid")?,
                    currency,
                    period_end: inv.period_end(),
                }
            }
        }
        "customer.subscription.deleted" => {
            let s: Subscription = object(raw, "subscription")?;
            PaymentEvent::SubscriptionCancelled {
                event_id,
                created,
                provider_subscription_id: s.id,
            }
        }
        _ => PaymentEvent::Ignored {
            event_id,
            created,
            kind,
        },
    };
    Ok(event)
}
