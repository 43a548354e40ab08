//! An in-memory `OrderRepository` for unit tests (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use shared::paging::NameFilter;
use shared::{OrderId, UserId};

use crate::Order;
use crate::repository::{OrderRepository, RepositoryError, SearchHits};

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
            .map_err(|_| RepositoryError::Store("in-memory store poisoned".into()))
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
}
