//! The resolve endpoint against the emulator's table, with the fake e-wallet: every case
//! the reconciler can meet ends in a definite answer (200 with the decided status, or 404),
//! or in a 503 that changed nothing.

use futures::future::join_all;
use shared::PaymentId;
use shared::contracts::PaymentStatus;
use shared::testing::{assert_problem, body_json};

use crate::helpers::{CancelMode, spawn_app};

#[tokio::test]
async fn a_requested_payment_is_cancelled_at_the_e_wallet_and_resolved_as_failed() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;

    let response = app
        .resolve(app.resolve_request(&payment.id.to_string()))
        .await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(
        body_json(&response),
        serde_json::json!({ "paymentId": payment.id.to_string(), "paymentStatus": "Failed" })
    );
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Failed);
    assert!(stored.cancelled_at.is_some());
    assert!(stored.transactions.is_empty());
    let calls = app.fakes.cancel_calls();
    assert_eq!(calls.len(), 1);
    let external = payment.external_id.unwrap();
    assert_eq!(
        calls[0].path,
        format!("/api/payment/payment-requests/{external}/cancel")
    );
    assert_eq!(
        calls[0].idempotency_key.as_deref(),
        Some(format!("cancel-{}", payment.id).as_str())
    );
    assert_eq!(calls[0].correlation_id.as_deref(), Some("reconciler-run-1"));
}

#[tokio::test]
async fn an_outcome_the_e_wallet_reported_already_is_recorded_with_its_transaction() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    app.fakes.set_cancel_mode(CancelMode::Reported {
        status: "SUCCESS",
        amount: "100.99",
    });

    let response = app
        .resolve(app.resolve_request(&payment.id.to_string()))
        .await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(body_json(&response)["paymentStatus"], "Success");
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Success);
    assert_eq!(stored.transactions.len(), 1);
    assert_eq!(
        stored.transactions[0].transaction_id,
        format!("tx-{}", payment.external_id.unwrap())
    );
    assert_eq!(stored.cancelled_at, None);
}

#[tokio::test]
async fn a_payment_whose_e_wallet_id_was_never_stored_is_re_driven_with_its_key_then_cancelled() {
    let app = spawn_app().await;
    let call = app.payment_call("100.99");
    app.fakes.set_ewallet_down(true);
    assert_problem(&app.request_payment(call.request()).await, 503);
    app.fakes.set_ewallet_down(false);

    let response = app
        .resolve(app.resolve_request(&call.payment_id().to_string()))
        .await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(body_json(&response)["paymentStatus"], "Failed");
    let requests = app.fakes.ewallet_calls();
    assert_eq!(requests.len(), 1, "re-driven once");
    assert_eq!(
        requests[0].idempotency_key.as_deref(),
        Some(call.payment_id().to_string().as_str()),
        "with the payment's own key"
    );
    let stored = app.stored(call.payment_id()).await.unwrap();
    assert_eq!(
        stored.external_id.map(|e| e.to_string()),
        app.fakes.payment_request_id(&call.payment_id().to_string())
    );
    assert_eq!(stored.status, PaymentStatus::Failed);
    assert_eq!(app.fakes.cancel_calls().len(), 1);
}

#[tokio::test]
async fn a_decided_payment_is_answered_as_stored_without_calling_the_e_wallet() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");
    assert_eq!(app.webhook(app.signed_webhook(&body)).await.status(), 200);

    let response = app
        .resolve(app.resolve_request(&payment.id.to_string()))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response)["paymentStatus"], "Success");
    assert!(app.fakes.cancel_calls().is_empty());
}

#[tokio::test]
async fn an_unknown_payment_is_404_and_a_malformed_id_400() {
    let app = spawn_app().await;
    let unknown = PaymentId::new_random().to_string();
    assert_problem(&app.resolve(app.resolve_request(&unknown)).await, 404);
    assert_problem(&app.resolve(app.resolve_request("42")).await, 400);
    assert!(app.fakes.cancel_calls().is_empty());
}

#[tokio::test]
async fn when_the_e_wallet_is_busy_or_down_the_answer_is_503_with_retry_after_and_nothing_changes()
{
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let before = app.stored(payment.id).await;

    for mode in [CancelMode::Busy, CancelMode::Down] {
        app.fakes.set_cancel_mode(mode);
        let response = app
            .resolve(app.resolve_request(&payment.id.to_string()))
            .await;
        assert_problem(&response, 503);
        assert!(response.headers().contains_key(http::header::RETRY_AFTER));
        assert_eq!(app.stored(payment.id).await, before);
    }

    app.fakes.set_cancel_mode(CancelMode::Cancel);
    let response = app
        .resolve(app.resolve_request(&payment.id.to_string()))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response)["paymentStatus"], "Failed");
}

#[tokio::test]
async fn five_concurrent_resolves_record_one_outcome_and_answer_it_alike() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;

    let responses =
        join_all((0..5).map(|_| app.resolve(app.resolve_request(&payment.id.to_string())))).await;

    for response in &responses {
        assert_eq!(response.status(), 200, "{:?}", response.body());
        assert_eq!(body_json(response)["paymentStatus"], "Failed");
    }
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Failed);
    assert!(stored.transactions.is_empty());
}
