//! The payment service: records payments, asks the e-wallet for them, applies the
//! e-wallet's signed webhook exactly once, and resolves a payment for the order service's
//! reconciler. Each binary in `src/bin` is one Lambda
//! function that builds its dependencies once per cold start.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod config;
pub mod domain;
pub mod dynamodb;
pub mod error;
pub mod gateway;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod repository;
pub mod request;
pub mod resolve;
pub mod startup;
pub mod webhook;

pub use config::{RequestConfig, WebhookConfig};
pub use domain::{ExternalId, IdempotencyKey, NewPayment, Payment, Transaction};
pub use dynamodb::DynamoDbPaymentRepository;
pub use error::PaymentError;
pub use gateway::{Cancellations, Ewallet, HttpEwallet, HttpOrderConfirmation, OrderConfirmation};
pub use repository::{PaymentRepository, RepositoryError};
pub use request::RequestDeps;
pub use resolve::ResolveDeps;
pub use webhook::WebhookDeps;
