//! The order service: domain, ports, their DynamoDB adapter, and one handler per endpoint.
//! Each binary in `src/bin` is one Lambda function that wires these together once per
//! cold start.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod checkout;
pub mod config;
pub mod confirm;
pub mod demo;
pub mod domain;
pub mod dynamodb;
pub mod error;
pub mod get;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod payments;
pub mod process_status;
pub mod processes;
pub mod publisher;
pub mod reconciler;
pub mod repository;
pub mod search;
pub mod startup;

use shared::SystemClock;

pub use checkout::CheckoutDeps;
pub use config::{CheckoutConfig, OrderConfig, PublisherConfig, ReconcilerConfig};
pub use domain::{Order, OrderDetail};
pub use dynamodb::DynamoDbOrderRepository;
pub use error::OrderError;
pub use payments::{HttpPayments, Payments};
pub use processes::dynamodb::DynamoDbProcessRepository;
pub use processes::{Process, ProcessRepository};
pub use repository::{OrderRepository, RepositoryError, SearchHits, Transition};

/// What search, get, confirm-payment and process-status need, built once per cold start.
#[derive(Debug, Clone)]
pub struct OrderDeps<R, P, C = SystemClock> {
    pub repo: R,
    pub processes: P,
    pub clock: C,
}
