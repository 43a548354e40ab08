use std::future::Future;

use shared::paging::NameFilter;
use shared::{OrderId, UserId};

use crate::Order;

/// What a search read from the store: the matching orders, and how many items the store
/// examined to find them (so a test and the logs can prove that only the user's own
/// orders were read).
#[derive(Debug, Clone, Default)]
pub struct SearchHits {
    pub orders: Vec<Order>,
    pub items_read: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("order store call failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("stored order {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}

/// The orders the order service needs, as the domain sees them.
pub trait OrderRepository: Send + Sync {
    /// Every order of `user` whose name contains `filter` (any case), in no particular order.
    fn search(
        &self,
        user: UserId,
        filter: &NameFilter,
    ) -> impl Future<Output = Result<SearchHits, RepositoryError>> + Send;

    /// One order of `user`; another user's order is `None`, exactly like a missing one.
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
}
