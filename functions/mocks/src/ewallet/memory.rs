//! In-memory fakes of the e-wallet's ports, for unit tests (feature `test-util`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use shared::client::CallError;
use shared::contracts::EwalletStatusCode;

use super::domain::{EwalletRequest, PaymentRequestId, RequestStatus};
use super::repository::{
    Cancel, Claim, EwalletRequestRepository, Insert, Refund, RepositoryError, Settlement,
};
use super::scheduler::{Scheduled, SchedulerError, WebhookSchedule, WebhookScheduler};
use super::sender::{SignedWebhook, WebhookSender};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock has failed already; keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Clone)]
struct Slot {
    request: EwalletRequest,
    claim: Option<Claim>,
}

/// Behaves like the DynamoDB adapter's conditions, in a map.
#[derive(Debug, Default)]
pub struct InMemoryEwalletRequests {
    slots: Mutex<BTreeMap<PaymentRequestId, Slot>>,
}

impl InMemoryEwalletRequests {
    pub fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every request, in id order (what a simulation's checker reads).
    pub fn all(&self) -> Vec<EwalletRequest> {
        let mut all: Vec<EwalletRequest> = lock(&self.slots)
            .values()
            .map(|slot| slot.request.clone())
            .collect();
        all.sort_by_key(|r| r.id.to_string());
        all
    }
}

impl EwalletRequestRepository for InMemoryEwalletRequests {
    async fn cancel(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
    ) -> Result<Cancel, RepositoryError> {
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get_mut(&id) else {
            return Ok(Cancel::NotFound);
        };
        let cancellable = match (slot.request.status, &slot.claim) {
            (RequestStatus::Pending | RequestStatus::Rejected, _) => true,
            (RequestStatus::Sending, Some(held)) => held.lease_until < now,
            _ => false,
        };
        if !cancellable {
            return Cancel::refused(id, Some(slot.request.clone()));
        }
        slot.claim = None;
        slot.request.status = RequestStatus::Cancelled;
        slot.request.cancelled_at = Some(now);
        Ok(Cancel::Cancelled(now))
    }

    async fn insert_if_absent(&self, request: &EwalletRequest) -> Result<Insert, RepositoryError> {
        let mut slots = lock(&self.slots);
        if let Some(existing) = slots.get(&request.id) {
            return Ok(Insert::Exists(Box::new(existing.request.clone())));
        }
        slots.insert(
            request.id,
            Slot {
                request: request.clone(),
                claim: None,
            },
        );
        Ok(Insert::Inserted)
    }

    async fn mark_scheduled(
        &self,
        id: PaymentRequestId,
        due_at: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let mut slots = lock(&self.slots);
        let slot = slots.get_mut(&id).ok_or_else(|| RepositoryError::Corrupt {
            key: format!("paymentRequestId={id}"),
            reason: "the request vanished before it was marked scheduled".into(),
        })?;
        slot.request.scheduled = true;
        slot.request.due_at = due_at;
        Ok(())
    }

    async fn get(&self, id: PaymentRequestId) -> Result<Option<EwalletRequest>, RepositoryError> {
        Ok(lock(&self.slots).get(&id).map(|slot| slot.request.clone()))
    }

    async fn claim(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> Result<bool, RepositoryError> {
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get_mut(&id) else {
            return Ok(false);
        };
        let claimable = match (slot.request.status, &slot.claim) {
            (RequestStatus::Pending, _) => true,
            // The same claim again: the SDK retrying a claim whose answer was lost.
            (RequestStatus::Sending, Some(held)) => {
                held.lease_until < now || held.token == claim.token
            }
            _ => false,
        };
        if claimable {
            slot.request.status = RequestStatus::Sending;
            slot.request.attempts += 1;
            slot.claim = Some(claim.clone());
        }
        Ok(claimable)
    }

    async fn refund(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
    ) -> Result<Refund, RepositoryError> {
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get_mut(&id) else {
            return Ok(Refund::NotFound);
        };
        let request = &mut slot.request;
        let sent_as_success = request.status == RequestStatus::Sent
            && request.outcome == Some(EwalletStatusCode::Success);
        if !sent_as_success && request.status != RequestStatus::Sending {
            return Ok(Refund::NotRefundable(Box::new(request.clone())));
        }
        Ok(Refund::Refunded(*request.refunded_at.get_or_insert(now)))
    }

    async fn settle(
        &self,
        id: PaymentRequestId,
        token: &str,
        settlement: &Settlement,
    ) -> Result<bool, RepositoryError> {
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get_mut(&id) else {
            return Ok(false);
        };
        let holds = slot.request.status == RequestStatus::Sending
            && slot.claim.as_ref().is_some_and(|c| c.token == token);
        if !holds {
            return Ok(false);
        }
        slot.claim = None;
        match settlement {
            Settlement::Sent {
                outcome,
                transaction_id,
                at,
            } => {
                slot.request.status = RequestStatus::Sent;
                slot.request.outcome = Some(*outcome);
                slot.request.transaction_id = Some(transaction_id.clone());
                slot.request.sent_at = Some(*at);
            }
            Settlement::Rejected { status, .. } => {
                slot.request.status = RequestStatus::Rejected;
                slot.request.rejected_status = Some(*status);
            }
            Settlement::Released { .. } => slot.request.status = RequestStatus::Pending,
        }
        Ok(true)
    }
}

/// Records schedules by name, like Scheduler (a second one of a name already exists), and
/// can be told to fail.
#[derive(Debug, Default)]
pub struct RecordingScheduler {
    schedules: Mutex<Vec<WebhookSchedule>>,
    failures: Mutex<u32>,
}

impl RecordingScheduler {
    /// The next `count` calls fail as if Scheduler were down.
    pub fn fail_next(&self, count: u32) {
        *lock(&self.failures) = count;
    }

    pub fn schedules(&self) -> Vec<WebhookSchedule> {
        lock(&self.schedules).clone()
    }
}

impl WebhookScheduler for RecordingScheduler {
    async fn schedule(&self, schedule: &WebhookSchedule) -> Result<Scheduled, SchedulerError> {
        {
            let mut failures = lock(&self.failures);
            if *failures > 0 {
                *failures -= 1;
                return Err(SchedulerError::Create {
                    name: schedule.name(),
                    source: "scheduler unavailable (test)".into(),
                });
            }
        }
        let mut schedules = lock(&self.schedules);
        if schedules.iter().any(|s| s.name() == schedule.name()) {
            return Ok(Scheduled::AlreadyExisted);
        }
        schedules.push(schedule.clone());
        Ok(Scheduled::Created)
    }
}

/// Records what it is asked to send and answers with scripted statuses (then 200).
#[derive(Debug, Default)]
pub struct ScriptedSender {
    sent: Mutex<Vec<SignedWebhook>>,
    answers: Mutex<VecDeque<u16>>,
}

impl ScriptedSender {
    /// The statuses the next sends end with (as the client reports them after retries).
    pub fn answer(&self, statuses: impl IntoIterator<Item = u16>) {
        lock(&self.answers).extend(statuses);
    }

    pub fn sent(&self) -> Vec<SignedWebhook> {
        lock(&self.sent).clone()
    }
}

impl WebhookSender for ScriptedSender {
    async fn send(&self, webhook: SignedWebhook) -> Result<(), CallError> {
        let status = lock(&self.answers).pop_front().unwrap_or(200);
        let url = webhook.url.clone();
        lock(&self.sent).push(webhook);
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(CallError::Status {
                url,
                status,
                body: String::new(),
            })
        }
    }
}
