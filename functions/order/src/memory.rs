//! An in-memory `OrderRepository` for unit tests (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use shared::contracts::OrderStatus;
use shared::paging::NameFilter;
use shared::{OrderId, PaymentId, UserId};

use chrono::{DateTime, Utc};

use crate::Order;
use crate::domain::pending_shard;
use crate::repository::{
    CheckoutAbandon, CheckoutStart, OrderRepository, Overdue, PaymentSettlement, RepositoryError,
    SearchHits, Transition,
};
use shared::store::Poisoned;

type Orders = BTreeMap<(UserId, OrderId), Order>;

#[derive(Debug, Default)]
pub struct InMemoryOrderRepository {
    orders: Mutex<Orders>,
}

impl InMemoryOrderRepository {
    pub fn with(orders: impl IntoIterator<Item = Order>) -> Self {
        let repo = Self::default();
        if let Ok(mut map) = repo.orders.lock() {
            map.extend(orders.into_iter().map(|o| ((o.user_id, o.id), o)));
        }
        repo
    }

    /// Stores `order` as it is (a simulation's seed data).
    pub fn seed(&self, order: Order) {
        if let Ok(mut map) = self.orders.lock() {
            map.insert((order.user_id, order.id), order);
        }
    }

    /// Every order, in key order (what a simulation's checker reads).
    pub fn all(&self) -> Vec<Order> {
        self.lock()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Orders>, RepositoryError> {
        self.orders
            .lock()
            .map_err(|_| RepositoryError::from(Poisoned))
    }
}

impl OrderRepository for InMemoryOrderRepository {
    async fn search(
        &self,
        user: UserId,
        filter: &NameFilter,
    ) -> Result<SearchHits, RepositoryError> {
        let map = self.lock()?;
        let own: Vec<&Order> = map.values().filter(|o| o.user_id == user).collect();
        Ok(SearchHits {
            items_read: own.len() as u64,
            orders: own
                .into_iter()
                .filter(|o| filter.matches(&o.name))
                .cloned()
                .collect(),
        })
    }

    async fn get(&self, user: UserId, order: OrderId) -> Result<Option<Order>, RepositoryError> {
        Ok(self.lock()?.get(&(user, order)).cloned())
    }

    async fn insert_if_absent(&self, order: &Order) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        let key = (order.user_id, order.id);
        if map.contains_key(&key) {
            return Ok(false);
        }
        map.insert(key, order.clone());
        Ok(true)
    }

