//! What AWS does between the fulfilment functions, as template.yaml configures it: the
//! processes table's stream (in order, retried, bisected, then metadata only to the
//! on-failure queue), the payment-results topic (filter policies, duplicates, publish
//! errors, an outage window), one SQS queue per listener (visibility timeout, receive
//! count, DLQ, reordering, duplicates, partial batch failures, a concurrency cap), and SES.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use notification::memory::InMemoryEmailLog;
use notification::sender::SendError;
use notification::{EmailLog, EmailLogRepository, EmailSender};
use order::processes::memory::InMemoryProcessRepository;
use order::publisher::{PaymentResults, PublishError};
use shared::ProcessId;
use shared::fulfilment::PaymentResult;
use shared::transport::BoxFuture;
use tokio::sync::Notify;

use crate::net::{context, invoke};
use crate::template::{Mapping, QueueSettings, template};
use crate::world::{Half, World, lock};

const F: Half = Half::Fulfilment;

/// One message in a queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: String,
    pub event_type: String,
    pub correlation_id: String,
    pub receive_count: u32,
    visible_at: Duration,
}

/// An SQS queue with its DLQ (the redrive policy's maxReceiveCount).
#[derive(Debug)]
pub struct Queue {
    pub name: &'static str,
    world: Arc<World>,
    settings: QueueSettings,
    messages: Mutex<Vec<Message>>,
    pub dead: Mutex<Vec<Message>>,
    sent: Mutex<u64>,
    /// Wakes the queue's poller: a message arrived or an invocation ended.
    pub wake: Notify,
}

impl Queue {
    pub fn new(world: &Arc<World>, name: &'static str, logical_id: &str) -> Arc<Self> {
        Arc::new(Self {
            name,
            world: world.clone(),
            settings: template().queue(logical_id),
            messages: Mutex::default(),
            dead: Mutex::default(),
            sent: Mutex::new(0),
            wake: Notify::new(),
        })
    }

    pub fn send(&self, result: &PaymentResult, body: &str) {
        let id = {
            let mut sent = lock(&self.sent);
            *sent += 1;
            format!("{}-{}", self.name, *sent)
        };
        self.world.log(format!(
            "sqs {}: {id} for process {}",
            self.name, result.process_id
        ));
        lock(&self.messages).push(Message {
            id,
            body: body.to_owned(),
            event_type: result.event_type.as_str().to_owned(),
            correlation_id: result.correlation_id.clone(),
            receive_count: 0,
            visible_at: self.world.elapsed(),
        });
        self.wake.notify_one();
    }

    /// Up to `max` visible messages, in no set order, hidden for the visibility timeout;
    /// one received more than maxReceiveCount times moves to the DLQ instead.
    fn receive(&self, max: usize) -> Vec<Message> {
        let now = self.world.elapsed();
        let mut messages = lock(&self.messages);
        let mut visible: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i].visible_at <= now)
            .collect();
        // Standard queues do not keep order.
        for i in (1..visible.len()).rev() {
            let j = self.world.between_in(F, 0, i as u64) as usize;
            visible.swap(i, j);
        }
        let mut batch = Vec::new();
        let mut dead = Vec::new();
        for i in visible {
            if batch.len() == max {
                break;
            }
            let message = &mut messages[i];
            if message.receive_count >= self.settings.max_receive_count {
                dead.push(i);
                continue;
            }
            message.receive_count += 1;
            message.visible_at = now + self.settings.visibility;
            batch.push(message.clone());
        }
        dead.sort_unstable();
        for i in dead.into_iter().rev() {
            let message = messages.remove(i);
            self.world.log(format!(
                "sqs {}: {} moved to the DLQ",
                self.name, message.id
            ));
            lock(&self.dead).push(message);
        }
        batch
    }

    /// Deletes a handled message; sometimes the delete does not take and the message comes
    /// back after its visibility timeout (at-least-once delivery).
    fn delete(&self, id: &str) {
        if self.world.chance_in(F, self.world.faults().sqs_duplicate) {
            self.world
                .log(format!("fault sqs {}: {id} delivered again", self.name));
            return;
        }
        lock(&self.messages).retain(|m| m.id != id);
    }

    /// When the next hidden message becomes visible, if any.
    fn next_visible(&self) -> Option<Duration> {
        lock(&self.messages).iter().map(|m| m.visible_at).min()
    }

    pub fn is_empty(&self) -> bool {
        lock(&self.messages).is_empty()
    }
}

