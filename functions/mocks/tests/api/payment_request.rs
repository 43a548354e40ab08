use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindowMode};
use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use mocks::ewallet::domain::{IdempotencyKey, NotificationUri, PaymentRequestId, at_expression};
use mocks::ewallet::scheduler::{MAX_EVENT_AGE_SECS, MAX_RETRY_ATTEMPTS};
use mocks::ewallet::{Dispatched, EventBridgeWebhookScheduler};
use shared::api_key::ApiKey;
use shared::contracts::EwalletStatusCode;
use shared::testing::{ApiRequest, assert_problem, body_json, local_env};

use crate::helpers::{Receiver, spawn_app, text};

const ROUTE: &str = "/api/payment/payment-requests";
/// Long enough that the emulator's Scheduler does not fire (and delete) a schedule under test.
const DELAY: u32 = 600;

fn body(amount: &str, uri: &str, order: &str) -> String {
    format!(
        r#"{{"amount":{amount},"notificationUri":"{uri}","merchantData":{{"orderId":"{order}"}}}}"#
    )
}

fn post(body: &str, key: &str) -> lambda_http::Request {
    ApiRequest::new("POST", ROUTE, &[])
        .header("Idempotency-Key", key)
        .header("X-Api-Key", &local_env("EWALLET_API_KEY"))
        .header("X-Correlation-Id", "ewallet-it-correlation")
        .body(body)
        .build()
}

fn fresh_key() -> String {
    format!("it-{}", uuid::Uuid::new_v4())
}

fn id_for(key: &str) -> String {
    let secret = ApiKey::new(local_env("EWALLET_API_KEY")).unwrap();
    PaymentRequestId::from_idempotency_key(&secret, &IdempotencyKey::parse(key).unwrap())
        .to_string()
}

