//! DynamoDB plumbing that every service's adapter shares: one error type, item decoding,
//! and the two conditional writes the services are built on (insert-if-absent, and an
//! update that reports whether its condition held).

use std::collections::HashMap;

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
    #[error("stored item {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}

/// Wraps an SDK or mapping failure.
pub fn failed(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Store(Box::new(err))
}

pub fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A time as serde_dynamo writes it inside whole items, so updated attributes read back
/// like inserted ones.
pub fn timestamp(at: DateTime<Utc>) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(at).map_err(failed)
}

/// Maps a stored item to its row type; a mismatch means the data is not what we wrote.
pub fn decode<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key: "?".into(),
        reason: e.to_string(),
    })
}

/// True when a conditional write failed its condition (someone else changed the item).
pub fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

/// Stores `row` unless an item with its key exists (`key_attribute` is the partition key):
/// `true` when it was stored.
pub async fn put_if_absent(
    client: &Client,
    table: &str,
    row: &impl Serialize,
    key_attribute: &str,
) -> Result<bool, StoreError> {
    let item: Item = serde_dynamo::to_item(row).map_err(failed)?;
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#key)")
        .expression_attribute_names("#key", key_attribute)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_condition_failure(&err) => Ok(false),
        Err(err) => Err(failed(err)),
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

/// A time as a number of milliseconds, for attributes that conditions compare (leases):
/// numbers compare exactly where time strings of varying precision would not.
pub fn epoch_millis(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp_millis().to_string())
}
