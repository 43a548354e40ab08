//! The contract of `EwalletRequestRepository`: every case runs against the in-memory fake
//! and the DynamoDB adapter, so the fake's conditional-write rules cannot drift from
//! DynamoDB's.

use chrono::{DateTime, Duration, Utc};
use mocks::ewallet::domain::{NotificationUri, PaymentRequestId};
use mocks::ewallet::repository::{Claim, Insert, Refund, Settlement};
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
