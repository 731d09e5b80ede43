//! Event parsing for every mapped Stripe and PayPal type, from realistic
//! sample payloads in tests/fixtures (made-up ids, no secrets).

use truevault_payments::{paypal, stripe, PaymentEvent, WebhookError};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Rewrites one JSON field (by pointer) of a fixture.
fn with(name: &str, pointer: &str, value: serde_json::Value) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} not in {name}")) = value;
    serde_json::to_vec(&v).unwrap()
}

fn without(name: &str, parent: &str, key: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    v.pointer_mut(parent)
        .and_then(|p| p.as_object_mut())
        .unwrap()
        .remove(key);
    serde_json::to_vec(&v).unwrap()
}

// ---------------------------------------------------------------- Stripe

#[test]
fn stripe_checkout_session_completed() {
    let e = stripe::parse_event(&fixture("stripe_checkout_session_completed.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::CheckoutCompleted {
            event_id: "evt_1QkTestCheckout0001".into(),
            created: 1735689700,
            checkout_ref: "chk_01HZX3TESTREF".into(),
            provider_session_id: "cs_test_a1B2c3D4e5F6g7H8i9J0".into(),
            provider_subscription_id: Some("sub_TestSubscription01".into()),
            provider_plan_id: None,
            amount_cents: 999,
            currency: "USD".into(),
        }
    );
    assert_eq!(e.event_id(), "evt_1QkTestCheckout0001");
    assert_eq!(e.created(), 1735689700);
}

#[test]
fn stripe_checkout_with_expanded_subscription() {
    let body = with(
        "stripe_checkout_session_completed.json",
        "/data/object/subscription",
        serde_json::json!({"id": "sub_Expanded", "object": "subscription"}),
    );
    let e = stripe::parse_event(&body).unwrap();
    assert_eq!(e.provider_subscription_id(), Some("sub_Expanded"));
}

#[test]
fn stripe_checkout_without_reference_is_refused() {
    let body = with(
        "stripe_checkout_session_completed.json",
        "/data/object/client_reference_id",
        serde_json::Value::Null,
    );
    assert!(matches!(
        stripe::parse_event(&body),
        Err(WebhookError::MissingField("client_reference_id"))
    ));
}

#[test]
fn stripe_invoice_paid_classic_shape() {
    let e = stripe::parse_event(&fixture("stripe_invoice_paid.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::PaymentSucceeded {
            event_id: "evt_1QkTestInvoicePaid01".into(),
            created: 1735689705,
            provider_subscription_id: "sub_TestSubscription01".into(),
            provider_payment_id: "in_TestInvoice0001".into(),
            amount_cents: 999,
            currency: "USD".into(),
            period_end: Some(1738368000),
        }
    );
}

#[test]
fn stripe_invoice_payment_succeeded_basil_shape() {
    let e = stripe::parse_event(&fixture("stripe_invoice_payment_succeeded_basil.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::PaymentSucceeded {
            event_id: "evt_1QkTestInvoiceSucc02".into(),
            created: 1738368100,
            provider_subscription_id: "sub_TestSubscription02".into(),
            provider_payment_id: "in_TestInvoice0002".into(),
            amount_cents: 9990,
            currency: "EUR".into(),
            period_end: Some(1769904000),
        }
    );
}

