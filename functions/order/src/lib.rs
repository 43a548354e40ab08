//! The order service: domain, ports, their DynamoDB adapter, and one handler per endpoint.
//! Each binary in `src/bin` is one Lambda function that wires these together once per
//! cold start.

pub mod checkout;
pub mod confirm;
pub mod demo;
pub mod domain;
pub mod dynamodb;
pub mod error;
pub mod get;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod payments;
pub mod repository;
pub mod search;

pub use domain::{Order, OrderDetail};
pub use dynamodb::DynamoDbOrderRepository;
pub use error::OrderError;
pub use payments::{HttpPayments, Payments};
pub use repository::{OrderRepository, RepositoryError, SearchHits, Transition};
