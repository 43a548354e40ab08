use std::future::Future;

use chrono::{DateTime, Utc};
use shared::contracts::OrderStatus;
use shared::paging::NameFilter;
use shared::{OrderId, PaymentId, UserId};

use crate::Order;

/// What a search read from the store: the matching orders, and how many items the store
/// examined to find them (so a test and the logs can prove that only the user's own
/// orders were read).
#[derive(Debug, Clone, Default)]
pub struct SearchHits {
    pub orders: Vec<Order>,
    pub items_read: u64,
}

pub use shared::store::StoreError as RepositoryError;

/// A checkout attempt to record: the order as it was read, and the payment it will get.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutStart<'a> {
    pub order: &'a Order,
    pub attempt: u32,
    pub payment_id: PaymentId,
    /// When the reconciler may settle the attempt if it is still pending.
    pub pending_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// A PaymentPending order found past its deadline by the pending index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overdue {
    pub user: UserId,
    pub order: OrderId,
}

/// A checkout to undo: a PaymentPending order whose payment (`payment_id`) could not be
/// requested goes back to `back_to`.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutAbandon<'a> {
    pub order: &'a Order,
    pub payment_id: PaymentId,
    pub back_to: OrderStatus,
    pub now: DateTime<Utc>,
}

/// A payment's outcome for its order: PaymentPending for `payment_id` → `to`.
#[derive(Debug, Clone, Copy)]
pub struct PaymentSettlement {
    pub user: UserId,
    pub order: OrderId,
    pub payment_id: PaymentId,
    pub to: OrderStatus,
    pub now: DateTime<Utc>,
}

/// The result of moving an order out of PaymentPending for a payment.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// This call changed the order.
    Applied(Order),
    /// The order already was in the wanted state for this payment: nothing to do.
    AlreadyApplied(Order),
    /// The order is not waiting for this payment.
    Conflict(Order),
    NotFound,
}

/// The orders the order service needs, as the domain sees them.
pub trait OrderRepository: Send + Sync {
    /// Every order of `user` whose name contains `filter` (any case), in no particular order.
    fn search(
        &self,
        user: UserId,
        filter: &NameFilter,
    ) -> impl Future<Output = Result<SearchHits, RepositoryError>> + Send;

    /// One order of `user`, as last written (strongly consistent: decisions are made on it);
    /// another user's order is `None`, exactly like a missing one.
    fn get(
        &self,
        user: UserId,
        order: OrderId,
    ) -> impl Future<Output = Result<Option<Order>, RepositoryError>> + Send;

    /// Stores `order` unless an order with its key exists; `true` when it was stored.
    fn insert_if_absent(
        &self,
        order: &Order,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Moves the order to PaymentPending with the attempt's payment id, only if it is
    /// still exactly as read (same status and attempt): of concurrent checkouts one wins.
    /// `true` when this call won.
    fn start_checkout(
        &self,
        start: CheckoutStart<'_>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Puts a PaymentPending order whose payment could not be requested back, so it does
    /// not stay stuck; only while it waits for that payment. `true` when it was put back.
    fn abandon_checkout(
        &self,
        abandon: CheckoutAbandon<'_>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Moves a PaymentPending order waiting for the settlement's payment to its state.
    fn settle_payment(
        &self,
        settlement: PaymentSettlement,
    ) -> impl Future<Output = Result<Transition, RepositoryError>> + Send;

    /// Up to `limit` PaymentPending orders of index shard `shard` whose deadline is before
    /// `now`, earliest first. The index lags: a caller re-reads each order before acting.
    fn overdue(
        &self,
        shard: u8,
        now: DateTime<Utc>,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<Overdue>, RepositoryError>> + Send;

    /// Moves the deadline of an overdue order that could not be settled to `retry_at`, if
    /// it still waits for `payment_id`: it leaves the overdue pages until then, so it
    /// blocks none of the orders behind it (checkout's re-drive fence moves with it).
    /// `true` when moved.
    fn defer(
        &self,
        overdue: Overdue,
        payment_id: PaymentId,
        retry_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;
}

/// A borrowed repository is one too (tests keep theirs to look at it afterwards).
impl<T: OrderRepository + ?Sized> OrderRepository for &T {
    fn search(
        &self,
        user: UserId,
        filter: &NameFilter,
    ) -> impl Future<Output = Result<SearchHits, RepositoryError>> + Send {
        (**self).search(user, filter)
    }

    fn get(
        &self,
        user: UserId,
        order: OrderId,
    ) -> impl Future<Output = Result<Option<Order>, RepositoryError>> + Send {
        (**self).get(user, order)
    }

    fn insert_if_absent(
        &self,
        order: &Order,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).insert_if_absent(order)
    }

    fn start_checkout(
        &self,
        start: CheckoutStart<'_>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).start_checkout(start)
    }

    fn abandon_checkout(
        &self,
        abandon: CheckoutAbandon<'_>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).abandon_checkout(abandon)
    }

    fn settle_payment(
        &self,
        settlement: PaymentSettlement,
    ) -> impl Future<Output = Result<Transition, RepositoryError>> + Send {
        (**self).settle_payment(settlement)
    }

    fn overdue(
        &self,
        shard: u8,
        now: DateTime<Utc>,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<Overdue>, RepositoryError>> + Send {
        (**self).overdue(shard, now, limit)
    }

    fn defer(
        &self,
        overdue: Overdue,
        payment_id: PaymentId,
        retry_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).defer(overdue, payment_id, retry_at)
    }
}
