use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use futures::future::join_all;
use payment::PaymentRepository;
use payment::repository::{Evidence, OutcomeRecord};
use shared::contracts::PaymentStatus;
use shared::testing::{assert_problem, body_json};
use tokio::sync::Notify;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_valid_success_webhook_marks_the_payment_paid_and_confirms_the_order_once() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    let answer = body_json(&response);
    assert_eq!(answer["paymentId"], payment.id.to_string());
    assert_eq!(answer["paymentStatus"], "Success");

    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Success);
    assert!(stored.order_confirmed);
    assert_eq!(stored.confirming_until, None);
    assert_eq!(stored.transactions.len(), 1);
    assert_eq!(
        stored.transactions[0].transaction_id,
        format!("tx-{}", payment.id)
    );
    assert_eq!(stored.transactions[0].amount_cents, 10099);

    let calls = app.fakes.confirm_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        call.path,
        format!(
            "/api/internal/v1/users/{}/orders/{}/confirm-payment",
            payment.user_id, payment.order_id
        )
    );
    assert_eq!(call.body["isConfirmed"], true);
    assert_eq!(call.body["paymentId"], payment.id.to_string());
    assert_eq!(
        call.idempotency_key.as_deref(),
        Some(format!("confirm-{}", payment.id).as_str())
    );
    assert_eq!(call.correlation_id.as_deref(), Some("ewallet-delivery-1"));
}

#[tokio::test]
async fn failed_and_expired_webhooks_confirm_the_order_as_not_paid() {
    let app = spawn_app().await;
    for (code, status) in [
        ("FAILED", PaymentStatus::Failed),
        ("EXPIRED", PaymentStatus::Expired),
    ] {
        let payment = app.given_requested_payment("50.11").await;
        let body = app.webhook_body(&payment, code, "50.11");

        let response = app.webhook(app.signed_webhook(&body)).await;

        assert_eq!(response.status(), 200, "{:?}", response.body());
        assert_eq!(body_json(&response)["paymentStatus"], status.as_str());
        assert_eq!(app.stored(payment.id).await.unwrap().status, status);
        let confirmed: Vec<_> = app
            .fakes
            .confirm_calls()
            .into_iter()
            .filter(|c| c.body["paymentId"] == payment.id.to_string())
            .collect();
        assert_eq!(confirmed.len(), 1, "{code}");
        assert_eq!(confirmed[0].body["isConfirmed"], false, "{code}");
    }
}

#[tokio::test]
async fn webhooks_with_a_missing_malformed_wrong_stale_or_tampered_signature_are_401_and_change_nothing()
 {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");
    let now = Utc::now().timestamp();
    let wrong_secret =
        shared::signature::sign(b"not-the-webhook-secret-at-all", now, body.as_bytes());
    let stale = app.sign(&body, now - 6 * 60);
    let fresh = app.sign(&body, now);
    let tampered_body = body.replace("SUCCESS", "FAILED");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("missing", body.clone(), None),
        ("malformed", body.clone(), Some("v1=abc;t=yesterday".into())),
        ("empty", body.clone(), Some(String::new())),
        ("wrong secret", body.clone(), Some(wrong_secret)),
        ("six minutes old", body.clone(), Some(stale)),
        ("body tampered", tampered_body, Some(fresh)),
        // Crafted timestamps at the ends of i64: once a 500 (overflow) before authentication.
        (
            "earliest timestamp",
            body.clone(),
            Some("t=-9223372036854775808,v1=00".into()),
        ),
        (
            "latest timestamp",
            body.clone(),
            Some("t=9223372036854775807,v1=00".into()),
        ),
    ];
    for (case, body, signature) in cases {
        let response = app
            .webhook(app.webhook_request(&body, signature.as_deref()))
            .await;
        let problem = assert_problem(&response, 401);
        assert_eq!(problem["title"], "Unauthorized", "{case}");
    }
    assert_eq!(app.stored(payment.id).await.unwrap(), payment);
    assert_eq!(app.fakes.confirm_attempts(), 0);
}

