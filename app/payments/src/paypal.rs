//! PayPal: subscription creation, webhook verification through PayPal's
//! `verify-webhook-signature` call, and event parsing.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::{
    check_body_size, describe_reqwest, normalise_currency, parse_decimal_amount, truncate,
    CheckoutRequest, CheckoutSession, PaymentError, PaymentEvent, WebhookError,
};

const PROVIDER: &str = "paypal";

/// Renew the OAuth token this long before PayPal says it expires, so a
/// token never dies between our check and PayPal's.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// PayPal REST client (subscriptions, webhook verification).
pub struct PayPalClient {
    base_url: String,
    client_id: String,
    secret: String,
    http: reqwest::Client,
    /// Access token and when to stop using it. A tokio mutex held across the
    /// token request, so concurrent callers wait for one fetch instead of
    /// each asking PayPal.
    token: Mutex<Option<(String, Instant)>>,
}

impl fmt::Debug for PayPalClient {
    // Never print the secret or the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayPalClient")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The `PAYPAL-*` headers of a webhook delivery, needed to verify it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PayPalHeaders {
    pub transmission_id: String,
    pub transmission_time: String,
    pub transmission_sig: String,
    pub cert_url: String,
    pub auth_algo: String,
}

impl PayPalHeaders {
    /// Collects the five headers from (name, value) pairs, names matched
    /// case-insensitively; works directly with `http::HeaderMap::iter()`.
    /// A missing, empty or non-UTF-8 header is an error naming it.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, WebhookError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        const NAMES: [&str; 5] = [
            "PAYPAL-TRANSMISSION-ID",
            "PAYPAL-TRANSMISSION-TIME",
            "PAYPAL-TRANSMISSION-SIG",
            "PAYPAL-CERT-URL",
            "PAYPAL-AUTH-ALGO",
        ];
        let mut found: [Option<String>; 5] = Default::default();
        for (k, v) in pairs {
            let Some(i) = NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(k.as_ref()))
            else {
                continue;
            };
            let value =
                std::str::from_utf8(v.as_ref()).map_err(|_| WebhookError::MalformedHeader {
                    header: NAMES[i],
                    detail: "not UTF-8".to_string(),
                })?;
            if value.len() > 4096 {
                return Err(WebhookError::MalformedHeader {
                    header: NAMES[i],
                    detail: "too long".to_string(),
                });
            }
            found[i] = Some(value.trim().to_string());
        }
        let mut take = |i: usize| {
            found[i]
                .take()
                .filter(|v| !v.is_empty())
                .ok_or(WebhookError::MissingHeader(NAMES[i]))
        };
        Ok(PayPalHeaders {
            transmission_id: take(0)?,
            transmission_time: take(1)?,
            transmission_sig: take(2)?,
            cert_url: take(3)?,
            auth_algo: take(4)?,
        })
    }
}