pub type SqsHandler =
    Arc<dyn Fn(LambdaEvent<SqsEvent>) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// The event source mapping of one listener: polls its queue, invokes the listener with
/// batches (at most `MaximumConcurrency` at once), and deletes what did not fail.
pub async fn poll(
    world: Arc<World>,
    queue: Arc<Queue>,
    function: &'static str,
    mapping: Mapping,
    handler: SqsHandler,
) {
    let timeout = template().timeout(function);
    let cap = mapping.max_concurrency.unwrap_or(usize::MAX);
    let running = Arc::new(Mutex::new(0usize));
    loop {
        let batch = if *lock(&running) < cap {
            queue.receive(mapping.batch_size)
        } else {
            Vec::new()
        };
        if batch.is_empty() {
            let wait = queue
                .next_visible()
                .map(|at| at.saturating_sub(world.elapsed()))
                .filter(|wait| !wait.is_zero());
            match wait {
                Some(wait) if *lock(&running) < cap => {
                    tokio::select! {
                        () = queue.wake.notified() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                _ => queue.wake.notified().await,
            }
            continue;
        }
        *lock(&running) += 1;
        let (world, queue, handler, running) = (
            world.clone(),
            queue.clone(),
            handler.clone(),
            running.clone(),
        );
        tokio::spawn(async move {
            let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
            let event = LambdaEvent::new(sqs_event(&batch), context(&world, timeout));
            let done = invoke(&world, F, function, timeout, handler(event)).await;
            world.log(format!(
                "{function} {ids:?} -> {:?}",
                done.as_ref().map(|r| r
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.clone())
                    .collect::<Vec<_>>())
            ));
            if let Some(response) = done {
                let failed: BTreeSet<String> = response
                    .batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier)
                    .collect();
                for id in ids.iter().filter(|id| !failed.contains(*id)) {
                    queue.delete(id);
                }
            }
            *lock(&running) -= 1;
            queue.wake.notify_one();
        });
    }
}

fn sqs_event(batch: &[Message]) -> SqsEvent {
    let records: Vec<serde_json::Value> = batch
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.id,
                "body": m.body,
                "eventSource": "aws:sqs",
                "attributes": { "ApproximateReceiveCount": m.receive_count.to_string() },
                "messageAttributes": {
                    "eventType": { "stringValue": m.event_type, "dataType": "String" },
                    "correlationId": { "stringValue": m.correlation_id, "dataType": "String" }
                }
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap_or_default()
}

/// The payment-results topic: each subscription's filter policy, raw delivery.
#[derive(Debug)]
pub struct Topic {
    world: Arc<World>,
    subscriptions: Vec<(Vec<String>, Arc<Queue>)>,
}

impl Topic {
    pub fn new(world: &Arc<World>, subscriptions: Vec<(&str, Arc<Queue>)>) -> Self {
        Self {
            world: world.clone(),
            subscriptions: subscriptions
                .into_iter()
                .map(|(logical_id, queue)| (template().filter(logical_id), queue))
                .collect(),
        }
    }

    fn deliver(&self, result: &PaymentResult) -> Result<(), PublishError> {
        let body = serde_json::to_string(result).map_err(PublishError::Encode)?;
        let faults = self.world.faults();
        for (filter, queue) in &self.subscriptions {
            if !filter.iter().any(|t| t == result.event_type.as_str()) {
                continue;
            }
            queue.send(result, &body);
            if self.world.chance_in(F, faults.sns_duplicate) {
                self.world
                    .log(format!("fault sns: delivered twice to {}", queue.name));
                queue.send(result, &body);
            }
        }
        Ok(())
    }
}

