//! The cancel endpoint against the emulator's table, with the dispatcher and a receiver:
//! a cancelled request is never delivered, and a delivered one answers its verdict.

use chrono::{Duration, Utc};
use mocks::ewallet::Dispatched;
use mocks::ewallet::repository::Claim;
use mocks::ewallet::{EwalletRequestRepository, RequestStatus};
use shared::testing::{assert_problem, body_json};

use crate::helpers::{Receiver, spawn_app, text};

#[tokio::test]
async fn a_cancelled_request_is_never_posted_by_its_firing() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let id = app.given_request(10099, &receiver.url).await;
    let service = app.cancel_service();

    let first = app.cancel(&service, app.cancel_request(id)).await;
    let again = app.cancel(&service, app.cancel_request(id)).await;
    let fired = app
        .dispatcher()
        .dispatch(serde_json::json!({ "paymentRequestId": id.to_string() }))
        .await
        .unwrap();

    assert_eq!(first.status(), 200, "{:?}", first.body());
    let body = body_json(&first);
    assert_eq!(body["paymentRequestId"], id.to_string());
    assert_eq!(body["status"], "CANCELLED");
    assert!(body.get("transaction").is_none());
    assert_eq!(body_json(&again), body, "a repeat answers the first cancel");
    assert_eq!(fired, Dispatched::AlreadySettled);
    assert_eq!(receiver.posts(), 0);
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Cancelled");
    assert_eq!(
        Some(text(&item, "cancelledAt").as_str()),
        body["cancelledAt"].as_str()
    );
}

#[tokio::test]
async fn a_cancel_after_delivery_answers_the_webhooks_verdict_and_transaction() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let id = app.given_request(10099, &receiver.url).await;
    app.dispatcher()
        .dispatch(serde_json::json!({ "paymentRequestId": id.to_string() }))
        .await
        .unwrap();

    let response = app
        .cancel(&app.cancel_service(), app.cancel_request(id))
        .await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    let body = body_json(&response);
    let webhook = receiver.received()[0].webhook.clone().unwrap();
    assert_eq!(body["status"], "SUCCESS");
    assert_eq!(
        body["transaction"]["transactionId"],
        webhook.transaction.transaction_id
    );
    assert_eq!(body["transaction"]["amount"], 100.99);
    assert_eq!(body["transaction"]["currency"], "USD");
    assert!(body.get("cancelledAt").is_none());
    assert_eq!(
        app.repo.get(id).await.unwrap().unwrap().status,
        RequestStatus::Sent
    );
    assert_eq!(receiver.posts(), 1);
}

#[tokio::test]
async fn a_cancel_while_a_firing_holds_the_request_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let id = app.given_request(10099, &receiver.url).await;
    let now = Utc::now();
    let held = Claim {
        token: "a-firing-delivering-now".into(),
        lease_until: now + Duration::seconds(60),
    };
    assert!(app.repo.claim(id, now, &held).await.unwrap());

    let response = app
        .cancel(&app.cancel_service(), app.cancel_request(id))
        .await;

    assert_problem(&response, 409);
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Sending");
    assert_eq!(text(&item, "claimToken"), held.token);
}
