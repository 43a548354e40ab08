//! Downstream faults a run can inject through the invocation gate (localstack/gate.py),
//! and what an operator does about them: drop the fault, redrive the dead letters.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use order::Order;

/// The fault rules of the gate, for the run's orders.
pub struct Gate<'a> {
    pub http: &'a reqwest::Client,
    pub url: &'a str,
}

impl Gate<'_> {
    async fn rule(
        &self,
        function: &str,
        order: &Order,
        times: u32,
        every: u32,
    ) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("{}/_faults", self.url))
            .json(&serde_json::json!({
                "function": function, "match": order.id.to_string(), "action": "fail",
                "times": times, "every": every,
            }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "the gate refused a fault rule: {}",
            response.status()
        );
        Ok(())
    }

    /// Half the production and invoice calls of each order fail (every other one).
    pub async fn half_failing(&self, orders: &[Order]) -> anyhow::Result<()> {
        for order in orders {
            for function in ["production-mock", "invoice-mock"] {
                self.rule(function, order, 10_000, 2).await?;
            }
        }
        Ok(())
    }

    /// Every production call of these orders fails, until `restore`.
    pub async fn production_down(&self, orders: &[Order]) -> anyhow::Result<()> {
        for order in orders {
            self.rule("production-mock", order, 10_000, 1).await?;
        }
        Ok(())
    }

    /// How many calls of these orders the gate failed (a fault never applied tests nothing).
    pub async fn failed_calls(&self, orders: &[Order]) -> anyhow::Result<u64> {
        let rules: serde_json::Value = self
            .http
            .get(format!("{}/_faults", self.url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let ids: std::collections::HashSet<String> =
            orders.iter().map(|o| o.id.to_string()).collect();
        Ok(rules
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["match"].as_str().is_some_and(|m| ids.contains(m)))
            .filter_map(|r| r["applied"].as_u64())
            .sum())
    }

    /// The faults of these orders are gone.
    pub async fn restore(&self, orders: &[Order]) -> anyhow::Result<()> {
        for order in orders {
            self.http
                .delete(format!("{}/_faults?match={}", self.url, order.id))
                .send()
                .await?
                .error_for_status()?;
        }
        Ok(())
    }
}

/// What `aws sqs start-message-move-task --source-arn <dlq>` does: the dead-letter
/// queue's messages go back to the queue they came from. MiniStack 1.5 has no message move
/// tasks, so where the call is refused the messages are moved one by one (received,
/// sent to the source queue, deleted); the count moved.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    source_url: &str,
) -> anyhow::Result<usize> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?;
    let dlq_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .context("the dead-letter queue has no ARN")?;
    let waiting = depth(sqs, dlq_url).await?;
    if sqs
        .start_message_move_task()
        .source_arn(dlq_arn)
        .send()
        .await
        .is_ok()
    {
        return Ok(waiting);
    }
    let mut moved = 0;
    loop {
        let page = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await?;
        let messages = page.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            sqs.send_message()
                .queue_url(source_url)
                .message_body(message.body.unwrap_or_default())
                .send()
                .await?;
            if let Some(handle) = message.receipt_handle {
                sqs.delete_message()
                    .queue_url(dlq_url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
            moved += 1;
        }
    }
}

/// Messages in a queue, visible or in flight.
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<usize> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let count = |name: Name| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Ok(count(Name::ApproximateNumberOfMessages)
        + count(Name::ApproximateNumberOfMessagesNotVisible))
}

/// Makes `cargo lambda watch` restart every function, as a hot reload does: it restarts
/// them on any change in the tree (here a file's modification time, nothing else).
pub fn restart_functions(root: &std::path::Path) -> anyhow::Result<()> {
    let marker = root.join("README.md");
    std::fs::File::options()
        .append(true)
        .open(&marker)?
        .set_modified(SystemTime::now())
        .with_context(|| format!("touching {}", marker.display()))
}

/// Waits until `check` holds, polling every second, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}
