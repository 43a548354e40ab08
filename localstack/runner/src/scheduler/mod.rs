//! The EventBridge Scheduler event source. The emulator stores schedules but never fires
//! them; this poller does what Scheduler does: it lists every schedule of every group,
//! reads the ones it has not seen (or that changed), and when a one-time `at()` schedule
//! whose target is a function of the stack is due, invokes that function with the
//! schedule's input, retries within the target's retry policy, and then deletes the
//! schedule (`ActionAfterCompletion: DELETE`) or remembers it as fired.
//!
//! Locally: `rate()` and `cron()` schedules are not fired (logged once); `at()` times are
//! read in UTC only; a flexible time window fires at its start; StartDate and EndDate are
//! ignored, as Scheduler ignores them for one-time schedules.

mod expression;
mod fire;
mod targets;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_scheduler::config::timeout::TimeoutConfig;
use aws_sdk_scheduler::error::{DisplayErrorContext, SdkError};
use aws_sdk_scheduler::operation::get_schedule::{GetScheduleError, GetScheduleOutput};
use aws_sdk_scheduler::primitives::DateTime as SmithyDateTime;
use aws_sdk_scheduler::types::{ActionAfterCompletion, ScheduleState, ScheduleSummary};
use chrono::{DateTime, Utc};
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

use crate::invoke::Invoker;
use crate::shutdown::Shutdown;
use crate::stack::Function;
use expression::Expression;
use fire::{Fire, Fired, Retry, ScheduleId};
use targets::Targets;

/// Scheduler's group for schedules created without one.
const DEFAULT_GROUP: &str = "default";
/// One emulator call may take this long before the poll gives up on it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Polls the emulator's Scheduler API and fires due schedules.
pub struct SchedulerPoller {
    client: aws_sdk_scheduler::Client,
    invoker: Invoker,
    targets: Targets,
    interval: Duration,
}

/// What the poller knows of one schedule, as of its `LastModificationDate`.
struct Known {
    last_modified: Option<SmithyDateTime>,
    plan: Plan,
}

/// What to do with a schedule.
#[derive(Debug)]
enum Plan {
    Fire(Box<Fire>),
    Skip(Skip),
}

/// Why a schedule is not fired.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Skip {
    Disabled,
    Recurring(String),
    Invalid(String),
    NotAFunction(String),
}

impl Skip {
    /// Logged once per version of the schedule.
    fn log(&self, id: &ScheduleId) {
        match self {
            Self::Disabled => tracing::debug!(schedule = %id, "schedule is DISABLED: not fired"),
            Self::Recurring(expression) => tracing::warn!(
                schedule = %id,
                "schedule expression `{expression}` is not supported locally (only one-time \
                 at() schedules are fired): ignored"
            ),
            Self::Invalid(reason) => {
                tracing::warn!(schedule = %id, "schedule cannot be fired: {reason}");
            }
            Self::NotAFunction(arn) => tracing::warn!(
                schedule = %id,
                target = %arn,
                "schedule target is not a function of the stack (see .local/stack.json): \
                 the local runner fires only schedules that target the stack's functions"
            ),
        }
    }
}

/// The poller's memory, owned by its loop.
#[derive(Default)]
struct State {
    known: HashMap<ScheduleId, Known>,
    /// Fires running now: never started twice.
    in_flight: HashSet<ScheduleId>,
    /// Schedules that have completed, with the expression they completed for: never fired
    /// again (unless changed to another expression). Forgotten once a schedule is gone.
    fired: HashSet<(ScheduleId, String)>,
    /// The last error reading each schedule, so a lasting one is logged once.
    read_errors: HashMap<ScheduleId, String>,
    /// Whether the last ListSchedules worked (`None` before the first).
    listing: Option<bool>,
}

impl State {
    fn has_fired(&self, fire: &Fire) -> bool {
        self.fired
            .contains(&(fire.id.clone(), fire.expression.clone()))
    }

