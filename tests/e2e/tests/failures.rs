//! What happens when an asynchronous invocation fails for good, through the deployed
//! stack: the dispatcher's event lands in its OnFailure queue (template.yaml,
//! `EwalletDispatchFailuresQueue`), where an alarm watches it, instead of vanishing.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use chrono::Utc;
use mocks::ewallet::domain::{NewPaymentRequest, NotificationUri, PaymentRequestId};
use mocks::ewallet::{DynamoDbEwalletRequests, EwalletRequest, EwalletRequestRepository};
use shared::store::Table;
use shared::testing::local_env;
use shared::{Currency, Money, OrderId};

/// The deployed dispatcher's function name, from the stack as CloudFormation made it.
fn dispatcher_function() -> String {
    let path = shared::testing::workspace_root().join(".local/stack.json");
    let stack: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("the deployed stack (make test)"),
    )
    .unwrap();
    stack["Resources"]["EwalletWebhookDispatcherFunction"]["PhysicalId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_webhook_that_can_never_be_delivered_ends_in_the_failure_queue() {
    let config = shared::testing::sdk_config().await;
    // A request whose webhook goes to a port nobody listens on: every delivery fails.
    let id = PaymentRequestId::new_random();
    let now = Utc::now();
    let terms = NewPaymentRequest {
        amount: Money::from_cents(10099, Currency::USD),
        notification_uri: NotificationUri::parse("http://127.0.0.1:9/unreachable").unwrap(),
        order_id: OrderId::new_random(),
    };
    let mut request = EwalletRequest::new(id, terms, "e2e-undeliverable", now, now);
    request.scheduled = true;
    let repo = DynamoDbEwalletRequests(Table::new(
        aws_sdk_dynamodb::Client::new(&config),
        local_env("EWALLET_REQUESTS_TABLE"),
    ));
    repo.insert_if_absent(&request).await.unwrap();

    // As Scheduler invokes it: asynchronously, so Lambda's retries and destination apply.
    let payload = serde_json::json!({ "paymentRequestId": id.to_string() }).to_string();
    aws_sdk_lambda::Client::new(&config)
        .invoke()
        .function_name(dispatcher_function())
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload.into_bytes()))
        .send()
        .await
        .unwrap();

    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = common::output("EWALLET_DISPATCH_FAILURES_QUEUE_URL");
    let started = Instant::now();
    let mut found = None;
    while found.is_none() && started.elapsed() < Duration::from_secs(120) {
        let messages = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        for message in messages.messages() {
            let body = message.body().unwrap_or_default();
            if body.contains(&id.to_string()) {
                found = Some(body.to_owned());
                sqs.delete_message()
                    .queue_url(&queue)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    let body = found.unwrap_or_else(|| {
        panic!("the failed dispatch of {id} never reached the failure queue in 120 s")
    });
    assert!(body.contains("EwalletWebhookUndelivered"), "{body}");
}
