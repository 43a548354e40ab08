//! Every sample event in `events/payment-request/`, `events/payment-webhook/` and
//! `events/payment-resolve/` goes through its handler: the files stay true to the code.
//!
//! A webhook signature is only valid for 5 minutes, so a signed sample cannot stay fresh
//! in a file. Files named `signed-*.json` are re-signed here, at test time, over their
//! exact body with the local stack's `WEBHOOK_SECRET`; every other file is sent as it is
//! (so `stale-signature.json` keeps its old signature and must be refused).

use chrono::Utc;
use payment::{ExternalId, IdempotencyKey, NewPayment, Payment, PaymentRepository};
use shared::testing::{from_event_json, read_sample, sample_events as files_of};
use shared::{Currency, Money, OrderId, UserId};

use crate::helpers::spawn_app;

const DEMO_USER: &str = "5a2fb4b2-f281-4c64-8bbc-ec3500b40c76";
const DEMO_ORDER: &str = "78a4989c-3d2a-5d9b-89fa-cf67c3828354";
/// The e-wallet id the webhook samples name.
const SAMPLE_PAYMENT_REQUEST: &str = "sample-payment-request-0001";

/// The status each sample event must produce. A file missing here fails the test.
const EXPECTED: &[(&str, u16)] = &[
    ("payment-request/request-payment.json", 201),
    ("payment-request/missing-idempotency-key.json", 400),
    ("payment-request/user-mismatch.json", 400),
    ("payment-request/zero-amount.json", 400),
    ("payment-webhook/signed-success.json", 200),
    ("payment-webhook/unsigned.json", 401),
    ("payment-webhook/stale-signature.json", 401),
    ("payment-webhook/signed-malformed-body.json", 400),
    ("payment-resolve/resolve-requested-payment.json", 200),
    ("payment-resolve/unknown-payment.json", 404),
    ("payment-resolve/malformed-payment-id.json", 400),
];

/// The key of the payment the resolve sample names (its id is derived from it).
const SAMPLE_RESOLVE_KEY: &str = "sample-resolve-payment-0001";

fn read(file: &str) -> serde_json::Value {
    serde_json::from_str(&read_sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn expected(file: &str) -> u16 {
    shared::testing::expected_status(EXPECTED, file)
}

/// A `signed-*` sample with a fresh signature over its body (see the module docs).
fn resigned(mut event: serde_json::Value, secret: &str) -> serde_json::Value {
    let body = event["body"].as_str().unwrap_or_default().to_owned();
    let signature =
        shared::signature::sign(secret.as_bytes(), Utc::now().timestamp(), body.as_bytes());
    event["headers"]["x-ewallet-signature"] = signature.into();
    event
}

#[test]
fn every_function_of_the_template_has_samples_sent_through_its_handler() {
    shared::testing::assert_every_template_function_has_samples(
        env!("CARGO_MANIFEST_DIR"),
        &["payment-request", "payment-webhook", "payment-resolve"],
    );
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let app = spawn_app().await;
    // The webhook samples report on this payment of the demo user's first order.
    let mut sample = Payment::requested(
        &NewPayment {
            key: IdempotencyKey::parse("sample-webhook-payment-0001").unwrap(),
            user_id: UserId::parse(DEMO_USER).unwrap(),
            order_id: OrderId::parse(DEMO_ORDER).unwrap(),
            amount: Money::from_cents(10099, Currency::USD),
        },
        Utc::now(),
    );
    sample.external_id = Some(ExternalId::parse(SAMPLE_PAYMENT_REQUEST).unwrap());
    app.repo.insert_if_absent(&sample).await.unwrap();

    // The resolve sample's payment: Requested and known to the e-wallet on the first run
    // (the fake cancels it: Failed), decided on later runs; 200 either way.
    let mut requested = Payment::requested(
        &NewPayment {
            key: IdempotencyKey::parse(SAMPLE_RESOLVE_KEY).unwrap(),
            user_id: UserId::parse(DEMO_USER).unwrap(),
            order_id: OrderId::parse(DEMO_ORDER).unwrap(),
            amount: Money::from_cents(10099, Currency::USD),
        },
        Utc::now(),
    );
    requested.external_id = Some(ExternalId::parse("sample-payment-request-0002").unwrap());
    app.repo.insert_if_absent(&requested).await.unwrap();

    for file in files_of("payment-resolve") {
        let response = app.resolve(from_event_json(&read(&file).to_string())).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
    for file in files_of("payment-request") {
        let request = from_event_json(&read(&file).to_string());
        let response = app.request_payment(request).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
    for file in files_of("payment-webhook") {
        let mut event = read(&file);
        if file.starts_with("payment-webhook/signed-") {
            event = resigned(event, &app.secret);
        }
        let response = app.webhook(from_event_json(&event.to_string())).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
}