    /// Schedules due to be fired and not fired yet.
    fn waiting(&self) -> impl Iterator<Item = &Fire> {
        self.known.values().filter_map(|known| match &known.plan {
            Plan::Fire(fire) if !self.in_flight.contains(&fire.id) && !self.has_fired(fire) => {
                Some(fire.as_ref())
            }
            _ => None,
        })
    }

    fn finished(&mut self, joined: Result<Fired, JoinError>) {
        match joined {
            Ok(fired) => {
                self.in_flight.remove(&fired.id);
                if fired.deleted {
                    self.known.remove(&fired.id);
                }
                if fired.outcome.completed() {
                    self.fired.insert((fired.id, fired.expression));
                }
            }
            // A panicking fire leaves its schedule in flight: it is not fired twice.
            Err(error) => tracing::error!(%error, "a schedule's fire task failed"),
        }
    }
}

impl SchedulerPoller {
    /// A poller of the Scheduler API that `sdk_config` points at (the emulator), firing
    /// schedules whose target is one of `functions`.
    pub fn new(
        sdk_config: &aws_config::SdkConfig,
        functions: &[Function],
        invoker: Invoker,
        interval: Duration,
    ) -> Self {
        let config = aws_sdk_scheduler::config::Builder::from(sdk_config)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_scheduler::Client::from_conf(config),
            invoker,
            targets: Targets::new(functions),
            interval,
        }
    }

    pub fn has_targets(&self) -> bool {
        !self.targets.is_empty()
    }

    /// The functions schedules can target, for the start-up banner.
    pub fn describe(&self) -> String {
        let mut table = String::new();
        for (arn, target) in self.targets.list() {
            table.push_str(&format!(
                "  {arn}  -> {} ({})\n",
                target.invoke_name, target.logical_id
            ));
        }
        table
    }

    /// Polls and fires until `shutdown` fires; fires in progress stop at their next step.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut state = State::default();
        let mut fires = JoinSet::new();
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let stop = shutdown.clone().wait();
        tokio::pin!(stop);
        loop {
            let wake = state.waiting().map(|fire| fire.due).min().map(instant_of);
            tokio::select! {
                // Shutdown first: a fire that stopped for it must not be started again.
                biased;
                () = &mut stop => break,
                _ = ticker.tick() => self.refresh(&mut state).await,
                () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
                Some(joined) = fires.join_next() => state.finished(joined),
            }
            self.fire_due(&mut state, &mut fires, &shutdown);
        }
        while let Some(joined) = fires.join_next().await {
            state.finished(joined);
        }
        Ok(())
    }

    /// Starts a fire task for every schedule that is due.
    fn fire_due(&self, state: &mut State, fires: &mut JoinSet<Fired>, shutdown: &Shutdown) {
        if shutdown.is_fired() {
            return;
        }
        let now = Utc::now();
        let due: Vec<Fire> = state
            .waiting()
            .filter(|fire| fire.due <= now)
            .cloned()
            .collect();
        for fire in due {
            state.in_flight.insert(fire.id.clone());
            fires.spawn(fire::run(
                fire,
                self.invoker.clone(),
                self.client.clone(),
                shutdown.clone(),
            ));
        }
    }

    /// Lists every schedule, reads the new and changed ones, forgets the deleted ones.
    async fn refresh(&self, state: &mut State) {
        let summaries = match self.list().await {
            Ok(summaries) => {
                if state.listing == Some(false) {
                    tracing::info!("the Scheduler API answers again");
                }
                state.listing = Some(true);
                summaries
            }
            Err(error) => {
                if state.listing != Some(false) {
                    tracing::warn!(
                        "cannot list schedules (retrying every {} ms, logged once): {error}",
                        self.interval.as_millis()
                    );
                }
                state.listing = Some(false);
                return;
            }
        };
        let mut listed = HashSet::with_capacity(summaries.len());
        for summary in summaries {
            let Some(id) = schedule_id(summary.group_name(), summary.name()) else {
                continue;
            };
            listed.insert(id.clone());
            let modified = summary.last_modification_date().copied();
            if modified.is_some()
                && state
                    .known
                    .get(&id)
                    .is_some_and(|k| k.last_modified == modified)
            {
                continue;
            }
            match self.get(&id).await {
                Ok(Some(schedule)) => {
                    state.read_errors.remove(&id);
                    let plan = plan(&id, &schedule, &self.targets);
                    let previous = state.known.get(&id).map(|k| &k.plan);
                    log_plan(&id, &plan, previous, state);
                    let last_modified = schedule.last_modification_date().copied().or(modified);
                    state.known.insert(
                        id,
                        Known {
                            last_modified,
                            plan,
                        },
                    );
                }
                Ok(None) => {} // deleted since it was listed
                Err(error) => {
                    if state.read_errors.get(&id) != Some(&error) {
                        tracing::warn!(schedule = %id, "cannot read the schedule: {error}");
                        state.read_errors.insert(id, error);
                    }
                }
            }
        }
        state.known.retain(|id, _| listed.contains(id));
        state.fired.retain(|(id, _)| listed.contains(id));
        state.read_errors.retain(|id, _| listed.contains(id));
    }

    /// Every schedule of every group.
    async fn list(&self) -> Result<Vec<ScheduleSummary>, String> {
        let mut pages = self.client.list_schedules().into_paginator().items().send();
        let mut summaries = Vec::new();
        while let Some(summary) = pages.next().await {
            summaries.push(summary.map_err(|e| DisplayErrorContext(e).to_string())?);
        }
        Ok(summaries)
    }

    async fn get(&self, id: &ScheduleId) -> Result<Option<GetScheduleOutput>, String> {
        let result = self
            .client
            .get_schedule()
            .group_name(&id.group)
            .name(&id.name)
            .send()
            .await;
        match result {
            Ok(schedule) => Ok(Some(schedule)),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetScheduleError::ResourceNotFoundException(_)) =>
            {
                Ok(None)
            }
            Err(error) => Err(DisplayErrorContext(error).to_string()),
        }
    }
}

