//! An in-memory `RecordRepository` for tests (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use shared::store::{Poisoned, StoreError};

use super::{Received, RecordRepository};

#[derive(Debug)]
pub struct InMemoryRecords<T> {
    records: Mutex<BTreeMap<String, Received<T>>>,
}

impl<T> Default for InMemoryRecords<T> {
    fn default() -> Self {
        Self {
            records: Mutex::default(),
        }
    }
}

impl<T> InMemoryRecords<T> {
    pub fn len(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stored record's id, for assertions.
    pub fn ids(&self) -> Vec<String> {
        self.records
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl<T: Clone + Send + Sync> RecordRepository<T> for InMemoryRecords<T> {
    async fn insert_if_absent(&self, record: &Received<T>) -> Result<bool, StoreError> {
        let mut map = self
            .records
            .lock()
            .map_err(|_| StoreError::from(Poisoned))?;
        if map.contains_key(&record.record_id) {
            return Ok(false);
        }
        map.insert(record.record_id.clone(), record.clone());
        Ok(true)
    }

    async fn get(&self, record_id: &str) -> Result<Option<Received<T>>, StoreError> {
        let map = self
            .records
            .lock()
            .map_err(|_| StoreError::from(Poisoned))?;
        Ok(map.get(record_id).cloned())
    }
}
