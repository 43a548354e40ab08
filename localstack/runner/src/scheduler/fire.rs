//! Firing one due schedule, as Scheduler does: invoke the target with the schedule's
//! input, retry failures within the retry policy, then apply `ActionAfterCompletion`.
//!
//! Scheduler invokes Lambda asynchronously (`InvocationType: Event`). `cargo lambda watch`
//! (1.9.2) does not: it answers an `Event` invocation with 200 and the function's result
//! once the function has run, like `RequestResponse`, and `sam local start-lambda` accepts
//! `RequestResponse` only. So the runner invokes synchronously, in a task of its own per
//! fire so that one slow target delays no other schedule, and a function error is retried
//! here, standing in for the retries Lambda makes of a failed asynchronous invocation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_scheduler::error::{DisplayErrorContext, SdkError};
use aws_sdk_scheduler::operation::delete_schedule::DeleteScheduleError;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::expression::{self, Due};
use super::targets::FunctionTarget;
use crate::invoke::Invoker;
use crate::shutdown::Shutdown;

/// At most this many tries locally, whatever `MaximumRetryAttempts` says (AWS's default,
/// 185 retries over 24 h, would keep a broken function busy all day).
pub const MAX_LOCAL_TRIES: u32 = 10;
/// Backoff between tries: doubling from the first, up to the last.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Scheduler's defaults when a target has no `RetryPolicy`.
const DEFAULT_RETRY_ATTEMPTS: i32 = 185;
const DEFAULT_MAX_EVENT_AGE_SECS: i32 = 86_400;

/// A schedule's name within its group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleId {
    pub group: String,
    pub name: String,
}

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.name)
    }
}

/// The target's `RetryPolicy`, capped for local use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all: the first and the retries.
    pub tries: u32,
    /// `MaximumEventAgeInSeconds`: no try starts later than this after the due time.
    pub max_event_age: TimeDelta,
}

impl Retry {
    pub fn from_policy(max_retry_attempts: Option<i32>, max_event_age_secs: Option<i32>) -> Self {
        let retries = max_retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS).max(0);
        let retries = u32::try_from(retries).unwrap_or(0);
        let age = max_event_age_secs
            .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECS)
            .max(0);
        Self {
            tries: retries.saturating_add(1).min(MAX_LOCAL_TRIES),
            max_event_age: TimeDelta::seconds(i64::from(age)),
        }
    }

    /// The wait after the `failed_tries`-th failed try: 1 s, 2 s, 4 s ... up to 30 s.
    pub fn backoff(failed_tries: u32) -> Duration {
        let doublings = failed_tries.saturating_sub(1).min(16);
        FIRST_BACKOFF
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF)
    }
}

/// Everything needed to fire one schedule, read from GetSchedule.
#[derive(Debug, Clone)]
pub struct Fire {
    pub id: ScheduleId,
    pub schedule_arn: String,
    pub expression: String,
    pub due: DateTime<Utc>,
    pub target: Arc<FunctionTarget>,
    /// `Target.Input`, sent as the payload (its context attributes filled in).
    pub input: Option<String>,
    pub retry: Retry,
    /// `ActionAfterCompletion: DELETE`.
    pub delete_after: bool,
}

/// How a fire ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded {
        tries: u32,
    },
    GaveUp {
        tries: u32,
        error: String,
    },
    /// Due longer ago than `MaximumEventAgeInSeconds` when first seen: not invoked.
    Expired,
    /// The runner stopped before the fire completed.
    Stopped,
}

impl Outcome {
    /// Whether the schedule has completed, as Scheduler sees it (and so is never fired again).
    pub fn completed(&self) -> bool {
        !matches!(self, Self::Stopped)
    }
}

/// What the poller learns when a fire task ends.
#[derive(Debug)]
pub struct Fired {
    pub id: ScheduleId,
    pub expression: String,
    pub outcome: Outcome,
    /// The schedule was deleted (ActionAfterCompletion: DELETE).
    pub deleted: bool,
}

