use futures::future::join_all;
use shared::contracts::PaymentStatus;
use shared::testing::{ApiRequest, assert_problem, body_json};
use shared::{OrderId, UserId};

use crate::helpers::{PAYMENTS_ROUTE, WEBHOOK_URL, spawn_app};

#[tokio::test]
async fn a_payment_request_records_the_payment_and_asks_the_e_wallet_once() {
    let app = spawn_app().await;
    let call = app.payment_call("100.99");

    let response = app.request_payment(call.request()).await;

    assert_eq!(response.status(), 201, "{:?}", response.body());
    let body = body_json(&response);
    assert_eq!(body["paymentId"], call.payment_id().to_string());
    assert_eq!(body["paymentStatus"], "Requested");

    let stored = app.stored(call.payment_id()).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Requested);
    assert_eq!(stored.user_id, call.user);
    assert_eq!(stored.order_id, call.order);
    assert_eq!(stored.amount.cents(), 10099);
    assert_eq!(stored.idempotency_key.as_str(), call.key);
    assert!(stored.transactions.is_empty());

    let calls = app.fakes.ewallet_calls();
    assert_eq!(calls.len(), 1);
    let sent = &calls[0];
    assert_eq!(
        stored.external_id.as_ref().map(|e| e.as_str().to_owned()),
        app.fakes.payment_request_id(&call.payment_id().to_string())
    );
    assert_eq!(sent.body["amount"].as_f64(), Some(100.99));
    assert_eq!(sent.body["currency"], "USD");
    assert_eq!(sent.body["notificationUri"], WEBHOOK_URL);
    assert_eq!(sent.body["merchantData"]["orderId"], call.order.to_string());
    assert_eq!(
        sent.idempotency_key.as_deref(),
        Some(call.payment_id().to_string().as_str()),
        "the e-wallet call's idempotency key is the payment id"
    );
    assert_eq!(sent.correlation_id.as_deref(), Some("test-correlation-1"));
}

#[tokio::test]
async fn a_retried_payment_request_makes_one_payment_and_one_e_wallet_call() {
    let app = spawn_app().await;
    let call = app.payment_call("50.11");

    let first = app.request_payment(call.request()).await;
    let retries = join_all((0..5).map(|_| app.request_payment(call.request()))).await;

    assert_eq!(first.status(), 201);
    let first = body_json(&first);
    for retry in retries {
        assert_eq!(retry.status(), 201);
        assert_eq!(body_json(&retry), first);
    }
    assert_eq!(app.fakes.ewallet_calls().len(), 1);
}

#[tokio::test]
async fn the_same_key_for_another_amount_or_order_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let call = app.payment_call("100.99");
    app.request_payment(call.request()).await;
    let before = app.stored(call.payment_id()).await;

    let mut other_amount = app.payment_call("100.98");
    other_amount.key.clone_from(&call.key);
    other_amount.order = call.order;
    let mut other_order = app.payment_call("100.99");
    other_order.key.clone_from(&call.key);

    for other in [other_amount, other_order] {
        let response = app.request_payment(other.request()).await;
        assert_problem(&response, 409);
    }
    assert_eq!(app.stored(call.payment_id()).await, before);
    assert_eq!(app.fakes.ewallet_calls().len(), 1);
}

#[tokio::test]
async fn when_the_e_wallet_is_down_the_request_is_503_and_a_retry_resumes_the_same_payment() {
    let app = spawn_app().await;
    let call = app.payment_call("100.99");
    app.fakes.set_ewallet_down(true);

    let failed = app.request_payment(call.request()).await;

    assert_problem(&failed, 503);
    let waiting = app.stored(call.payment_id()).await.unwrap();
    assert_eq!(waiting.status, PaymentStatus::Requested);
    assert_eq!(waiting.external_id, None);

    app.fakes.set_ewallet_down(false);
    let retried = app.request_payment(call.request()).await;

    assert_eq!(retried.status(), 201);
    assert_eq!(
        body_json(&retried)["paymentId"],
        call.payment_id().to_string()
    );
    assert!(
        app.stored(call.payment_id())
            .await
            .unwrap()
            .external_id
            .is_some()
    );
    assert_eq!(app.fakes.ewallet_calls().len(), 1);
}

#[tokio::test]
async fn bad_payment_requests_are_400_and_store_nothing() {
    let app = spawn_app().await;
    let user = app.user.to_string();
    let order = OrderId::new_random().to_string();
    let body = |user: &str, amount: &str| {
        format!(
            r#"{{"userId":"{user}","orderId":"{order}","amount":{amount},"currency":"USD","paymentMethod":"Ewallet"}}"#
        )
    };
    let other_user = UserId::new_random().to_string();
    let long_key = "k".repeat(201);
    let cases: Vec<(&str, Option<&str>, String, &str)> = vec![
        (&user, None, body(&user, "1.00"), "Idempotency-Key"),
        (
            &user,
            Some(long_key.as_str()),
            body(&user, "1.00"),
            "Idempotency-Key",
        ),
        (&user, Some("k\tx"), body(&user, "1.00"), "Idempotency-Key"),
        (&user, Some("k"), body(&other_user, "1.00"), "userId"),
        ("not-a-user", Some("k"), body(&user, "1.00"), "userId"),
        (&user, Some("k"), body(&user, "0"), "amount"),
        (&user, Some("k"), body(&user, "-1.00"), "amount"),
        (&user, Some("k"), body(&user, "1.001"), "body"),
        (&user, Some("k"), body(&user, "\"1.00\""), "body"),
        (
            &user,
            Some("k"),
            body(&user, "1").replace("Ewallet", "Cash"),
            "body",
        ),
        (
            &user,
            Some("k"),
            body(&user, "1").replace(&order, "42"),
            "body",
        ),
        (&user, Some("k"), "{".to_owned(), "body"),
        (&user, Some("k"), String::new(), "body"),
    ];
    for (path_user, key, body, field) in cases {
        let key = key.map(|k| format!("{k}-{}", uuid::Uuid::new_v4()));
        let mut request =
            ApiRequest::new("POST", PAYMENTS_ROUTE, &[("userId", path_user)]).body(&body);
        if let Some(key) = &key {
            request = request.header("Idempotency-Key", key);
        }
        let response = app.request_payment(request.build()).await;
        let problem = assert_problem(&response, 400);
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        if let Some(key) = key.and_then(|k| payment::IdempotencyKey::parse(&k).ok()) {
            assert_eq!(app.stored(key.payment_id()).await, None, "{body}");
        }
    }
    assert!(app.fakes.ewallet_calls().is_empty());
}