fn schedule_id(group: Option<&str>, name: Option<&str>) -> Option<ScheduleId> {
    Some(ScheduleId {
        group: group
            .filter(|g| !g.is_empty())
            .unwrap_or(DEFAULT_GROUP)
            .to_owned(),
        name: name?.to_owned(),
    })
}

/// What to do with `schedule`, as Scheduler would read it.
fn plan(id: &ScheduleId, schedule: &GetScheduleOutput, targets: &Targets) -> Plan {
    match fire_of(id, schedule, targets) {
        Ok(fire) => Plan::Fire(Box::new(fire)),
        Err(skip) => Plan::Skip(skip),
    }
}

fn fire_of(id: &ScheduleId, schedule: &GetScheduleOutput, targets: &Targets) -> Result<Fire, Skip> {
    if schedule.state() == Some(&ScheduleState::Disabled) {
        return Err(Skip::Disabled);
    }
    let text = schedule
        .schedule_expression()
        .ok_or_else(|| Skip::Invalid("it has no ScheduleExpression".to_owned()))?;
    let at = match Expression::parse(text) {
        Ok(Expression::At(at)) => at,
        Ok(Expression::Recurring) => return Err(Skip::Recurring(text.to_owned())),
        Err(error) => return Err(Skip::Invalid(error.to_string())),
    };
    let due = expression::due_time(at, schedule.schedule_expression_timezone())
        .map_err(|e| Skip::Invalid(e.to_string()))?;
    let target = schedule
        .target()
        .ok_or_else(|| Skip::Invalid("it has no Target".to_owned()))?;
    let function = targets
        .find(target.arn())
        .ok_or_else(|| Skip::NotAFunction(target.arn().to_owned()))?;
    let policy = target.retry_policy();
    Ok(Fire {
        id: id.clone(),
        schedule_arn: schedule.arn().unwrap_or_default().to_owned(),
        expression: text.to_owned(),
        due,
        target: function,
        input: target.input().map(str::to_owned),
        retry: Retry::from_policy(
            policy.and_then(|p| p.maximum_retry_attempts()),
            policy.and_then(|p| p.maximum_event_age_in_seconds()),
        ),
        delete_after: schedule.action_after_completion() == Some(&ActionAfterCompletion::Delete),
    })
}