/// Fires `fire` now: invokes its target (retrying), deletes it if asked, logs one line.
pub async fn run(
    fire: Fire,
    invoker: Invoker,
    scheduler: aws_sdk_scheduler::Client,
    shutdown: Shutdown,
) -> Fired {
    let started = Utc::now();
    let outcome = match expression::due(fire.due, started, fire.retry.max_event_age) {
        _ if shutdown.is_fired() => Outcome::Stopped,
        Due::Expired(_) => Outcome::Expired,
        Due::NotYet(_) | Due::Now(_) => invoke_with_retries(&fire, &invoker, &shutdown).await,
    };
    let deleted = if fire.delete_after && outcome.completed() {
        delete(&scheduler, &fire.id).await
    } else {
        false
    };
    log(&fire, started, &outcome, deleted);
    Fired {
        id: fire.id,
        expression: fire.expression,
        outcome,
        deleted,
    }
}

async fn invoke_with_retries(fire: &Fire, invoker: &Invoker, shutdown: &Shutdown) -> Outcome {
    let function = &fire.target.invoke_name;
    let mut tries = 0;
    loop {
        tries += 1;
        let payload = payload(fire, tries);
        let result = tokio::select! {
            biased;
            () = shutdown.clone().wait() => return Outcome::Stopped,
            result = invoker.invoke(function, payload) => result,
        };
        let error = match result {
            Ok(_) => return Outcome::Succeeded { tries },
            Err(error) => error.to_string(),
        };
        let wait = Retry::backoff(tries);
        let next_age = Utc::now() - fire.due + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
        if tries >= fire.retry.tries || next_age > fire.retry.max_event_age {
            return Outcome::GaveUp { tries, error };
        }
        tracing::warn!(
            schedule = %fire.id,
            function = %fire.target.invoke_name,
            "try {tries} of {} failed, retrying in {} s: {error}",
            fire.retry.tries,
            wait.as_secs()
        );
        tokio::select! {
            biased;
            () = shutdown.clone().wait() => return Outcome::Stopped,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// `Target.Input` verbatim, but for Scheduler's context attributes, which it fills in per
/// try; no input is `{}`.
fn payload(fire: &Fire, try_number: u32) -> Vec<u8> {
    let Some(input) = fire.input.as_deref() else {
        return b"{}".to_vec();
    };
    if !input.contains("<aws.scheduler.") {
        return input.as_bytes().to_vec();
    }
    let execution_id = uuid::Uuid::new_v4().simple().to_string();
    input
        .replace("<aws.scheduler.schedule-arn>", &fire.schedule_arn)
        .replace(
            "<aws.scheduler.scheduled-time>",
            &fire.due.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .replace("<aws.scheduler.execution-id>", &execution_id[..16])
        .replace("<aws.scheduler.attempt-number>", &try_number.to_string())
        .into_bytes()
}

/// Deletes the schedule; one already gone counts as deleted.
async fn delete(scheduler: &aws_sdk_scheduler::Client, id: &ScheduleId) -> bool {
    let result = scheduler
        .delete_schedule()
        .group_name(&id.group)
        .name(&id.name)
        .send()
        .await;
    match result {
        Ok(_) => true,
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), DeleteScheduleError::ResourceNotFoundException(_)) =>
        {
            true
        }
        Err(error) => {
            tracing::error!(
                schedule = %id,
                error = %DisplayErrorContext(&error),
                "cannot delete the schedule after it completed (ActionAfterCompletion: DELETE); \
                 it will not be fired again by this runner"
            );
            false
        }
    }
}

/// The one line per fire.
fn log(fire: &Fire, started: DateTime<Utc>, outcome: &Outcome, deleted: bool) {
    let delay_ms = (started - fire.due).num_milliseconds();
    let function = format!("{} ({})", fire.target.invoke_name, fire.target.logical_id);
    let after = if deleted { ", schedule deleted" } else { "" };
    match outcome {
        Outcome::Succeeded { tries } => tracing::info!(
            schedule = %fire.id,
            %function,
            delay_ms,
            tries,
            "fired schedule {} -> {function}: ok, {delay_ms} ms after its due time{after}",
            fire.id
        ),
        Outcome::GaveUp { tries, error } => tracing::error!(
            schedule = %fire.id,
            %function,
            delay_ms,
            tries,
            "fired schedule {} -> {function}: failed, gave up after {tries} tries, \
             {delay_ms} ms after its due time{after}: {error}",
            fire.id
        ),
        Outcome::Expired => tracing::warn!(
            schedule = %fire.id,
            %function,
            delay_ms,
            "schedule {} -> {function} not fired: due {delay_ms} ms ago, more than its \
             MaximumEventAgeInSeconds ({} s){after}",
            fire.id,
            fire.retry.max_event_age.num_seconds()
        ),
        Outcome::Stopped => tracing::warn!(
            schedule = %fire.id,
            %function,
            delay_ms,
            "schedule {} -> {function}: abandoned, the runner is stopping",
            fire.id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(input: Option<&str>) -> Fire {
        Fire {
            id: ScheduleId {
                group: "g".to_owned(),
                name: "n".to_owned(),
            },
            schedule_arn: "arn:aws:scheduler:us-east-1:123456789012:schedule/g/n".to_owned(),
            expression: "at(2026-03-01T08:00:00)".to_owned(),
            due: DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
                .expect("a valid time")
                .to_utc(),
            target: Arc::new(FunctionTarget {
                logical_id: "F".to_owned(),
                invoke_name: "f".to_owned(),
            }),
            input: input.map(str::to_owned),
            retry: Retry::from_policy(None, None),
            delete_after: true,
        }
    }

    #[test]
    fn without_a_retry_policy_aws_defaults_apply_capped_to_ten_tries() {
        let retry = Retry::from_policy(None, None);
        assert_eq!(retry.tries, MAX_LOCAL_TRIES);
        assert_eq!(retry.max_event_age, TimeDelta::hours(24));
    }

    #[test]
    fn a_retry_policy_counts_retries_after_the_first_try() {
        assert_eq!(Retry::from_policy(Some(0), Some(60)).tries, 1);
        assert_eq!(Retry::from_policy(Some(2), Some(60)).tries, 3);
        assert_eq!(
            Retry::from_policy(Some(185), Some(60)).tries,
            MAX_LOCAL_TRIES
        );
        assert_eq!(Retry::from_policy(Some(-1), Some(-1)).tries, 1);
        assert_eq!(
            Retry::from_policy(Some(3), Some(600)).max_event_age,
            TimeDelta::minutes(10)
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_thirty() {
        let waits: Vec<u64> = (1..=8).map(|n| Retry::backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(Retry::backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn the_input_is_the_payload_verbatim() {
        let input = r#"{ "paymentRequestId" : "abc",  "n": 1 }"#;
        assert_eq!(payload(&fire(Some(input)), 1), input.as_bytes());
    }

    #[test]
    fn no_input_is_an_empty_json_object() {
        assert_eq!(payload(&fire(None), 1), b"{}");
    }

    #[test]
    fn context_attributes_in_the_input_are_filled_in_per_try() {
        let input = r#"{"arn":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>","try":<aws.scheduler.attempt-number>,"id":"<aws.scheduler.execution-id>"}"#;
        let sent: serde_json::Value =
            serde_json::from_slice(&payload(&fire(Some(input)), 3)).expect("JSON");
        assert_eq!(
            sent["arn"],
            "arn:aws:scheduler:us-east-1:123456789012:schedule/g/n"
        );
        assert_eq!(sent["at"], "2026-03-01T08:00:00Z");
        assert_eq!(sent["try"], 3);
        assert_eq!(sent["id"].as_str().map(str::len), Some(16));
    }
}
