//! The contract of `PaymentRepository`: every case runs against the in-memory fake and the
//! DynamoDB adapter, so the fake's conditional-write rules cannot drift from DynamoDB's.

use chrono::{DateTime, Duration, Utc};
use payment::domain::lease_until;
use payment::repository::{ConfirmationClaim, Evidence, OutcomeRecord};
use payment::{ExternalId, IdempotencyKey, NewPayment, Payment, PaymentRepository, Transaction};
use shared::contracts::PaymentStatus;
use shared::{Currency, Money, OrderId, PaymentId, UserId};

shared::contract_tests! {
    fake: payment::memory::InMemoryPaymentRepository::default(),
    adapter: crate::helpers::spawn_app().await.repo,
    cases: [
        a_payment_is_stored_once_and_read_back_as_written,
        the_external_id_is_set_once_and_finds_its_payment,
        an_outcome_is_recorded_only_while_requested,
        a_cancel_is_recorded_as_failed_without_a_transaction_only_while_requested,
        a_confirmation_is_claimed_only_from_the_observed_lease,
        a_lease_is_released_only_by_its_holder,
        marking_an_unknown_payment_confirmed_fails,
    ]
}

fn new_payment() -> Payment {
    let new = NewPayment {
        key: IdempotencyKey::parse(&format!("contract-{}", uuid::Uuid::new_v4())).unwrap(),
        user_id: UserId::new_random(),
        order_id: OrderId::new_random(),
        amount: Money::from_cents(10099, Currency::USD),
    };
    Payment::requested(&new, Utc::now())
}

fn transaction() -> Transaction {
    Transaction::new("tx-contract", 10099, Utc::now()).unwrap()
}

fn record<'a>(
    id: PaymentId,
    outcome: PaymentStatus,
    transaction: &'a Transaction,
    lease: DateTime<Utc>,
) -> OutcomeRecord<'a> {
    OutcomeRecord {
        id,
        outcome,
        evidence: Evidence::Transaction(transaction),
        lease_until: lease,
        now: Utc::now(),
    }
}

/// A payment whose Success is recorded with a lease that ends at the returned time.
async fn given_recorded(repo: &impl PaymentRepository) -> (Payment, DateTime<Utc>) {
    let payment = new_payment();
    assert!(repo.insert_if_absent(&payment).await.unwrap());
    let lease = lease_until(Utc::now());
    let tx = transaction();
    assert!(
        repo.record_outcome(record(payment.id, PaymentStatus::Success, &tx, lease))
            .await
            .unwrap()
    );
    (payment, lease)
}

async fn a_payment_is_stored_once_and_read_back_as_written(repo: &impl PaymentRepository) {
    let payment = new_payment();
    assert!(repo.insert_if_absent(&payment).await.unwrap());
    let mut again = payment.clone();
    again.amount = Money::from_cents(1, Currency::USD);
    assert!(!repo.insert_if_absent(&again).await.unwrap());
    assert_eq!(repo.get(payment.id).await.unwrap(), Some(payment));
    assert_eq!(repo.get(PaymentId::new_random()).await.unwrap(), None);
}

async fn the_external_id_is_set_once_and_finds_its_payment(repo: &impl PaymentRepository) {
    let payment = new_payment();
    assert!(repo.insert_if_absent(&payment).await.unwrap());
    let external = ExternalId::parse(&format!("ewallet-{}", payment.id)).unwrap();
    let other = ExternalId::parse(&format!("other-{}", payment.id)).unwrap();
    let now = Utc::now();
    assert!(
        repo.set_external_id(payment.id, &external, now)
            .await
            .unwrap()
    );
    assert!(
        repo.set_external_id(payment.id, &external, now)
            .await
            .unwrap(),
        "the same id again is a retry"
    );
    assert!(!repo.set_external_id(payment.id, &other, now).await.unwrap());
    assert!(
        !repo
            .set_external_id(PaymentId::new_random(), &external, now)
            .await
            .unwrap()
    );
    assert_eq!(
        repo.find_by_external_id(&external).await.unwrap(),
        Some(payment.id)
    );
    assert_eq!(repo.find_by_external_id(&other).await.unwrap(), None);
    let stored = repo.get(payment.id).await.unwrap().unwrap();
    assert_eq!(stored.external_id, Some(external));
    assert_eq!(stored.updated_at, now);
}

