//! The contract of `EwalletRequestRepository`: every case runs against the in-memory fake
//! and the DynamoDB adapter, so the fake's conditional-write rules cannot drift from
//! DynamoDB's.

use chrono::{DateTime, Duration, Utc};
use mocks::ewallet::domain::{NotificationUri, PaymentRequestId};
use mocks::ewallet::repository::{Cancel, Claim, Insert, Refund, Settlement};
use mocks::ewallet::{EwalletRequest, EwalletRequestRepository, NewPaymentRequest, RequestStatus};
use shared::contracts::EwalletStatusCode;
use shared::{Currency, Money, OrderId};

shared::contract_tests! {
    fake: mocks::ewallet::memory::InMemoryEwalletRequests::default(),
    adapter: crate::helpers::spawn_app().await.repo,
    cases: [
        a_request_is_stored_once_and_read_back_as_written,
        marking_a_request_scheduled_needs_the_request,
        of_two_claims_one_wins_until_its_lease_ends,
        only_the_claim_holder_settles_and_a_settled_request_stays_settled,
        a_released_request_can_be_claimed_again,
        only_a_request_sent_as_a_success_is_refunded_and_only_once,
        a_request_not_yet_delivered_is_cancelled_once_and_never_claimed_after,
        a_delivered_request_is_not_cancelled_and_answers_its_verdict,
        a_refused_request_is_cancelled_and_an_unknown_one_is_not_found,
        a_request_under_a_live_lease_is_busy_until_the_lease_ends,
        a_claim_repeated_with_its_own_token_still_holds,
    ]
}

fn request() -> EwalletRequest {
    let now = Utc::now();
    let terms = NewPaymentRequest {
        amount: Money::from_cents(10099, Currency::USD),
        notification_uri: NotificationUri::parse("https://example.com/hook").unwrap(),
        order_id: OrderId::new_random(),
    };
    EwalletRequest::new(
        PaymentRequestId::new_random(),
        terms,
        "contract-correlation",
        now,
        now,
    )
}

fn claim(lease_until: DateTime<Utc>) -> Claim {
    Claim {
        token: uuid::Uuid::new_v4().to_string(),
        lease_until,
    }
}

async fn given(repo: &impl EwalletRequestRepository) -> EwalletRequest {
    let request = request();
    assert_eq!(
        repo.insert_if_absent(&request).await.unwrap(),
        Insert::Inserted
    );
    request
}

async fn a_request_is_stored_once_and_read_back_as_written(repo: &impl EwalletRequestRepository) {
    let request = given(repo).await;
    let mut again = request.clone();
    again.amount = Money::from_cents(1, Currency::USD);
    assert_eq!(
        repo.insert_if_absent(&again).await.unwrap(),
        Insert::Exists(Box::new(request.clone()))
    );
    assert_eq!(repo.get(request.id).await.unwrap(), Some(request));
    assert_eq!(
        repo.get(PaymentRequestId::new_random()).await.unwrap(),
        None
    );
}

async fn marking_a_request_scheduled_needs_the_request(repo: &impl EwalletRequestRepository) {
    let request = given(repo).await;
    let due = request.due_at + Duration::seconds(5);
    repo.mark_scheduled(request.id, due, Utc::now())
        .await
        .unwrap();
    let stored = repo.get(request.id).await.unwrap().unwrap();
    assert!(stored.scheduled);
    assert_eq!(stored.due_at, due);
    assert!(
        repo.mark_scheduled(PaymentRequestId::new_random(), due, Utc::now())
            .await
            .is_err()
    );
}

async fn of_two_claims_one_wins_until_its_lease_ends(repo: &impl EwalletRequestRepository) {
    let request = given(repo).await;
    let now = Utc::now();
    let first = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &first).await.unwrap());
    assert!(
        !repo
            .claim(request.id, now, &claim(now + Duration::seconds(60)))
            .await
            .unwrap()
    );
    let later = now + Duration::seconds(61);
    let takeover = claim(later + Duration::seconds(60));
    assert!(
        repo.claim(request.id, later, &takeover).await.unwrap(),
        "the lease ended"
    );
    assert!(
        !repo
            .settle(
                request.id,
                &first.token,
                &Settlement::Released { at: later }
            )
            .await
            .unwrap(),
        "the first claim was lost"
    );
    let stored = repo.get(request.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Sending);
    assert_eq!(stored.attempts, 2);
    assert!(
        !repo
            .claim(PaymentRequestId::new_random(), now, &first)
            .await
            .unwrap()
    );
}

