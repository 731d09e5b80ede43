//! Billing on the built-in test provider (subscribe → invoice → receipt;
//! failed renewal → grace → reminders → suspension on day 8; VIPs exempt),
//! Stripe webhooks (signed, wrongly signed, stale, replayed, out of order,
//! wrong amount), and the scheduler running each step exactly once.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use truevault::{billing::rules::DAY, db::Db, jobs, secrets::SecretString};

use crate::helpers::{failure, new_client, TestApp};

const WEBHOOK_SECRET: &str = "whsec_test_only_not_a_real_secret";

async fn plan_id(app: &TestApp, slug: &str) -> i64 {
    app.count(&format!("SELECT id FROM plans WHERE slug = '{slug}'"))
        .await
}

async fn settle(app: &TestApp) {
    app.settle_jobs().await
}

/// Asks for a monthly plan on the test provider.
async fn checkout(app: &TestApp, user: &reqwest::Client, plan_id: &str) -> reqwest::Response {
    app.post_form(
        user,
        "/api/billing/checkout",
        &[
            ("plan_id", plan_id),
            ("cycle", "monthly"),
            ("provider", "test"),
        ],
    )
    .await
}

/// Starts a test-provider checkout and pays it; returns the reference.
async fn subscribe(app: &TestApp, user: &reqwest::Client, slug: &str, result: &str) -> String {
    app.subscribe(user, slug, result).await
}

async fn status_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar::<_, String>(
        "SELECT s.status FROM subscriptions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_one(&app.state.db.pool)
    .await
    .expect("subscription")
}

async fn user_plan(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar::<_, String>(
        "SELECT p.slug FROM users u JOIN plans p ON p.id = u.plan_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_one(&app.state.db.pool)
    .await
    .expect("plan")
}

async fn mails(app: &TestApp, to: &str, template: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM mail_outbox WHERE to_addr = '{to}' AND template = '{template}'"
    ))
    .await
}

#[tokio::test]
async fn subscribing_on_the_test_provider_gives_an_invoice_and_a_receipt() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    subscribe(&app, &user, "personal", "pay").await;

    assert_eq!(status_of(&app, "ada@example.com").await, "active");
    assert_eq!(user_plan(&app, "ada@example.com").await, "personal");
    let (subject, body) = app.last_mail_to("ada@example.com").await.expect("receipt");
    assert_eq!(subject, "Your TrueVault receipt TV-000001");
    assert!(
        body.contains("$9.99") && body.contains("Personal"),
        "{body}"
    );
    let invoice = app.get_html(&user, "/billing/invoices/1").await;
    assert!(
        invoice.contains("TV-000001") && invoice.contains("$9.99") && invoice.contains(">paid<"),
        "{invoice}"
    );
    let billing = app.get_html(&user, "/billing").await;
    assert!(billing.contains("Active") && billing.contains("TV-000001"));

    // Another customer cannot see the invoice.
    let bob = app.signed_in_user("bob@example.com").await;
    let res = app
        .post_form(&bob, "/api/billing/invoice", &[("number", "1")])
        .await;
    assert!(failure(res).await.is("NOT_FOUND"));

    // Cancel at period end, then resume: the expiry notices come and go.
    let res = app.post_form(&user, "/api/billing/cancel", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE workflow = 'expiry' AND status = 'pending'")
            .await,
        3
    );
    let res = app.post_form(&user, "/api/billing/resume", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A renewal on the test provider charges again: second invoice, second receipt.
    app.state.clock.advance(32 * DAY);
    settle(&app).await;
    assert_eq!(status_of(&app, "ada@example.com").await, "active");
    assert_eq!(
        mails(&app, "ada@example.com", "expiring").await,
        0,
        "resumed: no expiry notices"
    );
    assert_eq!(mails(&app, "ada@example.com", "receipt").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM invoices").await, 2);
    assert_eq!(
        app.count("SELECT MAX(number) FROM invoices").await,
        2,
        "numbers are sequential"
    );
}

#[tokio::test]
async fn a_failed_renewal_reminds_on_days_0_3_7_and_suspends_on_day_8() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    subscribe(&app, &user, "family", "pay_fail_renewals").await;
    assert_eq!(status_of(&app, "ada@example.com").await, "active");

    app.state.clock.advance(31 * DAY + 60);
    settle(&app).await;
    assert_eq!(status_of(&app, "ada@example.com").await, "grace_period");
    assert_eq!(
        mails(&app, "ada@example.com", "payment_failed").await,
        1,
        "day 0 reminder"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invoices WHERE status = 'overdue'")
            .await,
        1
    );
    assert_eq!(
        user_plan(&app, "ada@example.com").await,
        "family",
        "service keeps running in grace"
    );

    app.state.clock.advance(3 * DAY);
    settle(&app).await;
    assert_eq!(status_of(&app, "ada@example.com").await, "past_due");
    assert_eq!(
        mails(&app, "ada@example.com", "payment_failed").await,
        2,
        "day 3 reminder"
    );

    app.state.clock.advance(4 * DAY);
    settle(&app).await;
    assert_eq!(
        mails(&app, "ada@example.com", "payment_failed").await,
        3,
        "day 7 reminder"
    );
    assert_eq!(status_of(&app, "ada@example.com").await, "past_due");

    app.state.clock.advance(DAY);
    settle(&app).await;
    assert_eq!(status_of(&app, "ada@example.com").await, "suspended");
    assert_eq!(user_plan(&app, "ada@example.com").await, "free");
    assert_eq!(mails(&app, "ada@example.com", "suspended").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'failed'")
            .await,
        0
    );
}

