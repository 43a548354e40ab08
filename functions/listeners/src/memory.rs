//! Fakes of the listeners' ports (feature `test-util`): a job that fails a set number of
//! times, and a reporter that records what it was told.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use shared::client::CallError;
use shared::fulfilment::{JobStatusUpdate, JobType, PaymentResult};
use shared::{CorrelationId, JobId, ProcessId};

use crate::{Job, ProcessStatusReporter};

fn unavailable() -> CallError {
    CallError::Status {
        url: "fake".into(),
        status: 503,
        body: String::new(),
    }
}

/// A job that fails its first `failures` runs (`u32::MAX`: always), and keeps one effect
/// per job id, as the real services do.
#[derive(Debug)]
pub struct FakeJob {
    pub job_type: JobType,
    pub failures: AtomicU32,
    pub runs: AtomicU32,
    effects: Mutex<BTreeSet<JobId>>,
    correlation_ids: Mutex<Vec<String>>,
}

impl FakeJob {
    pub fn new(job_type: JobType, failures: u32) -> Self {
        Self {
            job_type,
            failures: AtomicU32::new(failures),
            runs: AtomicU32::new(0),
            effects: Mutex::default(),
            correlation_ids: Mutex::default(),
        }
    }

    /// How many distinct jobs took effect.
    pub fn effects(&self) -> usize {
        self.effects.lock().map(|e| e.len()).unwrap_or_default()
    }

    pub fn correlation_ids(&self) -> Vec<String> {
        self.correlation_ids
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }
}

impl Job for FakeJob {
    fn job_type(&self) -> JobType {
        self.job_type
    }

    async fn run(
        &self,
        _result: &PaymentResult,
        job: JobId,
        correlation_id: &CorrelationId,
    ) -> Result<(), CallError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut ids) = self.correlation_ids.lock() {
            ids.push(correlation_id.to_string());
        }
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(unavailable());
        }
        if let Ok(mut effects) = self.effects.lock() {
            effects.insert(job);
        }
        Ok(())
    }
}

/// Records every report.
#[derive(Debug, Default)]
pub struct FakeProcessStatus {
    reports: Mutex<Vec<(ProcessId, JobStatusUpdate)>>,
}

impl FakeProcessStatus {
    pub fn reports(&self) -> Vec<(ProcessId, JobStatusUpdate)> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl ProcessStatusReporter for FakeProcessStatus {
    async fn report(
        &self,
        process: ProcessId,
        update: &JobStatusUpdate,
        _correlation_id: &CorrelationId,
    ) -> Result<(), CallError> {
        if let Ok(mut reports) = self.reports.lock() {
            reports.push((process, update.clone()));
        }
        Ok(())
    }
}
