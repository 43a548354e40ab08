//! The batch handler every listener shares.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::CorrelationId;
use shared::JobId;
use shared::fulfilment::{CORRELATION_ID_ATTRIBUTE, JobStatus, JobStatusUpdate, PaymentResult};
use shared::telemetry::ErrorChain;
use tracing::Instrument;

use crate::{Job, ProcessStatusReporter};

/// A listener's dependencies, built once per cold start.
#[derive(Debug, Clone)]
pub struct Listener<J, S> {
    pub job: J,
    pub status: S,
    /// The queue's maxReceiveCount: on that delivery a failing job is reported in Error.
    pub max_receive_count: u32,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Not this listener's job (a filter policy would have kept it away).
    Skipped,
    /// SQS delivers it again (or moves it to the DLQ).
    Failed,
}

/// Handles a batch: each message on its own, in its own span, all at once (so a batch of
/// slow calls takes as long as one message, within the function's timeout); the failed ones
/// are answered so that only they are delivered again.
pub async fn handle<J: Job, S: ProcessStatusReporter>(
    listener: &Listener<J, S>,
    event: LambdaEvent<SqsEvent>,
) -> SqsBatchResponse {
    let request_id = event.context.request_id.as_str();
    let outcomes = futures::future::join_all(
        event
            .payload
            .records
            .iter()
            .map(|message| handle_message(listener, message, request_id)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (id, outcome) in outcomes {
        if outcome == Outcome::Failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn handle_message<J: Job, S: ProcessStatusReporter>(
    listener: &Listener<J, S>,
    message: &SqsMessage,
    request_id: &str,
) -> (String, Outcome) {
    let id = message.message_id.clone().unwrap_or_default();
    // The message attribute, else the event's own field (a message sent without attributes).
    let from_body = || {
        message
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .and_then(|v| v["correlationId"].as_str().map(str::to_owned))
    };
    let correlation_id = CorrelationId::from_value(
        message
            .message_attributes
            .get(CORRELATION_ID_ATTRIBUTE)
            .and_then(|a| a.string_value.clone())
            .or_else(from_body)
            .as_deref(),
    );
    let receive_count: u32 = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    // The request id ties these lines to the invocation's metric lines (`requestId`).
    let span = tracing::info_span!(
        "message",
        correlation_id = %correlation_id,
        request_id,
        message_id = %id,
        receive_count,
        job = listener.job.job_type().as_str(),
    );
    let outcome = process(listener, message, &correlation_id, receive_count)
        .instrument(span)
        .await;
    (id, outcome)
}

async fn process<J: Job, S: ProcessStatusReporter>(
    listener: &Listener<J, S>,
    message: &SqsMessage,
    correlation_id: &CorrelationId,
    receive_count: u32,
) -> Outcome {
    let result: PaymentResult = match message
        .body
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
    {
        Ok(Some(result)) => result,
        Ok(None) | Err(_) => {
            // Poison: no delivery will parse it; it fails until the redrive moves it to the DLQ.
            tracing::error!(poison = true, "message is not a payment result");
            return Outcome::Failed;
        }
    };
    let job_type = listener.job.job_type();
    if !shared::fulfilment::JobType::for_outcome(
        result.event_type == shared::fulfilment::PaymentResultType::PaymentSucceeded,
    )
    .contains(&job_type)
    {
        tracing::warn!(
            event_type = result.event_type.as_str(),
            "not this listener's event; skipped"
        );
        return Outcome::Skipped;
    }
    let job = JobId::of(result.process_id, job_type);
    match listener.job.run(&result, job, correlation_id).await {
        Ok(()) => {
            let update = JobStatusUpdate {
                job_type,
                job_status: JobStatus::Completed,
                note: None,
            };
            match listener
                .status
                .report(result.process_id, &update, correlation_id)
                .await
            {
                Ok(()) => {
                    tracing::info!(process_id = %result.process_id, %job, "job completed");
                    Outcome::Done
                }
                Err(err) => {
                    // The job is done (idempotently); the redelivery reports it again.
                    tracing::error!(error = %ErrorChain(&err), "job done but its status not reported");
                    Outcome::Failed
                }
            }
        }
        Err(err) => {
            let last = receive_count >= listener.max_receive_count;
            tracing::error!(
                error = %ErrorChain(&err),
                process_id = %result.process_id,
                last_delivery = last,
                "job failed"
            );
            if last {
                metrics::counter!(shared::metrics::JOBS_DEAD_LETTERED).increment(1);
                let update = JobStatusUpdate {
                    job_type,
                    job_status: JobStatus::Error,
                    note: Some(format!(
                        "failed {receive_count} times; the message goes to the dead-letter queue"
                    )),
                };
                if let Err(err) = listener
                    .status
                    .report(result.process_id, &update, correlation_id)
                    .await
                {
                    tracing::error!(error = %ErrorChain(&err), "the job's Error was not reported");
                }
            }
            Outcome::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{FakeJob, FakeProcessStatus};
    use shared::contracts::OrderStatus;
    use shared::fulfilment::{JobType, OrderSnapshot, PaymentResultType};
    use shared::{Currency, OrderId, PaymentId, ProcessId, UserId};

    fn result(succeeded: bool) -> PaymentResult {
        let payment = PaymentId::new_random();
        PaymentResult {
            event_type: if succeeded {
                PaymentResultType::PaymentSucceeded
            } else {
                PaymentResultType::PaymentFailed
            },
            order_id: OrderId::new_random(),
            process_id: ProcessId::for_payment(payment),
            user_id: UserId::new_random(),
            payment_id: payment,
            status: if succeeded {
                OrderStatus::PaymentSuccess
            } else {
                OrderStatus::PaymentFailed
            },
            correlation_id: "cid-1".into(),
            order: OrderSnapshot {
                name: "Espresso".into(),
                total_amount: 10099,
                currency: Currency::USD,
                order_details: vec![],
            },
            decided_at_utc: chrono::Utc::now(),
        }
    }

    fn message(id: &str, body: &str, receive_count: u32) -> SqsMessage {
        serde_json::from_value(serde_json::json!({
            "messageId": id,
            "body": body,
            "attributes": { "ApproximateReceiveCount": receive_count.to_string() },
            "messageAttributes": {
                "correlationId": { "stringValue": "cid-1", "dataType": "String" }
            }
        }))
        .unwrap()
    }

    fn batch(messages: Vec<SqsMessage>) -> LambdaEvent<SqsEvent> {
        let mut event = SqsEvent::default();
        event.records = messages;
        LambdaEvent::new(event, lambda_runtime::Context::default())
    }

    fn listener(failures: u32) -> Listener<FakeJob, FakeProcessStatus> {
        Listener {
            job: FakeJob::new(JobType::Production, failures),
            status: FakeProcessStatus::default(),
            max_receive_count: 3,
        }
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_poison_message_fails_alone_and_the_rest_of_its_batch_is_processed() {
        let listener = listener(0);
        let good = serde_json::to_string(&result(true)).unwrap();
        let response = handle(
            &listener,
            batch(vec![
                message("a", &good, 1),
                message("poison", "{not json", 1),
                message("b", &serde_json::to_string(&result(true)).unwrap(), 1),
            ]),
        )
        .await;
        assert_eq!(failed(&response), ["poison"]);
        assert_eq!(listener.job.effects(), 2);
        assert_eq!(listener.status.reports().len(), 2);
    }

    #[tokio::test]
    async fn a_redelivered_message_has_one_effect() {
        let listener = listener(0);
        let body = serde_json::to_string(&result(true)).unwrap();
        for n in 1..=3 {
            let response = handle(&listener, batch(vec![message("a", &body, n)])).await;
            assert!(failed(&response).is_empty());
        }
        assert_eq!(listener.job.effects(), 1);
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_by_redelivery_and_the_job_completes() {
        let listener = listener(1);
        let body = serde_json::to_string(&result(true)).unwrap();
        let first = handle(&listener, batch(vec![message("a", &body, 1)])).await;
        assert_eq!(failed(&first), ["a"]);
        assert!(
            listener.status.reports().is_empty(),
            "a first failure is not an Error"
        );
        let second = handle(&listener, batch(vec![message("a", &body, 2)])).await;
        assert!(failed(&second).is_empty());
        let reports = listener.status.reports();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].1.job_status, JobStatus::Completed);
    }

    #[tokio::test]
    async fn a_persistent_failure_reports_the_job_in_error_on_the_last_delivery() {
        let listener = listener(u32::MAX);
        let body = serde_json::to_string(&result(true)).unwrap();
        for n in 1..=3 {
            let response = handle(&listener, batch(vec![message("a", &body, n)])).await;
            assert_eq!(failed(&response), ["a"], "delivery {n}");
        }
        let reports = listener.status.reports();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].1.job_status, JobStatus::Error);
    }

    #[tokio::test]
    async fn the_correlation_id_of_the_message_reaches_the_job() {
        let listener = listener(0);
        let body = serde_json::to_string(&result(true)).unwrap();
        handle(&listener, batch(vec![message("a", &body, 1)])).await;
        assert_eq!(listener.job.correlation_ids(), ["cid-1"]);
    }

    #[tokio::test]
    async fn a_failure_event_is_not_the_production_listeners_job() {
        let listener = listener(0);
        let body = serde_json::to_string(&result(false)).unwrap();
        let response = handle(&listener, batch(vec![message("a", &body, 1)])).await;
        assert!(failed(&response).is_empty());
        assert_eq!(listener.job.effects(), 0);
    }
}