async fn an_outcome_is_recorded_only_while_requested(repo: &impl PaymentRepository) {
    let (payment, lease) = given_recorded(repo).await;
    let tx = transaction();
    assert!(
        !repo
            .record_outcome(record(payment.id, PaymentStatus::Failed, &tx, lease))
            .await
            .unwrap()
    );
    assert!(
        !repo
            .record_outcome(record(
                PaymentId::new_random(),
                PaymentStatus::Success,
                &tx,
                lease
            ))
            .await
            .unwrap()
    );
    let stored = repo.get(payment.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PaymentStatus::Success);
    assert_eq!(stored.transactions.len(), 1);
    assert_eq!(stored.confirming_until, Some(lease));
    assert!(!stored.order_confirmed);
}

async fn a_cancel_is_recorded_as_failed_without_a_transaction_only_while_requested(
    repo: &impl PaymentRepository,
) {
    let payment = new_payment();
    assert!(repo.insert_if_absent(&payment).await.unwrap());
    // Whole milliseconds: what the store keeps of a time.
    let at = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let lease = lease_until(at);
    let cancel = |id| OutcomeRecord {
        id,
        outcome: PaymentStatus::Failed,
        evidence: Evidence::Cancelled(at),
        lease_until: lease,
        now: at,
    };

    assert!(repo.record_outcome(cancel(payment.id)).await.unwrap());
    assert!(
        !repo.record_outcome(cancel(payment.id)).await.unwrap(),
        "recorded once"
    );
    let tx = transaction();
    assert!(
        !repo
            .record_outcome(record(payment.id, PaymentStatus::Success, &tx, lease))
            .await
            .unwrap(),
        "a late webhook does not overwrite a cancel"
    );
    assert!(
        !repo
            .record_outcome(cancel(PaymentId::new_random()))
            .await
            .unwrap()
    );
    let stored = repo.get(payment.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PaymentStatus::Failed);
    assert_eq!(stored.cancelled_at, Some(at));
    assert!(stored.transactions.is_empty());
    assert_eq!(stored.confirming_until, Some(lease));
    assert!(!stored.order_confirmed);
}

async fn a_confirmation_is_claimed_only_from_the_observed_lease(repo: &impl PaymentRepository) {
    let (payment, lease) = given_recorded(repo).await;
    let next = lease_until(Utc::now() + Duration::seconds(60));
    let claim = |status, observed| ConfirmationClaim {
        id: payment.id,
        status,
        observed,
        lease_until: next,
        now: Utc::now(),
    };
    assert!(
        !repo
            .claim_confirmation(claim(PaymentStatus::Success, None))
            .await
            .unwrap()
    );
    assert!(
        !repo
            .claim_confirmation(claim(PaymentStatus::Failed, Some(lease)))
            .await
            .unwrap()
    );
    assert!(
        repo.claim_confirmation(claim(PaymentStatus::Success, Some(lease)))
            .await
            .unwrap()
    );
    assert!(
        !repo
            .claim_confirmation(claim(PaymentStatus::Success, Some(lease)))
            .await
            .unwrap(),
        "the lease moved on"
    );
    assert_eq!(
        repo.get(payment.id)
            .await
            .unwrap()
            .unwrap()
            .confirming_until,
        Some(next)
    );

    repo.mark_order_confirmed(payment.id, Utc::now())
        .await
        .unwrap();
    let stored = repo.get(payment.id).await.unwrap().unwrap();
    assert!(stored.order_confirmed);
    assert_eq!(stored.confirming_until, None);
    assert!(
        !repo
            .claim_confirmation(claim(PaymentStatus::Success, None))
            .await
            .unwrap(),
        "confirmed already"
    );
}

async fn a_lease_is_released_only_by_its_holder(repo: &impl PaymentRepository) {
    let (payment, lease) = given_recorded(repo).await;
    let other = lease + Duration::milliseconds(1);
    assert!(
        !repo
            .release_confirmation(payment.id, other, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        repo.release_confirmation(payment.id, lease, Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(
        repo.get(payment.id)
            .await
            .unwrap()
            .unwrap()
            .confirming_until,
        None
    );
    assert!(
        !repo
            .release_confirmation(payment.id, lease, Utc::now())
            .await
            .unwrap()
    );
}

async fn marking_an_unknown_payment_confirmed_fails(repo: &impl PaymentRepository) {
    assert!(
        repo.mark_order_confirmed(PaymentId::new_random(), Utc::now())
            .await
            .is_err()
    );
}
