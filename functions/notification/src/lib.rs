//! The notification service: `POST /api/internal/v1/users/{userId}/emails/send` keeps an
//! e-mail log record and sends the mail through SES v2, once per idempotency key.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod config;
pub mod dynamodb;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod repository;
pub mod send;
pub mod sender;
pub mod startup;

use shared::SystemClock;

pub use config::NotificationConfig;
pub use dynamodb::DynamoDbEmailLog;
pub use repository::{EmailLog, EmailLogRepository};
pub use send::NotificationError;
pub use sender::{EmailSender, SesEmailSender};

/// What send-email needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct NotificationDeps<R, S, C = SystemClock> {
    pub log: R,
    pub sender: S,
    pub clock: C,
    /// The SES identity every mail is sent from (the template's SenderEmail).
    pub from: String,
}
