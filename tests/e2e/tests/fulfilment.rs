//! Fulfilment through the deployed stack: confirm-payment writes the order's process, the
//! processes table's stream publishes its payment result to SNS, SNS fans it out to three
//! SQS queues, the listeners run the production, invoice and notification jobs and report
//! them. `make test` deploys with FaultInjection enabled: an order whose name carries
//! `[fail-once:<step>]` or `[fail-always:<step>]` makes that step fail (`shared::fault`),
//! and a queue's failed message comes back after 10 s (MaxReceiveCount 3).

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use order::Order;
use serde_json::Value;
use shared::fulfilment::JobType;
use shared::testing::local_env;
use shared::{JobId, ProcessId, UserId};

async fn sdk() -> aws_config::SdkConfig {
    shared::testing::sdk_config().await
}

async fn given_order(name: &str, cents: i64) -> Order {
    common::given_order(name, cents).await
}

async fn checkout(order: &Order, correlation_id: &str) {
    assert_eq!(common::checkout(order, correlation_id).await.status(), 202);
}

async fn order_view(order: &Order) -> Value {
    common::order_view(order).await
}

async fn process_becomes(order: &Order, status: &str, within: Duration) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let view = order_view(order).await;
        if view["process"]["status"] == status || started.elapsed() > within {
            return (view, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn job<'a>(view: &'a Value, job_type: &str) -> &'a Value {
    view["process"]["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["jobType"] == job_type))
        .unwrap_or(&Value::Null)
}

fn process_id(view: &Value) -> ProcessId {
    ProcessId::parse(view["process"]["processId"].as_str().unwrap_or_default())
        .unwrap_or_else(|_| panic!("the order has no process: {view}"))
}

async fn item(table: &str, key: &str, value: String) -> Option<Value> {
    let output = aws_sdk_dynamodb::Client::new(&sdk().await)
        .get_item()
        .table_name(local_env(table))
        .key(key, AttributeValue::S(value))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output
        .item
        .map(|item| serde_dynamo::from_item::<_, Value>(item).unwrap())
}

async fn production(process: ProcessId) -> Option<Value> {
    item(
        "PRODUCTIONS_TABLE",
        "recordId",
        JobId::of(process, JobType::Production).to_string(),
    )
    .await
}

async fn invoice(process: ProcessId) -> Option<Value> {
    item(
        "INVOICES_TABLE",
        "recordId",
        JobId::of(process, JobType::Invoice).to_string(),
    )
    .await
}

async fn email_log(process: ProcessId) -> Option<Value> {
    let job = JobId::of(process, JobType::Notification).to_string();
    item(
        "EMAIL_LOG_TABLE",
        "emailId",
        notification::send::email_id(&job),
    )
    .await
}

/// The mail the emulator's SES sent to `user`'s demo address.
async fn sent_mail(user: UserId) -> Vec<Value> {
    let body: Value = shared::testing::http()
        .get(format!(
            "{}/_ministack/ses/messages",
            local_env("AWS_ENDPOINT_URL")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to = format!("{user}@");
    body["messages"]
        .as_object()
        .into_iter()
        .flat_map(|accounts| accounts.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter(|m| {
            m["To"].as_array().is_some_and(|to_list| {
                to_list
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| t.starts_with(&to)))
            })
        })
        .cloned()
        .collect()
}

fn sqs(config: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// Waits until `queue` has nothing waiting or in flight (at most 40 s).
async fn drained(queue: &str) {
    let client = sqs(&sdk().await);
    let started = Instant::now();
    loop {
        let attributes = client
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let count: u64 = attributes
            .values()
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        if count == 0 || started.elapsed() > Duration::from_secs(40) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls `dlq` until a message whose body contains `marker` is there (at most `within`).
async fn in_dead_letter_queue(dlq: &str, marker: &str, within: Duration) -> bool {
    let client = sqs(&sdk().await);
    let started = Instant::now();
    while started.elapsed() < within {
        let output = client
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            // Only looking: the message stays visible for other tests.
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        if output
            .messages()
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains(marker)))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

#[tokio::test]
async fn a_paid_order_ends_with_its_process_completed_and_one_production_invoice_and_email() {
    let order = given_order("Fulfilment test 100.99", 10099).await;
    let correlation_id = format!("e2e-fulfilment-{}", order.id);

    let started = Instant::now();
    checkout(&order, &correlation_id).await;
    let (view, _) = process_becomes(&order, "Completed", Duration::from_secs(60)).await;
    let took = started.elapsed();

    assert_eq!(view["status"], "PaymentSuccess");
    assert_eq!(view["process"]["status"], "Completed", "{view}");
    for job_type in ["Production", "Invoice", "Notification"] {
        assert_eq!(
            job(&view, job_type)["status"],
            "Completed",
            "{job_type}: {view}"
        );
        assert!(job(&view, job_type)["updatedAtUtc"].is_string());
    }
    let process = process_id(&view);
    let production = production(process).await.expect("a production record");
    assert_eq!(production["request"]["orderId"], order.id.to_string());
    let invoice = invoice(process).await.expect("an invoice");
    assert_eq!(invoice["request"]["totalAmount"].as_f64(), Some(100.99));
    let log = email_log(process).await.expect("an e-mail log record");
    assert_eq!(
        log["correlationId"],
        correlation_id.as_str(),
        "the checkout's correlation id"
    );
    assert!(log["messageId"].is_string());
    let mail = sent_mail(order.user_id).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(
        mail[0]["Subject"]
            .as_str()
            .unwrap_or_default()
            .contains("is paid")
    );
    println!("checkout to process Completed: {took:?}");
}

#[tokio::test]
async fn a_failed_payment_sends_only_the_failure_email() {
    let order = given_order("Fulfilment test 50.11", 5011).await;
    checkout(&order, &format!("e2e-fulfilment-{}", order.id)).await;

    let (view, _) = process_becomes(&order, "Completed", Duration::from_secs(60)).await;

    assert_eq!(view["status"], "PaymentFailed");
    let jobs = view["process"]["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(jobs.len(), 1, "{view}");
    assert_eq!(job(&view, "Notification")["status"], "Completed");
    let process = process_id(&view);
    assert!(production(process).await.is_none());
    assert!(invoice(process).await.is_none());
    let mail = sent_mail(order.user_id).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(
        mail[0]["Subject"]
            .as_str()
            .unwrap_or_default()
            .contains("did not go through")
    );
}

#[tokio::test]
async fn redelivered_messages_leave_one_production_one_invoice_and_one_email() {
    let order = given_order("Fulfilment test redelivery 100.99", 10099).await;
    checkout(&order, &format!("e2e-fulfilment-{}", order.id)).await;
    let (view, _) = process_becomes(&order, "Completed", Duration::from_secs(60)).await;
    let process = process_id(&view);
    let before = (
        production(process).await,
        invoice(process).await,
        email_log(process).await,
    );

    // The same payment result again on every queue, as SQS would redeliver it.
    let processes = order::DynamoDbProcessRepository::new(
        aws_sdk_dynamodb::Client::new(&sdk().await),
        local_env("PROCESSES_TABLE"),
    );
    let stored = order::ProcessRepository::get(&processes, process)
        .await
        .unwrap()
        .unwrap();
    let body = serde_json::to_string(&stored.event()).unwrap();
    let client = sqs(&sdk().await);
    let queues = [
        "PRODUCTION_QUEUE_URL",
        "INVOICE_QUEUE_URL",
        "NOTIFICATION_QUEUE_URL",
    ]
    .map(common::output);
    for queue in &queues {
        for _ in 0..2 {
            client
                .send_message()
                .queue_url(queue)
                .message_body(&body)
                .message_attributes(
                    "correlationId",
                    MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value("e2e-redelivery")
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
    }
    for queue in &queues {
        drained(queue).await;
    }

    let after = (
        production(process).await,
        invoice(process).await,
        email_log(process).await,
    );
    assert_eq!(after, before, "a redelivery changed a record");
    assert_eq!(
        sent_mail(order.user_id).await.len(),
        1,
        "a redelivery sent a second e-mail"
    );
    assert_eq!(order_view(&order).await["process"]["status"], "Completed");
}

#[tokio::test]
async fn a_downstream_failing_transiently_still_completes_its_job() {
    let order = given_order("Fulfilment test [fail-once:invoice] 100.99", 10099).await;
    checkout(&order, &format!("e2e-fulfilment-{}", order.id)).await;

    let (view, _) = process_becomes(&order, "Completed", Duration::from_secs(90)).await;

    assert_eq!(view["process"]["status"], "Completed", "{view}");
    assert!(invoice(process_id(&view)).await.is_some());
}

#[tokio::test]
async fn a_downstream_failing_persistently_leaves_the_message_in_the_dlq_and_the_job_in_error() {
    let order = given_order("Fulfilment test [fail-always:production] 100.99", 10099).await;
    checkout(&order, &format!("e2e-fulfilment-{}", order.id)).await;

    let (view, _) = process_becomes(&order, "Error", Duration::from_secs(120)).await;

    assert_eq!(view["process"]["status"], "Error", "{view}");
    assert_eq!(job(&view, "Production")["status"], "Error");
    assert!(job(&view, "Production")["note"].is_string());
    assert_eq!(job(&view, "Invoice")["status"], "Completed");
    let process = process_id(&view);
    assert!(production(process).await.is_none());
    assert!(
        in_dead_letter_queue(
            &common::output("PRODUCTION_DEAD_LETTER_QUEUE_URL"),
            &process.to_string(),
            Duration::from_secs(60)
        )
        .await,
        "the failed message is not in the production DLQ"
    );
}

#[tokio::test]
async fn when_the_publish_fails_the_event_is_still_delivered() {
    let order = given_order("Fulfilment test [fail-once:publish] 100.99", 10099).await;
    checkout(&order, &format!("e2e-fulfilment-{}", order.id)).await;

    let (view, took) = process_becomes(&order, "Completed", Duration::from_secs(90)).await;

    assert_eq!(
        view["process"]["status"], "Completed",
        "after {took:?}: {view}"
    );
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_and_its_batch_is_processed() {
    let marker = format!("poison-{}", uuid::Uuid::new_v4());
    let client = sqs(&sdk().await);
    let queue = common::output("NOTIFICATION_QUEUE_URL");
    // A batch: the poison message beside a real payment result (a failed payment's).
    let order = given_order("Fulfilment test poison 50.11", 5011).await;
    client
        .send_message()
        .queue_url(&queue)
        .message_body(format!(
            "{{\"not\": \"a payment result\", \"marker\": \"{marker}\"}}"
        ))
        .send()
        .await
        .unwrap();
    checkout(&order, &format!("e2e-fulfilment-{}", order.id)).await;

    let (view, _) = process_becomes(&order, "Completed", Duration::from_secs(60)).await;
    assert_eq!(view["process"]["status"], "Completed", "{view}");
    assert!(
        in_dead_letter_queue(
            &common::output("NOTIFICATION_DEAD_LETTER_QUEUE_URL"),
            &marker,
            Duration::from_secs(90)
        )
        .await,
        "the poison message is not in the notification DLQ"
    );
}
