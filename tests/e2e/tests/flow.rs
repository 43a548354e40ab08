//! The payment flow through the deployed stack: checkout → payment service → e-wallet
//! mock → one-time schedule fired by the emulator's EventBridge Scheduler → signed webhook
//! → confirm-payment, as a user would see it over HTTP. `make test` starts the stack with
//! the e-wallet's delay at 0 s (the emulator fires schedules up to ~5 s late); against a
//! `make run` stack (3-10 s) these tests still pass, only slower.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use order::Order;
use serde_json::{Value, json};
use shared::OrderId;
use shared::testing::local_env;

async fn given_order(cents: i64) -> Order {
    common::given_order(&format!("Flow test {cents}"), cents).await
}

async fn checkout(order: &Order) -> reqwest::Response {
    common::checkout(order, &format!("e2e-flow-{}", order.id)).await
}

async fn order_status(order: &Order) -> String {
    let view = common::order_view(order).await;
    view["status"].as_str().unwrap_or_default().to_owned()
}

/// Polls the order until it leaves PaymentPending; returns the final status and how long it took.
async fn settled_status(order: &Order) -> (String, Duration) {
    let started = Instant::now();
    loop {
        let status = order_status(order).await;
        if status != "PaymentPending" || started.elapsed() > Duration::from_secs(40) {
            return (status, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_order_ending_in_99_is_paid() {
    let order = given_order(10099).await;

    let response = checkout(&order).await;

    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "PaymentPending");
    let payment_id = body["paymentId"].as_str().unwrap().to_owned();
    let (status, took) = settled_status(&order).await;
    assert_eq!(status, "PaymentSuccess", "after {took:?}");

    // Counted as a business metric: an EMF line in the functions' log.
    let line = metric_line_of_payment("PaymentsPaid", &payment_id).await;
    assert!(line.is_some(), "no PaymentsPaid metric for {payment_id}");
}

/// The EMF line counting `metric` in an invocation that logged `payment_id`: a metric line
/// carries its invocation's `requestId`, and that invocation's log lines carry the same
/// `request_id` beside the payment's id. Polled, as the line is written when the invocation
/// ends, which may be after the order already shows the outcome.
async fn metric_line_of_payment(metric: &str, payment_id: &str) -> Option<Value> {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(
            shared::testing::workspace_root().join(".local/logs/functions.log"),
        )
        .unwrap_or_default();
        let lines: Vec<Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let invocations: Vec<&str> = lines
            .iter()
            .filter(|l| l["payment_id"] == payment_id)
            .filter_map(|l| l["span"]["request_id"].as_str())
            .filter(|id| !id.is_empty())
            .collect();
        let counted = lines.iter().find(|l| {
            l[metric] == 1
                && l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == shared::metrics::NAMESPACE
                && l["requestId"]
                    .as_str()
                    .is_some_and(|id| invocations.contains(&id))
        });
        if counted.is_some() || started.elapsed() > Duration::from_secs(10) {
            return counted.cloned();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_order_ending_in_11_fails_and_can_be_checked_out_again() {
    let order = given_order(5011).await;

    assert_eq!(checkout(&order).await.status(), 202);
    let (status, _) = settled_status(&order).await;
    assert_eq!(status, "PaymentFailed");

    let again = checkout(&order).await;
    assert_eq!(again.status(), 202, "a failed payment can be retried");
    let (status, _) = settled_status(&order).await;
    assert_eq!(status, "PaymentFailed");
}

#[tokio::test]
async fn an_order_of_any_other_amount_expires_and_fails() {
    let order = given_order(10000).await;
    assert_eq!(checkout(&order).await.status(), 202);
    let (status, _) = settled_status(&order).await;
    assert_eq!(status, "PaymentFailed");
}

#[tokio::test]
async fn concurrent_checkouts_make_one_payment_and_a_paid_order_is_a_409_problem() {
    let order = given_order(10099).await;
    let responses = futures::future::join_all((0..5).map(|_| checkout(&order))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    // 202 (started the attempt, or continued it: the same payment) or 409 (lost the race).
    assert!(
        statuses.contains(&202) && statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    let mut payments = Vec::new();
    for response in responses.into_iter().filter(|r| r.status() == 202) {
        let body: Value = response.json().await.unwrap();
        payments.push(body["paymentId"].as_str().unwrap().to_owned());
    }
    payments.dedup();
    assert_eq!(payments.len(), 1, "one payment: {payments:?}");
    let (status, _) = settled_status(&order).await;
    assert_eq!(status, "PaymentSuccess");
    assert_eq!(
        checkout(&order).await.status(),
        409,
        "a paid order cannot be checked out"
    );
}

#[tokio::test]
async fn an_unsigned_webhook_is_refused() {
    let response = shared::testing::http()
        .post(common::output("WEBHOOK_URL"))
        .json(&json!({ "paymentRequestId": "x", "totalAmount": 1.0, "currency": "USD", "statusCode": "SUCCESS",
            "transaction": { "transactionId": "t", "orderId": OrderId::new_random(), "transactionTime": Utc::now() } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

/// POSTs `body` to the webhook, signed with the stack's secret as the e-wallet signs it.
async fn signed_webhook(body: &Value) -> reqwest::Response {
    let payload = serde_json::to_vec(body).unwrap();
    let config = shared::testing::sdk_config().await;
    let secrets = shared::secrets::webhook_secrets(&config, "WEBHOOK_SECRET_ARN")
        .await
        .unwrap();
    let header =
        shared::signature::sign(secrets.current().expose(), Utc::now().timestamp(), &payload);
    shared::testing::http()
        .post(common::output("WEBHOOK_URL"))
        .header("content-type", "application/json")
        .header(shared::signature::HEADER, header)
        .body(payload)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_replay_of_the_e_wallets_answer_changes_nothing() {
    let order = given_order(10099).await;
    let accepted: Value = checkout(&order).await.json().await.unwrap();
    let (status, _) = settled_status(&order).await;
    assert_eq!(status, "PaymentSuccess");

    // The e-wallet's id for this payment, as the webhook names it.
    let config = shared::testing::sdk_config().await;
    let payment = aws_sdk_dynamodb::Client::new(&config)
        .get_item()
        .table_name(local_env("PAYMENTS_TABLE"))
        .key(
            "paymentId",
            aws_sdk_dynamodb::types::AttributeValue::S(
                accepted["paymentId"].as_str().unwrap().to_owned(),
            ),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let external_id = payment.item().unwrap()["externalId"]
        .as_s()
        .unwrap()
        .clone();
    let answer = |code: &str| {
        json!({ "paymentRequestId": external_id, "totalAmount": 100.99, "currency": "USD", "statusCode": code,
            "transaction": { "transactionId": "e2e-replay", "orderId": order.id, "transactionTime": Utc::now() } })
    };

    assert_eq!(signed_webhook(&answer("SUCCESS")).await.status(), 200);
    let contradiction = signed_webhook(&answer("FAILED")).await;
    assert_eq!(contradiction.status(), 409);
    assert_eq!(
        contradiction.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(order_status(&order).await, "PaymentSuccess");
}

#[tokio::test]
async fn a_late_success_for_an_order_paid_by_another_attempt_is_refunded_and_counted() {
    let order = given_order(10099).await;
    let first: Value = checkout(&order).await.json().await.unwrap();
    let (status, _) = settled_status(&order).await;
    assert_eq!(status, "PaymentSuccess");

    // A second payment of the same order, as a stray second attempt would make it.
    let body = json!({ "userId": order.user_id, "orderId": order.id, "amount": 100.99,
        "currency": "USD", "paymentMethod": "Ewallet" })
    .to_string();
    let key = format!("checkout-{}-2", order.id);
    let response = common::signed_post(
        &common::internal(&format!(
            "/api/internal/v1/users/{}/payments",
            order.user_id
        )),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ],
        body.as_bytes(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let second: Value = response.json().await.unwrap();
    let second_id = second["paymentId"].as_str().unwrap().to_owned();

    // Its success arrives for an order that no longer waits: it is paid back.
    let config = shared::testing::sdk_config().await;
    let payments = aws_sdk_dynamodb::Client::new(&config);
    let started = Instant::now();
    let refunded = loop {
        let item = payments
            .get_item()
            .table_name(local_env("PAYMENTS_TABLE"))
            .key(
                "paymentId",
                aws_sdk_dynamodb::types::AttributeValue::S(second_id.clone()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        if item.item().is_some_and(|i| i.contains_key("refundedAt"))
            || started.elapsed() > Duration::from_secs(40)
        {
            break item.item().is_some_and(|i| i.contains_key("refundedAt"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(refunded, "the second payment was not refunded within 40 s");

    // The order keeps its first payment.
    assert_eq!(common::order_view(&order).await["status"], "PaymentSuccess");
    assert_ne!(first["paymentId"].as_str(), Some(second_id.as_str()));

    // And the refund is counted: an EMF line in the functions' log.
    let line = metric_line_of_payment("PaymentsRefunded", &second_id).await;
    assert!(line.is_some(), "no PaymentsRefunded metric for {second_id}");
}