/// True when `cert_url` is `https://` on `paypal.com` or a subdomain (the
/// issue asks that only PayPal hosts be trusted for the certificate; PayPal
/// checks it too, this refuses forgeries before any network call).
pub fn is_trusted_cert_url(cert_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(cert_url) else {
        return false;
    };
    if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.host_str() {
        Some(h) => {
            let h = h.to_ascii_lowercase();
            h == "paypal.com" || h.ends_with(".paypal.com")
        }
        None => false,
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct SubscriptionResponse {
    id: String,
    #[serde(default)]
    links: Vec<Link>,
}

#[derive(Deserialize)]
struct Link {
    href: String,
    rel: String,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    auth_algo: &'a str,
    cert_url: &'a str,
    transmission_id: &'a str,
    transmission_sig: &'a str,
    transmission_time: &'a str,
    webhook_id: &'a str,
    /// The event exactly as received: re-serialising it could change
    /// number formats or escapes and make PayPal's check fail.
    webhook_event: &'a RawValue,
}

#[derive(Deserialize)]
struct VerifyResponse {
    verification_status: String,
}

impl PayPalClient {
    /// `base_url` is `https://api-m.paypal.com` (live) or
    /// `https://api-m.sandbox.paypal.com`, a local stand-in in tests.
    pub fn new(base_url: &str, client_id: &str, secret: &str) -> Self {
        PayPalClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            secret: secret.to_string(),
            http: crate::http_client(),
            token: Mutex::new(None),
        }
    }

    /// Client-credentials token, cached until shortly before it expires.
    async fn access_token(&self) -> Result<String, PaymentError> {
        let mut guard = self.token.lock().await;
        if let Some((tok, until)) = guard.as_ref() {
            if Instant::now() < *until {
                return Ok(tok.clone());
            }
        }
        let resp = self
            .http
            .post(format!("{}/v1/oauth2/token", self.base_url))
            .basic_auth(&self.client_id, Some(&self.secret))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(net_error)?;
        let (status, bytes) = read(resp).await?;
        if !status.is_success() {
            return Err(self.refusal(status.as_u16(), &bytes));
        }
        let t: TokenResponse = json(&bytes, "OAuth token")?;
        if t.access_token.is_empty() {
            return Err(bad_response("OAuth token is empty"));
        }
        // PayPal's tokens last ~9 hours; without expires_in, assume a short
        // life rather than risk using a dead one for long.
        let life = Duration::from_secs(t.expires_in.unwrap_or(300));
        let until = Instant::now() + life.saturating_sub(TOKEN_MARGIN);
        *guard = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// POST a JSON body with the bearer token; on 401 (token revoked or
    /// expired early) fetch a new token once and retry.
    async fn post_json<T: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
        request_id: Option<&str>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), PaymentError> {
        let first = self.post_once(path, body, request_id).await?;
        if first.0 != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        self.forget_token().await;
        self.post_once(path, body, request_id).await
    }

    async fn post_once<T: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
        request_id: Option<&str>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), PaymentError> {
        let token = self.access_token().await?;
        let mut rb = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .bearer_auth(&token)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        if let Some(id) = request_id {
            rb = rb.header("PayPal-Request-Id", id);
        }
        let resp = rb.send().await.map_err(net_error)?;
        read(resp).await
    }

    /// Creates a subscription for `req.provider_plan_id` with
    /// `custom_id = req.reference` and returns its id (`I-…`) and the
    /// `approve` link to send the customer to. The reference is also the
    /// `PayPal-Request-Id`, making a retried create idempotent.
    pub async fn create_subscription(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        req.validate()?;
        let plan_id = req
            .provider_plan_id
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                PaymentError::InvalidRequest("PayPal needs provider_plan_id (P-…)".to_string())
            })?;
        let mut body = serde_json::json!({
            "plan_id": plan_id,
            "custom_id": req.reference,
            "application_context": {
                "user_action": "SUBSCRIBE_NOW",
                "shipping_preference": "NO_SHIPPING",
                "return_url": req.success_url,
                "cancel_url": req.cancel_url,
            },
        });
        // PayPal refuses an empty e-mail; without one its page asks.
        if !req.customer_email.is_empty() {
            body["subscriber"] = serde_json::json!({ "email_address": req.customer_email });
        }
        let (status, bytes) = self
            .post_json("/v1/billing/subscriptions", &body, Some(&req.reference))
            .await?;
        if !status.is_success() {
            return Err(self.refusal(status.as_u16(), &bytes));
        }
        let sub: SubscriptionResponse = json(&bytes, "subscription")?;
        let url = sub
            .links
            .into_iter()
            .find(|l| l.rel == "approve")
            .map(|l| l.href)
            .ok_or_else(|| bad_response(&format!("subscription {} has no approve link", sub.id)))?;
        Ok(CheckoutSession { id: sub.id, url })
    }

    /// Verifies a webhook delivery with PayPal's
    /// `POST /v1/notifications/verify-webhook-signature`; only
    /// `verification_status == "SUCCESS"` is accepted. The body is passed
    /// on byte for byte. Refused before any call: empty/oversized/non-JSON
    /// bodies and certificate URLs that are not on a PayPal host.
    pub async fn verify_webhook(
        &self,
        webhook_id: &str,
        headers: &PayPalHeaders,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        check_body_size(body)?;
        if webhook_id.is_empty() {
            // A portal without a configured webhook id cannot verify
            // anything; say so rather than let PayPal answer a vague 400.
            return Err(WebhookError::Provider(PaymentError::InvalidRequest(
                "PayPal webhook id is not configured".to_string(),
            )));
        }
        if !is_trusted_cert_url(&headers.cert_url) {
            return Err(WebhookError::UntrustedCertUrl);
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| WebhookError::MalformedBody("not UTF-8".to_string()))?;
        let event: &RawValue = serde_json::from_str(text)
            .map_err(|e| WebhookError::MalformedBody(format!("not JSON: {e}")))?;
        let req = VerifyRequest {
            auth_algo: &headers.auth_algo,
            cert_url: &headers.cert_url,
            transmission_id: &headers.transmission_id,
            transmission_sig: &headers.transmission_sig,
            transmission_time: &headers.transmission_time,
            webhook_id,
            webhook_event: event,
        };
        let (status, bytes) = self
            .post_json("/v1/notifications/verify-webhook-signature", &req, None)
            .await?;
        if !status.is_success() {
            return Err(self.refusal(status.as_u16(), &bytes).into());
        }
        let v: VerifyResponse = json(&bytes, "verification answer")?;
        if v.verification_status == "SUCCESS" {
            Ok(())
        } else {
            Err(WebhookError::VerificationRefused(truncate(
                &v.verification_status,
                40,
            )))
        }
    }

    fn refusal(&self, status: u16, body: &[u8]) -> PaymentError {
        // PayPal errors: REST {"name","message","debug_id","details"} or
        // OAuth {"error","error_description"}.
        let (code, message) = match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                let code = s("name").or_else(|| s("error"));
                let mut message = s("message")
                    .or_else(|| s("error_description"))
                    .unwrap_or_else(|| "no message".to_string());
                if let Some(issue) = v
                    .get("details")
                    .and_then(|d| d.get(0))
                    .and_then(|d| d.get("issue"))
                    .and_then(Value::as_str)
                {
                    message.push_str(&format!(" ({issue})"));
                }
                if let Some(debug_id) = s("debug_id") {
                    message.push_str(&format!(" [debug_id {debug_id}]"));
                }
                (code, message)
            }
            Err(_) => (
                None,
                format!(
                    "non-JSON error body: {}",
                    truncate(&String::from_utf8_lossy(body), 200)
                ),
            ),
        };
        let message = if self.secret.is_empty() {
            message
        } else {
            message.replace(&self.secret, "<redacted>")
        };
        PaymentError::Refused {
            provider: PROVIDER,
            status,
            code,
            message: truncate(&message, 500),
        }
    }
}