/// Logs a schedule's plan when it is new or differs from what was known.
fn log_plan(id: &ScheduleId, plan: &Plan, previous: Option<&Plan>, state: &State) {
    match (plan, previous) {
        (Plan::Skip(skip), Some(Plan::Skip(before))) if skip == before => {}
        (Plan::Skip(skip), _) => skip.log(id),
        (Plan::Fire(fire), _) if state.has_fired(fire) => {
            tracing::debug!(schedule = %id, "schedule changed but has fired for this expression already");
        }
        (Plan::Fire(fire), Some(Plan::Fire(before)))
            if fire.due == before.due && fire.target == before.target => {}
        (Plan::Fire(fire), _) => {
            let in_ms = (fire.due - Utc::now()).num_milliseconds();
            tracing::info!(
                schedule = %id,
                "schedule {id}: {} -> {} ({}), due {} UTC ({})",
                fire.expression,
                fire.target.invoke_name,
                fire.target.logical_id,
                fire.due.format("%Y-%m-%d %H:%M:%S"),
                if in_ms >= 0 {
                    format!("in {in_ms} ms")
                } else {
                    format!("{} ms ago", -in_ms)
                }
            );
        }
    }
}

/// The tokio instant of a wall-clock time (now, if it has passed).
fn instant_of(time: DateTime<Utc>) -> Instant {
    let wait = (time - Utc::now()).to_std().unwrap_or_default();
    Instant::now() + wait
}

#[cfg(test)]
mod tests {
    use aws_sdk_scheduler::types::{RetryPolicy, Target};

    use super::*;

    const FUNCTION_ARN: &str =
        "arn:aws:lambda:us-east-1:123456789012:function:checkout-local-DispatcherFunction";

    fn targets() -> Targets {
        Targets::new(&[Function {
            logical_id: "DispatcherFunction".to_owned(),
            invoke_name: "dispatcher".to_owned(),
            arn: Some(FUNCTION_ARN.to_owned()),
            events: Vec::new(),
        }])
    }

    fn id() -> ScheduleId {
        ScheduleId {
            group: "payments".to_owned(),
            name: "ewallet-1".to_owned(),
        }
    }

    fn target(arn: &str) -> Target {
        Target::builder()
            .arn(arn)
            .role_arn("arn:aws:iam::123456789012:role/scheduler")
            .input(r#"{"paymentRequestId":"1"}"#)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(2)
                    .maximum_event_age_in_seconds(3600)
                    .build(),
            )
            .build()
            .expect("a complete target")
    }

    fn one_time_schedule()
    -> aws_sdk_scheduler::operation::get_schedule::builders::GetScheduleOutputBuilder {
        GetScheduleOutput::builder()
            .arn("arn:aws:scheduler:us-east-1:123456789012:schedule/payments/ewallet-1")
            .group_name("payments")
            .name("ewallet-1")
            .schedule_expression("at(2026-03-01T08:00:05)")
            .schedule_expression_timezone("UTC")
            .state(ScheduleState::Enabled)
            .target(target(FUNCTION_ARN))
            .action_after_completion(ActionAfterCompletion::Delete)
    }

    fn skip_of(schedule: GetScheduleOutput) -> Skip {
        match plan(&id(), &schedule, &targets()) {
            Plan::Skip(skip) => skip,
            Plan::Fire(fire) => panic!("expected a skip, got {fire:?}"),
        }
    }

