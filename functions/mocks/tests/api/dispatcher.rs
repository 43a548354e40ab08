use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use mocks::ewallet::domain::PaymentRequestId;
use mocks::ewallet::{DispatchError, Dispatched};
use shared::contracts::EwalletStatusCode;
use tokio::sync::Notify;

use crate::helpers::{Receiver, TestApp, free_port, spawn_app, text};

fn event(id: PaymentRequestId) -> serde_json::Value {
    serde_json::json!({ "paymentRequestId": id.to_string() })
}

/// Fires once for a request of `cents` and checks the webhook the receiver got.
async fn delivers_with_outcome(cents: i64, outcome: EwalletStatusCode, wire: &str) {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let id = app.given_request(cents, &receiver.url).await;

    let done = app.dispatcher().dispatch(event(id)).await.unwrap();

    assert_eq!(done, Dispatched::Delivered { outcome });
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let post = &received[0];
    assert!(post.signature_ok, "the signature does not verify");
    assert_eq!(
        post.idempotency_key.as_deref(),
        Some(id.to_string().as_str())
    );
    assert_eq!(post.correlation_id.as_deref(), Some("test-correlation-id"));
    let json: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(json["statusCode"], wire);
    assert_eq!(json["paymentRequestId"], id.to_string());
    let webhook = post.webhook.as_ref().expect("the body is a Webhook");
    assert_eq!(webhook.total_amount, cents);
    assert_eq!(webhook.status_code, outcome);

    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Sent");
    assert_eq!(text(&item, "outcome"), wire);
    assert_eq!(
        text(&item, "transactionId"),
        webhook.transaction.transaction_id
    );
    assert_eq!(
        text(&item, "orderId"),
        webhook.transaction.order_id.to_string()
    );
    assert!(item.contains_key("sentAt"));
    assert!(!item.contains_key("leaseUntil") && !item.contains_key("claimToken"));
}

#[tokio::test]
async fn an_amount_ending_in_99_is_delivered_as_success() {
    delivers_with_outcome(10099, EwalletStatusCode::Success, "SUCCESS").await;
}

#[tokio::test]
async fn an_amount_ending_in_11_is_delivered_as_failed() {
    delivers_with_outcome(5011, EwalletStatusCode::Failed, "FAILED").await;
}

#[tokio::test]
async fn a_round_amount_is_delivered_as_expired_by_default() {
    delivers_with_outcome(10000, EwalletStatusCode::Expired, "EXPIRED").await;
}

#[tokio::test]
async fn a_request_fired_twice_is_posted_once() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let id = app.given_request(10099, &receiver.url).await;
    let dispatcher = app.dispatcher();

    let first = dispatcher.dispatch(event(id)).await.unwrap();
    let second = dispatcher.dispatch(event(id)).await.unwrap();

    assert!(matches!(first, Dispatched::Delivered { .. }));
    assert_eq!(second, Dispatched::AlreadySettled);
    assert_eq!(receiver.posts(), 1);
}

#[tokio::test]
async fn five_concurrent_firings_post_once() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let id = app.given_request(10099, &receiver.url).await;
    let dispatcher = app.dispatcher();
    // The receiver answers the winner only once the four others have finished, so they
    // all try while the winner's claim is held.
    let gate = receiver.hold_answers();
    let finished = AtomicUsize::new(0);
    let all_but_the_winner = Notify::new();

    let firings = join_all((0..5).map(|_| async {
        let result = dispatcher.dispatch(event(id)).await;
        if finished.fetch_add(1, Ordering::SeqCst) + 1 == 4 {
            all_but_the_winner.notify_one();
        }
        result
    }));
    let release = async {
        all_but_the_winner.notified().await;
        gate.notify_one();
    };
    let (results, ()) = tokio::join!(firings, release);

    // A firing that met another's claim fails, so Lambda retries it after the lease.
    let outcomes: Vec<Dispatched> = results
        .into_iter()
        .filter_map(|result| match result {
            Err(mocks::ewallet::DispatchError::Held) => None,
            other => Some(other.unwrap()),
        })
        .collect();
    let delivered = outcomes
        .iter()
        .filter(|d| matches!(d, Dispatched::Delivered { .. }))
        .count();
    assert_eq!(delivered, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|d| matches!(d, Dispatched::Delivered { .. } | Dispatched::AlreadySettled)),
        "{outcomes:?}"
    );
    assert_eq!(receiver.posts(), 1);
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Sent");
    assert_eq!(text(&item, "attempts"), "1");
}

#[tokio::test]
async fn a_receiver_answering_503_twice_then_200_gets_the_webhook_on_the_third_post() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([503, 503]);
    let id = app.given_request(10099, &receiver.url).await;

    let done = app.dispatcher().dispatch(event(id)).await.unwrap();

    assert!(matches!(done, Dispatched::Delivered { .. }), "{done:?}");
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.signature_ok));
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "every retry sends the same signed bytes"
    );
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Sent");
    assert_eq!(
        text(&item, "attempts"),
        "1",
        "the retries were the client's, within one firing"
    );
}

#[tokio::test]
async fn when_the_receiver_is_down_the_firing_fails_and_a_later_firing_delivers() {
    let app = spawn_app().await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let id = app.given_request(10099, &url).await;
    let dispatcher = app.dispatcher();

    let err = dispatcher.dispatch(event(id)).await.unwrap_err();

    assert!(matches!(err, DispatchError::Undelivered(_)), "{err:?}");
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Pending", "the claim is released");
    assert!(!item.contains_key("leaseUntil") && !item.contains_key("claimToken"));

    let receiver = Receiver::start_on(port).await;
    let done = dispatcher.dispatch(event(id)).await.unwrap();

    assert!(matches!(done, Dispatched::Delivered { .. }), "{done:?}");
    assert_eq!(receiver.posts(), 1);
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Sent");
    assert_eq!(text(&item, "attempts"), "2");
}

#[tokio::test]
async fn a_receiver_refusing_for_good_rejects_the_request_and_nothing_is_posted_again() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([403]);
    let id = app.given_request(10099, &receiver.url).await;
    let dispatcher = app.dispatcher();

    let done = dispatcher.dispatch(event(id)).await.unwrap();

    assert_eq!(done, Dispatched::Rejected { status: 403 });
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Rejected");
    assert_eq!(text(&item, "rejectedStatus"), "403");

    assert_eq!(
        dispatcher.dispatch(event(id)).await.unwrap(),
        Dispatched::AlreadySettled
    );
    assert_eq!(receiver.posts(), 1);
}

/// A 401 may be a rotation under way at the receiver: the firing fails, so Lambda retries
/// it, and the retry delivers.
#[tokio::test]
async fn a_receiver_answering_401_gets_the_webhook_again_from_the_retry() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([401]);
    let id = app.given_request(10099, &receiver.url).await;
    let dispatcher = app.dispatcher();

    assert!(dispatcher.dispatch(event(id)).await.is_err());
    let item = app.raw_item(&id.to_string()).await.unwrap();
    assert_eq!(text(&item, "status"), "Pending");

    assert!(matches!(
        dispatcher.dispatch(event(id)).await.unwrap(),
        Dispatched::Delivered { .. }
    ));
    assert_eq!(receiver.posts(), 2);
}

#[tokio::test]
async fn an_unknown_payment_request_is_answered_ok_without_posting() {
    let app: TestApp = spawn_app().await;
    let done = app
        .dispatcher()
        .dispatch(event(PaymentRequestId::new_random()))
        .await
        .unwrap();
    assert_eq!(done, Dispatched::Unknown);
}