#[tokio::test]
async fn vips_pay_nothing_and_are_never_suspended() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let user = app.signed_in_user("vip@example.com").await;
    subscribe(&app, &user, "personal", "pay_fail_renewals").await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/vip",
            &[("email", "vip@example.com"), ("vip", "true")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let id = plan_id(&app, "business").await.to_string();
    let res = checkout(&app, &user, &id).await;
    assert!(
        failure(res).await.is("CONFLICT"),
        "a VIP account needs no payment"
    );

    app.state.clock.advance(31 * DAY + 60);
    settle(&app).await;
    app.state.clock.advance(9 * DAY);
    settle(&app).await;
    assert_eq!(
        status_of(&app, "vip@example.com").await,
        "active",
        "a VIP is never moved to grace or suspended"
    );
    assert_eq!(mails(&app, "vip@example.com", "payment_failed").await, 0);
    assert_eq!(mails(&app, "vip@example.com", "suspended").await, 0);
}

#[tokio::test]
async fn downgrades_wait_for_the_period_end_and_upgrades_are_prorated() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user("ada@example.com").await;
    subscribe(&app, &user, "family", "pay").await;
    // Downgrade: scheduled, nothing charged.
    let personal = plan_id(&app, "personal").await.to_string();
    let res = checkout(&app, &user, &personal).await;
    assert!(res
        .text()
        .await
        .unwrap_or_default()
        .contains("when your current period ends"));
    assert_eq!(user_plan(&app, "ada@example.com").await, "family");
    // Upgrade half-way: the unused half of $14.99 is credited on $29.99.
    app.state.clock.advance(15 * DAY);
    let business = plan_id(&app, "business").await.to_string();
    checkout(&app, &user, &business).await;
    let charged = app
        .count("SELECT amount_cents FROM checkouts ORDER BY id DESC LIMIT 1")
        .await;
    assert!(
        (2_200..2_300).contains(&charged),
        "prorated charge {charged}"
    );
}

// ---- Stripe webhooks ----

