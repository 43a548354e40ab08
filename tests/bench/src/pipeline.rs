//! Part 5, pipeline: N concurrent checkouts of .99 orders (the e-wallet says yes) through the
//! local stack's API, each followed until its order reaches the final state. The bench
//! follows an order by reading it from the orders table (strongly consistent), not through
//! the internal API, so its polls add no Lambda invocations to what is measured.
//!
//! The time of the final state is the order's own `updatedAtUtc` as the stack stored it
//! (same machine, same clock), so how often the bench polls does not change the figure;
//! the poll only finds out that it happened.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use order::{
    DynamoDbOrderRepository, DynamoDbProcessRepository, Order, OrderRepository, ProcessRepository,
    demo,
};
use serde_json::Value;
use shared::UserId;

use crate::stats::Summary;

/// Orders per seeded user (odd demo numbers: 100.99 each).
const ORDERS_PER_USER: usize = 10;

/// How far an order has come.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The final state, reached at this time (when the order says so).
    Done(Option<DateTime<Utc>>),
    /// Still on its way, in this status.
    Pending(String),
    /// A state it cannot leave towards the final one.
    Failed(String),
}

/// THE final-state predicate: a .99 checkout ends when its order is paid and the order's
/// process is Completed with every job Completed, at the process's last update.
pub fn final_state(order: &Value) -> Progress {
    let status = order
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    match status.as_str() {
        "PaymentSuccess" => {}
        "PaymentFailed" | "Cancelled" => return Progress::Failed(status),
        _ => return Progress::Pending(status),
    }
    let process = &order["process"];
    let all_jobs_completed = process["jobs"]
        .as_array()
        .is_some_and(|jobs| !jobs.is_empty() && jobs.iter().all(|j| j["status"] == "Completed"));
    match process["status"].as_str() {
        Some("Completed") if all_jobs_completed => Progress::Done(
            process["updatedAtUtc"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        ),
        Some("Error") => Progress::Failed("PaymentSuccess, process Error".into()),
        Some(other) => Progress::Pending(format!("PaymentSuccess, process {other}")),
        None => Progress::Pending("PaymentSuccess, no process yet".into()),
    }
}

pub struct Settings {
    pub api_url: String,
    pub orders: usize,
    /// Checkouts in flight at once.
    pub concurrency: usize,
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// Orders polled per sweep from the oldest, and as many from the rest.
    pub poll_batch: usize,
    pub poll_concurrency: usize,
}

#[derive(Debug, Default)]
pub struct PipelineResult {
    pub requested: usize,
    pub concurrency: usize,
    pub accepted: usize,
    /// "status: problem type or error" → count
    pub checkout_failures: BTreeMap<String, usize>,
    pub first_failure: Option<String>,
    pub checkout_latency: Option<Summary>,
    pub completed: usize,
    pub latency: Option<Summary>,
    pub orders_per_second: Option<f64>,
    /// Orders that did not reach the final state, by the status they were left in.
    pub unfinished: BTreeMap<String, usize>,
    pub polls: u64,
    pub wall: Duration,
    pub seed_time: Duration,
    /// Every checkout as its user saw it, accepted or not, for the accounting of all N.
    pub checkouts: Vec<stress::burst::Checkout>,
}

struct Tracked {
    order: Order,
    sent_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    last_status: String,
    failed: bool,
}

pub async fn seed(repo: &DynamoDbOrderRepository, count: usize) -> anyhow::Result<Vec<Order>> {
    let now = Utc::now();
    let users: Vec<UserId> = (0..count.div_ceil(ORDERS_PER_USER))
        .map(|_| UserId::new_random())
        .collect();
    let orders: Vec<Order> = (0..count)
        .map(|i| {
            demo::demo_order(
                users[i / ORDERS_PER_USER],
                2 * (i % ORDERS_PER_USER) + 1,
                now,
            )
        })
        .collect();
    if let Some(order) = orders.iter().find(|o| o.total.cents_part() != 99) {
        anyhow::bail!(
            "demo order {} is not a .99 order: the e-wallet would not accept it",
            order.name
        );
    }
    stream::iter(orders.clone())
        .map(|order| async move { repo.insert_if_absent(&order).await })
        .buffer_unordered(16)
        .try_collect::<Vec<bool>>()
        .await
        .context("seeding the pipeline's orders")?;
    Ok(orders)
}

pub async fn run(
    settings: &Settings,
    repo: &DynamoDbOrderRepository,
    processes: &DynamoDbProcessRepository,
    orders: Vec<Order>,
) -> anyhow::Result<PipelineResult> {
    let http = shared::client::http_builder()?
        .pool_max_idle_per_host(settings.orders.max(8))
        .timeout(Duration::from_secs(120))
        .build()?;
    let mut result = PipelineResult {
        requested: orders.len(),
        concurrency: settings.concurrency.min(orders.len()),
        ..PipelineResult::default()
    };
    let started = Instant::now();

    // The checkouts, at most `concurrency` in flight (all at once when it is ≥ N).
    let responses: Vec<_> = stream::iter(orders.into_iter().enumerate().map(|(i, order)| {
        let http = &http;
        async move {
            let url = format!(
                "{}/api/v1/users/{}/orders/{}/checkout",
                settings.api_url, order.user_id, order.id
            );
            let sent_at = Utc::now();
            let sent = Instant::now();
            let response = http
                .post(&url)
                .header("x-correlation-id", format!("bench-checkout-{i}"))
                .json(&serde_json::json!({ "paymentProvider": "Ewallet" }))
                .send()
                .await;
            let outcome = match response {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    Ok((status, body))
                }
                Err(e) => Err(format!("{e}")),
            };
            (order, sent_at, sent.elapsed(), outcome)
        }
    }))
    .buffer_unordered(settings.concurrency.max(1))
    .collect()
    .await;

    let mut tracked = Vec::new();
    let mut checkout_times = Vec::new();
    for (order, sent_at, took, outcome) in responses {
        result.checkouts.push(stress::burst::Checkout {
            order: order.clone(),
            sent_at,
            tries: vec![stress::burst::Try {
                status: outcome.as_ref().ok().map(|(status, _)| *status),
                took,
            }],
        });
        match outcome {
            Ok((202, _)) => {
                checkout_times.push(took);
                tracked.push(Tracked {
                    order,
                    sent_at,
                    done_at: None,
                    last_status: "PaymentPending".into(),
                    failed: false,
                });
            }
            Ok((status, body)) => {
                let kind = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|b| b.get("type").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| snippet(&body));
                *result
                    .checkout_failures
                    .entry(format!("{status} {kind}"))
                    .or_default() += 1;
                result.first_failure.get_or_insert_with(|| {
                    format!("checkout answered {status}: {}", snippet(&body))
                });
            }
            Err(error) => {
                *result
                    .checkout_failures
                    .entry("no answer".to_owned())
                    .or_default() += 1;
                result
                    .first_failure
                    .get_or_insert_with(|| format!("checkout got no answer: {error}"));
            }
        }
    }
    result.accepted = tracked.len();
    result.checkout_latency = Summary::of(&checkout_times);

    // Follow every accepted order until it is done, failed, or time is up. Orders finish
    // roughly in the order they were sent, so each sweep polls the oldest pending ones
    // plus a rotating few of the rest: the bench's own load on the stack stays small.
    tracked.sort_by_key(|t| t.sent_at);
    let polls = AtomicU64::new(0);
    let deadline = started + settings.timeout;
    let mut cursor = 0;
    while tracked.iter().any(|t| t.done_at.is_none() && !t.failed) && Instant::now() < deadline {
        let open: Vec<usize> = (0..tracked.len())
            .filter(|&i| tracked[i].done_at.is_none() && !tracked[i].failed)
            .collect();
        let mut pending: Vec<usize> = open.iter().copied().take(settings.poll_batch).collect();
        let rest = &open[pending.len()..];
        if !rest.is_empty() {
            for k in 0..settings.poll_batch.min(rest.len()) {
                pending.push(rest[(cursor + k) % rest.len()]);
            }
            cursor += settings.poll_batch;
        }
        let before = open.len();
        let seen: Vec<(usize, Option<Value>)> = stream::iter(pending)
            .map(|i| {
                let polls = &polls;
                let order = &tracked[i].order;
                async move {
                    polls.fetch_add(1, Ordering::Relaxed);
                    let body = match repo.get(order.user_id, order.id).await {
                        Ok(Some(stored)) => {
                            let mut dto = stored.to_dto();
                            if let Some(id) = order::processes::process_of(&stored) {
                                dto.process =
                                    processes.get(id).await.ok().flatten().map(|p| p.to_dto());
                            }
                            serde_json::to_value(dto).ok()
                        }
                        _ => None,
                    };
                    (i, body)
                }
            })
            .buffer_unordered(settings.poll_concurrency)
            .collect()
            .await;
        let observed = Utc::now();
        for (i, body) in seen {
            let Some(body) = body else { continue };
            match final_state(&body) {
                Progress::Done(at) => tracked[i].done_at = Some(at.unwrap_or(observed)),
                Progress::Failed(status) => {
                    tracked[i].failed = true;
                    tracked[i].last_status = status;
                }
                Progress::Pending(status) => tracked[i].last_status = status,
            }
        }
        let still_open = tracked
            .iter()
            .filter(|t| t.done_at.is_none() && !t.failed)
            .count();
        if still_open == before {
            tokio::time::sleep(settings.poll_interval).await;
        }
    }
    result.polls = polls.load(Ordering::Relaxed);
    result.wall = started.elapsed();

    let mut latencies = Vec::new();
    let first_sent = tracked.iter().map(|t| t.sent_at).min();
    let last_done = tracked.iter().filter_map(|t| t.done_at).max();
    for t in &tracked {
        match t.done_at {
            Some(done) => latencies.push((done - t.sent_at).to_std().unwrap_or_default()),
            None => {
                let key = if t.failed {
                    format!("{} (final for this order)", t.last_status)
                } else {
                    format!(
                        "{} (still, after {} s)",
                        t.last_status,
                        settings.timeout.as_secs()
                    )
                };
                *result.unfinished.entry(key).or_default() += 1;
            }
        }
    }
    result.completed = latencies.len();
    result.latency = Summary::of(&latencies);
    if let (Some(first), Some(last)) = (first_sent, last_done) {
        let span = (last - first).to_std().unwrap_or_default().as_secs_f64();
        if span > 0.0 {
            result.orders_per_second = Some(result.completed as f64 / span);
        }
    }
    Ok(result)
}