#[tokio::test]
async fn the_same_webhook_delivered_twice_is_applied_once() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");

    let first = app.webhook(app.signed_webhook(&body)).await;
    let after_first = app.stored(payment.id).await;
    let second = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    assert_eq!(body_json(&first), body_json(&second));
    assert_eq!(
        app.stored(payment.id).await,
        after_first,
        "the duplicate changed the payment"
    );
    assert_eq!(after_first.unwrap().transactions.len(), 1);
    assert_eq!(app.fakes.confirm_attempts(), 1);
}

#[tokio::test]
async fn ten_concurrent_identical_deliveries_confirm_the_order_exactly_once() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");
    // The order service answers the winner only once the nine others have answered, so
    // they all overlap the winner's lease.
    let gate = app.fakes.hold_confirms();
    let answered = AtomicUsize::new(0);
    let all_but_the_winner = Notify::new();

    let deliveries = join_all((0..10).map(|_| async {
        let response = app.webhook(app.signed_webhook(&body)).await;
        if answered.fetch_add(1, Ordering::SeqCst) + 1 == 9 {
            all_but_the_winner.notify_one();
        }
        response
    }));
    let release = async {
        all_but_the_winner.notified().await;
        gate.notify_one();
    };
    let (responses, ()) = tokio::join!(deliveries, release);

    let (mut ok, mut deferred) = (0, 0);
    for response in &responses {
        match response.status().as_u16() {
            200 => ok += 1,
            503 => {
                deferred += 1;
                assert_problem(response, 503);
                let retry_after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=5).contains(&retry_after), "{retry_after}");
            }
            other => panic!("unexpected status {other}: {:?}", response.body()),
        }
    }
    assert!(ok >= 1, "the winning delivery answers 200");
    assert!(deferred >= 1, "no delivery overlapped the winner's lease");
    assert_eq!(app.fakes.confirm_attempts(), 1);
    assert_eq!(app.fakes.confirm_calls().len(), 1);
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.transactions.len(), 1);
    assert!(stored.order_confirmed);

    // The provider's retries of the deferred deliveries now find the order confirmed.
    let retry = app.webhook(app.signed_webhook(&body)).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(app.fakes.confirm_attempts(), 1);
}

#[tokio::test]
async fn a_late_delivery_with_another_outcome_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let success = app.webhook_body(&payment, "SUCCESS", "100.99");
    app.webhook(app.signed_webhook(&success)).await;
    let before = app.stored(payment.id).await;

    let failed = app.webhook_body(&payment, "FAILED", "100.99");
    let response = app.webhook(app.signed_webhook(&failed)).await;

    assert_problem(&response, 409);
    assert_eq!(app.stored(payment.id).await, before);
    assert_eq!(app.fakes.confirm_attempts(), 1);
}

#[tokio::test]
async fn an_unknown_payment_request_id_is_404() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99").replace(
        payment.external_id.as_ref().unwrap().as_str(),
        "ewallet-unknown-request",
    );

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_problem(&response, 404);
    assert_eq!(app.stored(payment.id).await.unwrap(), payment);
    assert_eq!(app.fakes.confirm_attempts(), 0);
}

#[tokio::test]
async fn a_webhook_with_another_amount_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "1.99");

    let response = app.webhook(app.signed_webhook(&body)).await;

    let problem = assert_problem(&response, 409);
    assert!(problem["detail"].as_str().unwrap().contains("totalAmount"));
    assert_eq!(app.stored(payment.id).await.unwrap(), payment);
    assert_eq!(app.fakes.confirm_attempts(), 0);
}

#[tokio::test]
async fn a_webhook_in_another_currency_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app
        .webhook_body(&payment, "SUCCESS", "100.99")
        .replace(r#""currency":"USD""#, r#""currency":"EUR""#);

    let response = app.webhook(app.signed_webhook(&body)).await;

    let problem = assert_problem(&response, 409);
    assert!(problem["detail"].as_str().unwrap().contains("currency"));
    assert_eq!(app.stored(payment.id).await.unwrap(), payment);
    assert_eq!(app.fakes.confirm_attempts(), 0);
}