fn sign(body: &str, t: i64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn post_stripe(app: &TestApp, body: &str, signature: &str) -> (StatusCode, Value) {
    let res = new_client()
        .post(app.url("/api/v1/billing/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn checkout_completed(id: &str, reference: &str, amount: i64, created: i64) -> String {
    json!({
        "id": id, "object": "event", "type": "checkout.session.completed", "created": created,
        "data": { "object": {
            "id": "cs_test_1", "object": "checkout.session", "client_reference_id": reference,
            "amount_total": amount, "currency": "usd", "subscription": "sub_test_1", "payment_status": "paid"
        }}
    })
    .to_string()
}

fn invoice_event(id: &str, kind: &str, amount: i64, created: i64, period_end: i64) -> String {
    json!({
        "id": id, "object": "event", "type": kind, "created": created,
        "data": { "object": {
            "id": format!("in_{id}"), "object": "invoice", "subscription": "sub_test_1",
            "amount_paid": amount, "amount_due": amount, "currency": "usd", "payment_intent": format!("pi_{id}"),
            "lines": { "data": [ { "period": { "start": created, "end": period_end } } ] }
        }}
    })
    .to_string()
}

#[tokio::test]
async fn stripe_webhooks_are_verified_idempotent_and_checked_against_our_records() {
    let app = TestApp::spawn_with(|c| {
        c.billing.stripe_secret_key = Some(SecretString::new("sk_test_not_real"));
        c.billing.stripe_webhook_secret = Some(SecretString::new(WEBHOOK_SECRET));
        c.billing.stripe_api_base = "http://127.0.0.1:9".into();
    })
    .await;
    app.signed_in_user("ada@example.com").await;
    let user_id = app
        .count("SELECT id FROM users WHERE email = 'ada@example.com'")
        .await;
    let personal = plan_id(&app, "personal").await;
    let now = app.state.clock.now();
    // Our record of what Stripe was asked to charge.
    truevault::billing::repo::create_checkout(
        &app.state.db,
        "ref_stripe_1",
        user_id,
        personal,
        "monthly",
        truevault::billing::model::Provider::Stripe,
        999,
        "USD",
        now,
    )
    .await
    .expect("checkout");

    // Out of order: the renewal-style invoice before the checkout is refused for a retry.
    let early = invoice_event("evt_early", "invoice.paid", 999, now, now + 31 * DAY);
    let (status, _) = post_stripe(&app, &early, &sign(&early, now, WEBHOOK_SECRET)).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an event before its subscription asks for a retry"
    );

    let wrong_amount = checkout_completed("evt_amount", "ref_stripe_1", 1, now);
    let (status, v) = post_stripe(
        &app,
        &wrong_amount,
        &sign(&wrong_amount, now, WEBHOOK_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["outcome"], "rejected",
        "an amount we did not ask for is never trusted"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM subscriptions").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'billing.event_rejected' AND target = 'evt_amount'")
            .await,
        1,
        "an operator sees the mismatch"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM checkouts WHERE reference = 'ref_stripe_1' AND status = 'open'"
        )
        .await,
        1,
        "a mismatch does not close the checkout"
    );

    truevault::billing::repo::create_checkout(
        &app.state.db,
        "ref_stripe_2",
        user_id,
        personal,
        "monthly",
        truevault::billing::model::Provider::Stripe,
        999,
        "USD",
        now,
    )
    .await
    .expect("checkout");
    let body = checkout_completed("evt_ok", "ref_stripe_2", 999, now);
    for (what, sig, expected) in [
        (
            "wrong secret",
            sign(&body, now, "whsec_other"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "stale",
            sign(&body, now - 301, WEBHOOK_SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "garbage header",
            "t=abc,v1=zz".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        ("no header", String::new(), StatusCode::BAD_REQUEST),
    ] {
        let (status, v) = post_stripe(&app, &body, &sig).await;
        assert_eq!(status, expected, "{what}");
        assert_eq!(v["error"]["code"], "INVALID_SIGNATURE", "{what}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM subscriptions").await,
        0,
        "nothing applied from bad signatures"
    );

    let (status, v) = post_stripe(&app, &body, &sign(&body, now, WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["outcome"], "subscription_active");
    let (status, v) = post_stripe(&app, &body, &sign(&body, now + 5, WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["outcome"], "duplicate",
        "a replayed event changes nothing"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM invoices").await, 1);
    assert_eq!(user_plan(&app, "ada@example.com").await, "personal");

    // Stripe's retry of the early invoice now finds the subscription.
    let (status, _) = post_stripe(&app, &early, &sign(&early, now, WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::OK);

    // A failure older than the newest applied event does not undo it.
    let old_failure = invoice_event(
        "evt_old_fail",
        "invoice.payment_failed",
        999,
        now - 100,
        now,
    );
    let (status, v) =
        post_stripe(&app, &old_failure, &sign(&old_failure, now, WEBHOOK_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["outcome"], "rejected");
    assert_eq!(status_of(&app, "ada@example.com").await, "active");

    // A current failure starts the grace period.
    let failure = invoice_event("evt_fail", "invoice.payment_failed", 999, now + 10, now);
    let (_, v) = post_stripe(&app, &failure, &sign(&failure, now, WEBHOOK_SECRET)).await;
    assert_eq!(v["outcome"], "grace_period");
    assert_eq!(status_of(&app, "ada@example.com").await, "grace_period");
    // Paid after all: active again, dunning cancelled.
    app.state.clock.advance(DAY);
    let paid = invoice_event(
        "evt_paid_late",
        "invoice.paid",
        999,
        now + 20,
        now + 31 * DAY,
    );
    let (_, v) = post_stripe(
        &app,
        &paid,
        &sign(&paid, app.state.clock.now(), WEBHOOK_SECRET),
    )
    .await;
    assert_eq!(v["outcome"], "renewed", "{v}");
    assert_eq!(status_of(&app, "ada@example.com").await, "active");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE workflow = 'dunning' AND status = 'pending'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invoices WHERE status = 'overdue'")
            .await,
        0
    );
}

#[tokio::test]
async fn two_workers_run_every_step_exactly_once() {
    let app = TestApp::spawn().await;
    app.signed_in_user("ada@example.com").await;
    let user_id = app
        .count("SELECT id FROM users WHERE email = 'ada@example.com'")
        .await;
    let now = app.state.clock.now();
    let steps = 300;
    for chunk in 0..(steps / 100) {
        let values: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "('signup', 'tips', {user_id}, NULL, {}, {now})",
                    now - 1000 + chunk * 100 + i
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO jobs (workflow, step, user_id, subscription_id, due_at, created_at) VALUES {}",
            values.join(",")
        ))
        .execute(&app.state.db.pool)
        .await
        .expect("insert steps");
    }
    // A second "portal instance": its own pool on the same database.
    let mut second = app.state.clone();
    second.db = Db::connect(&app.state.config.database_url(), 8)
        .await
        .expect("second pool");
    let a = tokio::spawn({
        let s = app.state.clone();
        async move { jobs::run_due(&s, "worker-a").await }
    });
    let b = tokio::spawn(async move { jobs::run_due(&second, "worker-b").await });
    let ran = a.await.expect("a").expect("run a") + b.await.expect("b").expect("run b");
    settle(&app).await;
    assert!(ran <= steps as usize);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE workflow = 'signup' AND step = 'tips' AND status = 'done' AND attempts = 1").await, steps);
    assert_eq!(
        mails(&app, "ada@example.com", "tips").await,
        steps,
        "one mail per step, none twice"
    );
}

// ---- PayPal webhooks, verified by PayPal's own API (a loopback stand-in) ----

/// Answers PayPal's token and verify-webhook-signature calls; a signature
/// is "valid" when it is the word `good`.
async fn paypal_stand_in() -> String {
    use axum::{routing::post, Json, Router};
    let app = Router::new()
        .route(
            "/v1/oauth2/token",
            post(|| async { Json(json!({ "access_token": "stand-in-token", "token_type": "Bearer", "expires_in": 3600 })) }),
        )
        .route(
            "/v1/notifications/verify-webhook-signature",
            post(|Json(req): Json<Value>| async move {
                let ok = req["transmission_sig"] == "good" && req["webhook_id"] == "WH-LOCAL";
                Json(json!({ "verification_status": if ok { "SUCCESS" } else { "FAILURE" } }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn post_paypal(app: &TestApp, body: &Value, sig: &str) -> (StatusCode, Value) {
    let res = new_client()
        .post(app.url("/api/v1/billing/webhooks/paypal"))
        .header("paypal-transmission-id", "tx-1")
        .header("paypal-transmission-time", "2026-11-23T10:00:00Z")
        .header("paypal-transmission-sig", sig)
        .header(
            "paypal-cert-url",
            "https://api.paypal.com/v1/notifications/certs/CERT-1",
        )
        .header("paypal-auth-algo", "SHA256withRSA")
        .json(body)
        .send()
        .await
        .expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Our record of a PayPal checkout: what we asked for and the subscription
/// PayPal created for it.
async fn paypal_checkout(app: &TestApp, email: &str, reference: &str, subscription: &str) {
    let user_id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await;
    let personal = plan_id(app, "personal").await;
    let id = truevault::billing::repo::create_checkout(
        &app.state.db,
        reference,
        user_id,
        personal,
        "monthly",
        truevault::billing::model::Provider::Paypal,
        999,
        "USD",
        app.state.clock.now(),
    )
    .await
    .expect("checkout");
    truevault::billing::repo::set_checkout_session(&app.state.db, id, subscription)
        .await
        .expect("session");
}

fn paypal_activation(
    id: &str,
    subscription: &str,
    reference: &str,
    plan: &str,
    paid: Option<&str>,
) -> Value {
    let mut resource =
        json!({ "id": subscription, "custom_id": reference, "status": "ACTIVE", "plan_id": plan });
    if let Some(total) = paid {
        resource["billing_info"] =
            json!({ "last_payment": { "amount": { "currency_code": "USD", "value": total } } });
    }
    json!({
        "id": id, "event_type": "BILLING.SUBSCRIPTION.ACTIVATED", "create_time": "2026-11-23T10:00:00Z",
        "resource_type": "subscription", "resource": resource
    })
}

#[tokio::test]
async fn a_paypal_activation_counts_only_for_our_subscription_on_our_plan() {
    let base = paypal_stand_in().await;
    let app = TestApp::spawn_with(|c| {
        c.billing.paypal_api_base = base.clone();
        c.billing.paypal_client_id = Some("client-id".into());
        c.billing.paypal_secret = Some(SecretString::new("not-a-real-secret"));
        c.billing.paypal_webhook_id = Some("WH-LOCAL".into());
        c.billing
            .paypal_plans
            .insert("personal_monthly".into(), "P-PERSONAL-M".into());
    })
    .await;
    app.signed_in_user("ada@example.com").await;
    paypal_checkout(&app, "ada@example.com", "ref_pp", "I-OURS").await;
    for (what, event) in [
        (
            "someone else's subscription carrying our reference",
            paypal_activation("WH-A1", "I-THEIRS", "ref_pp", "P-PERSONAL-M", Some("9.99")),
        ),
        (
            "our subscription on another plan",
            paypal_activation("WH-A2", "I-OURS", "ref_pp", "P-CHEAP", Some("9.99")),
        ),
        (
            "no plan at all",
            paypal_activation("WH-A3", "I-OURS", "ref_pp", "", Some("9.99")),
        ),
    ] {
        let (status, v) = post_paypal(&app, &event, "good").await;
        assert_eq!(status, StatusCode::OK, "{what}: {v}");
        assert_eq!(v["outcome"], "rejected", "{what}: {v}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM subscriptions").await, 0);
    assert_eq!(user_plan(&app, "ada@example.com").await, "free");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'billing.event_rejected'")
            .await,
        3,
        "each refusal is visible to an operator"
    );
    // A sale of someone else's subscription buys nothing either.
    let sale = json!({
        "id": "WH-SALE-X", "event_type": "PAYMENT.SALE.COMPLETED", "create_time": "2026-11-23T10:00:05Z",
        "resource_type": "sale",
        "resource": { "id": "SALE-X", "billing_agreement_id": "I-THEIRS", "state": "completed",
                      "amount": { "total": "9.99", "currency": "USD" } }
    });
    let (status, _) = post_paypal(&app, &sale, "good").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "unknown subscription: retry later"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM subscriptions").await, 0);

    // Ours, on our plan, with the charge: active at once.
    let good = paypal_activation("WH-A4", "I-OURS", "ref_pp", "P-PERSONAL-M", Some("9.99"));
    let (_, v) = post_paypal(&app, &good, "good").await;
    assert_eq!(v["outcome"], "subscription_active", "{v}");
    assert_eq!(user_plan(&app, "ada@example.com").await, "personal");
}

#[tokio::test]
async fn paypal_webhooks_are_verified_by_paypal_and_applied_once() {
    let base = paypal_stand_in().await;
    let app = TestApp::spawn_with(|c| {
        c.billing.paypal_api_base = base.clone();
        c.billing.paypal_client_id = Some("client-id".into());
        c.billing.paypal_secret = Some(SecretString::new("not-a-real-secret"));
        c.billing.paypal_webhook_id = Some("WH-LOCAL".into());
        c.billing
            .paypal_plans
            .insert("personal_monthly".into(), "P-PERSONAL-M".into());
    })
    .await;
    app.signed_in_user("ada@example.com").await;
    paypal_checkout(&app, "ada@example.com", "ref_paypal_1", "I-SUB1").await;
    let activated = json!({
        "id": "WH-ACTIVATED-1", "event_type": "BILLING.SUBSCRIPTION.ACTIVATED", "create_time": "2026-11-23T10:00:00Z",
        "resource_type": "subscription",
        "resource": { "id": "I-SUB1", "custom_id": "ref_paypal_1", "status": "ACTIVE", "plan_id": "P-PERSONAL-M" }
    });
    let (status, v) = post_paypal(&app, &activated, "forged").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "PayPal said FAILURE: {v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM subscriptions").await, 0);

    let (status, v) = post_paypal(&app, &activated, "good").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "awaiting_payment", "{v}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM subscriptions").await,
        0,
        "an approval without a charge buys nothing yet"
    );
    assert_eq!(user_plan(&app, "ada@example.com").await, "free");

    let sale = json!({
        "id": "WH-SALE-1", "event_type": "PAYMENT.SALE.COMPLETED", "create_time": "2026-11-23T10:00:05Z",
        "resource_type": "sale",
        "resource": { "id": "SALE-1", "billing_agreement_id": "I-SUB1", "state": "completed",
                      "amount": { "total": "9.99", "currency": "USD" } }
    });
    for _ in 0..2 {
        let (status, v) = post_paypal(&app, &sale, "good").await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    assert_eq!(status_of(&app, "ada@example.com").await, "active");
    assert_eq!(user_plan(&app, "ada@example.com").await, "personal");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invoices WHERE status = 'paid' AND total_cents = 999")
            .await,
        1,
        "one invoice for one sale, however often it is delivered"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payments WHERE provider = 'paypal'")
            .await,
        1
    );

    let wrong = json!({
        "id": "WH-SALE-2", "event_type": "PAYMENT.SALE.COMPLETED", "create_time": "2026-11-23T10:00:09Z",
        "resource_type": "sale",
        "resource": { "id": "SALE-2", "billing_agreement_id": "I-SUB1", "state": "completed",
                      "amount": { "total": "0.01", "currency": "USD" } }
    });
    let (_, v) = post_paypal(&app, &wrong, "good").await;
    assert_eq!(
        v["outcome"], "rejected",
        "an amount we did not agree is never trusted"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payments WHERE provider = 'paypal'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_failing_step_is_retried_with_backoff_then_failed_and_an_admin_can_retry_it() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let user_id = app
        .count("SELECT id FROM users WHERE email = 'admin@example.com'")
        .await;
    let now = app.state.clock.now();
    sqlx::query("INSERT INTO jobs (workflow, step, user_id, due_at, created_at) VALUES ('billing', 'no_such_step', $1, $2, $2)")
        .bind(user_id)
        .bind(now)
        .execute(&app.state.db.pool)
        .await
        .expect("job");
    let state_of = || async {
        sqlx::query_as::<_, (String, i64, Option<String>)>(
            "SELECT status, attempts, last_error FROM jobs WHERE step = 'no_such_step'",
        )
        .fetch_one(&app.state.db.pool)
        .await
        .expect("job")
    };
    settle(&app).await;
    let (status, attempts, error) = state_of().await;
    assert_eq!(
        (status.as_str(), attempts),
        ("pending", 1),
        "retried later, not at once"
    );
    assert!(error.unwrap_or_default().contains("unknown step"));
    for _ in 0..4 {
        app.state.clock.advance(3600);
        settle(&app).await;
    }
    let (status, attempts, _) = state_of().await;
    assert_eq!(
        (status.as_str(), attempts),
        ("failed", 5),
        "gives up after five attempts"
    );

    let page = app.get_html(&admin, "/admin/jobs?status=failed").await;
    assert!(
        page.contains("no_such_step") && page.contains("unknown step"),
        "the admin sees the failed step and its error"
    );
    let id = app
        .count("SELECT id FROM jobs WHERE step = 'no_such_step'")
        .await;
    let res = app
        .post_form(&admin, "/api/admin/job_retry", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    settle(&app).await;
    let (status, attempts, _) = state_of().await;
    assert_eq!(
        (status.as_str(), attempts),
        ("pending", 1),
        "queued again from scratch"
    );

    let user = app.signed_in_user("ada@example.com").await;
    let res = app
        .post_form(&user, "/api/admin/job_retry", &[("id", &id.to_string())])
        .await;
    assert!(!res.status().is_success(), "only admins retry steps");
}

#[tokio::test]
async fn admins_rewrite_workflow_mails_with_checked_variables() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_admin("admin@example.com").await;
    let res = app
        .post_form(
            &admin,
            "/api/admin/mail_template_save",
            &[
                ("name", "receipt"),
                ("subject", "Paid: {{ amount }}"),
                ("body", "Hi {{ password }}"),
            ],
        )
        .await;
    let f = failure(res).await;
    assert_eq!(
        (f.code.as_str(), f.field.as_deref()),
        ("VALIDATION_FAILED", Some("body"))
    );
    let res = app
        .post_form(
            &admin,
            "/api/admin/mail_template_save",
            &[
                ("name", "receipt"),
                ("subject", "Paid: {{ amount }}"),
                (
                    "body",
                    "Thanks {{ first_name }}, invoice {{ invoice_number }}.",
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = app.get_html(&admin, "/admin/mail").await;
    assert!(
        page.contains("Thanks Ada, invoice TV-000042."),
        "the preview fills sample values"
    );

    let user = app.signed_in_user("bob@example.com").await;
    subscribe(&app, &user, "personal", "pay").await;
    let (subject, body) = app.last_mail_to("bob@example.com").await.expect("receipt");
    assert_eq!(subject, "Paid: $9.99");
    assert_eq!(
        body, "Thanks Ada, invoice TV-000001.",
        "the admin's text is what customers get"
    );
    let res = app
        .post_form(
            &user,
            "/api/admin/mail_template_save",
            &[("name", "receipt"), ("subject", "x"), ("body", "y")],
        )
        .await;
    assert!(!res.status().is_success(), "only admins edit templates");
}

#[tokio::test]
async fn a_mismatched_amount_leaves_the_checkout_open_for_the_correct_event() {
    let app = TestApp::spawn_with(|c| {
        c.billing.stripe_secret_key = Some(SecretString::new("sk_test_not_real"));
        c.billing.stripe_webhook_secret = Some(SecretString::new(WEBHOOK_SECRET));
        c.billing.stripe_api_base = "http://127.0.0.1:9".into();
    })
    .await;
    app.signed_in_user("ada@example.com").await;
    let user_id = app
        .count("SELECT id FROM users WHERE email = 'ada@example.com'")
        .await;
    let personal = plan_id(&app, "personal").await;
    let now = app.state.clock.now();
    truevault::billing::repo::create_checkout(
        &app.state.db,
        "ref_mismatch",
        user_id,
        personal,
        "monthly",
        truevault::billing::model::Provider::Stripe,
        999,
        "USD",
        now,
    )
    .await
    .expect("checkout");
    let wrong = checkout_completed("evt_wrong", "ref_mismatch", 998, now);
    let (_, v) = post_stripe(&app, &wrong, &sign(&wrong, now, WEBHOOK_SECRET)).await;
    assert_eq!(v["outcome"], "rejected", "{v}");
    let (reason,): (String,) = sqlx::query_as(
        "SELECT details FROM audit_log WHERE action = 'billing.event_rejected' AND target = 'evt_wrong'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .expect("the operator's record of the mismatch");
    assert!(reason.contains("998") && reason.contains("999"), "{reason}");

    let right = checkout_completed("evt_right", "ref_mismatch", 999, now + 1);
    let (_, v) = post_stripe(&app, &right, &sign(&right, now, WEBHOOK_SECRET)).await;
    assert_eq!(
        v["outcome"], "subscription_active",
        "the customer who paid gets the plan: {v}"
    );
    assert_eq!(user_plan(&app, "ada@example.com").await, "personal");
}

#[tokio::test]
async fn the_test_provider_is_off_on_a_public_install() {
    // Validated as vpn.example.com (the test harness then serves it on loopback).
    let app = TestApp::spawn_with(|c| c.public_url = "http://vpn.example.com".into()).await;
    let user = app.signed_in_user("ada@example.com").await;
    let id = plan_id(&app, "business").await.to_string();
    let res = checkout(&app, &user, &id).await;
    assert!(
        !crate::helpers::redirected(&res),
        "no checkout on the test provider"
    );
    let res = app
        .post_form(
            &user,
            "/api/billing/test_pay",
            &[("reference", "anything"), ("result", "pay")],
        )
        .await;
    assert!(!res.status().is_success() && !crate::helpers::redirected(&res));
    assert_eq!(app.count("SELECT COUNT(*) FROM subscriptions").await, 0);
}

#[tokio::test]
async fn a_half_configured_provider_stops_the_start_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("tv-half-{}", crate::helpers::random_suffix()));
    let mut config = truevault::config::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.clone(),
        ..Default::default()
    };
    config.billing.paypal_client_id = Some("id".into());
    config.billing.paypal_secret = Some(SecretString::new("s"));
    let err = truevault::startup::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("billing.paypal_webhook_id"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
