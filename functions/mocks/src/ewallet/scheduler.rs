//! The port that schedules a webhook, and its EventBridge Scheduler adapter: one one-time
//! `at()` schedule per payment request, named after it, targeting the webhook dispatcher
//! with `DispatchWebhook` as input, deleted by Scheduler once it has run.

use std::future::Future;

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::SdkError;
use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use chrono::{DateTime, Utc};
use shared::contracts::DispatchWebhook;

use super::domain::{PaymentRequestId, at_expression};

/// How often Scheduler retries invoking the dispatcher when the invoke itself fails, and
/// for how long: a payment nobody hears about within an hour is better dropped.
pub const MAX_RETRY_ATTEMPTS: i32 = 10;
pub const MAX_EVENT_AGE_SECS: i32 = 3_600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSchedule {
    pub payment_request_id: PaymentRequestId,
    pub due_at: DateTime<Utc>,
}

impl WebhookSchedule {
    /// `ewallet-<paymentRequestId>`: the id makes the name unique and a retry's name equal.
    pub fn name(&self) -> String {
        schedule_name(self.payment_request_id)
    }

    /// The target's input: exactly the `DispatchWebhook` JSON the dispatcher reads.
    pub fn input(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&DispatchWebhook {
            payment_request_id: self.payment_request_id.to_string(),
        })
    }
}

pub fn schedule_name(id: PaymentRequestId) -> String {
    format!("ewallet-{id}")
}

/// What scheduling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    Created,
    /// A schedule of that name existed: an earlier attempt of the same request made it.
    AlreadyExisted,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the schedule request could not be built")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("creating schedule {name} failed")]
    Create {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub trait WebhookScheduler: Send + Sync {
    fn schedule(
        &self,
        schedule: &WebhookSchedule,
    ) -> impl Future<Output = Result<Scheduled, SchedulerError>> + Send;
}

#[derive(Debug, Clone)]
pub struct EventBridgeWebhookScheduler {
    client: Client,
    group: String,
    dispatcher_arn: String,
    role_arn: String,
}

impl EventBridgeWebhookScheduler {
    pub fn new(
        client: Client,
        group: impl Into<String>,
        dispatcher_arn: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        Self {
            client,
            group: group.into(),
            dispatcher_arn: dispatcher_arn.into(),
            role_arn: role_arn.into(),
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }
}

fn build_error(err: impl std::error::Error + Send + Sync + 'static) -> SchedulerError {
    SchedulerError::Build(Box::new(err))
}

impl WebhookScheduler for EventBridgeWebhookScheduler {
    #[tracing::instrument(skip(self, schedule), fields(group = %self.group, name = %schedule.name(), due_at = %schedule.due_at))]
    async fn schedule(&self, schedule: &WebhookSchedule) -> Result<Scheduled, SchedulerError> {
        let name = schedule.name();
        let target = Target::builder()
            .arn(&self.dispatcher_arn)
            .role_arn(&self.role_arn)
            .input(schedule.input().map_err(build_error)?)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(MAX_RETRY_ATTEMPTS)
                    .maximum_event_age_in_seconds(MAX_EVENT_AGE_SECS)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.group)
            .schedule_expression(at_expression(schedule.due_at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Scheduled::Created),
            Err(SdkError::ServiceError(err))
                if matches!(err.err(), CreateScheduleError::ConflictException(_)) =>
            {
                tracing::info!("the schedule exists already (a retry)");
                Ok(Scheduled::AlreadyExisted)
            }
            Err(err) => Err(SchedulerError::Create {
                name,
                source: Box::new(err),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_named_after_the_request_and_its_input_is_dispatch_webhook_json() {
        let id = PaymentRequestId::parse("6962394a-8848-4d1a-b461-4c3c830da6c3").unwrap();
        let schedule = WebhookSchedule {
            payment_request_id: id,
            due_at: Utc::now(),
        };
        assert_eq!(
            schedule.name(),
            "ewallet-6962394a-8848-4d1a-b461-4c3c830da6c3"
        );
        assert!(
            schedule.name().len() <= 64,
            "Scheduler names are at most 64 characters"
        );
        assert_eq!(
            schedule.input().unwrap(),
            r#"{"paymentRequestId":"6962394a-8848-4d1a-b461-4c3c830da6c3"}"#
        );
    }
}
