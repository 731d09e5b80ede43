//! Webhook bodies as providers could send them (or an attacker holding a
//! signature of something): well-formed envelopes of every event type we
//! read, with arbitrary JSON inside. They parse or are refused, never
//! panic, and a parsed event never carries a negative amount. Random bytes
//! are in `stripe_signature.rs`; these reach the per-type readers. 256
//! cases by default; `PROPTEST_CASES=100000` for a long run.

use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON, with the field names the readers look for made likely.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
        "-?[0-9]{0,12}(\\.[0-9]{0,4})?".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let key = prop_oneof![
            Just("id".to_string()),
            Just("amount_total".to_string()),
            Just("amount_paid".to_string()),
            Just("currency".to_string()),
            Just("subscription".to_string()),
            Just("customer".to_string()),
            Just("metadata".to_string()),
            Just("amount".to_string()),
            Just("total".to_string()),
            Just("value".to_string()),
            Just("currency_code".to_string()),
            Just("plan_id".to_string()),
            Just("billing_agreement_id".to_string()),
            Just("custom_id".to_string()),
            Just("lines".to_string()),
            Just("period".to_string()),
            Just("end".to_string()),
            Just("client_reference_id".to_string()),
            "[a-z_]{1,12}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn stripe_envelopes_of_every_type_never_panic(
        kind in prop_oneof![
            Just("checkout.session.completed"), Just("invoice.paid"), Just("invoice.payment_succeeded"),
            Just("invoice.payment_failed"), Just("customer.subscription.deleted"), Just("customer.created"),
        ],
        object in value(),
        created in any::<i64>(),
    ) {
        let body = json!({ "id": "evt_p", "object": "event", "type": kind, "created": created, "data": { "object": object } });
        if let Ok(event) = truevault_payments::stripe::parse_event(body.to_string().as_bytes()) {
            let text = format!("{event:?}");
            prop_assert!(!text.contains("amount_cents: -"), "{text}");
        }
    }

    #[test]
    fn paypal_envelopes_of_every_type_never_panic(
        kind in prop_oneof![
            Just("BILLING.SUBSCRIPTION.ACTIVATED"), Just("PAYMENT.SALE.COMPLETED"),
            Just("BILLING.SUBSCRIPTION.PAYMENT.FAILED"), Just("BILLING.SUBSCRIPTION.CANCELLED"), Just("OTHER"),
        ],
        resource in value(),
    ) {
        let body = json!({ "id": "WH-p", "event_type": kind, "create_time": "2025-01-01T00:00:00Z", "resource": resource });
        if let Ok(event) = truevault_payments::paypal::parse_event(body.to_string().as_bytes()) {
            let text = format!("{event:?}");
            prop_assert!(!text.contains("amount_cents: -"), "{text}");
        }
    }
}