#[tokio::test]
async fn validly_signed_but_malformed_webhooks_are_400_and_change_nothing() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let good = app.webhook_body(&payment, "SUCCESS", "100.99");
    let external = payment.external_id.as_ref().unwrap().as_str();
    let without = |field: &str| {
        let mut json: serde_json::Value = serde_json::from_str(&good).unwrap();
        json.as_object_mut().unwrap().remove(field);
        json.to_string()
    };
    let cases = vec![
        ("bad JSON", "{\"paymentRequestId\":".to_owned()),
        ("empty body", String::new()),
        ("not an object", "[]".to_owned()),
        ("no statusCode", without("statusCode")),
        ("no transaction", without("transaction")),
        ("no totalAmount", without("totalAmount")),
        ("no currency", without("currency")),
        // Amounts are read exactly: no exponent, no float rounding, at most 2 decimals.
        ("exponent amount", good.replace("100.99", "1.0099e2")),
        ("three decimals", good.replace("100.99", "100.989")),
        (
            "amount past f64 precision",
            good.replace("100.99", "100.98999999999999999"),
        ),
        ("NaN amount", good.replace("100.99", "NaN")),
        (
            "wrong-typed orderId",
            good.replace(&payment.order_id.to_string(), "42"),
        ),
        (
            "numeric paymentRequestId",
            good.replace(&format!("\"{external}\""), "12345"),
        ),
        ("empty paymentRequestId", good.replace(external, "")),
        ("unknown status", good.replace("SUCCESS", "PENDING")),
        ("amount as text", good.replace("100.99", "\"100.99\"")),
        ("three decimals", good.replace("100.99", "100.991")),
        (
            "bad transaction time",
            good.replace(
                &good[good.find("transactionTime").unwrap()..],
                "transactionTime\":\"yesterday\"}}",
            ),
        ),
    ];
    for (case, body) in cases {
        let response = app.webhook(app.signed_webhook(&body)).await;
        let problem = assert_problem(&response, 400);
        assert!(problem["errors"][0]["field"].is_string(), "{case}");
    }
    assert_eq!(app.stored(payment.id).await.unwrap(), payment);
    assert_eq!(app.fakes.confirm_attempts(), 0);
}

#[tokio::test]
async fn when_confirm_payment_fails_the_webhook_is_503_and_a_redelivery_confirms_once() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");
    app.fakes.set_confirm_down(true);

    let failed = app.webhook(app.signed_webhook(&body)).await;

    assert_problem(&failed, 503);
    let recorded = app.stored(payment.id).await.unwrap();
    assert_eq!(
        recorded.status,
        PaymentStatus::Success,
        "the outcome stays recorded"
    );
    assert!(!recorded.order_confirmed);
    assert_eq!(recorded.confirming_until, None, "the lease was released");
    assert!(app.fakes.confirm_calls().is_empty());

    app.fakes.set_confirm_down(false);
    let redelivered = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(redelivered.status(), 200, "{:?}", redelivered.body());
    assert_eq!(app.fakes.confirm_calls().len(), 1);
    let stored = app.stored(payment.id).await.unwrap();
    assert!(stored.order_confirmed);
    assert_eq!(stored.transactions.len(), 1);
}

#[tokio::test]
async fn a_success_the_order_no_longer_waits_for_is_refunded_once_and_recorded() {
    let app = spawn_app().await;
    // The order was paid by another attempt (or given up on): confirm-payment says 409.
    app.fakes.set_confirm_conflict(true);
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    let external = payment.external_id.as_ref().unwrap().as_str().to_owned();
    assert_eq!(app.fakes.refund_calls(), std::slice::from_ref(&external));
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Success);
    assert!(stored.refunded_at.is_some(), "recorded as refunded");
    assert!(stored.order_confirmed, "nothing is left to retry");

    let again = app.webhook(app.signed_webhook(&body)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(app.fakes.confirm_attempts(), 1);
    assert_eq!(app.fakes.refund_calls(), [external], "refunded once");
}