#[test]
fn stripe_invoice_paid_and_payment_succeeded_share_the_payment_id() {
    // Stripe sends both for one payment; the portal dedupes on the invoice.
    let a = stripe::parse_event(&fixture("stripe_invoice_paid.json")).unwrap();
    let b = stripe::parse_event(&with(
        "stripe_invoice_paid.json",
        "/type",
        "invoice.payment_succeeded".into(),
    ))
    .unwrap();
    match (a, b) {
        (
            PaymentEvent::PaymentSucceeded {
                provider_payment_id: x,
                ..
            },
            PaymentEvent::PaymentSucceeded {
                provider_payment_id: y,
                ..
            },
        ) => assert_eq!(x, y),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stripe_invoice_payment_failed() {
    let e = stripe::parse_event(&fixture("stripe_invoice_payment_failed.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::PaymentFailed {
            event_id: "evt_1QkTestInvoiceFail01".into(),
            created: 1738368200,
            provider_subscription_id: "sub_TestSubscription01".into(),
            provider_payment_id: Some("in_TestInvoice0003".into()),
            amount_cents: 999,
            currency: "USD".into(),
            reason: "invoice payment failed (attempt 2)".into(),
        }
    );
}

#[test]
fn stripe_one_off_invoice_is_ignored() {
    let body = with(
        "stripe_invoice_paid.json",
        "/data/object/subscription",
        serde_json::Value::Null,
    );
    assert!(matches!(
        stripe::parse_event(&body).unwrap(),
        PaymentEvent::Ignored { kind, .. } if kind == "invoice.paid"
    ));
}

#[test]
fn stripe_subscription_deleted() {
    let e = stripe::parse_event(&fixture("stripe_customer_subscription_deleted.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::SubscriptionCancelled {
            event_id: "evt_1QkTestSubDeleted01".into(),
            created: 1740787300,
            provider_subscription_id: "sub_TestSubscription01".into(),
        }
    );
}

#[test]
fn stripe_other_types_are_ignored() {
    let e = stripe::parse_event(&fixture("stripe_customer_created.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::Ignored {
            event_id: "evt_1QkTestCustCreated1".into(),
            created: 1735689601,
            kind: "customer.created".into(),
        }
    );
}

#[test]
fn stripe_malformed_bodies_are_refused() {
    for body in [
        &b"not json"[..],
        b"{}",
        b"[]",
        b"{\"id\":\"evt_1\",\"created\":\"yesterday\",\"type\":\"invoice.paid\",\"data\":{\"object\":{}}}",
        b"{\"id\":\"evt_1\",\"created\":1,\"type\":\"invoice.paid\"}",
    ] {
        assert!(
            matches!(
                stripe::parse_event(body),
                Err(WebhookError::MalformedBody(_))
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(matches!(
        stripe::parse_event(b""),
        Err(WebhookError::EmptyBody)
    ));
    // Amount as a string or negative, and a bogus currency, are refused.
    assert!(stripe::parse_event(&with(
        "stripe_invoice_paid.json",
        "/data/object/amount_paid",
        "9.99".into()
    ))
    .is_err());
    assert!(matches!(
        stripe::parse_event(&with(
            "stripe_invoice_paid.json",
            "/data/object/amount_paid",
            (-1).into()
        )),
        Err(WebhookError::BadAmount { .. })
    ));
    assert!(matches!(
        stripe::parse_event(&with(
            "stripe_invoice_paid.json",
            "/data/object/currency",
            "dollars".into()
        )),
        Err(WebhookError::BadCurrency(_))
    ));
    assert!(matches!(
        stripe::parse_event(&without(
            "stripe_invoice_paid.json",
            "/data/object",
            "amount_paid"
        )),
        Err(WebhookError::MissingField("amount_paid"))
    ));
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let mut body = fixture("stripe_invoice_paid.json");
    body.resize(truevault_payments::MAX_BODY_BYTES + 1, b' ');
    assert!(matches!(
        stripe::parse_event(&body),
        Err(WebhookError::BodyTooLarge { .. })
    ));
    assert!(matches!(
        paypal::parse_event(&body),
        Err(WebhookError::BodyTooLarge { .. })
    ));
}

// ---------------------------------------------------------------- PayPal

#[test]
fn paypal_subscription_activated() {
    let e = paypal::parse_event(&fixture("paypal_subscription_activated.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::CheckoutCompleted {
            event_id: "WH-77687562XN25889J8-8Y6T55435R66168T6".into(),
            created: 1735689900,
            checkout_ref: "chk_01HZX3PAYPALREF".into(),
            provider_session_id: "I-TESTSUB0000001".into(),
            provider_subscription_id: Some("I-TESTSUB0000001".into()),
            provider_plan_id: Some("P-TESTPLAN0000000001".into()),
            amount_cents: 999,
            currency: "USD".into(),
        }
    );
}

#[test]
fn paypal_activated_before_any_payment_has_zero_amount() {
    let body = without(
        "paypal_subscription_activated.json",
        "/resource/billing_info",
        "last_payment",
    );
    match paypal::parse_event(&body).unwrap() {
        PaymentEvent::CheckoutCompleted {
            amount_cents,
            currency,
            ..
        } => assert_eq!((amount_cents, currency.as_str()), (0, "")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn paypal_activated_without_custom_id_is_refused() {
    let body = without(
        "paypal_subscription_activated.json",
        "/resource",
        "custom_id",
    );
    assert!(matches!(
        paypal::parse_event(&body),
        Err(WebhookError::MissingField("custom_id"))
    ));
}

#[test]
fn paypal_sale_completed() {
    let e = paypal::parse_event(&fixture("paypal_sale_completed.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::PaymentSucceeded {
            event_id: "WH-2WR32451HC0233532-67976317FL4543714".into(),
            created: 1738404031,
            provider_subscription_id: "I-TESTSUB0000001".into(),
            provider_payment_id: "0TESTSALE0000001".into(),
            amount_cents: 999,
            currency: "USD".into(),
            period_end: None,
        }
    );
}

#[test]
fn paypal_sale_without_agreement_is_ignored() {
    let body = without(
        "paypal_sale_completed.json",
        "/resource",
        "billing_agreement_id",
    );
    assert!(matches!(
        paypal::parse_event(&body).unwrap(),
        PaymentEvent::Ignored { kind, .. } if kind == "PAYMENT.SALE.COMPLETED"
    ));
}

#[test]
fn paypal_subscription_payment_failed() {
    let e = paypal::parse_event(&fixture("paypal_subscription_payment_failed.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::PaymentFailed {
            event_id: "WH-4M0448861G563140B-9EX36365822141321".into(),
            created: 1740823320,
            provider_subscription_id: "I-TESTSUB0000001".into(),
            provider_payment_id: None,
            amount_cents: 999,
            currency: "USD".into(),
            reason: "PAYMENT_DENIED".into(),
        }
    );
    // Without last_failed_payment the outstanding balance is used.
    let body = without(
        "paypal_subscription_payment_failed.json",
        "/resource/billing_info",
        "last_failed_payment",
    );
    match paypal::parse_event(&body).unwrap() {
        PaymentEvent::PaymentFailed {
            amount_cents,
            reason,
            ..
        } => assert_eq!((amount_cents, reason.as_str()), (999, "payment failed")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn paypal_subscription_cancelled_with_offset_time() {
    let e = paypal::parse_event(&fixture("paypal_subscription_cancelled.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::SubscriptionCancelled {
            event_id: "WH-6TD369808N914414D-1YJ376786E892292F".into(),
            // 12:00+02:00 is 10:00Z.
            created: 1743501600,
            provider_subscription_id: "I-TESTSUB0000001".into(),
        }
    );
}

#[test]
fn paypal_other_types_are_ignored() {
    let e = paypal::parse_event(&fixture("paypal_checkout_order_approved.json")).unwrap();
    assert_eq!(
        e,
        PaymentEvent::Ignored {
            event_id: "WH-1GE84257G0350133W-6RW800890C634293G".into(),
            created: 1735689600,
            kind: "CHECKOUT.ORDER.APPROVED".into(),
        }
    );
}

#[test]
fn paypal_malformed_amounts_are_refused() {
    for bad in [
        serde_json::json!("9,99"),
        serde_json::json!("-9.99"),
        serde_json::json!("9.999"),
        serde_json::json!("1e3"),
        serde_json::json!(""),
        serde_json::json!(" 9.99"),
        serde_json::json!("NaN"),
        serde_json::json!("99999999999999999999.00"),
        serde_json::json!(9.99),
        serde_json::json!(null),
    ] {
        let body = with(
            "paypal_sale_completed.json",
            "/resource/amount/total",
            bad.clone(),
        );
        assert!(
            matches!(
                paypal::parse_event(&body),
                Err(WebhookError::BadAmount { .. })
            ),
            "{bad} accepted"
        );
        let body = with(
            "paypal_subscription_payment_failed.json",
            "/resource/billing_info/last_failed_payment/amount/value",
            bad.clone(),
        );
        assert!(paypal::parse_event(&body).is_err(), "{bad} accepted");
    }
    // Zero-decimal currency: whole yen.
    let body = with(
        "paypal_sale_completed.json",
        "/resource/amount",
        serde_json::json!({"total": "1200", "currency": "JPY"}),
    );
    match paypal::parse_event(&body).unwrap() {
        PaymentEvent::PaymentSucceeded {
            amount_cents,
            currency,
            ..
        } => assert_eq!((amount_cents, currency.as_str()), (1200, "JPY")),
        other => panic!("{other:?}"),
    }
    let body = with(
        "paypal_sale_completed.json",
        "/resource/amount/currency",
        "US".into(),
    );
    assert!(matches!(
        paypal::parse_event(&body),
        Err(WebhookError::BadCurrency(_))
    ));
}

#[test]
fn paypal_malformed_bodies_are_refused() {
    assert!(matches!(
        paypal::parse_event(b"{"),
        Err(WebhookError::MalformedBody(_))
    ));
    let body = with(
        "paypal_sale_completed.json",
        "/create_time",
        "last tuesday".into(),
    );
    assert!(matches!(
        paypal::parse_event(&body),
        Err(WebhookError::MalformedBody(_))
    ));
    let body = with("paypal_sale_completed.json", "/resource", "text".into());
    assert!(matches!(
        paypal::parse_event(&body),
        Err(WebhookError::MalformedBody(_))
    ));
}

#[test]
fn stripe_verify_and_parse() {
    let secret = "whsec_test_events_not_real";
    let body = fixture("stripe_customer_subscription_deleted.json");
    let now = 1740787305;
    let h = stripe::signature_header(secret, now, &body);
    let e = stripe::verify_and_parse(secret, &h, &body, now).unwrap();
    assert_eq!(e.event_id(), "evt_1QkTestSubDeleted01");
    assert!(matches!(
        stripe::verify_and_parse("whsec_other", &h, &body, now),
        Err(WebhookError::NoMatchingSignature)
    ));
    assert!(matches!(
        stripe::verify_and_parse(secret, &h, &body, now + 301),
        Err(WebhookError::StaleTimestamp { .. })
    ));
}

#[test]
fn events_serialise_with_a_type_tag() {
    let e = stripe::parse_event(&fixture("stripe_invoice_paid.json")).unwrap();
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["type"], "payment_succeeded");
    assert_eq!(v["amount_cents"], 999);
    let back: PaymentEvent = serde_json::from_value(v).unwrap();
    assert_eq!(back, e);
    assert_eq!(
        "Yearly".parse::<truevault_payments::Interval>().unwrap(),
        truevault_payments::Interval::Year
    );
    assert!("weekly".parse::<truevault_payments::Interval>().is_err());
}
