//! In-memory fakes of the payment service's ports, for unit tests (feature `test-util`).
//! The repository honours the same conditions as the DynamoDB adapter.

// FakeEwallet and FakeRefunds (unit tests only; the simulation runs the HTTP adapters)
// stamp their answers with the wall clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use shared::contracts::PaymentStatus;
use shared::{CorrelationId, PaymentId};

use crate::domain::{ExternalId, Payment};
use crate::gateway::{
    CancelAnswer, Cancellations, Confirmation, Ewallet, GatewayError, OrderConfirmation,
};
use crate::repository::{
    ConfirmationClaim, Evidence, OutcomeRecord, PaymentRepository, RepositoryError,
};
use shared::store::Poisoned;

/// Clones share the same payments, so a test can play a concurrent writer.
#[derive(Debug, Default, Clone)]
pub struct InMemoryPaymentRepository {
    payments: Arc<Mutex<BTreeMap<PaymentId, Payment>>>,
    /// The byExternalId index has not caught up: a query by it finds nothing. DynamoDB
    /// updates a global secondary index asynchronously.
    index_behind: Arc<AtomicBool>,
}

impl InMemoryPaymentRepository {
    fn lock(&self) -> Result<MutexGuard<'_, BTreeMap<PaymentId, Payment>>, RepositoryError> {
        self.payments
            .lock()
            .map_err(|_| RepositoryError::from(Poisoned))
    }

    /// Every payment, in id order (what a simulation's checker reads).
    pub fn all(&self) -> Vec<Payment> {
        let mut all: Vec<Payment> = self
            .lock()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|p| p.id.to_string());
        all
    }

    /// Lets the byExternalId index fall behind the table (`true`) or catch up.
    pub fn index_behind(&self, behind: bool) {
        self.index_behind.store(behind, Ordering::SeqCst);
    }

    pub fn len(&self) -> usize {
        self.lock().map(|map| map.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `change` to the payment `id` when `condition` holds; `false` otherwise.
    fn update_if(
        &self,
        id: PaymentId,
        condition: impl FnOnce(&Payment) -> bool,
        change: impl FnOnce(&mut Payment),
    ) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        match map.get_mut(&id) {
            Some(payment) if condition(payment) => {
                change(payment);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl PaymentRepository for InMemoryPaymentRepository {
    async fn insert_if_absent(&self, payment: &Payment) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        if map.contains_key(&payment.id) {
            return Ok(false);
        }
        map.insert(payment.id, payment.clone());
        Ok(true)
    }

    async fn get(&self, id: PaymentId) -> Result<Option<Payment>, RepositoryError> {
        Ok(self.lock()?.get(&id).cloned())
    }

    async fn find_by_external_id(
        &self,
        external: &ExternalId,
    ) -> Result<Option<PaymentId>, RepositoryError> {
        if self.index_behind.load(Ordering::SeqCst) {
            return Ok(None);
        }
        Ok(self
            .lock()?
            .values()
            .find(|p| p.external_id.as_ref() == Some(external))
            .map(|p| p.id))
    }

    async fn set_external_id(
        &self,
        id: PaymentId,
        external: &ExternalId,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        self.update_if(
            id,
            |p| p.external_id.is_none() || p.external_id.as_ref() == Some(external),
            |p| {
                p.external_id = Some(external.clone());
                p.updated_at = now;
            },
        )
    }

    async fn record_outcome(&self, record: OutcomeRecord<'_>) -> Result<bool, RepositoryError> {
        self.update_if(
            record.id,
            |p| p.status == PaymentStatus::Requested,
            |p| {
                p.status = record.outcome;
                match record.evidence {
                    Evidence::Transaction(transaction) => p.transactions.push(transaction.clone()),
                    Evidence::Cancelled(at) => p.cancelled_at = Some(at),
                }
                p.confirming_until = Some(record.lease_until);
                p.updated_at = record.now;
            },
        )
    }

    async fn claim_confirmation(&self, claim: ConfirmationClaim) -> Result<bool, RepositoryError> {
        self.update_if(
            claim.id,
            |p| {
                p.status == claim.status
                    && !p.order_confirmed
                    && p.confirming_until == claim.observed
            },
            |p| {
                p.confirming_until = Some(claim.lease_until);
                p.updated_at = claim.now;
            },
        )
    }

    async fn mark_refunded(&self, id: PaymentId, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let found = self.update_if(
            id,
            |_| true,
            |p| {
                p.refunded_at.get_or_insert(at);
                p.updated_at = at;
            },
        )?;
        if found {
            Ok(())
        } else {
            Err(RepositoryError::Corrupt {
                key: format!("paymentId={id}"),
                reason: "the payment vanished while it was refunded".into(),
            })
        }
    }

    async fn mark_order_confirmed(
        &self,
        id: PaymentId,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let found = self.update_if(
            id,
            |_| true,
            |p| {
                p.order_confirmed = true;
                p.confirming_until = None;
                p.updated_at = now;
            },
        )?;
        if found {
            Ok(())
        } else {
            Err(RepositoryError::Corrupt {
                key: format!("paymentId={id}"),
                reason: "the payment vanished while its order was confirmed".into(),
            })
        }
    }

    async fn release_confirmation(
        &self,
        id: PaymentId,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        self.update_if(
            id,
            |p| p.confirming_until == Some(lease_until) && !p.order_confirmed,
            |p| {
                p.confirming_until = None;
                p.updated_at = now;
            },
        )
    }
}

/// An e-wallet that answers `ewallet-<paymentId>` (idempotent, like a real provider),
/// counts its calls and fails the next `n` when told to. Its cancel answers what it is
/// told (by default: cancelled, at the first cancel's time) and can be told to fail.
#[derive(Debug, Default)]
pub struct FakeEwallet {
    calls: AtomicU32,
    failures: AtomicU32,
    cancels: AtomicU32,
    cancel_failures: AtomicU32,
    cancel_answer: Mutex<Option<CancelAnswer>>,
}

impl FakeEwallet {
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    pub fn cancels(&self) -> u32 {
        self.cancels.load(Ordering::SeqCst)
    }

    /// The next `n` cancels fail (as a busy or unreachable e-wallet does).
    pub fn fail_next_cancels(&self, n: u32) {
        self.cancel_failures.store(n, Ordering::SeqCst);
    }

    /// What every cancel answers from now on.
    pub fn answer_cancels_with(&self, answer: CancelAnswer) {
        if let Ok(mut slot) = self.cancel_answer.lock() {
            *slot = Some(answer);
        }
    }
}

/// Takes one from `counter` if it is positive.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Ewallet for FakeEwallet {
    async fn request_payment(
        &self,
        payment: &Payment,
        _correlation_id: &CorrelationId,
    ) -> Result<ExternalId, GatewayError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if take_one(&self.failures) {
            return Err(GatewayError::Unavailable("fake e-wallet told to fail"));
        }
        ExternalId::parse(&format!("ewallet-{}", payment.id)).map_err(GatewayError::BadAnswer)
    }
}

impl Cancellations for FakeEwallet {
    async fn cancel(
        &self,
        payment: &Payment,
        _correlation_id: &CorrelationId,
    ) -> Result<CancelAnswer, GatewayError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        if payment.external_id.is_none() {
            return Err(GatewayError::Unavailable(
                "the payment has no e-wallet id to cancel",
            ));
        }
        if take_one(&self.cancel_failures) {
            return Err(GatewayError::Unavailable("fake e-wallet told to fail"));
        }
        let mut slot = self
            .cancel_answer
            .lock()
            .map_err(|_| GatewayError::Unavailable("fake e-wallet poisoned"))?;
        Ok(slot
            .get_or_insert_with(|| CancelAnswer::Cancelled { at: Utc::now() })
            .clone())
    }
}