    async fn start_checkout(&self, start: CheckoutStart<'_>) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        let Some(stored) = map.get_mut(&(start.order.user_id, start.order.id)) else {
            return Ok(false);
        };
        if stored.status != start.order.status
            || stored.checkout_attempt != start.order.checkout_attempt
        {
            return Ok(false);
        }
        stored.status = OrderStatus::PaymentPending;
        stored.checkout_attempt = start.attempt;
        stored.payment_id = Some(start.payment_id);
        stored.pending_until = Some(start.pending_until);
        stored.updated_at = start.now;
        Ok(true)
    }

    async fn abandon_checkout(
        &self,
        abandon: CheckoutAbandon<'_>,
    ) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        match map.get_mut(&(abandon.order.user_id, abandon.order.id)) {
            Some(stored)
                if stored.status == OrderStatus::PaymentPending
                    && stored.payment_id == Some(abandon.payment_id) =>
            {
                stored.status = abandon.back_to;
                stored.pending_until = None;
                stored.updated_at = abandon.now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn settle_payment(
        &self,
        settlement: PaymentSettlement,
    ) -> Result<Transition, RepositoryError> {
        let mut map = self.lock()?;
        let Some(stored) = map.get_mut(&(settlement.user, settlement.order)) else {
            return Ok(Transition::NotFound);
        };
        if stored.payment_id != Some(settlement.payment_id) {
            return Ok(Transition::Conflict(stored.clone()));
        }
        if stored.status == settlement.to {
            return Ok(Transition::AlreadyApplied(stored.clone()));
        }
        if stored.status != OrderStatus::PaymentPending {
            return Ok(Transition::Conflict(stored.clone()));
        }
        stored.status = settlement.to;
        stored.pending_until = None;
        stored.updated_at = settlement.now;
        Ok(Transition::Applied(stored.clone()))
    }

    async fn overdue(
        &self,
        shard: u8,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Overdue>, RepositoryError> {
        let map = self.lock()?;
        let mut due: Vec<(DateTime<Utc>, Overdue)> = map
            .values()
            .filter(|o| o.status == OrderStatus::PaymentPending && pending_shard(o.id) == shard)
            .filter_map(|o| {
                let until = o.pending_until.filter(|until| *until < now)?;
                Some((
                    until,
                    Overdue {
                        user: o.user_id,
                        order: o.id,
                    },
                ))
            })
            .collect();
        due.sort_by_key(|(until, _)| *until);
        Ok(due
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|(_, o)| o)
            .collect())
    }

    async fn defer(
        &self,
        overdue: Overdue,
        payment_id: PaymentId,
        retry_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        match map.get_mut(&(overdue.user, overdue.order)) {
            Some(stored)
                if stored.status == OrderStatus::PaymentPending
                    && stored.payment_id == Some(payment_id) =>
            {
                stored.pending_until = Some(retry_at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// How the fake payment service misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaymentsFault {
    #[default]
    None,
    /// 503 before anything is stored: ambiguous to the caller all the same.
    Unavailable,
    /// The payment is made, then the answer is lost (a 504 on the way back): the case
    /// that double-charged when checkout took every failure for "no payment".
    AnswerLost,
    /// 400: the payment service refused the request and stored nothing.
    Rejected,
    /// Never answers (slower than any budget).
    Hang,
}

/// A `Payments` fake with the payment service's idempotency (one payment per key) that
/// records every request and can be told to fail.
#[derive(Debug, Default)]
pub struct FakePayments {
    fault: Mutex<PaymentsFault>,
    requests: Mutex<Vec<(shared::contracts::PaymentRequest, String)>>,
    payments: Mutex<Vec<String>>,
    outcomes: Mutex<Vec<(PaymentId, shared::contracts::PaymentStatus)>>,
    resolved: Mutex<Vec<PaymentId>>,
    /// Payments the service cannot resolve (503), whatever the fault.
    stuck: Mutex<Vec<PaymentId>>,
}

impl FakePayments {
    pub fn failing() -> Self {
        Self::with_fault(PaymentsFault::Unavailable)
    }

    pub fn with_fault(fault: PaymentsFault) -> Self {
        let fake = Self::default();
        fake.set_fault(fault);
        fake
    }

    /// The payment service answers 503 to every resolve of `payment`.
    pub fn stick(&self, payment: PaymentId) {
        if let Ok(mut stuck) = self.stuck.lock() {
            stuck.push(payment);
        }
    }

    pub fn set_fault(&self, fault: PaymentsFault) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }

    /// Every request so far, with its idempotency key.
    pub fn requests(&self) -> Vec<(shared::contracts::PaymentRequest, String)> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The idempotency keys of the payments made (one per key, however often requested).
    pub fn payments_made(&self) -> Vec<String> {
        self.payments.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The e-wallet decided this payment (else resolving a made payment cancels it: Failed).
    pub fn decide(&self, payment: PaymentId, status: shared::contracts::PaymentStatus) {
        if let Ok(mut outcomes) = self.outcomes.lock() {
            outcomes.push((payment, status));
        }
    }

    /// Every payment resolved so far, in order.
    pub fn resolved(&self) -> Vec<PaymentId> {
        self.resolved.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl crate::payments::Payments for FakePayments {
    async fn request(
        &self,
        request: &shared::contracts::PaymentRequest,
        idempotency_key: &str,
        _correlation_id: &shared::CorrelationId,
    ) -> Result<shared::contracts::PaymentResponse, shared::client::CallError> {
        if let Ok(mut requests) = self.requests.lock() {
            requests.push((request.clone(), idempotency_key.to_owned()));
        }
        let fault = self.fault.lock().map(|f| *f).unwrap_or_default();
        let status = |status| shared::client::CallError::Status {
            url: "fake".into(),
            status,
            body: String::new(),
        };
        match fault {
            PaymentsFault::Unavailable => return Err(status(503)),
            PaymentsFault::Rejected => return Err(status(400)),
            PaymentsFault::Hang => std::future::pending::<()>().await,
            PaymentsFault::None | PaymentsFault::AnswerLost => {}
        }
        if let Ok(mut payments) = self.payments.lock()
            && !payments.iter().any(|k| k == idempotency_key)
        {
            payments.push(idempotency_key.to_owned());
        }
        if fault == PaymentsFault::AnswerLost {
            return Err(status(504));
        }
        Ok(shared::contracts::PaymentResponse {
            payment_id: PaymentId::for_idempotency_key(idempotency_key),
            payment_status: shared::contracts::PaymentStatus::Requested,
        })
    }

    async fn resolve(
        &self,
        payment_id: PaymentId,
        _correlation_id: &shared::CorrelationId,
    ) -> Result<crate::payments::Resolution, shared::client::CallError> {
        use crate::payments::Resolution;
        use shared::contracts::PaymentStatus;
        if let Ok(mut resolved) = self.resolved.lock() {
            resolved.push(payment_id);
        }
        let stuck = self.stuck.lock().is_ok_and(|s| s.contains(&payment_id));
        let fault = match self.fault.lock().map(|f| *f).unwrap_or_default() {
            PaymentsFault::None if stuck => PaymentsFault::Unavailable,
            fault => fault,
        };
        match fault {
            PaymentsFault::Unavailable | PaymentsFault::AnswerLost => {
                return Err(shared::client::CallError::Status {
                    url: "fake".into(),
                    status: 503,
                    body: String::new(),
                });
            }
            PaymentsFault::Hang => std::future::pending::<()>().await,
            PaymentsFault::None | PaymentsFault::Rejected => {}
        }
        let decided = self.outcomes.lock().ok().and_then(|outcomes| {
            outcomes
                .iter()
                .find(|(id, _)| *id == payment_id)
                .map(|(_, status)| *status)
        });
        if let Some(status) = decided {
            return Ok(Resolution::Decided(status));
        }
        let made = self
            .payments_made()
            .iter()
            .any(|key| PaymentId::for_idempotency_key(key) == payment_id);
        Ok(if made {
            Resolution::Decided(PaymentStatus::Failed)
        } else {
            Resolution::NoPayment
        })
    }
}
