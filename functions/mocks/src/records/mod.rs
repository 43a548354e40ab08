//! The production and invoice mocks: each stores what it received in its own table, keyed
//! by the caller's idempotency key (the listener's job id), so a repeat stores nothing
//! new and answers the first record. A configurable failure rate makes them answer 503 on
//! purpose, before storing anything, so tests can watch the listeners cope.

pub mod config;
pub mod dynamodb;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod startup;

use std::future::Future;

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::fault::Faults;
use shared::fulfilment::RecordReceipt;
use shared::http::{ApiError, HandlerResult, idempotency_key, json, json_body};
use shared::store::StoreError;
use shared::{Clock, CorrelationId, Problem, SystemClock, ValidationError};

pub use config::{FailureRate, RecordsConfig};

/// A stored request, as its table's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received<T> {
    /// The caller's idempotency key.
    pub record_id: String,
    pub correlation_id: String,
    pub received_at_utc: DateTime<Utc>,
    pub request: T,
}

pub trait RecordRepository<T>: Send + Sync {
    /// Stores the record unless one with its id exists; `true` when stored.
    fn insert_if_absent(
        &self,
        record: &Received<T>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn get(
        &self,
        record_id: &str,
    ) -> impl Future<Output = Result<Option<Received<T>>, StoreError>> + Send;
}

/// A mock's dependencies, built once per cold start.
#[derive(Debug)]
pub struct RecordService<R, C = SystemClock> {
    pub repo: R,
    pub clock: C,
    pub failure_rate: FailureRate,
    /// Tagged orders fail on purpose (tests; see `shared::fault`).
    pub faults: Faults,
}

/// A request a mock receives: the step it is for fault injection, and its order's name.
pub trait MockRequest {
    const STEP: &'static str;
    fn order_name(&self) -> &str;
}

impl MockRequest for shared::fulfilment::ProductionRequest {
    const STEP: &'static str = "production";
    fn order_name(&self) -> &str {
        &self.order_name
    }
}

impl MockRequest for shared::fulfilment::InvoiceRequest {
    const STEP: &'static str = "invoice";
    fn order_name(&self) -> &str {
        &self.order_name
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid request")]
    Invalid(#[from] ValidationError),
    #[error("failed on purpose (the configured failure rate)")]
    InjectedFailure,
    #[error("record store unavailable")]
    Store(#[from] StoreError),
}

impl ApiError for RecordError {
    fn problem(&self) -> Problem {
        match self {
            Self::Invalid(err) => Problem::invalid_field(err),
            Self::InjectedFailure | Self::Store(_) => Problem::unavailable(),
        }
    }
}

/// Stores `body` under `key` once; the stored record (the first one for a repeat).
pub async fn receive<T, R, C>(
    service: &RecordService<R, C>,
    key: String,
    body: T,
    correlation_id: &CorrelationId,
) -> Result<Received<T>, RecordError>
where
    T: MockRequest + Clone + Send + Sync,
    R: RecordRepository<T>,
    C: Clock,
{
    if service.failure_rate.fails_now() || service.faults.fails(T::STEP, body.order_name(), &key) {
        tracing::warn!(idempotency_key = %key, "failing on purpose");
        return Err(RecordError::InjectedFailure);
    }
    let record = Received {
        record_id: key,
        correlation_id: correlation_id.to_string(),
        received_at_utc: service.clock.now(),
        request: body,
    };
    if service.repo.insert_if_absent(&record).await? {
        tracing::info!(record_id = %record.record_id, "record stored");
        return Ok(record);
    }
    let stored = service
        .repo
        .get(&record.record_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            key: record.record_id.clone(),
            reason: "the record vanished".into(),
        })?;
    tracing::info!(record_id = %stored.record_id, "record already stored; nothing changed");
    Ok(stored)
}

pub async fn handle<T, R, C>(
    service: &RecordService<R, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<RecordError>
where
    T: MockRequest + DeserializeOwned + Clone + Send + Sync,
    R: RecordRepository<T>,
    C: Clock,
{
    let key = idempotency_key(&request)?;
    let body: T = json_body(&request)?;
    let record = receive(service, key, body, &correlation_id).await?;
    Ok(json(
        StatusCode::OK,
        &RecordReceipt {
            record_id: record.record_id,
            received_at_utc: record.received_at_utc,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use memory::InMemoryRecords;
    use shared::fulfilment::ProductionRequest;

    fn service(rate: f64) -> RecordService<InMemoryRecords<ProductionRequest>> {
        RecordService {
            repo: InMemoryRecords::default(),
            clock: SystemClock,
            failure_rate: FailureRate::new(rate).unwrap(),
            faults: Faults::default(),
        }
    }

    fn body() -> ProductionRequest {
        ProductionRequest {
            order_id: shared::OrderId::new_random(),
            user_id: shared::UserId::new_random(),
            order_name: "Espresso".into(),
            order_status: shared::contracts::OrderStatus::PaymentSuccess,
            order_details: vec![],
        }
    }

    #[tokio::test]
    async fn a_repeat_with_the_same_key_stores_one_record() {
        let service = service(0.0);
        let cid = CorrelationId::generate();
        let first = receive(&service, "job-1".into(), body(), &cid)
            .await
            .unwrap();
        let again = receive(&service, "job-1".into(), body(), &cid)
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(service.repo.len(), 1);
    }

    #[tokio::test]
    async fn a_failure_rate_of_one_always_fails_and_stores_nothing() {
        let service = service(1.0);
        let result = receive(&service, "job-1".into(), body(), &CorrelationId::generate()).await;
        assert!(matches!(result, Err(RecordError::InjectedFailure)));
        assert_eq!(service.repo.len(), 0);
    }

    #[test]
    fn a_failure_rate_outside_zero_to_one_is_rejected() {
        assert!(FailureRate::new(1.5).is_err());
        assert!(FailureRate::new(-0.1).is_err());
        assert!("0.25".parse::<FailureRate>().is_ok());
    }
}
