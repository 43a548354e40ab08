//! Wire contracts of fulfilment, the half after a payment is decided: the order process and
//! its jobs, the payment-result event on the SNS topic (the SQS message body, delivered
//! raw), and the requests to the production, invoice and notification services.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contracts::{OrderDetailDto, OrderStatus};
use crate::{Currency, JobId, OrderId, PaymentId, ProcessId, UserId};

/// The SNS message attribute that filter policies select on.
pub const EVENT_TYPE_ATTRIBUTE: &str = "eventType";
/// The SNS / SQS message attribute carrying the correlation id.
pub const CORRELATION_ID_ATTRIBUTE: &str = "correlationId";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobType {
    Production,
    Invoice,
    Notification,
}

impl JobType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Production => "Production",
            Self::Invoice => "Invoice",
            Self::Notification => "Notification",
        }
    }

    /// The jobs of a process: all three after a success, only the e-mail after a failure.
    pub fn for_outcome(succeeded: bool) -> &'static [JobType] {
        if succeeded {
            &[Self::Production, Self::Invoice, Self::Notification]
        } else {
            &[Self::Notification]
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    NotStarted,
    Queued,
    Completed,
    Error,
}

impl JobStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NotStarted",
            Self::Queued => "Queued",
            Self::Completed => "Completed",
            Self::Error => "Error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessStatus {
    Pending,
    Completed,
    Error,
}

impl ProcessStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Completed => "Completed",
            Self::Error => "Error",
        }
    }

    /// Completed once every job is; Error as soon as one is in Error (and not all done).
    pub fn of_jobs(jobs: impl IntoIterator<Item = JobStatus>) -> Self {
        let mut all_completed = true;
        let mut any_error = false;
        for status in jobs {
            all_completed &= status == JobStatus::Completed;
            any_error |= status == JobStatus::Error;
        }
        if all_completed {
            Self::Completed
        } else if any_error {
            Self::Error
        } else {
            Self::Pending
        }
    }
}

/// The `eventType` of a payment result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentResultType {
    PaymentSucceeded,
    PaymentFailed,
}

impl PaymentResultType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PaymentSucceeded => "PaymentSucceeded",
            Self::PaymentFailed => "PaymentFailed",
        }
    }
}

const NAMESPACE: Uuid = Uuid::from_u128(0x0b9e_55d2_4c1f_4a8e_9d36_27c1_f0a4_b8e3);

impl ProcessId {
    /// One process per payment outcome: its id follows from the payment, so a repeated
    /// confirmation finds the process it already made instead of making a second.
    pub fn for_payment(payment: PaymentId) -> Self {
        Self::from_uuid(Uuid::new_v5(&NAMESPACE, payment.as_uuid().as_bytes()))
    }
}

impl JobId {
    /// The job of `job_type` in `process`; the services use it as their idempotency key.
    pub fn of(process: ProcessId, job_type: JobType) -> Self {
        let name = format!("{process}/{}", job_type.as_str());
        Self::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
    }
}

/// What an order looked like when its payment was decided (the jobs need no second read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSnapshot {
    pub name: String,
    #[serde(with = "crate::money::decimal_cents")]
    pub total_amount: i64,
    pub currency: Currency,
    pub order_details: Vec<OrderDetailDto>,
}

/// The payment-result event: the SNS message, and (raw delivery) each queue's message
/// body. contracts.md's `{ orderId, processId, userId, status }` plus what the jobs need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResult {
    pub event_type: PaymentResultType,
    pub order_id: OrderId,
    pub process_id: ProcessId,
    pub user_id: UserId,
    pub payment_id: PaymentId,
    pub status: OrderStatus,
    pub correlation_id: String,
    pub order: OrderSnapshot,
    pub decided_at_utc: DateTime<Utc>,
}

/// `POST /api/internal/v1/orderprocesses/{processId}/status`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobStatusUpdate {
    pub job_type: JobType,
    pub job_status: JobStatus,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDto {
    pub job_id: JobId,
    pub job_type: JobType,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at_utc: DateTime<Utc>,
    pub updated_at_utc: DateTime<Utc>,
}

/// A process as order-get, search and order-process-status show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessDto {
    pub process_id: ProcessId,
    pub order_id: OrderId,
    pub status: ProcessStatus,
    pub created_at_utc: DateTime<Utc>,
    pub updated_at_utc: DateTime<Utc>,
    pub jobs: Vec<JobDto>,
}

/// `POST /api/internal/v1/productions` (production-listener → production mock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductionRequest {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub order_name: String,
    pub order_status: OrderStatus,
    pub order_details: Vec<OrderDetailDto>,
}

/// `POST /api/internal/v1/invoices` (invoice-listener → invoice mock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvoiceRequest {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub order_name: String,
    pub order_status: OrderStatus,
    pub order_details: Vec<OrderDetailDto>,
    #[serde(with = "crate::money::decimal_cents")]
    pub total_amount: i64,
    pub currency: Currency,
}

/// What the production and invoice mocks answer: the id of the record they keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordReceipt {
    pub record_id: String,
    pub received_at_utc: DateTime<Utc>,
}

/// `POST /api/internal/v1/users/{userId}/emails/send` (the service adds `from`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendEmailRequest {
    pub subject: String,
    pub body: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendEmailResponse {
    pub email_id: String,
    pub message_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_completed_only_when_every_job_is() {
        use JobStatus::*;
        assert_eq!(
            ProcessStatus::of_jobs([Completed, Completed]),
            ProcessStatus::Completed
        );
        assert_eq!(
            ProcessStatus::of_jobs([Completed, Queued]),
            ProcessStatus::Pending
        );
        assert_eq!(
            ProcessStatus::of_jobs([Error, Queued]),
            ProcessStatus::Error
        );
    }

    #[test]
    fn a_payment_has_one_process_and_each_job_one_id() {
        let payment = PaymentId::new_random();
        let process = ProcessId::for_payment(payment);
        assert_eq!(process, ProcessId::for_payment(payment));
        assert_ne!(
            JobId::of(process, JobType::Invoice),
            JobId::of(process, JobType::Production)
        );
    }

    #[test]
    fn a_failed_payment_has_only_the_notification_job() {
        assert_eq!(JobType::for_outcome(false), &[JobType::Notification]);
        assert_eq!(JobType::for_outcome(true).len(), 3);
    }
}
