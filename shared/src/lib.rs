//! What every function of the checkout shares: domain newtypes that can only hold valid
//! values, wire contracts, the one problem+json error shape, config, AWS SDK set-up and
//! tracing with a correlation id.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod api_key;
pub mod aws;
pub mod client;
pub mod clock;
pub mod config;
pub mod contracts;
pub mod correlation;
pub mod entropy;
pub mod event;
pub mod fault;
pub mod fulfilment;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod money;
pub mod paging;
pub mod problem;
pub mod secrets;
pub mod signature;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod transport;
pub mod validation;

pub use clock::{Clock, SystemClock};
pub use correlation::CorrelationId;
pub use ids::{JobId, OrderId, PaymentId, ProcessId, UserId};
pub use money::{Currency, Money};
pub use problem::Problem;
pub use validation::ValidationError;
