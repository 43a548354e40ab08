//! Every sample event in `events/` goes through its handler: the files stay true to the code.

use lambda_runtime::{Context, LambdaEvent};
use mocks::ewallet::dispatcher;
use mocks::ewallet::domain::PaymentRequestId;
use serde_json::{Value, json};
use shared::testing::{body_json, from_event_json, read_sample as read, sample_events as files_of};

use crate::helpers::{Receiver, spawn_app};

/// The status each payment-request sample must produce. A file missing here fails the test.
const REQUEST_STATUS: &[(&str, u16)] = &[
    ("ewallet-payment-request/amount-ending-99.json", 201),
    ("ewallet-payment-request/amount-ending-11.json", 201),
    ("ewallet-payment-request/negative-amount.json", 400),
    ("ewallet-payment-request/ftp-notification-uri.json", 400),
    ("ewallet-payment-request/malformed-order-id.json", 400),
    ("ewallet-payment-request/missing-api-key.json", 401),
];

/// The request the dispatcher sample names; the test stores it afresh before each run.
const SAMPLE_REQUEST: &str = "0b6c4f5e-6a3e-4c1e-9a57-3d1f2f6b9e01";

/// What each dispatcher sample must do (the function's response).
fn dispatch_result(file: &str) -> Value {
    match file {
        "ewallet-webhook-dispatcher/dispatch-webhook.json" => {
            json!({ "result": "delivered", "statusCode": "SUCCESS" })
        }
        "ewallet-webhook-dispatcher/unknown-payment-request.json" => json!({ "result": "unknown" }),
        "ewallet-webhook-dispatcher/malformed.json" => json!({ "result": "malformed" }),
        other => panic!("events/{other} has no expected result in tests/api/events.rs"),
    }
}

#[test]
fn every_function_of_the_template_has_samples_sent_through_its_handler() {
    shared::testing::assert_every_template_function_has_samples(
        env!("CARGO_MANIFEST_DIR"),
        &[
            "ewallet-payment-request",
            "ewallet-webhook-dispatcher",
            "ewallet-refund",
            "ewallet-cancel",
            "production-mock",
            "invoice-mock",
        ],
    );
}

#[tokio::test]
async fn every_payment_request_sample_gets_its_expected_status() {
    let app = spawn_app().await;
    // A long delay: the emulator must not fire these schedules; the test deletes them.
    let service = app.payment_service(600);
    for file in files_of("ewallet-payment-request") {
        let expected = REQUEST_STATUS
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, status)| *status)
            .unwrap_or_else(|| {
                panic!("events/{file} has no expected status in tests/api/events.rs")
            });

        // A fresh key per run: the samples' fixed keys may already name requests in the
        // shared table (the same samples are invoked through `cargo lambda watch`).
        let mut request = from_event_json(&read(&file));
        if let Some(key) = request.headers().get("idempotency-key").cloned() {
            let fresh = format!("{}-{}", key.to_str().unwrap(), uuid::Uuid::new_v4());
            request
                .headers_mut()
                .insert("idempotency-key", fresh.parse().unwrap());
        }
        let response = app.request(&service, request).await;

        assert_eq!(
            response.status().as_u16(),
            expected,
            "{file}: {:?}",
            response.body()
        );
        if expected == 201 {
            let id = body_json(&response)["paymentRequestId"]
                .as_str()
                .unwrap()
                .to_owned();
            app.delete_schedule(&id).await;
        }
    }
}

const REFUND_STATUS: &[(&str, u16)] = &[
    ("ewallet-refund/unknown-request.json", 404),
    ("ewallet-refund/missing-api-key.json", 401),
];

#[tokio::test]
async fn every_refund_sample_gets_its_expected_status() {
    let app = spawn_app().await;
    let service = mocks::ewallet::RefundService {
        repo: app.repo.clone(),
        clock: shared::SystemClock,
        api_key: shared::api_key::ApiKey::new(shared::testing::local_env("EWALLET_API_KEY"))
            .unwrap(),
    };
    for file in files_of("ewallet-refund") {
        let expected = shared::testing::expected_status(REFUND_STATUS, &file);
        let request = from_event_json(&read(&file));
        let cid = shared::CorrelationId::from_headers(request.headers());
        let response = shared::http::respond(
            mocks::ewallet::refund::handle(&service, request, cid.clone()).await,
            &cid,
            "/sample",
        );
        assert_eq!(response.status().as_u16(), expected, "{file}");
    }
}