#[tokio::test]
async fn a_request_is_stored_pending_with_a_one_time_schedule_that_targets_the_dispatcher() {
    let app = spawn_app().await;
    let service = app.payment_service(DELAY);
    let order = uuid::Uuid::new_v4().to_string();
    let before = Utc::now();

    let response = app
        .request(
            &service,
            post(
                &body(
                    "100.99",
                    "https://shop.example.com/api/v1/payments/webhook",
                    &order,
                ),
                &fresh_key(),
            ),
        )
        .await;
    let after = Utc::now();

    assert_eq!(response.status(), 201);
    let id = body_json(&response)["paymentRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = app.raw_item(&id).await.expect("the request is stored");
    assert_eq!(text(&item, "amountCents"), "10099");
    assert_eq!(text(&item, "currency"), "USD");
    assert_eq!(
        text(&item, "notificationUri"),
        "https://shop.example.com/api/v1/payments/webhook"
    );
    assert_eq!(text(&item, "orderId"), order);
    assert_eq!(text(&item, "status"), "Pending");
    assert_eq!(text(&item, "correlationId"), "ewallet-it-correlation");
    assert_eq!(text(&item, "scheduled"), "true");
    let created: DateTime<Utc> = text(&item, "createdAtUtc").parse().unwrap();
    assert!(before <= created && created <= after);
    let due: DateTime<Utc> = text(&item, "dueAt").parse().unwrap();
    assert!(due >= before + Duration::seconds(DELAY.into()));
    assert!(due <= after + Duration::seconds(i64::from(DELAY) + 1));
    assert_eq!(due.timestamp_subsec_nanos(), 0, "due on a whole second");

    let schedule = app.get_schedule(&id).await.expect("the schedule exists");
    assert_eq!(schedule.name(), Some(format!("ewallet-{id}").as_str()));
    assert_eq!(schedule.group_name(), Some(app.group.as_str()));
    assert_eq!(
        schedule.schedule_expression(),
        Some(at_expression(due).as_str())
    );
    assert_eq!(schedule.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        schedule.flexible_time_window().map(|w| w.mode()),
        Some(&FlexibleTimeWindowMode::Off)
    );
    assert_eq!(
        schedule.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    let target = schedule.target().expect("a target");
    assert_eq!(target.arn(), app.dispatcher_arn);
    assert_eq!(target.role_arn(), app.role_arn);
    assert_eq!(
        target.input(),
        Some(format!(r#"{{"paymentRequestId":"{id}"}}"#).as_str()),
        "the input is exactly the DispatchWebhook JSON Scheduler will hand the dispatcher"
    );
    let retry = target.retry_policy().expect("a retry policy");
    assert_eq!(retry.maximum_retry_attempts(), Some(MAX_RETRY_ATTEMPTS));
    assert_eq!(
        retry.maximum_event_age_in_seconds(),
        Some(MAX_EVENT_AGE_SECS)
    );

    app.delete_schedule(&id).await;
}

#[tokio::test]
async fn the_schedules_input_fires_the_dispatcher_as_scheduler_would() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let mut service = app.payment_service(DELAY);
    service
        .webhook_urls
        .push(NotificationUri::parse(&receiver.url).unwrap());
    let response = app
        .request(
            &service,
            post(
                &body("50.11", &receiver.url, &uuid::Uuid::new_v4().to_string()),
                &fresh_key(),
            ),
        )
        .await;
    let id = body_json(&response)["paymentRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let schedule = app.get_schedule(&id).await.unwrap();
    app.delete_schedule(&id).await;

    let input: serde_json::Value =
        serde_json::from_str(schedule.target().unwrap().input().unwrap()).unwrap();
    let done = app.dispatcher().dispatch(input).await.unwrap();

    assert_eq!(
        done,
        Dispatched::Delivered {
            outcome: EwalletStatusCode::Failed
        }
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].signature_ok);
    assert_eq!(
        received[0].correlation_id.as_deref(),
        Some("ewallet-it-correlation"),
        "the webhook carries the correlation id of the payment request"
    );
}

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_makes_one_item_and_one_schedule() {
    let app = spawn_app().await;
    let service = app.payment_service(DELAY);
    let key = fresh_key();
    let request = body(
        "10.00",
        "https://shop.example.com/hook",
        &uuid::Uuid::new_v4().to_string(),
    );

    let first = app.request(&service, post(&request, &key)).await;
    let id = body_json(&first)["paymentRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let expression = app
        .get_schedule(&id)
        .await
        .unwrap()
        .schedule_expression()
        .map(str::to_owned);
    let retries = join_all((0..4).map(|_| app.request(&service, post(&request, &key)))).await;

    assert_eq!(first.status(), 201);
    assert_eq!(id, id_for(&key));
    for retry in &retries {
        assert_eq!(retry.status(), 201);
        assert_eq!(body_json(retry)["paymentRequestId"], id.as_str());
    }
    assert_eq!(app.schedules_named_for(&id).await, 1);
    assert_eq!(
        app.get_schedule(&id)
            .await
            .unwrap()
            .schedule_expression()
            .map(str::to_owned),
        expression,
        "a retry does not move the schedule"
    );
    let item = app.raw_item(&id).await.unwrap();
    assert_eq!(text(&item, "status"), "Pending");

    app.delete_schedule(&id).await;
}

#[tokio::test]
async fn a_reused_key_with_another_amount_is_409_and_the_first_request_stands() {
    let app = spawn_app().await;
    let service = app.payment_service(DELAY);
    let key = fresh_key();
    let order = uuid::Uuid::new_v4().to_string();

    let first = app
        .request(
            &service,
            post(
                &body("10.00", "https://shop.example.com/hook", &order),
                &key,
            ),
        )
        .await;
    let other = app
        .request(
            &service,
            post(
                &body("99.99", "https://shop.example.com/hook", &order),
                &key,
            ),
        )
        .await;

    assert_eq!(first.status(), 201);
    assert_problem(&other, 409);
    let item = app.raw_item(&id_for(&key)).await.unwrap();
    assert_eq!(text(&item, "amountCents"), "1000");
    app.delete_schedule(&id_for(&key)).await;
}

#[tokio::test]
async fn a_retry_after_the_scheduler_failed_creates_the_schedule_then() {
    let app = spawn_app().await;
    let mut broken = app.payment_service(DELAY);
    broken.scheduler = EventBridgeWebhookScheduler::new(
        app.scheduler.clone(),
        format!("no-such-group-{}", uuid::Uuid::new_v4().simple()),
        &app.dispatcher_arn,
        &app.role_arn,
    );
    let key = fresh_key();
    let id = id_for(&key);
    let request = body(
        "10.00",
        "https://shop.example.com/hook",
        &uuid::Uuid::new_v4().to_string(),
    );

    let failed = app.request(&broken, post(&request, &key)).await;
    assert_problem(&failed, 503);
    assert_eq!(
        text(&app.raw_item(&id).await.unwrap(), "scheduled"),
        "false"
    );
    assert!(app.get_schedule(&id).await.is_none());

    let retried = app
        .request(&app.payment_service(DELAY), post(&request, &key))
        .await;

    assert_eq!(retried.status(), 201);
    assert_eq!(body_json(&retried)["paymentRequestId"], id.as_str());
    assert!(app.get_schedule(&id).await.is_some());
    assert_eq!(text(&app.raw_item(&id).await.unwrap(), "scheduled"), "true");
    app.delete_schedule(&id).await;
}

#[tokio::test]
async fn bad_input_is_400_and_nothing_is_stored_or_scheduled() {
    let app = spawn_app().await;
    let service = app.payment_service(DELAY);
    let order = uuid::Uuid::new_v4().to_string();
    let uri = "https://shop.example.com/hook";
    let cases = [
        (body("0", uri, &order), "amount"),
        (body("-10.99", uri, &order), "amount"),
        (body("10.999", uri, &order), "body"),
        (
            body("10.99", "ftp://shop.example.com/hook", &order),
            "notificationUri",
        ),
        (
            body("10.99", "file:///etc/passwd", &order),
            "notificationUri",
        ),
        (
            body("10.99", "/api/v1/payments/webhook", &order),
            "notificationUri",
        ),
        (body("10.99", "not a url", &order), "notificationUri"),
        (body("10.99", uri, "42"), "body"),
        (body("10.99", uri, "not-a-uuid"), "body"),
        (
            r#"{"amount":10.99,"notificationUri":"https://x.example"}"#.to_owned(),
            "body",
        ),
        ("[]".to_owned(), "body"),
        ("{".to_owned(), "body"),
    ];
    for (raw, field) in cases {
        let key = fresh_key();
        let response = app.request(&service, post(&raw, &key)).await;

        let problem = assert_problem(&response, 400);
        assert_eq!(problem["errors"][0]["field"], field, "{raw}");
        let id = id_for(&key);
        assert!(app.raw_item(&id).await.is_none(), "{raw} stored an item");
        assert!(
            app.get_schedule(&id).await.is_none(),
            "{raw} made a schedule"
        );
    }
}