async fn only_the_claim_holder_settles_and_a_settled_request_stays_settled(
    repo: &impl EwalletRequestRepository,
) {
    let request = given(repo).await;
    let now = Utc::now();
    let held = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &held).await.unwrap());
    let sent = Settlement::Sent {
        outcome: EwalletStatusCode::Success,
        transaction_id: "tx-contract".into(),
        at: now,
    };
    assert!(
        !repo
            .settle(request.id, "another-token", &sent)
            .await
            .unwrap()
    );
    assert!(repo.settle(request.id, &held.token, &sent).await.unwrap());
    assert!(!repo.settle(request.id, &held.token, &sent).await.unwrap());
    let stored = repo.get(request.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Sent);
    assert_eq!(stored.outcome, Some(EwalletStatusCode::Success));
    assert_eq!(stored.sent_at, Some(now));
    let much_later = now + Duration::days(1);
    assert!(
        !repo
            .claim(request.id, much_later, &claim(much_later))
            .await
            .unwrap()
    );
}

async fn a_released_request_can_be_claimed_again(repo: &impl EwalletRequestRepository) {
    let request = given(repo).await;
    let now = Utc::now();
    let held = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &held).await.unwrap());
    assert!(
        repo.settle(request.id, &held.token, &Settlement::Released { at: now })
            .await
            .unwrap()
    );
    assert_eq!(
        repo.get(request.id).await.unwrap().unwrap().status,
        RequestStatus::Pending
    );
    assert!(
        repo.claim(request.id, now, &claim(now + Duration::seconds(60)))
            .await
            .unwrap()
    );
}

async fn only_a_request_sent_as_a_success_is_refunded_and_only_once(
    repo: &impl EwalletRequestRepository,
) {
    let now = Utc::now();
    assert_eq!(
        repo.refund(PaymentRequestId::new_random(), now)
            .await
            .unwrap(),
        Refund::NotFound
    );
    let pending = given(repo).await;
    assert!(matches!(
        repo.refund(pending.id, now).await.unwrap(),
        Refund::NotRefundable(_)
    ));
    // Refunded from inside its own webhook's delivery.
    let sending = given(repo).await;
    let held = claim(now + Duration::seconds(30));
    assert!(repo.claim(sending.id, now, &held).await.unwrap());
    assert!(matches!(
        repo.refund(sending.id, now).await.unwrap(),
        Refund::Refunded(_)
    ));

    for outcome in [EwalletStatusCode::Success, EwalletStatusCode::Failed] {
        let request = given(repo).await;
        let held = claim(now + Duration::seconds(30));
        assert!(repo.claim(request.id, now, &held).await.unwrap());
        let sent = Settlement::Sent {
            outcome,
            transaction_id: "tx".into(),
            at: now,
        };
        assert!(repo.settle(request.id, &held.token, &sent).await.unwrap());
        let first = repo.refund(request.id, now).await.unwrap();
        let later = repo
            .refund(request.id, now + Duration::seconds(5))
            .await
            .unwrap();
        if outcome == EwalletStatusCode::Success {
            // Stored at the store's precision: compare what was read back.
            let stored = repo
                .get(request.id)
                .await
                .unwrap()
                .unwrap()
                .refunded_at
                .unwrap();
            assert_eq!(first, Refund::Refunded(stored));
            assert_eq!(later, Refund::Refunded(stored), "refunded once");
        } else {
            assert!(matches!(first, Refund::NotRefundable(_)), "{outcome:?}");
            assert_eq!(
                repo.get(request.id).await.unwrap().unwrap().refunded_at,
                None
            );
        }
    }
}