const CANCEL_STATUS: &[(&str, u16)] = &[
    ("ewallet-cancel/cancel-pending-request.json", 200),
    ("ewallet-cancel/unknown-request.json", 404),
    ("ewallet-cancel/missing-api-key.json", 401),
];

/// The request the cancel samples name; the test stores it afresh, Pending, before each run.
const SAMPLE_CANCEL_REQUEST: &str = "0b6c4f5e-6a3e-4c1e-9a57-3d1f2f6b9e02";

#[tokio::test]
async fn every_cancel_sample_gets_its_expected_status() {
    let app = spawn_app().await;
    app.delete_item(SAMPLE_CANCEL_REQUEST).await;
    app.given_request_with_id(
        PaymentRequestId::parse(SAMPLE_CANCEL_REQUEST).unwrap(),
        10099,
        "https://shop.example.com/hook",
    )
    .await;
    let service = app.cancel_service();
    for file in files_of("ewallet-cancel") {
        let expected = shared::testing::expected_status(CANCEL_STATUS, &file);
        let response = app.cancel(&service, from_event_json(&read(&file))).await;
        assert_eq!(
            response.status().as_u16(),
            expected,
            "{file}: {:?}",
            response.body()
        );
    }
}

#[tokio::test]
async fn every_dispatcher_sample_gets_its_expected_result() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    // The sample's request, Pending again and pointing at this test's receiver.
    app.delete_item(SAMPLE_REQUEST).await;
    app.given_request_with_id(
        PaymentRequestId::parse(SAMPLE_REQUEST).unwrap(),
        10099,
        &receiver.url,
    )
    .await;
    let dispatcher = app.dispatcher();

    for file in files_of("ewallet-webhook-dispatcher") {
        let payload: Value = serde_json::from_str(&read(&file)).unwrap();
        let event = LambdaEvent::new(payload, Context::default());

        let done = dispatcher::handle(&dispatcher, event)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));

        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            dispatch_result(&file),
            "{file}"
        );
    }
    assert_eq!(receiver.posts(), 1);
}

/// The status each production- and invoice-mock sample must produce.
const RECORD_STATUS: &[(&str, u16)] = &[
    ("production-mock/production-request.json", 200),
    ("production-mock/missing-idempotency-key.json", 400),
    ("production-mock/malformed-body.json", 400),
    ("invoice-mock/invoice-request.json", 200),
    ("invoice-mock/missing-idempotency-key.json", 400),
    ("invoice-mock/malformed-body.json", 400),
];

use mocks::records::{self, FailureRate, RecordService, memory::InMemoryRecords};

async fn record_samples<T>(function: &str)
where
    T: records::MockRequest + serde::de::DeserializeOwned + Clone + Send + Sync,
{
    for file in files_of(function) {
        let service = RecordService {
            repo: InMemoryRecords::<T>::default(),
            clock: shared::SystemClock,
            failure_rate: FailureRate::default(),
            faults: shared::fault::Faults::default(),
        };
        let cid = shared::CorrelationId::generate();
        let result =
            records::handle::<T, _, _>(&service, from_event_json(&read(&file)), cid.clone()).await;
        let response = shared::http::respond(result, &cid, "/events");
        assert_eq!(
            response.status().as_u16(),
            shared::testing::expected_status(RECORD_STATUS, &file),
            "{file}: {:?}",
            response.body()
        );
    }
}

#[tokio::test]
async fn every_production_and_invoice_sample_gets_its_expected_status() {
    record_samples::<shared::fulfilment::ProductionRequest>("production-mock").await;
    record_samples::<shared::fulfilment::InvoiceRequest>("invoice-mock").await;
}