impl PaymentResults for Topic {
    async fn publish(&self, result: &PaymentResult) -> Result<(), PublishError> {
        let world = &self.world;
        tokio::time::sleep(Duration::from_millis(world.between_in(F, 5, 50))).await;
        if world.sns_down() {
            world.log(format!(
                "fault sns: down, {} not published",
                result.process_id
            ));
            return Err(PublishError::Publish("injected: SNS unavailable".into()));
        }
        if world.chance_in(F, world.faults().publish_fails) {
            // Half the failures are answers lost after the topic took the message.
            if world.chance_in(F, 0.5) {
                self.deliver(result)?;
                world.log(format!(
                    "fault sns: {} published, answer lost",
                    result.process_id
                ));
            } else {
                world.log(format!(
                    "fault sns: publishing {} failed",
                    result.process_id
                ));
            }
            return Err(PublishError::Publish("injected: publish failed".into()));
        }
        world.log(format!(
            "sns: {} {} published",
            result.event_type.as_str(),
            result.process_id
        ));
        self.deliver(result)
    }
}

/// The processes table's stream and its event source mapping to the publisher: inserts in
/// order, in batches; a failed batch is retried (bisected) up to `MaximumRetryAttempts`,
/// then only its metadata goes to the on-failure queue and the records are skipped.
pub struct Stream {
    world: Arc<World>,
    processes: Arc<InMemoryProcessRepository>,
    topic: Arc<Topic>,
    mapping: Mapping,
    seen: Mutex<BTreeSet<ProcessId>>,
    /// Records whose batch exhausted its retries: only metadata reached the failure queue.
    pub skipped: Mutex<Vec<ProcessId>>,
    /// AWS does not document the backoff between a stream batch's retries: per seed,
    /// about a second each, or doubling from a second up to a minute.
    doubling: bool,
}

impl Stream {
    pub fn new(
        world: &Arc<World>,
        processes: Arc<InMemoryProcessRepository>,
        topic: Arc<Topic>,
    ) -> Arc<Self> {
        Arc::new(Self {
            world: world.clone(),
            processes,
            topic,
            mapping: template().mapping("OrderPaymentResultsPublisherStreamMapping"),
            seen: Mutex::default(),
            skipped: Mutex::default(),
            doubling: world.chance_in(F, 0.5),
        })
    }

    pub async fn run(self: Arc<Self>) {
        loop {
            self.world.writes.notified().await;
            // The stream's lag behind the write.
            tokio::time::sleep(Duration::from_millis(self.world.between_in(F, 10, 500))).await;
            let fresh: Vec<_> = {
                let mut seen = lock(&self.seen);
                self.processes
                    .all()
                    .into_iter()
                    .filter(|p| seen.insert(p.process_id))
                    .collect()
            };
            for batch in fresh.chunks(self.mapping.batch_size.max(1)) {
                self.deliver(batch.to_vec(), 0).await;
            }
        }
    }

