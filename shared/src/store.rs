//! DynamoDB plumbing that every service's adapter shares: a table whose items are row
//! structs mapped by serde_dynamo, the three operations the services are built on (get,
//! insert-if-absent, and a conditional update that reports whether its condition held),
//! and one error type that names the item it failed on.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store call failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The item is not what this code writes (a row type's field does not parse).
    #[error("stored item {key} is unreadable")]
    Unreadable {
        key: String,
        #[source]
        source: serde_dynamo::Error,
    },
    /// The stored data breaks an invariant (an item vanished, a unique value is not).
    #[error("stored item {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

/// An in-memory fake's lock was poisoned by a panicking test thread.
#[derive(Debug, thiserror::Error)]
#[error("in-memory store poisoned")]
pub struct Poisoned;

impl From<Poisoned> for StoreError {
    fn from(err: Poisoned) -> Self {
        failed(err)
    }
}

/// Wraps an SDK or mapping failure.
pub fn failed(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Store(Box::new(err))
}

/// The key of one item: its string attributes, partition key first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(Vec<(&'static str, String)>);

impl Key {
    pub fn new(name: &'static str, value: impl fmt::Display) -> Self {
        Self(vec![(name, value.to_string())])
    }

    /// Adds the sort key.
    pub fn and(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.0.push((name, value.to_string()));
        self
    }

    /// The key of a stored item, for naming it in errors.
    pub fn of_item(item: &Item, names: &[&'static str]) -> Self {
        Self(
            names
                .iter()
                .map(|name| {
                    let value = item.get(*name).and_then(|v| v.as_s().ok());
                    (*name, value.cloned().unwrap_or_else(|| "?".to_owned()))
                })
                .collect(),
        )
    }

    fn partition(&self) -> &'static str {
        self.0.first().map_or("", |(name, _)| name)
    }

    pub fn item(&self) -> Item {
        self.0
            .iter()
            .map(|(name, value)| ((*name).to_owned(), AttributeValue::S(value.clone())))
            .collect()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Eventually consistent (half the cost): a read that no write depends on.
    Eventual,
    /// Strongly consistent: a read that decides a conditional write or sees a retry's own.
    Latest,
}

/// One DynamoDB table of row structs.
#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    name: String,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The item at `key`, as its row type.
    pub async fn get<T: DeserializeOwned>(
        &self,
        key: &Key,
        read: Read,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key.item()))
            .consistent_read(read == Read::Latest)
            .send()
            .await
            .map_err(failed)?;
        output.item.map(|item| decode(key, item)).transpose()
    }

    /// Stores `row` unless an item with its key (`key`, the row's own) exists: `true` when
    /// it was stored.
    pub async fn insert_if_absent(
        &self,
        key: &Key,
        row: &impl Serialize,
    ) -> Result<bool, StoreError> {
        let item: Item = serde_dynamo::to_item(row).map_err(failed)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", key.partition())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(failed(err)),
        }
    }

    /// An update of the item at `key`, to finish with expressions and send with `update_if`.
    pub fn update(&self, key: &Key) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(key.item()))
    }
}

/// Sends a conditional update: `false` when its condition did not hold (nothing changed).
pub async fn update_if(update: UpdateItemFluentBuilder) -> Result<bool, StoreError> {
    match update.send().await {
        Ok(_) => Ok(true),
        Err(err) if is_condition_failure(&err) => Ok(false),
        Err(err) => Err(failed(err)),
    }
}

/// Sends an update whose condition only asks that the item exists: an item gone missing
/// is corrupt data (`vanished` says when it went), not a lost race.
pub async fn update_existing(
    update: UpdateItemFluentBuilder,
    key: &Key,
    vanished: &str,
) -> Result<(), StoreError> {
    if update_if(update).await? {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            key: key.to_string(),
            reason: vanished.to_owned(),
        })
    }
}

/// Maps a stored item to its row type; a mismatch means the data is not what we wrote.
pub fn decode<T: DeserializeOwned>(key: impl fmt::Display, item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|source| StoreError::Unreadable {
        key: key.to_string(),
        source,
    })
}

/// A value as serde_dynamo writes it inside whole rows (a status, an id, a time), so an
/// updated attribute reads back like an inserted one.
pub fn value(value: &impl Serialize) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(failed)
}

/// True when a conditional write failed its condition (someone else changed the item).
pub fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

/// A time as a number of milliseconds, for attributes that conditions compare (leases):
/// numbers compare exactly where time strings of varying precision would not.
pub fn epoch_millis(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp_millis().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_attributes_in_errors() {
        let key = Key::new("userId", "u-1").and("orderId", "o-2");
        assert_eq!(key.to_string(), "userId=u-1,orderId=o-2");
        let err = decode::<u32>(&key, Item::new()).unwrap_err();
        assert!(
            matches!(err, StoreError::Unreadable { ref key, .. } if key == "userId=u-1,orderId=o-2")
        );
    }
}
