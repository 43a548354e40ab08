//! An in-memory `OrderRepository` for unit tests (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use shared::contracts::OrderStatus;
use shared::paging::NameFilter;
use shared::{OrderId, PaymentId, UserId};

use crate::Order;
use crate::repository::{
    CheckoutAbandon, CheckoutStart, OrderRepository, PaymentSettlement, RepositoryError,
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
        stored.updated_at = settlement.now;
        Ok(Transition::Applied(stored.clone()))
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
}
