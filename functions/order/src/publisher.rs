//! The payment-results publisher: the processes table's stream is the outbox. Inserting a
//! process (confirm-payment) is the event; this function, on the stream, publishes it to
//! the SNS topic with its `eventType` and correlation id as message attributes. A failed
//! publish fails the batch, and Lambda retries it until it is published, for as long as
//! the stream keeps the record (24 hours): an SNS outage delays results, never drops
//! them (the on-failure queue would get only the batch's metadata, not the results). A
//! record that is not a process is poison no retry can publish: it is logged, counted
//! and skipped, so it cannot hold up the shard. A retried batch may publish an event
//! twice; the listeners are idempotent by job id.

use std::future::Future;

use aws_lambda_events::dynamodb::Event;
use aws_sdk_sns::types::MessageAttributeValue;
use shared::fulfilment::{CORRELATION_ID_ATTRIBUTE, EVENT_TYPE_ATTRIBUTE, PaymentResult};
use shared::telemetry::ErrorChain;
use tracing::Instrument;

use crate::Process;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the payment result could not be serialised")]
    Encode(#[source] serde_json::Error),
    #[error("the payment result was not published")]
    Publish(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<PublishError> for lambda_runtime::Diagnostic {
    fn from(err: PublishError) -> Self {
        let error_type = match err {
            PublishError::Encode(_) => "PaymentResultEncoding",
            PublishError::Publish(_) => "PaymentResultUnpublished",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: ErrorChain(&err).to_string(),
        }
    }
}

/// Where payment results go.
pub trait PaymentResults: Send + Sync {
    fn publish(
        &self,
        result: &PaymentResult,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

impl<T: PaymentResults + ?Sized> PaymentResults for &T {
    fn publish(
        &self,
        result: &PaymentResult,
    ) -> impl Future<Output = Result<(), PublishError>> + Send {
        (**self).publish(result)
    }
}

/// The payment-results SNS topic.
#[derive(Debug, Clone)]
pub struct SnsPaymentResults {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPaymentResults {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PublishError::Publish(Box::new(e)))
}

impl PaymentResults for SnsPaymentResults {
    #[tracing::instrument(skip(self, result), fields(process_id = %result.process_id))]
    async fn publish(&self, result: &PaymentResult) -> Result<(), PublishError> {
        let message = serde_json::to_string(result).map_err(PublishError::Encode)?;
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message)
            .message_attributes(EVENT_TYPE_ATTRIBUTE, attribute(result.event_type.as_str())?);
        if !result.correlation_id.is_empty() {
            publish = publish
                .message_attributes(CORRELATION_ID_ATTRIBUTE, attribute(&result.correlation_id)?);
        }
        let output = publish
            .send()
            .await
            .map_err(|e| PublishError::Publish(Box::new(e)))?;
        tracing::info!(
            message_id = output.message_id().unwrap_or_default(),
            "payment result published"
        );
        Ok(())
    }
}

/// A topic that fails on purpose for tagged orders (tests; see `shared::fault`), in front
/// of the real one.
#[derive(Debug)]
pub struct WithFaults<P> {
    pub inner: P,
    pub faults: shared::fault::Faults,
}

impl<P: PaymentResults> PaymentResults for WithFaults<P> {
    async fn publish(&self, result: &PaymentResult) -> Result<(), PublishError> {
        if self.faults.fails(
            "publish",
            &result.order.name,
            &result.process_id.to_string(),
        ) {
            tracing::warn!("publish failing on purpose");
            return Err(PublishError::Publish(
                "publish failed on purpose (fault injection)".into(),
            ));
        }
        self.inner.publish(result).await
    }
}

/// Publishes the event of every inserted process in the batch, in order. Other changes
/// (a job's status) are not events.
pub async fn handle<P: PaymentResults>(publisher: &P, event: Event) -> Result<usize, PublishError> {
    let mut published = 0;
    for record in event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let process: Process = match serde_dynamo::from_item(record.change.new_image) {
            Ok(process) => process,
            Err(err) => {
                tracing::error!(
                    poison = true,
                    error = %ErrorChain(&err),
                    keys = ?record.change.keys,
                    "a stream record is not a process; skipped"
                );
                metrics::counter!(shared::metrics::PAYMENT_RESULTS_UNREADABLE).increment(1);
                continue;
            }
        };
        let result = process.event();
        let span = tracing::info_span!(
            "payment_result",
            correlation_id = %result.correlation_id,
            process_id = %result.process_id,
            order_id = %result.order_id,
            event_type = result.event_type.as_str(),
        );
        publisher.publish(&result).instrument(span).await?;
        published += 1;
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use chrono::Utc;
    use shared::contracts::OrderStatus;
    use shared::{CorrelationId, PaymentId, UserId};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails its first `failures` publishes, then records what it publishes.
    #[derive(Default)]
    struct FlakyTopic {
        failures: AtomicU32,
        published: Mutex<Vec<PaymentResult>>,
    }

    impl PaymentResults for FlakyTopic {
        async fn publish(&self, result: &PaymentResult) -> Result<(), PublishError> {
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(PublishError::Publish("topic unavailable".into()));
            }
            self.published.lock().unwrap().push(result.clone());
            Ok(())
        }
    }

    fn stream_event(process: &Process, name: &str) -> Event {
        let image: serde_dynamo::Item = serde_dynamo::to_item(process).unwrap();
        let record = serde_json::json!({
            "eventID": "1", "eventName": name, "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": { "Keys": {}, "NewImage": image, "SequenceNumber": "1",
                          "SizeBytes": 1, "StreamViewType": "NEW_IMAGE" }
        });
        serde_json::from_value(serde_json::json!({ "Records": [record] })).unwrap()
    }

    fn process() -> Process {
        let mut order = demo::demo_order(UserId::new_random(), 1, Utc::now());
        order.status = OrderStatus::PaymentSuccess;
        Process::for_decided(
            &order,
            PaymentId::new_random(),
            &CorrelationId::from_value(Some("cid-publish")),
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn when_the_publish_fails_the_batch_fails_and_its_retry_delivers_the_event() {
        let topic = FlakyTopic {
            failures: AtomicU32::new(1),
            ..Default::default()
        };
        let process = process();
        let event = stream_event(&process, "INSERT");
        assert!(
            handle(&topic, event.clone()).await.is_err(),
            "a lost publish was acknowledged"
        );
        assert_eq!(handle(&topic, event).await.unwrap(), 1);
        let published = topic.published.lock().unwrap();
        assert_eq!(published.as_slice(), &[process.event()]);
        assert_eq!(published[0].correlation_id, "cid-publish");
    }

    #[tokio::test]
    async fn a_record_that_is_not_a_process_is_skipped_and_the_rest_of_the_batch_published() {
        let topic = FlakyTopic::default();
        let process = process();
        let mut event = stream_event(&process, "INSERT");
        let mut poison = event.records[0].clone();
        poison.change.new_image = std::collections::HashMap::from([(
            "processId".to_owned(),
            serde_dynamo::AttributeValue::N("7".into()),
        )])
        .into();
        event.records.insert(0, poison);
        assert_eq!(handle(&topic, event).await.unwrap(), 1);
        assert_eq!(
            topic.published.lock().unwrap().as_slice(),
            &[process.event()]
        );
    }

    #[tokio::test]
    async fn a_changed_job_is_not_an_event() {
        let topic = FlakyTopic::default();
        assert_eq!(
            handle(&topic, stream_event(&process(), "MODIFY"))
                .await
                .unwrap(),
            0
        );
    }
}