    #[test]
    fn an_enabled_one_time_schedule_of_a_stack_function_is_fired_as_it_says() {
        let Plan::Fire(fire) = plan(&id(), &one_time_schedule().build(), &targets()) else {
            panic!("expected a fire");
        };
        assert_eq!(fire.due.to_rfc3339(), "2026-03-01T08:00:05+00:00");
        assert_eq!(fire.target.invoke_name, "dispatcher");
        assert_eq!(fire.input.as_deref(), Some(r#"{"paymentRequestId":"1"}"#));
        assert_eq!(fire.retry.tries, 3);
        assert_eq!(fire.retry.max_event_age.num_seconds(), 3600);
        assert!(fire.delete_after);
        assert_eq!(fire.id.to_string(), "payments/ewallet-1");
    }

    #[test]
    fn a_schedule_without_action_after_completion_is_kept() {
        let schedule = one_time_schedule()
            .set_action_after_completion(None)
            .build();
        let Plan::Fire(fire) = plan(&id(), &schedule, &targets()) else {
            panic!("expected a fire");
        };
        assert!(!fire.delete_after);
    }

    #[test]
    fn a_disabled_schedule_is_not_fired() {
        let schedule = one_time_schedule().state(ScheduleState::Disabled).build();
        assert_eq!(skip_of(schedule), Skip::Disabled);
    }

    #[test]
    fn recurring_schedules_are_not_fired_locally() {
        let schedule = one_time_schedule()
            .schedule_expression("rate(5 minutes)")
            .build();
        assert_eq!(
            skip_of(schedule),
            Skip::Recurring("rate(5 minutes)".to_owned())
        );
    }

    #[test]
    fn a_schedule_of_another_time_zone_or_a_bad_expression_is_not_fired() {
        let paris = one_time_schedule()
            .schedule_expression_timezone("Europe/Paris")
            .build();
        assert!(matches!(skip_of(paris), Skip::Invalid(reason) if reason.contains("Europe/Paris")));
        let bad = one_time_schedule()
            .schedule_expression("at(tomorrow)")
            .build();
        assert!(matches!(skip_of(bad), Skip::Invalid(_)));
    }

    #[test]
    fn a_schedule_whose_target_is_not_a_stack_function_is_not_fired() {
        let queue = "arn:aws:sqs:us-east-1:123456789012:somewhere";
        let schedule = one_time_schedule().target(target(queue)).build();
        assert_eq!(skip_of(schedule), Skip::NotAFunction(queue.to_owned()));
    }

    #[test]
    fn a_schedule_without_a_group_is_in_the_default_group() {
        let id = schedule_id(None, Some("n")).expect("an id");
        assert_eq!(id.to_string(), "default/n");
        assert!(schedule_id(Some("g"), None).is_none());
    }

    #[test]
    fn a_fired_schedule_is_not_waiting_until_its_expression_changes() {
        let mut state = State::default();
        let Plan::Fire(fire) = plan(&id(), &one_time_schedule().build(), &targets()) else {
            panic!("expected a fire");
        };
        state.known.insert(
            id(),
            Known {
                last_modified: None,
                plan: Plan::Fire(fire.clone()),
            },
        );
        assert_eq!(state.waiting().count(), 1);
        state.in_flight.insert(id());
        assert_eq!(state.waiting().count(), 0, "in flight");
        state.finished(Ok(Fired {
            id: id(),
            expression: fire.expression.clone(),
            outcome: fire::Outcome::Succeeded { tries: 1 },
            deleted: false,
        }));
        assert!(state.in_flight.is_empty());
        assert_eq!(state.waiting().count(), 0, "fired");
        let mut changed = fire.clone();
        changed.expression = "at(2026-03-01T09:00:00)".to_owned();
        state.known.insert(
            id(),
            Known {
                last_modified: None,
                plan: Plan::Fire(changed),
            },
        );
        assert_eq!(state.waiting().count(), 1, "a new expression fires again");
    }

    #[test]
    fn a_fire_stopped_by_shutdown_does_not_count_as_fired() {
        let mut state = State::default();
        state.in_flight.insert(id());
        state.finished(Ok(Fired {
            id: id(),
            expression: "at(2026-03-01T08:00:05)".to_owned(),
            outcome: fire::Outcome::Stopped,
            deleted: false,
        }));
        assert!(state.in_flight.is_empty());
        assert!(state.fired.is_empty());
    }
}
