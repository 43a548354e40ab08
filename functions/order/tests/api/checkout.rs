use futures::future::join_all;
use order::OrderRepository;
use order::memory::{FakePayments, PaymentsFault};
use shared::contracts::OrderStatus;
use shared::testing::{ApiRequest, assert_problem, body_json};
use shared::{OrderId, PaymentId, UserId};

use crate::helpers::spawn_app;

const CHECKOUT: &str = "/api/v1/users/{userId}/orders/{orderId}/checkout";
const CONFIRM: &str = "/api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment";

fn checkout_request(user: &str, order: &str, body: &str) -> lambda_http::Request {
    ApiRequest::new("POST", CHECKOUT, &[("userId", user), ("orderId", order)])
        .body(body)
        .build()
}

fn confirm_request(user: &str, order: &str, body: &str) -> lambda_http::Request {
    ApiRequest::new("POST", CONFIRM, &[("userId", user), ("orderId", order)])
        .body(body)
        .build()
}

const EWALLET: &str = r#"{"paymentProvider":"Ewallet"}"#;

#[tokio::test]
async fn twenty_concurrent_checkouts_of_one_order_make_exactly_one_payment() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    let payments = FakePayments::default();
    let (user, id) = (app.user.to_string(), order.id.to_string());

    let responses =
        join_all((0..20).map(|_| app.checkout(&payments, checkout_request(&user, &id, EWALLET))))
            .await;

    // The winner of the conditional write starts the attempt; a checkout that reads the
    // order once it is PaymentPending continues that attempt (202, the same payment); one
    // that lost the write race is 409. Either way: one payment.
    let accepted: Vec<_> = responses.iter().filter(|r| r.status() == 202).collect();
    assert!(
        !accepted.is_empty()
            && responses
                .iter()
                .all(|r| r.status() == 202 || r.status() == 409),
        "statuses: {:?}",
        responses.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert_eq!(
        payments.payments_made().len(),
        1,
        "{:?}",
        payments.requests()
    );
    let body = body_json(accepted[0]);
    assert!(
        accepted
            .iter()
            .all(|r| body_json(r)["paymentId"] == body["paymentId"])
    );
    assert_eq!(body["status"], "PaymentPending");
    assert_eq!(body["orderId"], id);
    let stored = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::PaymentPending);
    assert_eq!(
        stored.payment_id.map(|p| p.to_string()).as_deref(),
        body["paymentId"].as_str()
    );
}

#[tokio::test]
async fn when_the_answer_of_the_payment_service_is_lost_a_retried_checkout_pays_once() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    // The payment is made, but checkout never hears so (a timeout or a 5xx on the way back).
    let payments = FakePayments::with_fault(PaymentsFault::AnswerLost);
    let checkout = || {
        app.checkout(
            &payments,
            checkout_request(&app.user.to_string(), &order.id.to_string(), EWALLET),
        )
    };

    let first = checkout().await;
    let problem = assert_problem(&first, 503);
    assert!(first.headers().contains_key("retry-after"), "{problem}");
    let stored = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        OrderStatus::PaymentPending,
        "the payment may exist: the order must keep waiting for it"
    );

    // The user retries once the payment service answers again.
    payments.set_fault(PaymentsFault::None);
    let second = checkout().await;
    assert_eq!(second.status(), 202);
    assert_eq!(
        payments.payments_made().len(),
        1,
        "the retry re-drives the first attempt: {:?}",
        payments.requests()
    );
    let paid = body_json(&second);

    // The e-wallet's success for that one payment settles the order.
    let confirm = app
        .confirm(confirm_request(
            &app.user.to_string(),
            &order.id.to_string(),
            &format!(
                r#"{{"isConfirmed":true,"paymentId":"{}"}}"#,
                paid["paymentId"].as_str().unwrap()
            ),
        ))
        .await;
    assert_eq!(confirm.status(), 200);
    let stored = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::PaymentSuccess);
}

#[tokio::test]
async fn when_the_payment_service_refuses_the_request_the_order_is_payable_again() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    let payments = FakePayments::with_fault(PaymentsFault::Rejected);

    let response = app
        .checkout(
            &payments,
            checkout_request(&app.user.to_string(), &order.id.to_string(), EWALLET),
        )
        .await;

    assert_problem(&response, 503);
    let stored = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        OrderStatus::Created,
        "no payment exists for it"
    );
    payments.set_fault(PaymentsFault::None);
    let response = app
        .checkout(
            &payments,
            checkout_request(&app.user.to_string(), &order.id.to_string(), EWALLET),
        )
        .await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn bad_checkout_input_is_rejected_and_changes_nothing() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    let payments = FakePayments::default();
    let (user, id) = (app.user.to_string(), order.id.to_string());
    let cases: [(&str, &str, &str, u16); 8] = [
        (&user, &id, "", 400),
        (&user, &id, "{", 400),
        (&user, &id, r#"{"paymentProvider":"Cash"}"#, 400),
        (&user, &id, r#"{"paymentProvider":1}"#, 400),
        (&user, &id, "{}", 400),
        ("nope", &id, EWALLET, 400),
        (&user, "nope", EWALLET, 400),
        (&user, "00000000-0000-4000-8000-000000000000", EWALLET, 404),
    ];
    for (u, o, body, status) in cases {
        let response = app.checkout(&payments, checkout_request(u, o, body)).await;
        assert_problem(&response, status);
    }
    let someone_else = UserId::new_random().to_string();
    assert_problem(
        &app.checkout(&payments, checkout_request(&someone_else, &id, EWALLET))
            .await,
        404,
    );

    assert!(payments.requests().is_empty());
    let stored = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.checkout_attempt),
        (OrderStatus::Created, 0)
    );
}