fn net_error(e: reqwest::Error) -> PaymentError {
    PaymentError::Unreachable {
        provider: PROVIDER,
        detail: describe_reqwest(&e),
    }
}

fn bad_response(detail: &str) -> PaymentError {
    PaymentError::BadResponse {
        provider: PROVIDER,
        detail: detail.to_string(),
    }
}

async fn read(resp: reqwest::Response) -> Result<(reqwest::StatusCode, Vec<u8>), PaymentError> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(net_error)?;
    Ok((status, bytes.to_vec()))
}

fn json<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, PaymentError> {
    serde_json::from_slice(bytes)
        .map_err(|e| bad_response(&format!("{what} is not the expected JSON: {e}")))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    create_time: String,
    event_type: String,
    #[serde(borrow)]
    resource: &'a RawValue,
}

/// Parses an RFC 3339 time (`2024-05-01T10:00:00.000Z`) to Unix seconds.
fn rfc3339(s: &str) -> Result<i64, WebhookError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| WebhookError::MalformedBody(format!("bad time {:?}", truncate(s, 40))))
}

/// `{ "currency_code": "USD", "value": "9.99" }` (subscriptions API) or
/// `{ "currency": "USD", "total": "9.99" }` (sales API) → (cents, "USD").
/// The value must be a decimal string; a JSON number is refused, since
/// PayPal never sends one and floats are not money.
fn money(v: &Value, what: &'static str) -> Result<(i64, String), WebhookError> {
    let currency = v
        .get("currency_code")
        .or_else(|| v.get("currency"))
        .and_then(Value::as_str)
        .ok_or(WebhookError::MissingField(what))?;
    let currency = normalise_currency(currency)?;
    let raw = v
        .get("value")
        .or_else(|| v.get("total"))
        .ok_or(WebhookError::MissingField(what))?;
    let Some(s) = raw.as_str() else {
        return Err(WebhookError::BadAmount {
            value: truncate(&raw.to_string(), 32),
            detail: "amount is not a decimal string".to_string(),
        });
    };
    Ok((parse_decimal_amount(s, &currency)?, currency))
}

