//! A mock's table: partition key `recordId` (the caller's idempotency key).

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::store::{Key, Read, StoreError, Table};

use super::{Received, RecordRepository};

#[derive(Debug, Clone)]
pub struct DynamoDbRecords<T> {
    table: Table,
    _rows: PhantomData<fn() -> T>,
}

impl<T> DynamoDbRecords<T> {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
            _rows: PhantomData,
        }
    }

    pub fn table(&self) -> &str {
        self.table.name()
    }
}

fn key(record_id: &str) -> Key {
    Key::new("recordId", record_id)
}

impl<T: Serialize + DeserializeOwned + Send + Sync> RecordRepository<T> for DynamoDbRecords<T> {
    #[tracing::instrument(skip(self, record), fields(table = %self.table(), record_id = %record.record_id))]
    async fn insert_if_absent(&self, record: &Received<T>) -> Result<bool, StoreError> {
        self.table
            .insert_if_absent(&key(&record.record_id), record)
            .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn get(&self, record_id: &str) -> Result<Option<Received<T>>, StoreError> {
        self.table.get(&key(record_id), Read::Latest).await
    }
}