#[tokio::test]
async fn confirm_payment_settles_the_pending_order_once_and_refuses_other_payments() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    let payments = FakePayments::default();
    let (user, id) = (app.user.to_string(), order.id.to_string());
    let accepted = body_json(
        &app.checkout(&payments, checkout_request(&user, &id, EWALLET))
            .await,
    );
    let payment_id = accepted["paymentId"].as_str().unwrap().to_owned();
    let confirmed = format!(r#"{{"isConfirmed":true,"paymentId":"{payment_id}"}}"#);

    let other = format!(
        r#"{{"isConfirmed":true,"paymentId":"{}"}}"#,
        PaymentId::new_random()
    );
    assert_problem(&app.confirm(confirm_request(&user, &id, &other)).await, 409);

    let first = app.confirm(confirm_request(&user, &id, &confirmed)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(body_json(&first)["status"], "PaymentSuccess");
    let after_first = app.repo.get(app.user, order.id).await.unwrap().unwrap();

    let again = app.confirm(confirm_request(&user, &id, &confirmed)).await;
    assert_eq!(
        again.status(),
        200,
        "a repeated confirmation is not an error"
    );
    let after_again = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(
        after_again.updated_at, after_first.updated_at,
        "a repeat changed the order"
    );

    let opposite = format!(r#"{{"isConfirmed":false,"paymentId":"{payment_id}"}}"#);
    assert_problem(
        &app.confirm(confirm_request(&user, &id, &opposite)).await,
        409,
    );
    assert_eq!(
        app.repo
            .get(app.user, order.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::PaymentSuccess
    );

    // A paid order cannot be checked out again.
    assert_problem(
        &app.checkout(&payments, checkout_request(&user, &id, EWALLET))
            .await,
        409,
    );
}

#[tokio::test]
async fn a_failed_payment_leaves_the_order_payable_under_a_new_payment() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    let payments = FakePayments::default();
    let (user, id) = (app.user.to_string(), order.id.to_string());
    let first = body_json(
        &app.checkout(&payments, checkout_request(&user, &id, EWALLET))
            .await,
    );
    let refused = format!(
        r#"{{"isConfirmed":false,"paymentId":"{}"}}"#,
        first["paymentId"].as_str().unwrap()
    );
    assert_eq!(
        body_json(&app.confirm(confirm_request(&user, &id, &refused)).await)["status"],
        "PaymentFailed"
    );

    let second = body_json(
        &app.checkout(&payments, checkout_request(&user, &id, EWALLET))
            .await,
    );
    assert_eq!(second["status"], "PaymentPending");
    assert_ne!(second["paymentId"], first["paymentId"]);
    assert_eq!(payments.requests().len(), 2);
}

#[tokio::test]
async fn bad_confirm_input_is_a_400_or_404_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let order = app.given_orders(app.user, 1).await.remove(0);
    let (user, id) = (app.user.to_string(), order.id.to_string());
    let payment = PaymentId::new_random();
    let valid = format!(r#"{{"isConfirmed":true,"paymentId":"{payment}"}}"#);
    let unknown_order = OrderId::new_random().to_string();
    let cases: Vec<(&str, &str, String, u16)> = vec![
        (&user, &id, String::new(), 400),
        (&user, &id, "[]".into(), 400),
        (
            &user,
            &id,
            r#"{"isConfirmed":"yes","paymentId":"x"}"#.into(),
            400,
        ),
        (&user, &id, format!(r#"{{"paymentId":"{payment}"}}"#), 400),
        (
            &user,
            &id,
            r#"{"isConfirmed":true,"paymentId":"42"}"#.into(),
            400,
        ),
        ("x", &id, valid.clone(), 400),
        (&user, &unknown_order, valid.clone(), 404),
    ];
    for (u, o, body, status) in &cases {
        assert_problem(&app.confirm(confirm_request(u, o, body)).await, *status);
    }
    // Created (not PaymentPending): a confirmation is a conflict, not a change.
    assert_problem(&app.confirm(confirm_request(&user, &id, &valid)).await, 409);
    let stored = app.repo.get(app.user, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Created);
}
