//! `make stress` (localstack/stress.sh): N checkouts at once through the local stack, then
//! every order accounted for. Exits 1 if any order is unaccounted for or any rule broke.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use order::Order;
use stress::accounting::{Reader, account};
use stress::burst::{self, Checkout};
use stress::env::StackEnv;
use stress::faults;
use stress::gate::GateStats;

#[derive(Parser)]
#[command(about = "N checkouts in flight through the local stack, then every table reconciled.")]
struct Args {
    /// Checkouts, one per fresh order and user.
    #[arg(long, env = "STRESS_ORDERS", default_value_t = 500)]
    orders: usize,
    /// Checkouts in flight at once (default: all of them).
    #[arg(long)]
    concurrency: Option<usize>,
    /// How long a user keeps retrying a checkout answered 429/502/503/504.
    #[arg(long, default_value_t = 120)]
    give_up_seconds: u64,
    /// How long every order may take to settle after the last checkout.
    #[arg(long, default_value_t = 300)]
    settle_seconds: u64,
    /// Half the production and invoice calls of every order fail (every other one).
    #[arg(long)]
    half_failing: bool,
    /// This many paid orders find production down until their messages are in its DLQ and
    /// their jobs in Error; then production is back and the DLQ is redriven.
    #[arg(long, default_value_t = 0)]
    production_down: usize,
    /// Restarts every function this many seconds into the checkouts, as a hot reload does.
    #[arg(long)]
    restart_functions_after: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let env = StackEnv::load(&std::env::current_dir()?)?;
    let http = shared::client::http_builder()?
        .timeout(Duration::from_secs(30))
        .build()?;
    let api_url = env.get("API_URL")?.to_owned();
    let gate_url = env.get("GATE_URL")?.to_owned();
    http.get(format!("{api_url}/"))
        .send()
        .await
        .with_context(|| format!("the stack's API {api_url} does not answer: start the stack"))?;
    let reader = Reader::new(&env).await?;

    let orders = burst::seed(reader.orders(), args.orders, "Stress").await?;
    let gate_before = GateStats::read(&http, &gate_url).await?;
    let faults = faults::Gate {
        http: &http,
        url: &gate_url,
    };
    if args.half_failing {
        faults.half_failing(&orders).await?;
        println!("[stress] half the production and invoice calls of every order fail");
    }
    let down: Vec<Order> = orders
        .iter()
        .filter(|o| burst::accepted_by_the_ewallet(o))
        .take(args.production_down)
        .cloned()
        .collect();
    faults.production_down(&down).await?;
    if let Some(after) = args.restart_functions_after {
        let root = std::env::current_dir()?;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(after)).await;
            match faults::restart_functions(&root) {
                Ok(()) => println!("[stress] every function restarted {after} s in (a hot reload)"),
                Err(e) => eprintln!("[stress] the restart failed: {e:#}"),
            }
        });
    }
    let settings = burst::Settings {
        api_url,
        concurrency: args.concurrency.unwrap_or(args.orders).max(1),
        give_up: Duration::from_secs(args.give_up_seconds),
    };
    println!(
        "[stress] {} checkouts ({} declined by the e-wallet), {} in flight",
        orders.len(),
        orders
            .iter()
            .filter(|o| !burst::accepted_by_the_ewallet(o))
            .count(),
        settings.concurrency
    );
    let started = Instant::now();
    let checkouts = burst::checkouts(&settings, orders.clone()).await?;
    let sent_for = started.elapsed();
    if !down.is_empty() {
        production_comes_back(&env, &reader, &faults, &down).await?;
    }
    let open = reader
        .settle(&checkouts, Duration::from_secs(args.settle_seconds))
        .await;
    let settled_after = started.elapsed();
    let gate = GateStats::read(&http, &gate_url).await?.since(&gate_before);
    let books = account(&reader, &checkouts, gate.ghosts()).await?;

    let mut exercised = true;
    if args.half_failing {
        let failed = faults.failed_calls(&orders).await?;
        println!("[stress] production and invoice calls failed by the gate: {failed}");
        exercised = failed > 0;
    }
    report_checkouts(&checkouts, sent_for);
    report_gate(&gate);
    let spans: Vec<f64> = books
        .final_times
        .iter()
        .map(|(sent, done)| (*done - *sent).to_std().unwrap_or_default().as_secs_f64())
        .collect();
    if let (Some(first), Some(last)) = (
        books.final_times.iter().map(|t| t.0).min(),
        books.final_times.iter().map(|t| t.1).max(),
    ) {
        let span = (last - first).to_std().unwrap_or_default().as_secs_f64();
        println!(
            "[stress] decided and fulfilled: {} orders in {span:.1} s = {:.1} orders/s; checkout to final state {}",
            books.final_times.len(),
            books.final_times.len() as f64 / span.max(0.001),
            percentiles(&spans, "s")
        );
    }
    println!(
        "[stress] settled {} s after the first checkout{}",
        settled_after.as_secs(),
        if open.is_empty() {
            String::new()
        } else {
            format!(
                "; {} orders still open after {} s",
                open.len(),
                args.settle_seconds
            )
        }
    );
    for line in books.lines() {
        println!("[stress] {line}");
    }
    if !exercised {
        eprintln!("[stress] FAILED: half failing, yet no production or invoice call failed");
        std::process::exit(1)
    }
    if books.balanced() {
        println!("[stress] every order accounted for");
        Ok(())
    } else {
        eprintln!("[stress] FAILED: the books do not balance (above)");
        std::process::exit(1)
    }
}

