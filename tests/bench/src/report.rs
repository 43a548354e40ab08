//! The figures of one run: a table on the console and BENCHMARKS.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::HELLO;
use crate::calls::{Call, Origin};
use crate::cold;
use crate::cost;
use crate::pipeline::{PipelineResult, RunnerLog};
use crate::query::{Growth, ItemsRead};
use crate::size::{self, SizeRow, mb};
use crate::stack::TableSchema;
use crate::stats::{Summary, ms};
use crate::warm::{self, WarmResult};

pub const COLD_BUDGET: f64 = 1.25;
pub const WARM_BUDGET: f64 = 1.10;
/// Billed duration assumed per invocation for the Lambda duration cost (not measured here).
pub const ASSUMED_BILLED_MS: f64 = 25.0;
pub const MEMORY_MB: u64 = 128;

pub enum Part<T> {
    NotRun,
    Done(T),
    Failed(String),
}

impl<T> Part<T> {
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::NotRun)
    }
}

pub struct QueryResult {
    pub items: Vec<ItemsRead>,
    pub growth: Vec<Growth>,
    pub other_orders: usize,
}

pub struct PipelineReport {
    pub result: PipelineResult,
    pub delays: (String, String),
    pub calls: Option<Vec<Call>>,
    pub runner: RunnerLog,
    pub orders_table: String,
    pub warm_up: String,
    /// Every order of the run reconciled across the tables (tests/stress), or why not.
    pub accounting: Result<stress::accounting::Accounting, String>,
}

pub struct Report {
    root: PathBuf,
    command: String,
    smoke: bool,
    date: DateTime<Utc>,
    pub build_seconds: Option<f64>,
    pub build_note: String,
    pub stack_note: String,
    pub functions: Vec<String>,
    pub deploy_architectures: Vec<String>,
    pub missing: Vec<String>,
    pub size: Part<Vec<SizeRow>>,
    pub cold: Part<Vec<(String, cold::Outcome)>>,
    pub warm: Part<WarmResult>,
    pub query: Part<QueryResult>,
    pub pipeline: Part<PipelineReport>,
    pub load_time: Option<Duration>,
    pub schema: Option<TableSchema>,
    pub calls_note: Option<String>,
    timings: Vec<(String, Duration)>,
    pub total: Duration,
}

impl Report {
    pub fn new(root: &Path, command: &str, smoke: bool) -> Self {
        Self {
            root: root.to_owned(),
            command: command.to_owned(),
            smoke,
            date: Utc::now(),
            build_seconds: None,
            build_note: String::new(),
            stack_note: String::new(),
            functions: Vec::new(),
            deploy_architectures: Vec::new(),
            missing: Vec::new(),
            size: Part::NotRun,
            cold: Part::NotRun,
            warm: Part::NotRun,
            query: Part::NotRun,
            pipeline: Part::NotRun,
            load_time: None,
            schema: None,
            calls_note: None,
            timings: Vec::new(),
            total: Duration::ZERO,
        }
    }

    pub fn timing(&mut self, part: &str, took: Duration) {
        eprintln!("[bench] {part}: {:.1} s", took.as_secs_f64());
        self.timings.push((part.to_owned(), took));
    }