fn str_field(v: &Value, key: &'static str) -> Result<String, WebhookError> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or(WebhookError::MissingField(key))
}

/// Parses a PayPal webhook event (call only after
/// [`PayPalClient::verify_webhook`]). Mapped:
/// `BILLING.SUBSCRIPTION.ACTIVATED`, `PAYMENT.SALE.COMPLETED` (ignored when
/// it has no `billing_agreement_id`, i.e. is not a subscription payment),
/// `BILLING.SUBSCRIPTION.PAYMENT.FAILED`, `BILLING.SUBSCRIPTION.CANCELLED`;
/// everything else becomes [`PaymentEvent::Ignored`].
pub fn parse_event(body: &[u8]) -> Result<PaymentEvent, WebhookError> {
    check_body_size(body)?;
    let env: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|e| WebhookError::MalformedBody(format!("not a PayPal event: {e}")))?;
    let event_id = env.id;
    let created = rfc3339(&env.create_time)?;
    let kind = env.event_type;
    let resource = || -> Result<Value, WebhookError> {
        let v: Value = serde_json::from_str(env.resource.get())
            .map_err(|e| WebhookError::MalformedBody(format!("resource: {e}")))?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(WebhookError::MalformedBody(
                "resource is not an object".to_string(),
            ))
        }
    };
    let event = match kind.as_str() {
        "BILLING.SUBSCRIPTION.ACTIVATED" => {
            let r = resource()?;
            let id = str_field(&r, "id")?;
            let checkout_ref = str_field(&r, "custom_id")?;
            let (amount_cents, currency) = match r.pointer("/billing_info/last_payment/amount") {
                Some(m) => money(m, "billing_info.last_payment.amount")?,
                None => (0, String::new()),
            };
            PaymentEvent::CheckoutCompleted {
                event_id,
                created,
                checkout_ref,
                provider_session_id: id.clone(),
                provider_subscription_id: Some(id),
                provider_plan_id: r.get("plan_id").and_then(Value::as_str).map(str::to_string),
                amount_cents,
                currency,
            }
        }
        "PAYMENT.SALE.COMPLETED" => {
            let r = resource()?;
            let Ok(sub) = str_field(&r, "billing_agreement_id") else {
                return Ok(PaymentEvent::Ignored {
                    event_id,
                    created,
                    kind,
                });
            };
            let sale_id = str_field(&r, "id")?;
            let amount = r
                .get("amount")
                .ok_or(WebhookError::MissingField("amount"))?;
            let (amount_cents, currency) = money(amount, "amount")?;
            PaymentEvent::PaymentSucceeded {
                event_id,
                created,
                provider_subscription_id: sub,
                provider_payment_id: sale_id,
                amount_cents,
                currency,
                period_end: None,
            }
        }
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED" => {
            let r = resource()?;
            let sub = str_field(&r, "id")?;
            let failed = r.pointer("/billing_info/last_failed_payment");
            let (amount_cents, currency) = match failed.and_then(|f| f.get("amount")) {
                Some(m) => money(m, "billing_info.last_failed_payment.amount")?,
                None => money(
                    r.pointer("/billing_info/outstanding_balance").ok_or(
                        WebhookError::MissingField("billing_info.last_failed_payment.amount"),
                    )?,
                    "billing_info.outstanding_balance",
                )?,
            };
            let reason = failed
                .and_then(|f| f.get("reason_code"))
                .and_then(Value::as_str)
                .map(|s| truncate(s, 100))
                .unwrap_or_else(|| "payment failed".to_string());
            PaymentEvent::PaymentFailed {
                event_id,
                created,
                provider_subscription_id: sub,
                provider_payment_id: None,
                amount_cents,
                currency,
                reason,
            }
        }
        "BILLING.SUBSCRIPTION.CANCELLED" => {
            let r = resource()?;
            PaymentEvent::SubscriptionCancelled {
                event_id,
                created,
                provider_subscription_id: str_field(&r, "id")?,
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