/// An order service that records each successful confirmation `(paymentId, isConfirmed)`,
/// fails the next `n` calls when told to, or answers that the order no longer waits.
#[derive(Debug, Default)]
pub struct FakeOrderConfirmation {
    confirmations: Mutex<Vec<(PaymentId, bool)>>,
    failures: AtomicU32,
    conflict: AtomicBool,
}

impl FakeOrderConfirmation {
    pub fn confirmations(&self) -> Vec<(PaymentId, bool)> {
        self.confirmations
            .lock()
            .map(|calls| calls.clone())
            .unwrap_or_default()
    }

    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    pub fn answer_conflict(&self, yes: bool) {
        self.conflict.store(yes, Ordering::SeqCst);
    }
}

impl OrderConfirmation for FakeOrderConfirmation {
    async fn confirm_payment(
        &self,
        payment: &Payment,
        _correlation_id: &CorrelationId,
    ) -> Result<Confirmation, GatewayError> {
        if take_one(&self.failures) {
            return Err(GatewayError::Unavailable("fake order service told to fail"));
        }
        if self.conflict.load(Ordering::SeqCst) {
            return Ok(Confirmation::NotAwaited);
        }
        if let Ok(mut calls) = self.confirmations.lock() {
            calls.push((payment.id, payment.status.is_success()));
        }
        Ok(Confirmation::Confirmed)
    }
}

/// A `Refunds` fake that records what it paid back and can be told to fail.
#[derive(Debug, Default)]
pub struct FakeRefunds {
    refunded: std::sync::Mutex<Vec<PaymentId>>,
    failures: AtomicU32,
}

impl FakeRefunds {
    pub fn refunded(&self) -> Vec<PaymentId> {
        self.refunded.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

impl crate::gateway::Refunds for FakeRefunds {
    async fn refund(
        &self,
        payment: &Payment,
        _correlation_id: &CorrelationId,
    ) -> Result<DateTime<Utc>, GatewayError> {
        if take_one(&self.failures) {
            return Err(GatewayError::Unavailable("fake refunds told to fail"));
        }
        if let Ok(mut refunded) = self.refunded.lock()
            && !refunded.contains(&payment.id)
        {
            refunded.push(payment.id);
        }
        Ok(Utc::now())
    }
}