    pub fn failed_parts(&self) -> Vec<&'static str> {
        let mut failed = Vec::new();
        if matches!(self.size, Part::Failed(_)) {
            failed.push("size");
        }
        if matches!(self.cold, Part::Failed(_)) {
            failed.push("cold start");
        }
        if matches!(self.warm, Part::Failed(_)) {
            failed.push("warm overhead");
        }
        if matches!(self.query, Part::Failed(_)) {
            failed.push("query cost");
        }
        match &self.pipeline {
            Part::Failed(_) => failed.push("pipeline"),
            Part::Done(p)
                if p.result.completed < p.result.requested
                    || !p.accounting.as_ref().is_ok_and(|books| books.balanced()) =>
            {
                failed.push("pipeline")
            }
            _ => {}
        }
        failed
    }

    /// The console version: every section but the machine and the notes.
    pub fn console(&self) -> String {
        let mut out = String::new();
        self.budgets(&mut out);
        self.sections(&mut out);
        out
    }

    pub fn markdown(&self, notes: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `{}` (the bench is `tests/bench/`; how it measures: `tests/bench/NOTES.md`, appended at the end). \
             Every figure below comes from the one run described here: re-run the command rather than editing this file.\n",
            self.command
        );
        if self.smoke {
            let _ = writeln!(
                out,
                "**Smoke run**: small numbers, to check that every part works; not the figures.\n"
            );
        }
        self.machine(&mut out);
        self.budgets(&mut out);
        self.sections(&mut out);
        let _ = writeln!(out, "## The run\n");
        let _ = writeln!(out, "| part | seconds |\n|---|---:|");
        if let Some(b) = self.build_seconds {
            let _ = writeln!(out, "| release build (bench.sh) | {b:.0} |");
        }
        for (part, took) in &self.timings {
            let _ = writeln!(out, "| {part} | {:.1} |", took.as_secs_f64());
        }
        let _ = writeln!(out, "| bench total | {:.1} |\n", self.total.as_secs_f64());
        if !notes.trim().is_empty() {
            let _ = writeln!(out, "---\n\n{}", notes.trim());
        }
        out
    }

    fn machine(&self, out: &mut String) {
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let memory_gb = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0 / 1024.0)
            .unwrap_or(0.0);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let kernel = read("/proc/sys/kernel/osrelease");
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| date | {} |", self.date.format("%Y-%m-%d %H:%M UTC"));
        let _ = writeln!(out, "| command | `{}` |", self.command);
        let _ = writeln!(
            out,
            "| machine | {cpu}, {cores} cores (`nproc`), {memory_gb:.1} GB memory, Linux {} |",
            kernel.trim()
        );
        let _ = writeln!(
            out,
            "| toolchain | {rustc}; `cargo lambda build --release --output-format zip` (x86_64-unknown-linux-gnu, cargo-zigbuild, `-C target-cpu=haswell`), the workspace's release profile |"
        );
        if !self.deploy_architectures.is_empty() {
            let _ = writeln!(
                out,
                "| deployed as | {} (template.yaml); measured here: x86_64, the host (see the notes on arm64) |",
                self.deploy_architectures.join(", ")
            );
        }
        if let Some(b) = self.build_seconds {
            let _ = writeln!(out, "| release build | {b:.0} s {} |", self.build_note);
        }
        if !self.stack_note.is_empty() {
            let _ = writeln!(out, "| local stack | {} |", self.stack_note);
        }
        let _ = writeln!(
            out,
            "| functions | {} of template.yaml{} |\n",
            self.functions.len(),
            if self.missing.is_empty() {
                String::new()
            } else {
                format!("; **missing (did not build): {}**", self.missing.join(", "))
            }
        );
        let _ = self.root;
    }

    fn budgets(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Budgets\n\n| budget | limit | this run | |\n|---|---|---|---|"
        );
        let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
        match &self.size {
            Part::Done(rows) => {
                let worst = rows
                    .iter()
                    .filter(|r| r.name != HELLO)
                    .max_by_key(|r| r.zip_bytes);
                if let Some(w) = worst {
                    let ok = rows.iter().all(SizeRow::within_budget);
                    let _ = writeln!(
                        out,
                        "| zip size, each function | ≤ {:.1} MB | largest {:.2} MB ({}) | {} |",
                        mb(size::ZIP_BUDGET_BYTES),
                        mb(w.zip_bytes),
                        w.name,
                        verdict(ok)
                    );
                }
            }
            Part::Failed(e) => {
                let _ = writeln!(
                    out,
                    "| zip size | ≤ 2.5 MB | not measured: {} | |",
                    one_line(e)
                );
            }
            Part::NotRun => {}
        }
        match &self.cold {
            Part::Done(rows) => {
                if let Some(ratios) = cold_ratios(rows) {
                    let worst = ratios
                        .iter()
                        .filter(|(n, _)| n != HELLO)
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                    if let Some((name, ratio)) = worst {
                        let ok = ratios.iter().all(|(_, r)| *r <= COLD_BUDGET);
                        let _ = writeln!(
                            out,
                            "| cold start (median) vs hello-world | ≤ {COLD_BUDGET:.2}× | worst {ratio:.2}× ({name}) | {} |",
                            verdict(ok)
                        );
                    }
                } else {
                    let _ = writeln!(
                        out,
                        "| cold start | ≤ {COLD_BUDGET:.2}× | hello-world did not start | |"
                    );
                }
            }
            Part::Failed(e) => {
                let _ = writeln!(
                    out,
                    "| cold start | ≤ {COLD_BUDGET:.2}× | not measured: {} | |",
                    one_line(e)
                );
            }
            Part::NotRun => {}
        }
        match &self.warm {
            Part::Done(w) => {
                let _ = writeln!(
                    out,
                    "| order-search warm p50 vs raw Query | ≤ {WARM_BUDGET:.2}× | {:.3}× | {} |",
                    w.ratio_p50(),
                    verdict(w.ratio_p50() <= WARM_BUDGET)
                );
            }
            Part::Failed(e) => {
                let _ = writeln!(
                    out,
                    "| warm overhead | ≤ {WARM_BUDGET:.2}× | not measured: {} | |",
                    one_line(e)
                );
            }
            Part::NotRun => {}
        }
        match &self.query {
            Part::Done(q) => {
                let worst = q.items.iter().map(ItemsRead::ratio).fold(0.0, f64::max);
                let _ = writeln!(
                    out,
                    "| items read per search / own orders | 1.00 | {worst:.2} (among {} other users' orders) | {} |",
                    q.other_orders,
                    verdict((worst - 1.0).abs() < f64::EPSILON)
                );
            }
            Part::Failed(e) => {
                let _ = writeln!(
                    out,
                    "| query cost | 1.00 | not measured: {} | |",
                    one_line(e)
                );
            }
            Part::NotRun => {}
        }
        match &self.pipeline {
            Part::Done(p) => {
                let r = &p.result;
                let _ = writeln!(
                    out,
                    "| pipeline: every .99 checkout reaches its final state | {} of {} | {} | {} |",
                    r.requested,
                    r.requested,
                    r.completed,
                    verdict(r.completed == r.requested)
                );
            }
            Part::Failed(e) => {
                let _ = writeln!(
                    out,
                    "| pipeline | works | not measured: {} | **missed** |",
                    one_line(e)
                );
            }
            Part::NotRun => {}
        }
        out.push('\n');
    }

    fn sections(&self, out: &mut String) {
        self.size_section(out);
        self.cold_section(out);
        self.warm_section(out);
        self.query_section(out);
        self.pipeline_section(out);
    }

    fn size_section(&self, out: &mut String) {
        let Part::Done(rows) = &self.size else { return };
        let _ = writeln!(
            out,
            "## 1. Size\n\nRelease binary (stripped) and its Lambda zip (`bootstrap.zip`), x86_64. Budget: zip ≤ 2.5 MB (2,500,000 bytes).\n"
        );
        let hello = rows.iter().find(|r| r.name == HELLO).map(|r| r.zip_bytes);
        let _ = writeln!(
            out,
            "| function | binary MB | zip MB | zip vs hello-world | ≤ 2.5 MB |\n|---|---:|---:|---:|---|"
        );
        for r in rows {
            let vs = hello
                .map(|h| format!("{:.2}×", r.zip_bytes as f64 / h as f64))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.2} | {vs} | {} |",
                r.name,
                mb(r.binary_bytes),
                mb(r.zip_bytes),
                if r.within_budget() { "yes" } else { "**no**" }
            );
        }
        for m in &self.missing {
            let _ = writeln!(out, "| {m} | missing | missing | | |");
        }
        out.push('\n');
    }

    fn cold_section(&self, out: &mut String) {
        let Part::Done(rows) = &self.cold else { return };
        let _ = writeln!(
            out,
            "## 2. Cold start\n\nSpawn → first `GET /2018-06-01/runtime/invocation/next` under a local Runtime API, with Lambda's environment and the function's template variables; starts interleaved across binaries. Budget: median ≤ {COLD_BUDGET:.2}× hello-world.\n"
        );
        let hello = rows
            .iter()
            .find(|(n, _)| n == HELLO)
            .and_then(|(_, o)| Summary::of(&o.samples));
        let _ = writeln!(
            out,
            "| function | starts | min ms | median ms | p90 ms | median − hello-world ms | median vs hello-world | ≤ {COLD_BUDGET:.2}× |\n|---|---:|---:|---:|---:|---:|---:|---|"
        );
        for (name, outcome) in rows {
            match Summary::of(&outcome.samples) {
                Some(s) => {
                    let ratio = hello.map(|h| s.p50.as_secs_f64() / h.p50.as_secs_f64());
                    let extra = hello.map(|h| ms(s.p50) - ms(h.p50));
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
                        s.count,
                        ms(s.min),
                        ms(s.p50),
                        ms(s.p90),
                        extra.map(|e| format!("{e:+.2}")).unwrap_or_default(),
                        ratio.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                        ratio
                            .map(|r| if r <= COLD_BUDGET { "yes" } else { "**no**" })
                            .unwrap_or_default()
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "| {name} | 0 | | | | | | did not start: {} |",
                        one_line(outcome.failures.first().map(String::as_str).unwrap_or("?"))
                    );
                }
            }
        }
        for m in &self.missing {
            let _ = writeln!(out, "| {m} | missing | | | | | | |");
        }
        out.push('\n');
        // Item 3 of the deployment issue: what reading the secret adds to init.
        for (name, outcome) in rows {
            let reads: Vec<Duration> = outcome
                .secret_read_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect();
            if let Some(s) = Summary::of(&reads) {
                let _ = writeln!(
                    out,
                    "{name} reads the webhook secret from Secrets Manager (the emulator) at init: median {:.0} ms, p90 {:.0} ms of its starts above ({} reads).",
                    ms(s.p50),
                    ms(s.p90),
                    s.count
                );
            }
        }
        out.push('\n');
    }

    fn warm_section(&self, out: &mut String) {
        let Part::Done(w) = &self.warm else { return };
        let query: Vec<String> = warm::QUERY
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "## 3. Warm overhead\n\norder-search's handler in process (request in, response out) vs the raw DynamoDB Query calls it issues, \
             same emulator, interleaved; a user with {} orders, `?{}` ({} match). Budget: p50 ≤ {WARM_BUDGET:.2}× the raw Query.\n",
            w.own_orders,
            query.join("&"),
            w.matched
        );
        let _ = writeln!(out, "| | samples | p50 ms | p99 ms |\n|---|---:|---:|---:|");
        let _ = writeln!(
            out,
            "| order-search handler | {} | {:.2} | {:.2} |",
            w.handler.count,
            ms(w.handler.p50),
            ms(w.handler.p99)
        );
        let _ = writeln!(
            out,
            "| raw Query | {} | {:.2} | {:.2} |",
            w.raw.count,
            ms(w.raw.p50),
            ms(w.raw.p99)
        );
        let _ = writeln!(
            out,
            "| handler / raw | | {:.3}× | {:.3}× |\n| handler − raw | | {:+.2} ms | {:+.2} ms |\n",
            w.ratio_p50(),
            w.handler.p99.as_secs_f64() / w.raw.p99.as_secs_f64(),
            ms(w.handler.p50) - ms(w.raw.p50),
            ms(w.handler.p99) - ms(w.raw.p99),
        );
    }

    fn query_section(&self, out: &mut String) {
        let Part::Done(q) = &self.query else { return };
        let own = q.items.first().map(|i| i.own_orders).unwrap_or(0);
        let _ = writeln!(
            out,
            "## 4. Query cost\n\nA table with the OrdersTable's key schema{}, holding one user's {own} orders among {} orders of other users. \
            Items read = the Query's ScannedCount, summed over its pages (`OrderRepository::search`'s `items_read`). Budget: items read = own orders.\n",
            self.schema
                .as_ref()
                .map(|s| format!(
                    " ({})",
                    s.key_schema
                        .iter()
                        .map(|(n, k)| format!("{n} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .unwrap_or_default(),
            q.other_orders
        );
        let _ = writeln!(
            out,
            "| search | items read | own orders | ratio |\n|---|---:|---:|---:|"
        );
        for i in &q.items {
            let filter = if i.filter.is_empty() {
                "no name filter".to_owned()
            } else {
                format!("name={}", i.filter)
            };
            let _ = writeln!(
                out,
                "| {filter} (any page) | {} | {} | {:.2} |",
                i.items_read,
                i.own_orders,
                i.ratio()
            );
        }
        let _ = writeln!(
            out,
            "\nSearch latency by the user's own order count (handler, page 1 of 10, no filter), each user alone in a table of its own (an emulator may answer a Query by going through every item of the table; DynamoDB reads only the partition):\n"
        );
        let _ = writeln!(
            out,
            "| own orders | items read | searches | p50 ms | p99 ms | p50 per order µs |\n|---:|---:|---:|---:|---:|---:|"
        );
        for g in &q.growth {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} |",
                g.own_orders,
                g.items_read,
                g.latency.count,
                ms(g.latency.p50),
                ms(g.latency.p99),
                crate::query::per_order(g).as_secs_f64() * 1e6
            );
        }
        if let Some(t) = self.load_time {
            let _ = writeln!(
                out,
                "\n(Writing the measured user's and the other users' orders took {:.0} s.)",
                t.as_secs_f64()
            );
        }
        out.push('\n');
    }

    fn pipeline_section(&self, out: &mut String) {
        let _ = writeln!(out, "## 5. Pipeline\n");
        let p = match &self.pipeline {
            Part::Done(p) => p,
            Part::Failed(e) => {
                let _ = writeln!(out, "Not measured: {e}\n");
                return;
            }
            Part::NotRun => {
                let _ = writeln!(out, "Not run.\n");
                return;
            }
        };
        let r = &p.result;
        let _ = writeln!(
            out,
            "{} checkouts of .99 orders, {} in flight at once (`POST /api/v1/users/{{userId}}/orders/{{orderId}}/checkout`, Ewallet) through the local stack \
             (MiniStack's API Gateway and Scheduler → `cargo lambda watch`, debug builds, up to `LAMBDA_CONCURRENCY` instances per function (stack.sh: 2 by default) → MiniStack), e-wallet delay {}–{} s. \
             Final state: `pipeline::final_state` (the order paid and its process Completed with all its jobs), timed by the process's `updatedAtUtc`.\n",
            r.requested, r.concurrency, p.delays.0, p.delays.1
        );
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| warm-up | {} |", one_line(&p.warm_up));
        let _ = writeln!(
            out,
            "| checkouts answered 202 | {} of {} |",
            r.accepted, r.requested
        );
        for (kind, n) in &r.checkout_failures {
            let _ = writeln!(out, "| checkouts failed: {kind} | {n} |");
        }
        if let Some(s) = r.checkout_latency {
            let _ = writeln!(
                out,
                "| checkout response p50 / p99 | {:.0} / {:.0} ms |",
                ms(s.p50),
                ms(s.p99)
            );
        }
        let _ = writeln!(
            out,
            "| reached the final state | {} of {} |",
            r.completed, r.accepted
        );
        for (status, n) in &r.unfinished {
            let _ = writeln!(out, "| left in {status} | {n} |");
        }
        if let Some(s) = r.latency {
            let _ = writeln!(
                out,
                "| checkout → final state p50 / p99 | {:.2} / {:.2} s |",
                s.p50.as_secs_f64(),
                s.p99.as_secs_f64()
            );
        }
        if let Some(t) = r.orders_per_second {
            let _ = writeln!(out, "| throughput | {t:.1} orders/s |");
        }
        let _ = writeln!(
            out,
            "| bench's polls of the order (excluded below) | {} |",
            r.polls
        );
        let _ = writeln!(
            out,
            "| wall time (seeding {:.1} s) | {:.1} s |\n",
            r.seed_time.as_secs_f64(),
            r.wall.as_secs_f64()
        );
        if let Some(first) = &r.first_failure {
            let _ = writeln!(out, "First failure: {}\n", one_line(first));
        }
        match &p.accounting {
            Ok(books) => {
                let _ = writeln!(
                    out,
                    "Every order of the run, accepted or not, reconciled across the tables (`make stress`'s accounting):\n"
                );
                for line in books.lines() {
                    let _ = writeln!(out, "- {line}");
                }
                let _ = writeln!(out);
            }
            Err(e) => {
                let _ = writeln!(out, "The orders could not be reconciled: {}\n", one_line(e));
            }
        }
        self.calls_section(p, out);
    }

    fn calls_section(&self, p: &PipelineReport, out: &mut String) {
        let r = &p.result;
        let orders = r.accepted.max(1) as f64;
        let _ = writeln!(out, "### AWS calls and cost per order\n");
        let Some(calls) = &p.calls else {
            let _ = writeln!(
                out,
                "AWS API calls were not counted in this run: {}.\n",
                self.calls_note.as_deref().unwrap_or("no recording")
            );
            return;
        };
        let functions_tagged = calls.iter().any(|c| c.origin == Origin::Function);
        let counted: Vec<&Call> = calls
            .iter()
            .filter(|c| match c.origin {
                Origin::Function => true,
                Origin::Other => !functions_tagged,
                Origin::Bench => false,
            })
            .collect();
        let _ = writeln!(
            out,
            "Counted by the emulator (moto's request recorder) during the pipeline, {} calls in all; per accepted checkout ({}). {}\n",
            calls.len(),
            r.accepted,
            if functions_tagged {
                "Calls made inside a Lambda invocation (the SDK's `X-Amzn-Trace-Id`) are the functions'; the rest (the local runner standing in for AWS's event sources) are listed apart and not priced."
            } else {
                "No call carried a Lambda trace id, so every call but the bench's own is counted as the functions'."
            }
        );
        let mut by_op: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
        for c in &counted {
            let e = by_op
                .entry((c.service.clone(), c.operation.clone(), c.resource.clone()))
                .or_default();
            e.0 += 1;
            e.1 += c.units;
        }
        // The bench's polls go through order-get: one GetItem each on the orders table.
        if let Some(e) =
            by_op.get_mut(&("dynamodb".into(), "GetItem".into(), p.orders_table.clone()))
        {
            e.0 = e.0.saturating_sub(r.polls);
            e.1 = e.1.saturating_sub(r.polls);
        }
        let _ = writeln!(
            out,
            "| service | operation | resource | calls per order | units per order | $ per 1M orders | price used |\n|---|---|---|---:|---:|---:|---|"
        );
        let mut total = 0.0;
        for ((service, operation, resource), (count, units)) in &by_op {
            if *count == 0 {
                continue;
            }
            let price = cost::price_of(service, operation);
            let per_order_units = *units as f64 / orders;
            let dollars = price.map(|p| per_order_units * p.per_million);
            total += dollars.unwrap_or(0.0);
            let _ = writeln!(
                out,
                "| {service} | {operation} | {resource} | {:.2} | {per_order_units:.2} | {} | {} |",
                *count as f64 / orders,
                dollars
                    .map(|d| format!("{d:.2}"))
                    .unwrap_or_else(|| "–".into()),
                price
                    .map(|p| format!("${} per 1M: {}", p.per_million, p.what))
                    .unwrap_or_else(|| "not billed per call".into())
            );
        }
        let invocations: u64 = p
            .runner
            .invocations
            .values()
            .sum::<u64>()
            .saturating_sub(r.polls);
        let api: u64 = p
            .runner
            .api_requests
            .values()
            .sum::<u64>()
            .saturating_sub(r.polls);
        let inv_per_order = invocations as f64 / orders;
        let api_per_order = api as f64 / orders;
        let lambda_requests = inv_per_order * cost::LAMBDA_REQUEST.per_million;
        let lambda_duration =
            inv_per_order * 1e6 * cost::lambda_duration_cost(MEMORY_MB, ASSUMED_BILLED_MS);
        let http_api = api_per_order * cost::HTTP_API_REQUEST.per_million;
        let by_function: Vec<String> = p
            .runner
            .invocations
            .iter()
            .map(|(f, n)| {
                let n = if f == "order-get" {
                    n.saturating_sub(r.polls)
                } else {
                    *n
                };
                format!("{f} {:.2}", n as f64 / orders)
            })
            .collect();
        let _ = writeln!(
            out,
            "| lambda | invocations | {} | {inv_per_order:.2} | | {lambda_requests:.2} | ${} per 1M requests |",
            by_function.join(", "),
            cost::LAMBDA_REQUEST.per_million
        );
        let _ = writeln!(
            out,
            "| lambda | duration | {MEMORY_MB} MB arm64, **assumed** {ASSUMED_BILLED_MS:.0} ms billed each | | | {lambda_duration:.2} | ${} per GB-s |",
            cost::LAMBDA_GB_SECOND_ARM64
        );
        let _ = writeln!(
            out,
            "| apigateway | HTTP API requests | | {api_per_order:.2} | | {http_api:.2} | ${} per 1M: {} |",
            cost::HTTP_API_REQUEST.per_million,
            cost::HTTP_API_REQUEST.what
        );
        total += lambda_requests + lambda_duration + http_api;
        let _ = writeln!(out, "| **total** | | | | | **{total:.2}** | |\n");
        let _ = writeln!(
            out,
            "Lambda invocations and API requests are counted from the local runner's log (one line per invocation it made), minus the bench's {} polls. \
             Prices: {}.\n",
            r.polls,
            cost::PRICES_AS_OF
        );
        let others: BTreeMap<(String, String), u64> = calls
            .iter()
            .filter(|c| functions_tagged && c.origin == Origin::Other)
            .fold(BTreeMap::new(), |mut m, c| {
                *m.entry((c.service.clone(), c.operation.clone()))
                    .or_default() += 1;
                m
            });
        if !others.is_empty() {
            let list: Vec<String> = others
                .iter()
                .map(|((s, o), n)| format!("{s} {o} × {n}"))
                .collect();
            let _ = writeln!(
                out,
                "Calls from outside the functions (the local runner), not priced: {}.\n",
                list.join(", ")
            );
        }
    }
}

fn cold_ratios(rows: &[(String, cold::Outcome)]) -> Option<Vec<(String, f64)>> {
    let hello = rows
        .iter()
        .find(|(n, _)| n == HELLO)
        .and_then(|(_, o)| Summary::of(&o.samples))?;
    Some(
        rows.iter()
            .map(|(n, o)| {
                let ratio = Summary::of(&o.samples)
                    .map(|s| s.p50.as_secs_f64() / hello.p50.as_secs_f64())
                    .unwrap_or(f64::INFINITY);
                (n.clone(), ratio)
            })
            .collect(),
    )
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn one_line(text: &str) -> String {
    let line = text.replace(['\n', '|'], " ");
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}
