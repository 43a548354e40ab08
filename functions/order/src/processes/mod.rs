//! The order process: one per decided payment, with its jobs (Production, Invoice and
//! Notification after a success; Notification only after a failure). Its own table, keyed
//! by the process id, which follows from the payment (`ProcessId::for_payment`), so the
//! order finds its process without an index. The table's stream is the outbox: inserting a
//! process is the payment-result event (see `publisher`).

pub mod dynamodb;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::OrderStatus;
use shared::fulfilment::{
    JobDto, JobStatus, JobType, OrderSnapshot, PaymentResult, PaymentResultType, ProcessDto,
    ProcessStatus,
};
use shared::{CorrelationId, JobId, OrderId, PaymentId, ProcessId, UserId};

use crate::{Order, RepositoryError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: JobId,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at_utc: DateTime<Utc>,
    pub updated_at_utc: DateTime<Utc>,
}

/// The process, as stored (its row) and as the domain sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub process_id: ProcessId,
    pub order_id: OrderId,
    pub user_id: UserId,
    pub payment_id: PaymentId,
    pub event_type: PaymentResultType,
    pub outcome: OrderStatus,
    pub status: ProcessStatus,
    pub correlation_id: String,
    pub order: OrderSnapshot,
    pub jobs: BTreeMap<JobType, Job>,
    pub created_at_utc: DateTime<Utc>,
    pub updated_at_utc: DateTime<Utc>,
}

impl Process {
    /// The process of an order whose payment was just decided (PaymentSuccess or
    /// PaymentFailed): its jobs are Queued, since the event that starts them is written
    /// with it.
    pub fn for_decided(
        order: &Order,
        payment: PaymentId,
        cid: &CorrelationId,
        now: DateTime<Utc>,
    ) -> Self {
        let succeeded = order.status == OrderStatus::PaymentSuccess;
        let process_id = ProcessId::for_payment(payment);
        let dto = order.to_dto();
        Self {
            process_id,
            order_id: order.id,
            user_id: order.user_id,
            payment_id: payment,
            event_type: if succeeded {
                PaymentResultType::PaymentSucceeded
            } else {
                PaymentResultType::PaymentFailed
            },
            outcome: order.status,
            status: ProcessStatus::Pending,
            correlation_id: cid.to_string(),
            order: OrderSnapshot {
                name: dto.name,
                total_amount: dto.total_amount,
                currency: dto.currency,
                order_details: dto.order_details,
            },
            jobs: JobType::for_outcome(succeeded)
                .iter()
                .map(|job_type| {
                    (
                        *job_type,
                        Job {
                            job_id: JobId::of(process_id, *job_type),
                            status: JobStatus::Queued,
                            note: None,
                            created_at_utc: now,
                            updated_at_utc: now,
                        },
                    )
                })
                .collect(),
            created_at_utc: now,
            updated_at_utc: now,
        }
    }

    /// The event its insertion stands for.
    pub fn event(&self) -> PaymentResult {
        PaymentResult {
            event_type: self.event_type,
            order_id: self.order_id,
            process_id: self.process_id,
            user_id: self.user_id,
            payment_id: self.payment_id,
            status: self.outcome,
            correlation_id: self.correlation_id.clone(),
            order: self.order.clone(),
            decided_at_utc: self.created_at_utc,
        }
    }

    pub fn to_dto(&self) -> ProcessDto {
        ProcessDto {
            process_id: self.process_id,
            order_id: self.order_id,
            status: self.status,
            created_at_utc: self.created_at_utc,
            updated_at_utc: self.updated_at_utc,
            jobs: self
                .jobs
                .iter()
                .map(|(job_type, job)| JobDto {
                    job_id: job.job_id,
                    job_type: *job_type,
                    status: job.status,
                    note: job.note.clone(),
                    created_at_utc: job.created_at_utc,
                    updated_at_utc: job.updated_at_utc,
                })
                .collect(),
        }
    }
}

/// A job's new status, as its listener reports it.
#[derive(Debug, Clone)]
pub struct JobChange {
    pub process: ProcessId,
    pub job_type: JobType,
    pub status: JobStatus,
    pub note: Option<String>,
    pub now: DateTime<Utc>,
}

/// What a job change did.
#[derive(Debug, Clone, PartialEq)]
pub enum JobChangeOutcome {
    /// The job changed; the process as it is now.
    Applied(Process),
    /// The job already was Completed (a repeat): nothing changed.
    AlreadyCompleted(Process),
    /// No such process, or it has no job of that type.
    NotFound,
}

pub trait ProcessRepository: Send + Sync {
    /// Stores the process unless it exists; `true` when stored.
    fn insert_if_absent(
        &self,
        process: &Process,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    fn get(
        &self,
        process: ProcessId,
    ) -> impl Future<Output = Result<Option<Process>, RepositoryError>> + Send;

    /// The processes with these ids that exist (a search page's, in one round trip).
    fn get_many(
        &self,
        processes: &[ProcessId],
    ) -> impl Future<Output = Result<Vec<Process>, RepositoryError>> + Send;

    /// Sets one job's status, unless it is Completed already (a Completed job stays so).
    fn change_job(
        &self,
        change: &JobChange,
    ) -> impl Future<Output = Result<JobChangeOutcome, RepositoryError>> + Send;

    /// Sets the process's status to `to` (Completed or Error) unless it is Completed.
    fn finish(
        &self,
        process: ProcessId,
        to: ProcessStatus,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;
}

impl<T: ProcessRepository + ?Sized> ProcessRepository for &T {
    fn insert_if_absent(
        &self,
        process: &Process,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).insert_if_absent(process)
    }

    fn get(
        &self,
        process: ProcessId,
    ) -> impl Future<Output = Result<Option<Process>, RepositoryError>> + Send {
        (**self).get(process)
    }

    fn get_many(
        &self,
        processes: &[ProcessId],
    ) -> impl Future<Output = Result<Vec<Process>, RepositoryError>> + Send {
        (**self).get_many(processes)
    }

    fn change_job(
        &self,
        change: &JobChange,
    ) -> impl Future<Output = Result<JobChangeOutcome, RepositoryError>> + Send {
        (**self).change_job(change)
    }

    fn finish(
        &self,
        process: ProcessId,
        to: ProcessStatus,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).finish(process, to, now)
    }
}

/// The process an order's current payment decided, if it was decided.
pub fn process_of(order: &Order) -> Option<ProcessId> {
    match (order.status, order.payment_id) {
        (OrderStatus::PaymentPending | OrderStatus::Created, _) | (_, None) => None,
        (_, Some(payment)) => Some(ProcessId::for_payment(payment)),
    }
}
