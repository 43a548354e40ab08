//! POST /api/internal/v1/orderprocesses/{processId}/status `{ jobType, jobStatus, note }`
//!
//! A listener reports its job's outcome. Idempotent: a Completed job stays Completed, and
//! a repeat answers the process as it is. When every job is Completed the process is
//! Completed; a job in Error makes it Error.

use http::StatusCode;
use lambda_http::Request;
use shared::fulfilment::{JobStatus, JobStatusUpdate, ProcessStatus};
use shared::http::{HandlerResult, json, json_body, path_param};
use shared::{Clock, CorrelationId, ProcessId, ValidationError};

use crate::processes::{JobChange, JobChangeOutcome};
use crate::{OrderDeps, OrderError, Process, ProcessRepository};

pub async fn report<R, P: ProcessRepository, C: Clock>(
    deps: &OrderDeps<R, P, C>,
    process: ProcessId,
    update: JobStatusUpdate,
) -> Result<Process, OrderError> {
    if !matches!(update.job_status, JobStatus::Completed | JobStatus::Error) {
        return Err(ValidationError::new("jobStatus", "must be Completed or Error").into());
    }
    let now = deps.clock.now();
    let change = JobChange {
        process,
        job_type: update.job_type,
        status: update.job_status,
        note: update.note.map(|n| n.chars().take(500).collect()),
        now,
    };
    let mut process = match deps.processes.change_job(&change).await? {
        JobChangeOutcome::Applied(process) => {
            tracing::info!(process_id = %process.process_id, job = change.job_type.as_str(), status = change.status.as_str(), "job status changed");
            process
        }
        JobChangeOutcome::AlreadyCompleted(process) => {
            tracing::info!(process_id = %process.process_id, job = change.job_type.as_str(), "job already completed; nothing changed");
            process
        }
        JobChangeOutcome::NotFound => return Err(OrderError::ProcessNotFound),
    };
    // The item's state right after this job's change: of two jobs finishing together, the
    // second sees both done. Only a terminal status is written, so a stale Pending never
    // overwrites it.
    let status = ProcessStatus::of_jobs(process.jobs.values().map(|j| j.status));
    if status != ProcessStatus::Pending
        && status != process.status
        && deps
            .processes
            .finish(process.process_id, status, now)
            .await?
    {
        tracing::info!(process_id = %process.process_id, status = status.as_str(), "order process finished");
        process.status = status;
        process.updated_at_utc = now;
    }
    Ok(process)
}

pub async fn handle<R, P: ProcessRepository, C: Clock>(
    deps: &OrderDeps<R, P, C>,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let process = ProcessId::parse(&path_param(&request, "processId")?)?;
    let body: JobStatusUpdate = json_body(&request)?;
    let process = report(deps, process, body).await?;
    Ok(json(StatusCode::OK, &process.to_dto()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::memory::InMemoryOrderRepository;
    use crate::processes::memory::InMemoryProcessRepository;
    use chrono::Utc;
    use shared::contracts::OrderStatus;
    use shared::fulfilment::JobType;
    use shared::{PaymentId, SystemClock, UserId};

    fn deps() -> OrderDeps<InMemoryOrderRepository, InMemoryProcessRepository> {
        OrderDeps {
            repo: InMemoryOrderRepository::default(),
            processes: InMemoryProcessRepository::default(),
            clock: SystemClock,
        }
    }

    async fn given_process(
        deps: &OrderDeps<InMemoryOrderRepository, InMemoryProcessRepository>,
        status: OrderStatus,
    ) -> ProcessId {
        let mut order = demo::demo_order(UserId::new_random(), 1, Utc::now());
        order.status = status;
        let process = Process::for_decided(
            &order,
            PaymentId::new_random(),
            &CorrelationId::generate(),
            Utc::now(),
        );
        assert!(deps.processes.insert_if_absent(&process).await.unwrap());
        process.process_id
    }

    fn update(job_type: JobType, job_status: JobStatus) -> JobStatusUpdate {
        JobStatusUpdate {
            job_type,
            job_status,
            note: None,
        }
    }

    #[tokio::test]
    async fn the_process_is_completed_when_its_last_job_is() {
        let deps = deps();
        let id = given_process(&deps, OrderStatus::PaymentSuccess).await;
        for job in [JobType::Production, JobType::Invoice] {
            let p = report(&deps, id, update(job, JobStatus::Completed))
                .await
                .unwrap();
            assert_eq!(p.status, ProcessStatus::Pending);
        }
        let p = report(
            &deps,
            id,
            update(JobType::Notification, JobStatus::Completed),
        )
        .await
        .unwrap();
        assert_eq!(p.status, ProcessStatus::Completed);
        let again = report(
            &deps,
            id,
            update(JobType::Notification, JobStatus::Completed),
        )
        .await
        .unwrap();
        assert_eq!(again, p, "a repeat changed the process");
    }

    #[tokio::test]
    async fn a_job_in_error_makes_the_process_error_and_a_completed_job_stays_completed() {
        let deps = deps();
        let id = given_process(&deps, OrderStatus::PaymentSuccess).await;
        let p = report(&deps, id, update(JobType::Invoice, JobStatus::Error))
            .await
            .unwrap();
        assert_eq!(p.status, ProcessStatus::Error);
        report(&deps, id, update(JobType::Production, JobStatus::Completed))
            .await
            .unwrap();
        let p = report(&deps, id, update(JobType::Production, JobStatus::Error))
            .await
            .unwrap();
        assert_eq!(p.jobs[&JobType::Production].status, JobStatus::Completed);
    }

    #[tokio::test]
    async fn a_job_the_process_does_not_have_or_an_unknown_process_is_not_found() {
        let deps = deps();
        let id = given_process(&deps, OrderStatus::PaymentFailed).await;
        let missing = report(&deps, id, update(JobType::Invoice, JobStatus::Completed)).await;
        assert!(matches!(missing, Err(OrderError::ProcessNotFound)));
        let unknown = report(
            &deps,
            ProcessId::new_random(),
            update(JobType::Notification, JobStatus::Completed),
        )
        .await;
        assert!(matches!(unknown, Err(OrderError::ProcessNotFound)));
        let queued = report(&deps, id, update(JobType::Notification, JobStatus::Queued)).await;
        assert!(matches!(queued, Err(OrderError::Invalid(_))));
    }
}