fn snippet(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// Lambda invocations and API requests as the local runner logged them: one line per
/// HTTP API request (`<time> INFO <METHOD> <path> -> <function> <status> <ms>ms`) and one
/// per event it delivered (`... fired schedule <name> -> <function> ...`, `... delivered
/// ... -> <function> ...`). Other lines (a schedule being registered) are not invocations.
#[derive(Debug, Default, Clone)]
pub struct RunnerLog {
    pub invocations: BTreeMap<String, u64>,
    pub api_requests: BTreeMap<String, u64>,
}

pub fn log_offset(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

pub fn read_runner_log(path: &std::path::Path, from: u64) -> RunnerLog {
    let mut log = RunnerLog::default();
    let Ok(bytes) = std::fs::read(path) else {
        return log;
    };
    let start = usize::try_from(from).unwrap_or(0).min(bytes.len());
    for line in String::from_utf8_lossy(&bytes[start..]).lines() {
        let Some((left, right)) = line.split_once(" -> ") else {
            continue;
        };
        let Some(function) = right.split_whitespace().next() else {
            continue;
        };
        let method = left.split_whitespace().rev().nth(1).unwrap_or_default();
        let http = matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE");
        let event = left.contains(" fired ") || left.contains(" delivered ");
        if http || event {
            *log.invocations.entry(function.to_owned()).or_default() += 1;
        }
        if http {
            *log.api_requests.entry(function.to_owned()).or_default() += 1;
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_completed_process_with_all_its_jobs_is_the_final_state_at_its_update_time() {
        let order = json!({"status": "PaymentSuccess", "updatedAtUtc": "2026-01-01T00:00:00Z",
            "process": {"status": "Completed", "updatedAtUtc": "2026-01-01T00:00:01.5Z",
                "jobs": [{"status": "Completed"}, {"status": "Completed"}, {"status": "Completed"}]}});
        let Progress::Done(Some(at)) = final_state(&order) else {
            panic!("not done")
        };
        assert_eq!(at.timestamp_millis(), 1_767_225_601_500);
    }

    #[test]
    fn a_paid_order_whose_jobs_are_still_running_is_not_final() {
        let order = json!({"status": "PaymentSuccess",
            "process": {"status": "Pending", "jobs": [{"status": "Completed"}, {"status": "Queued"}]}});
        assert_eq!(
            final_state(&order),
            Progress::Pending("PaymentSuccess, process Pending".into())
        );
        assert_eq!(
            final_state(&json!({"status": "PaymentSuccess"})),
            Progress::Pending("PaymentSuccess, no process yet".into())
        );
    }

    #[test]
    fn a_pending_or_failed_payment_is_not_final() {
        assert_eq!(
            final_state(&json!({"status": "PaymentPending"})),
            Progress::Pending("PaymentPending".into())
        );
        assert_eq!(
            final_state(&json!({"status": "PaymentFailed"})),
            Progress::Failed("PaymentFailed".into())
        );
    }

    #[test]
    fn the_runner_log_gives_invocations_and_api_requests_per_function() {
        let dir = std::env::temp_dir().join(format!("bench-runner-log-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runner.log");
        std::fs::write(
            &path,
            "old line -> order-get 200 1ms\n\
             2026-01-01T00:00:00Z  INFO POST /api/v1/users/u/orders/o/checkout -> order-checkout 202 12ms\n\
             2026-01-01T00:00:00Z  INFO schedule g/s: at(2026-01-01T00:00:01) -> ewallet-webhook-dispatcher (F), due soon\n\
             2026-01-01T00:00:01Z  INFO fired schedule g/s -> ewallet-webhook-dispatcher (F): ok, 1 ms after its due time\n",
        )
        .unwrap();
        let from = "old line -> order-get 200 1ms\n".len() as u64;
        let log = read_runner_log(&path, from);
        assert_eq!(log.invocations.get("order-checkout"), Some(&1));
        assert_eq!(log.invocations.get("ewallet-webhook-dispatcher"), Some(&1));
        assert_eq!(log.invocations.get("order-get"), None);
        assert_eq!(log.api_requests.get("ewallet-webhook-dispatcher"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