#[tokio::test]
async fn when_the_refund_fails_the_delivery_fails_and_the_next_one_refunds() {
    let app = spawn_app().await;
    app.fakes.set_confirm_conflict(true);
    app.fakes.set_refunds_down(true);
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_problem(&response, 503);
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.refunded_at, None);
    assert!(
        !stored.order_confirmed,
        "the e-wallet's next delivery must retry"
    );

    app.fakes.set_refunds_down(false);
    let again = app.webhook(app.signed_webhook(&body)).await;
    assert_eq!(again.status(), 200, "{:?}", again.body());
    assert_eq!(app.fakes.refund_calls().len(), 1);
    assert!(app.stored(payment.id).await.unwrap().refunded_at.is_some());
}

#[tokio::test]
async fn a_failure_the_order_no_longer_waits_for_is_only_recorded() {
    let app = spawn_app().await;
    app.fakes.set_confirm_conflict(true);
    let payment = app.given_requested_payment("50.11").await;
    let body = app.webhook_body(&payment, "FAILED", "50.11");

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert!(app.fakes.refund_calls().is_empty(), "no money was taken");
    let stored = app.stored(payment.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Failed);
    assert!(stored.order_confirmed);
}

#[tokio::test]
async fn a_delivery_after_the_winner_died_takes_over_its_expired_lease_and_confirms_once() {
    let app = spawn_app().await;
    let payment = app.given_requested_payment("100.99").await;
    let body = app.webhook_body(&payment, "SUCCESS", "100.99");
    // A first delivery recorded the outcome a minute ago and died before confirming.
    let then = Utc::now() - chrono::Duration::seconds(60);
    let transaction = payment::Transaction::new("tx-dead", 10099, then).unwrap();
    let recorded = app
        .repo
        .record_outcome(OutcomeRecord {
            id: payment.id,
            outcome: PaymentStatus::Success,
            evidence: Evidence::Transaction(&transaction),
            lease_until: payment::domain::lease_until(then),
            now: then,
        })
        .await
        .unwrap();
    assert!(recorded);

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(app.fakes.confirm_calls().len(), 1);
    let stored = app.stored(payment.id).await.unwrap();
    assert!(stored.order_confirmed);
    assert_eq!(stored.confirming_until, None);
    assert_eq!(
        stored.transactions,
        vec![transaction],
        "the outcome is not recorded twice"
    );
}

#[tokio::test]
async fn a_webhook_for_a_payment_whose_e_wallet_id_was_never_stored_is_matched_by_our_reference() {
    let app = spawn_app().await;
    // The e-wallet took the request, but writing its id failed: the payment is stored
    // without it, and the webhook names an id we never saw.
    let payment = app.given_requested_payment("100.99").await;
    let mut unbound = payment.clone();
    unbound.id = payment::domain::IdempotencyKey::parse(&uuid::Uuid::new_v4().to_string())
        .unwrap()
        .payment_id();
    unbound.external_id = None;
    assert!(app.repo.insert_if_absent(&unbound).await.unwrap());
    let body = format!(
        r#"{{"paymentRequestId":"ewallet-never-stored-{}","merchantReference":"{}","totalAmount":100.99,"currency":"USD","statusCode":"SUCCESS","transaction":{{"transactionId":"tx-unbound","orderId":"{}","transactionTime":"{}"}}}}"#,
        unbound.id,
        unbound.id,
        unbound.order_id,
        Utc::now().to_rfc3339(),
    );

    let response = app.webhook(app.signed_webhook(&body)).await;

    assert_eq!(response.status(), 200, "{:?}", response.body());
    let stored = app.stored(unbound.id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Success);
    assert_eq!(
        stored.external_id.map(|e| e.as_str().to_owned()),
        Some(format!("ewallet-never-stored-{}", unbound.id)),
        "the e-wallet's id is bound now"
    );
    assert_eq!(app.fakes.confirm_attempts(), 1);

    // A reference to a payment that already has another e-wallet id is not taken over.
    let other = body.replace(
        &format!("ewallet-never-stored-{}", unbound.id),
        "ewallet-someone-else",
    );
    let refused = app.webhook(app.signed_webhook(&other)).await;
    assert_problem(&refused, 404);
}