async fn a_request_not_yet_delivered_is_cancelled_once_and_never_claimed_after(
    repo: &impl EwalletRequestRepository,
) {
    let request = given(repo).await;
    let now = Utc::now();
    let first = repo.cancel(request.id, now).await.unwrap();
    let again = repo
        .cancel(request.id, now + Duration::seconds(5))
        .await
        .unwrap();
    let stored = repo.get(request.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Cancelled);
    let cancelled_at = stored.cancelled_at.expect("cancelledAt is stored");
    assert_eq!(first, Cancel::Cancelled(cancelled_at));
    assert_eq!(again, Cancel::Cancelled(cancelled_at), "cancelled once");
    let much_later = now + Duration::days(1);
    assert!(
        !repo
            .claim(request.id, much_later, &claim(much_later))
            .await
            .unwrap(),
        "a cancelled request is never delivered"
    );
    assert!(matches!(
        repo.refund(request.id, now).await.unwrap(),
        Refund::NotRefundable(_)
    ));
}

async fn a_delivered_request_is_not_cancelled_and_answers_its_verdict(
    repo: &impl EwalletRequestRepository,
) {
    let request = given(repo).await;
    let now = Utc::now();
    let held = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &held).await.unwrap());
    let sent = Settlement::Sent {
        outcome: EwalletStatusCode::Expired,
        transaction_id: "tx-delivered".into(),
        at: now,
    };
    assert!(repo.settle(request.id, &held.token, &sent).await.unwrap());

    let Cancel::Decided(decided) = repo.cancel(request.id, now).await.unwrap() else {
        panic!("a delivered request was cancelled");
    };

    assert_eq!(decided.status, RequestStatus::Sent);
    assert_eq!(decided.outcome, Some(EwalletStatusCode::Expired));
    assert_eq!(decided.transaction_id.as_deref(), Some("tx-delivered"));
    assert_eq!(decided.cancelled_at, None);
    assert_eq!(repo.get(request.id).await.unwrap(), Some(*decided));
}

async fn a_refused_request_is_cancelled_and_an_unknown_one_is_not_found(
    repo: &impl EwalletRequestRepository,
) {
    let now = Utc::now();
    assert_eq!(
        repo.cancel(PaymentRequestId::new_random(), now)
            .await
            .unwrap(),
        Cancel::NotFound
    );
    let request = given(repo).await;
    let held = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &held).await.unwrap());
    let rejected = Settlement::Rejected {
        status: 400,
        at: now,
    };
    assert!(
        repo.settle(request.id, &held.token, &rejected)
            .await
            .unwrap()
    );

    assert!(matches!(
        repo.cancel(request.id, now).await.unwrap(),
        Cancel::Cancelled(_)
    ));
    let stored = repo.get(request.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Cancelled);
    assert_eq!(stored.rejected_status, Some(400));
}

async fn a_request_under_a_live_lease_is_busy_until_the_lease_ends(
    repo: &impl EwalletRequestRepository,
) {
    let request = given(repo).await;
    let now = Utc::now();
    let held = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &held).await.unwrap());

    assert_eq!(repo.cancel(request.id, now).await.unwrap(), Cancel::Busy);
    assert_eq!(
        repo.get(request.id).await.unwrap().unwrap().status,
        RequestStatus::Sending
    );

    let later = now + Duration::seconds(61);
    assert!(matches!(
        repo.cancel(request.id, later).await.unwrap(),
        Cancel::Cancelled(_)
    ));
    let sent = Settlement::Sent {
        outcome: EwalletStatusCode::Success,
        transaction_id: "tx-too-late".into(),
        at: later,
    };
    assert!(
        !repo.settle(request.id, &held.token, &sent).await.unwrap(),
        "the firing that died cannot settle a cancelled request"
    );
    assert_eq!(
        repo.get(request.id).await.unwrap().unwrap().status,
        RequestStatus::Cancelled
    );
}

/// The SDK retries a claim whose answer was lost: the retry meets the claim it made itself,
/// and must not read as a firing that lost the race (the webhook would never be sent).
async fn a_claim_repeated_with_its_own_token_still_holds(repo: &impl EwalletRequestRepository) {
    let request = given(repo).await;
    let now = Utc::now();
    let mine = claim(now + Duration::seconds(60));
    assert!(repo.claim(request.id, now, &mine).await.unwrap());
    assert!(
        repo.claim(request.id, now, &mine).await.unwrap(),
        "a retry of the same claim holds"
    );
    assert!(
        !repo
            .claim(request.id, now, &claim(now + Duration::seconds(60)))
            .await
            .unwrap(),
        "another firing's claim still does not"
    );
    assert!(
        repo.settle(request.id, &mine.token, &Settlement::Released { at: now })
            .await
            .unwrap()
    );
}