    fn deliver(&self, batch: Vec<order::Process>, mut failures: u32) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let retries = self.mapping.retries.unwrap_or(u32::MAX);
            loop {
                if self.invoke(&batch).await {
                    return;
                }
                failures += 1;
                if failures > retries {
                    let ids: Vec<ProcessId> = batch.iter().map(|p| p.process_id).collect();
                    self.world.log(format!(
                        "stream: retries exhausted; metadata of {ids:?} to the failure queue"
                    ));
                    lock(&self.skipped).extend(ids);
                    return;
                }
                let backoff = if self.doubling {
                    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
                } else {
                    Duration::from_secs(1)
                };
                tokio::time::sleep(backoff).await;
                if self.mapping.bisect && batch.len() > 1 {
                    let (left, right) = batch.split_at(batch.len() / 2);
                    self.deliver(left.to_vec(), failures).await;
                    self.deliver(right.to_vec(), failures).await;
                    return;
                }
            }
        })
    }

    async fn invoke(&self, batch: &[order::Process]) -> bool {
        let records: Vec<serde_json::Value> = batch
            .iter()
            .filter_map(|process| serde_dynamo::to_item::<_, serde_dynamo::Item>(process).ok())
            .map(|image| {
                serde_json::json!({
                    "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                    "awsRegion": "us-east-1",
                    "dynamodb": { "Keys": {}, "NewImage": image, "SequenceNumber": "1",
                                  "SizeBytes": 1, "StreamViewType": "NEW_IMAGE" }
                })
            })
            .collect();
        let Ok(event) = serde_json::from_value::<Event>(serde_json::json!({ "Records": records }))
        else {
            self.world
                .violation("a process's stream record does not parse".into());
            return true;
        };
        let function = "order-payment-results-publisher";
        let timeout = template().timeout(function);
        let topic = self.topic.clone();
        let work = Box::pin(async move {
            order::publisher::handle(&*topic, event)
                .await
                .map_err(|err| shared::telemetry::ErrorChain(&err).to_string())
        });
        let done = invoke(&self.world, F, function, timeout, work).await;
        self.world.log(format!("{function} -> {done:?}"));
        matches!(done, Some(Ok(_)))
    }
}

/// One e-mail SES accepted.
#[derive(Debug, Clone)]
pub struct Sent {
    pub email_id: String,
    pub tracking_id: String,
}

/// SES v2 SendEmail: latency and errors. It has no idempotency key, so it also judges each
/// second mail for one log record: a defect, unless the first sender died (or lost its
/// write) between SES and the log, the one window a provider without keys leaves.
#[derive(Debug)]
pub struct Ses {
    world: Arc<World>,
    log: Arc<InMemoryEmailLog>,
    pub sent: Mutex<Vec<Sent>>,
    senders: Mutex<Vec<(String, tokio::task::Id)>>,
}

impl Ses {
    pub fn new(world: &Arc<World>, log: Arc<InMemoryEmailLog>) -> Arc<Self> {
        Arc::new(Self {
            world: world.clone(),
            log,
            sent: Mutex::default(),
            senders: Mutex::default(),
        })
    }
}

/// One instance's SES client.
#[derive(Debug, Clone)]
pub struct SesClient(pub Arc<Ses>);

impl EmailSender for SesClient {
    async fn send(&self, mail: &EmailLog) -> Result<String, SendError> {
        let ses = &self.0;
        let world = &ses.world;
        world.latency(F, 20, 200).await;
        if world.chance_in(F, world.faults().ses_fails) {
            world.log(format!("fault ses: sending {} failed", mail.email_id));
            return Err(SendError("injected: SES unavailable".into()));
        }
        let task = tokio::task::try_id();
        let marked =
            matches!(ses.log.get(&mail.email_id).await, Ok(Some(log)) if log.message_id.is_some());
        for (email_id, earlier) in lock(&ses.senders).iter() {
            if *email_id != mail.email_id {
                continue;
            }
            if marked || world.is_running(*earlier) {
                world.violation(format!(
                    "e-mail {} (job {}) sent twice: {}",
                    mail.email_id,
                    mail.tracking_id,
                    if marked {
                        "after its log recorded the first"
                    } else {
                        "while the first send was still running"
                    }
                ));
            } else {
                world.log(format!(
                    "ses: {} sent again (its first sender {} before recording it)",
                    mail.email_id,
                    if world.was_killed(*earlier) {
                        "died"
                    } else {
                        "failed"
                    }
                ));
            }
        }
        if let Some(task) = task {
            lock(&ses.senders).push((mail.email_id.clone(), task));
        }
        let mut sent = lock(&ses.sent);
        sent.push(Sent {
            email_id: mail.email_id.clone(),
            tracking_id: mail.tracking_id.clone(),
        });
        world.log(format!("ses: {} sent", mail.email_id));
        Ok(format!("ses-{}", sent.len()))
    }
}
