//! An in-memory `ProcessRepository` for tests (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use shared::ProcessId;
use shared::fulfilment::{JobStatus, ProcessStatus};
use shared::store::Poisoned;

use super::{JobChange, JobChangeOutcome, Process, ProcessRepository};
use crate::RepositoryError;

#[derive(Debug, Default)]
pub struct InMemoryProcessRepository {
    processes: Mutex<BTreeMap<ProcessId, Process>>,
}

impl InMemoryProcessRepository {
    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, BTreeMap<ProcessId, Process>>, RepositoryError> {
        self.processes
            .lock()
            .map_err(|_| RepositoryError::from(Poisoned))
    }

    /// Every stored process, for assertions.
    pub fn all(&self) -> Vec<Process> {
        self.processes
            .lock()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }
}

impl ProcessRepository for InMemoryProcessRepository {
    async fn insert_if_absent(&self, process: &Process) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        if map.contains_key(&process.process_id) {
            return Ok(false);
        }
        map.insert(process.process_id, process.clone());
        Ok(true)
    }

    async fn get(&self, process: ProcessId) -> Result<Option<Process>, RepositoryError> {
        Ok(self.lock()?.get(&process).cloned())
    }

    async fn get_many(&self, processes: &[ProcessId]) -> Result<Vec<Process>, RepositoryError> {
        let map = self.lock()?;
        Ok(processes
            .iter()
            .filter_map(|p| map.get(p).cloned())
            .collect())
    }

    async fn change_job(&self, change: &JobChange) -> Result<JobChangeOutcome, RepositoryError> {
        let mut map = self.lock()?;
        let Some(process) = map.get_mut(&change.process) else {
            return Ok(JobChangeOutcome::NotFound);
        };
        let Some(job) = process.jobs.get_mut(&change.job_type) else {
            return Ok(JobChangeOutcome::NotFound);
        };
        if job.status == JobStatus::Completed {
            return Ok(JobChangeOutcome::AlreadyCompleted(process.clone()));
        }
        job.status = change.status;
        if change.note.is_some() {
            job.note.clone_from(&change.note);
        }
        job.updated_at_utc = change.now;
        process.updated_at_utc = change.now;
        Ok(JobChangeOutcome::Applied(process.clone()))
    }

    async fn finish(
        &self,
        process: ProcessId,
        to: ProcessStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        match map.get_mut(&process) {
            Some(p) if p.status != ProcessStatus::Completed && p.status != to => {
                p.status = to;
                p.updated_at_utc = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// A payment-results topic that records what it is given.
#[derive(Debug, Default)]
pub struct RecordingPaymentResults {
    published: Mutex<Vec<shared::fulfilment::PaymentResult>>,
}

impl RecordingPaymentResults {
    pub fn published(&self) -> Vec<shared::fulfilment::PaymentResult> {
        self.published.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl crate::publisher::PaymentResults for RecordingPaymentResults {
    async fn publish(
        &self,
        result: &shared::fulfilment::PaymentResult,
    ) -> Result<(), crate::publisher::PublishError> {
        let mut published = self
            .published
            .lock()
            .map_err(|_| crate::publisher::PublishError::Publish(Box::new(Poisoned)))?;
        published.push(result.clone());
        Ok(())
    }
}
