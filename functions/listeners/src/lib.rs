//! The three SQS listeners of the payment-results topic. Each takes a batch of payment
//! results (raw SNS delivery: the body is the event), runs its job for each message in a
//! span of its own carrying the correlation id, reports the job's outcome through
//! order-process-status, and answers the messages that failed (`ReportBatchItemFailures`),
//! so SQS redelivers only those and, after the queue's maxReceiveCount, moves them to its
//! DLQ. The job id is the idempotency key of every call, so a redelivery has no second effect.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod config;
pub mod email;
pub mod jobs;
pub mod listener;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod startup;

pub use config::ListenerConfig;
pub use jobs::{
    HttpInvoice, HttpNotification, HttpProcessStatus, HttpProduction, Job, ProcessStatusReporter,
};
pub use listener::{Listener, handle};