/// Production was down for `down`: waits until each one's production job is in Error in
/// the order view and its message in the DLQ, then brings production back and redrives.
async fn production_comes_back(
    env: &StackEnv,
    reader: &Reader,
    faults: &faults::Gate<'_>,
    down: &[Order],
) -> anyhow::Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&env.sdk_config().await?);
    let dlq = env.get("PRODUCTION_DEAD_LETTER_QUEUE_URL")?;
    // Where an order is: its production job in Error (true), or no production to do
    // because its payment failed (None), or neither yet (false).
    let production_failed = |order: &Order| {
        let order = order.clone();
        async move {
            let Ok(held) = reader.look(&order).await else {
                return Some(false);
            };
            if held.status() == "PaymentFailed" {
                return None;
            }
            Some(held.process.as_ref().is_some_and(|p| {
                p["jobs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|j| j["jobType"] == "Production" && j["status"] == "Error")
            }))
        }
    };
    let limit = Duration::from_secs(180);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let seen = faults::eventually(limit, || async {
        let mut in_error = 0;
        for order in down {
            match production_failed(order).await {
                Some(false) => return false,
                Some(true) => in_error += 1,
                None => {}
            }
        }
        failed.store(in_error, std::sync::atomic::Ordering::Relaxed);
        let ids = down.iter().map(|o| o.id.to_string()).collect();
        let naming = reader.dead_letters_naming(&ids).await.unwrap_or_default();
        naming.values().sum::<usize>() >= in_error
    })
    .await;
    let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
    anyhow::ensure!(
        failed > 0,
        "production was down for {} orders, but none of them was paid: the fault was never exercised",
        down.len()
    );
    anyhow::ensure!(
        seen,
        "production down: not every job was in Error with its message in the DLQ within {} s",
        limit.as_secs()
    );
    faults.restore(down).await?;
    let moved = faults::redrive(&sqs, dlq, env.get("PRODUCTION_QUEUE_URL")?).await?;
    println!(
        "[stress] production down for {} orders: {failed} paid ones with their job in Error in the order view and their message in the DLQ; production back, {moved} messages redriven",
        down.len()
    );
    Ok(())
}

fn report_checkouts(checkouts: &[Checkout], sent_for: Duration) {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    let name = |s: Option<u16>| s.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
    for c in checkouts {
        *first
            .entry(name(c.tries.first().and_then(|t| t.status)))
            .or_default() += 1;
        *last.entry(name(c.last_status())).or_default() += 1;
    }
    let tries: usize = checkouts.iter().map(|c| c.tries.len()).sum();
    let took: Vec<f64> = checkouts
        .iter()
        .flat_map(|c| c.tries.iter().map(|t| t.took.as_secs_f64() * 1000.0))
        .collect();
    let show = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, n)| format!("{n}× {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "[stress] checkouts: {} tries in {:.1} s; first answers {}; last answers {}",
        tries,
        sent_for.as_secs_f64(),
        show(&first),
        show(&last)
    );
    println!(
        "[stress] checkout answer time (every try): {}",
        percentiles(&took, "ms")
    );
}

fn report_gate(gate: &GateStats) {
    if let Some(checkout) = gate.0.get("order-checkout") {
        println!(
            "[stress] order-checkout invocations: {} ran, {} refused; queued locally {}; in the function {}",
            checkout.forwarded,
            checkout.refused,
            percentiles(&checkout.waited_ms, "ms"),
            percentiles(&checkout.ran_ms, "ms")
        );
    }
    let refused: Vec<String> = gate
        .0
        .iter()
        .filter(|(_, f)| f.refused > 0 || f.answered_late > 0)
        .map(|(name, f)| {
            format!(
                "{name} {} refused, {} answered late",
                f.refused, f.answered_late
            )
        })
        .collect();
    if !refused.is_empty() {
        println!("[stress] the gate: {}", refused.join("; "));
    }
}

fn percentiles(values: &[f64], unit: &str) -> String {
    if values.is_empty() {
        return "no samples".to_owned();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |p: f64| {
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    };
    let precision = usize::from(unit == "s");
    format!(
        "p50 {:.*} {unit}, p90 {:.*} {unit}, p99 {:.*} {unit}, max {:.*} {unit}",
        precision,
        at(0.5),
        precision,
        at(0.9),
        precision,
        at(0.99),
        precision,
        at(1.0)
    )
}
