//! `make bench`: measures every function of template.yaml against the budgets of the
//! performance issue, side by side in one run, prints a table and writes BENCHMARKS.md.
//!
//! localstack/bench.sh starts the stack and builds the release artifacts (all binaries
//! in one `cargo lambda build`), then runs this binary from the workspace root.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod calls;
mod cold;
mod cost;
mod dataset;
mod event;
mod pipeline;
mod query;
mod report;
mod size;
mod stack;
mod stats;
mod warm;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use report::{Part, Report};

pub const HELLO: &str = "bench-hello";

#[derive(Debug, Parser)]
#[command(
    about = "Measures size, cold start, warm overhead, query cost and pipeline throughput of the functions."
)]
struct Args {
    /// A seconds-long check that every part works (small numbers; writes to .local/bench/).
    #[arg(long)]
    smoke: bool,
    /// The workspace root (template.yaml, .local/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Cargo's target directory.
    #[arg(long, env = "CARGO_TARGET_DIR", default_value = "target")]
    target_dir: PathBuf,
    /// The target triple the release artifacts were built for.
    #[arg(long, default_value = "x86_64-unknown-linux-gnu")]
    triple: String,
    /// How long the release build of this run took (measured by bench.sh).
    #[arg(long)]
    build_seconds: Option<f64>,
    /// What the build was (fresh, incremental...), for the report.
    #[arg(long, default_value = "")]
    build_note: String,
    /// Measured cold starts per binary (after 2 unmeasured ones).
    #[arg(long, default_value_t = 25)]
    starts: usize,
    /// Checkouts of the pipeline.
    #[arg(long, default_value_t = 500)]
    orders: usize,
    /// Checkouts in flight at once (by default all of them: 500 concurrent checkouts).
    #[arg(long, default_value_t = 500)]
    concurrency: usize,
    /// How long the pipeline may take to bring every order to its final state.
    #[arg(long, default_value_t = 180)]
    pipeline_timeout: u64,
    /// Parts to leave out: size, cold, warm, query, pipeline.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// The local stack's public API (the stack's `ApiUrl` output; bench.sh passes it).
    #[arg(long, env = "API_URL")]
    api_url: String,
    /// Where to write the report (default: BENCHMARKS.md; with --smoke, .local/bench/BENCHMARKS.smoke.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The command that ran the bench, for the report.
    #[arg(long, default_value = "make bench")]
    command: String,
    /// How the stack was found (started by the bench, or already running), for the report.
    #[arg(long, default_value = "")]
    stack_note: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(report) if report.failed_parts().is_empty() => ExitCode::SUCCESS,
        Ok(report) => {
            eprintln!(
                "[bench] some parts could not be measured: {}",
                report.failed_parts().join(", ")
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("[bench] error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Scale {
    warm_iterations: usize,
    other_users: usize,
    orders_per_other_user: usize,
    own_orders: usize,
    growth: Vec<usize>,
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let started = Instant::now();
    let root = args.root.canonicalize().context("the workspace root")?;
    let scale = if args.smoke {
        Scale {
            warm_iterations: 20,
            other_users: 40,
            orders_per_other_user: 50,
            own_orders: 200,
            growth: vec![50, 500],
        }
    } else {
        Scale {
            warm_iterations: 200,
            other_users: 2_000,
            orders_per_other_user: 50,
            own_orders: 200,
            growth: vec![50, 500, 5_000],
        }
    };
    let (starts, orders) = if args.smoke {
        (args.starts.min(3), args.orders.min(5))
    } else {
        (args.starts, args.orders)
    };
    let skip = |part: &str| args.skip.iter().any(|s| s == part);
    let functions = stack::template_functions(&root)?;
    let artifacts = size::Artifacts {
        target_dir: if args.target_dir.is_absolute() {
            args.target_dir.clone()
        } else {
            root.join(&args.target_dir)
        },
        triple: args.triple.clone(),
    };
    let stack = stack::Stack::load(&root).ok();
    let env = stack::functions_env(&root).unwrap_or_default();
    let log_dir = root.join(".local/bench");
    std::fs::create_dir_all(&log_dir)?;

    let mut report = Report::new(&root, &args.command, args.smoke);
    report.build_seconds = args.build_seconds;
    report.build_note = args.build_note.clone();
    report.stack_note = args.stack_note.clone();
    report.functions = functions.iter().map(|f| f.binary.clone()).collect();
    report.deploy_architectures = stack
        .as_ref()
        .and_then(|s| functions.first().map(|f| s.architectures(&f.logical_id)))
        .unwrap_or_default();
    if !skip("size") || !skip("cold") {
        report.missing = functions
            .iter()
            .filter(|f| !artifacts.built(&f.binary))
            .map(|f| f.binary.clone())
            .collect();
    }
    for name in &report.missing {
        eprintln!(
            "[bench] {name}: no release artifacts from this run's build (it does not compile yet?): reported as missing"
        );
    }
    let built: Vec<&stack::Function> = functions
        .iter()
        .filter(|f| artifacts.built(&f.binary))
        .collect();

    // 1. Size
    if !skip("size") {
        let part = Instant::now();
        let mut rows = Vec::new();
        for name in built.iter().map(|f| f.binary.as_str()).chain([HELLO]) {
            if let Some(row) = size::measure(&artifacts, name) {
                rows.push(row);
            }
        }
        report.size = if artifacts.built(HELLO) {
            Part::Done(rows)
        } else {
            Part::Failed(format!(
                "no release build of {HELLO} in {}",
                artifacts.target_dir.display()
            ))
        };
        report.timing("size", part.elapsed());
    }

    // 2. Cold start
    if !skip("cold") {
        let part = Instant::now();
        report.cold = match cold_targets(&built, stack.as_ref(), &env, &artifacts) {
            Ok(targets) => {
                eprintln!(
                    "[bench] cold start: {starts} starts of {} binaries, interleaved",
                    targets.len()
                );
                let outcomes = cold::measure(&targets, 2, starts, &log_dir);
                Part::Done(
                    targets
                        .iter()
                        .map(|t| t.name.clone())
                        .zip(outcomes)
                        .collect(),
                )
            }
            Err(e) => Part::Failed(format!("{e:#}")),
        };
        report.timing("cold start", part.elapsed());
    }

    // 3 and 4 share the bench's own orders table.
    if !skip("warm") || !skip("query") {
        let part = Instant::now();
        match emulator_parts(&scale, stack.as_ref(), &env, &skip, &mut report).await {
            Ok(()) => {}
            Err(e) => {
                let message = format!("{e:#}");
                if !skip("warm") && report.warm.is_pending() {
                    report.warm = Part::Failed(message.clone());
                }
                if !skip("query") && report.query.is_pending() {
                    report.query = Part::Failed(message);
                }
            }
        }
        report.timing("warm overhead and query cost", part.elapsed());
    }

    // 5. Pipeline
    if !skip("pipeline") {
        let part = Instant::now();
        report.pipeline =
            match pipeline_part(&args, &root, orders, stack.as_ref(), &env, &mut report).await {
                Ok(result) => Part::Done(result),
                Err(e) => Part::Failed(format!("{e:#}")),
            };
        report.timing("pipeline", part.elapsed());
    }

    report.total = started.elapsed();
    let out = args.out.clone().unwrap_or_else(|| {
        if args.smoke {
            log_dir.join("BENCHMARKS.smoke.md")
        } else {
            root.join("BENCHMARKS.md")
        }
    });
    println!("{}", report.console());
    let notes = std::fs::read_to_string(root.join("tests/bench/NOTES.md")).unwrap_or_default();
    std::fs::write(&out, report.markdown(&notes))
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "[bench] wrote {} in {:.0} s",
        out.display(),
        report.total.as_secs_f64()
    );
    Ok(report)
}

fn cold_targets(
    built: &[&stack::Function],
    stack: Option<&stack::Stack>,
    env: &BTreeMap<String, String>,
    artifacts: &size::Artifacts,
) -> anyhow::Result<Vec<cold::Target>> {
    let region = env
        .get("AWS_REGION")
        .cloned()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut targets = Vec::new();
    let hello_vars = BTreeMap::from([("RUST_LOG".to_owned(), "info".to_owned())]);
    if !artifacts.built(HELLO) {
        anyhow::bail!("{HELLO} was not built: nothing to compare with");
    }
    targets.push(cold::Target {
        name: HELLO.to_owned(),
        binary: artifacts.binary(HELLO),
        args: Vec::new(),
        env: cold::lambda_env(HELLO, 128, &region, &hello_vars),
    });
    for function in built {
        let (name, memory, vars) = match stack {
            Some(s) if s.physical_id(&function.logical_id).is_some() => (
                s.physical_id(&function.logical_id).unwrap_or_default(),
                s.memory_size(&function.logical_id),
                s.function_env(&function.logical_id),
            ),
            _ => {
                eprintln!(
                    "[bench] {} is not in .local/stack.json (provision again): started without its template variables",
                    function.binary
                );
                (function.binary.clone(), 128, BTreeMap::new())
            }
        };
        let vars = with_init_endpoint(vars, env);
        targets.push(cold::Target {
            name: function.binary.clone(),
            binary: artifacts.binary(&function.binary),
            args: Vec::new(),
            env: cold::lambda_env(&name, memory, &region, &vars),
        });
    }
    Ok(targets)
}

/// A function that reads the webhook secret calls Secrets Manager during init: on AWS one
/// in-region call, here the emulator's (the real endpoint is out of reach, and init would
/// fail). Other functions make no call before `/next` and get no endpoint.
fn with_init_endpoint(
    mut vars: BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    if vars.contains_key("WEBHOOK_SECRET_ARN")
        && let Some(endpoint) = env.get("AWS_ENDPOINT_URL")
    {
        vars.insert("AWS_ENDPOINT_URL".to_owned(), endpoint.clone());
    }
    vars
}

async fn emulator_config(env: &BTreeMap<String, String>) -> anyhow::Result<aws_config::SdkConfig> {
    let endpoint = env
        .get("AWS_ENDPOINT_URL")
        .context("AWS_ENDPOINT_URL is not in .local/functions.env: start the stack")?;
    let region = env
        .get("AWS_REGION")
        .cloned()
        .unwrap_or_else(|| "us-east-1".to_owned());
    Ok(shared::aws::loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_credential_types::Credentials::from_keys(
            "test", "test", None,
        ))
        // Marks the bench's own calls in the emulator's recording.
        .app_name(aws_config::AppName::new("bench")?)
        .load()
        .await)
}

async fn emulator_parts(
    scale: &Scale,
    stack: Option<&stack::Stack>,
    env: &BTreeMap<String, String>,
    skip: &dyn Fn(&str) -> bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let stack = stack.context(".local/stack.json is missing: start the stack")?;
    let orders_table = env
        .get("ORDERS_TABLE")
        .context("ORDERS_TABLE is not in .local/functions.env")?;
    let schema = stack.table_schema(orders_table)?;
    let config = emulator_config(env).await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    eprintln!(
        "[bench] tables like {} ({})",
        schema.logical_id,
        schema
            .key_schema
            .iter()
            .map(|(n, k)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    report.schema = Some(schema.clone());
    // An emulator may answer a Query by going through every item of the table (DynamoDB reads only
    // the partition), so latencies are measured on tables that hold only the measured
    // user, and the other users' orders are added for the items-read check only.
    let mut data = dataset::Dataset::create(&client, &schema, scale.own_orders)
        .await
        .context("loading the bench table")?;
    let outcome = async {
        if !skip("warm") {
            eprintln!(
                "[bench] warm overhead: {} interleaved pairs",
                scale.warm_iterations
            );
            report.warm = match warm::measure(&data, 20, scale.warm_iterations).await {
                Ok(r) => Part::Done(r),
                Err(e) => Part::Failed(format!("{e:#}")),
            };
        }
        if !skip("query") {
            let mut growth = Vec::new();
            for &count in &scale.growth {
                eprintln!("[bench] query cost: search latency of a user with {count} orders");
                let iterations = if count >= 5_000 {
                    5
                } else if count >= 500 {
                    20
                } else {
                    40
                };
                growth.push(query::growth(&client, &schema, count, iterations).await?);
            }
            eprintln!(
                "[bench] query cost: adding {} orders of {} other users",
                scale.other_users * scale.orders_per_other_user,
                scale.other_users
            );
            data.add_other_users(scale.other_users, scale.orders_per_other_user)
                .await?;
            report.query = Part::Done(report::QueryResult {
                items: query::items_read(&data).await?,
                growth,
                other_orders: data.other_orders,
            });
        }
        anyhow::Ok(())
    }
    .await;
    report.load_time = Some(data.load_time);
    if let Err(e) = data.delete().await {
        eprintln!("[bench] {e:#}");
    }
    outcome
}

async fn pipeline_part(
    args: &Args,
    root: &std::path::Path,
    orders: usize,
    stack: Option<&stack::Stack>,
    env: &BTreeMap<String, String>,
    report: &mut Report,
) -> anyhow::Result<report::PipelineReport> {
    let stack = stack.context(".local/stack.json is missing: start the stack")?;
    let delays = (
        stack
            .parameter("EwalletMinDelaySeconds")
            .unwrap_or_default(),
        stack
            .parameter("EwalletMaxDelaySeconds")
            .unwrap_or_default(),
    );
    let reachable = shared::client::http_builder()?
        .build()?
        .get(format!("{}/", args.api_url))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    if let Err(e) = reachable {
        anyhow::bail!(
            "the local stack's API {} does not answer ({e}): start it with `bash localstack/stack.sh up`",
            args.api_url
        );
    }
    let config = emulator_config(env).await?;
    let table = env
        .get("ORDERS_TABLE")
        .context("ORDERS_TABLE is not in .local/functions.env")?;
    let repo =
        order::DynamoDbOrderRepository::new(aws_sdk_dynamodb::Client::new(&config), table.clone());
    let processes = order::DynamoDbProcessRepository::new(
        aws_sdk_dynamodb::Client::new(&config),
        env.get("PROCESSES_TABLE")
            .context("PROCESSES_TABLE is not in .local/functions.env")?
            .clone(),
    );
    let settings = pipeline::Settings {
        api_url: args.api_url.trim_end_matches('/').to_owned(),
        orders,
        concurrency: args.concurrency,
        timeout: Duration::from_secs(args.pipeline_timeout),
        poll_interval: Duration::from_millis(300),
        poll_batch: 8,
        poll_concurrency: 4,
    };
    // One order through the whole pipeline first, unmeasured: under `cargo lambda watch`
    // each function's process starts on its first invocation, which is the stack's
    // warm-up, not the pipeline's throughput.
    eprintln!("[bench] pipeline: warming the stack up with one checkout");
    let warm_up = pipeline::run(
        &settings,
        &repo,
        &processes,
        pipeline::seed(&repo, 1).await?,
    )
    .await?;
    let warm_up_note = match (&warm_up.first_failure, warm_up.completed) {
        (_, 1) => format!(
            "one unmeasured checkout first warmed the stack up ({:.1} s to its final state)",
            warm_up
                .latency
                .map(|s| s.p50.as_secs_f64())
                .unwrap_or_default()
        ),
        (Some(failure), _) => format!("the warm-up checkout failed: {failure}"),
        (None, _) => format!(
            "the warm-up checkout did not reach its final state within {} s",
            args.pipeline_timeout
        ),
    };
    let seeding = Instant::now();
    let seeded = pipeline::seed(&repo, orders).await?;
    let seed_time = seeding.elapsed();
    eprintln!(
        "[bench] pipeline: {orders} .99 checkouts, {} in flight, through {} (e-wallet delay {}-{} s)",
        settings.concurrency, args.api_url, delays.0, delays.1
    );

    let endpoint = env.get("AWS_ENDPOINT_URL").cloned().unwrap_or_default();
    let recorder_problem = calls::unavailable_reason(root);
    let recorder = calls::Recorder::new(&endpoint)?;
    let recording = match &recorder_problem {
        None => match recorder.start().await {
            Ok(()) => true,
            Err(e) => {
                report.calls_note = Some(format!("the emulator's recorder did not start: {e:#}"));
                false
            }
        },
        Some(reason) => {
            report.calls_note = Some(reason.clone());
            false
        }
    };
    let runner_log = root.join(".local/logs/runner.log");
    let log_from = pipeline::log_offset(&runner_log);

    let stack_env = stress::env::StackEnv::load(root);
    let gate_url = stack_env
        .as_ref()
        .ok()
        .and_then(|e| e.get("GATE_URL").ok())
        .map(str::to_owned);
    let gate_before = match (&stack_env, &gate_url) {
        (Ok(_), Some(url)) => stress::gate::GateStats::read(&http_client()?, url)
            .await
            .ok(),
        _ => None,
    };
    let result = pipeline::run(&settings, &repo, &processes, seeded).await;
    // Let calls that were under way finish before the recording stops.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = if recording {
        match recorder.stop().await {
            Ok(calls) => Some(calls),
            Err(e) => {
                report.calls_note = Some(format!("reading the emulator's recording failed: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    let mut result = result?;
    result.seed_time = seed_time;
    let accounting = reconcile(
        stack_env,
        gate_url.as_deref(),
        gate_before,
        &result.checkouts,
        settings.timeout,
    )
    .await
    .map_err(|e| format!("{e:#}"));
    Ok(report::PipelineReport {
        result,
        delays,
        calls,
        runner: pipeline::read_runner_log(&runner_log, log_from),
        orders_table: table.clone(),
        warm_up: warm_up_note,
        accounting,
    })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(shared::client::http_builder()?
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Every order of the pipeline, accepted or not, settled and reconciled as `make stress`
/// does: the bench's own polls followed only the accepted ones.
async fn reconcile(
    env: anyhow::Result<stress::env::StackEnv>,
    gate_url: Option<&str>,
    gate_before: Option<stress::gate::GateStats>,
    checkouts: &[stress::burst::Checkout],
    limit: Duration,
) -> anyhow::Result<stress::accounting::Accounting> {
    let env = env?;
    let reader = stress::accounting::Reader::new(&env).await?;
    reader.settle(checkouts, limit).await;
    let ghosts = match (gate_url, gate_before) {
        (Some(url), Some(before)) => stress::gate::GateStats::read(&http_client()?, url)
            .await?
            .since(&before)
            .ghosts(),
        _ => anyhow::bail!("the invocation gate's counts could not be read (GATE_URL)"),
    };
    stress::accounting::account(&reader, checkouts, ghosts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_function_that_reads_the_secret_at_init_is_pointed_at_the_emulator() {
        let env = BTreeMap::from([(
            "AWS_ENDPOINT_URL".to_owned(),
            "http://127.0.0.1:4566".to_owned(),
        )]);
        let reader = BTreeMap::from([("WEBHOOK_SECRET_ARN".to_owned(), "s".to_owned())]);
        let other = BTreeMap::from([("ORDERS_TABLE".to_owned(), "t".to_owned())]);
        assert_eq!(
            with_init_endpoint(reader, &env)
                .get("AWS_ENDPOINT_URL")
                .map(String::as_str),
            Some("http://127.0.0.1:4566")
        );
        assert!(!with_init_endpoint(other, &env).contains_key("AWS_ENDPOINT_URL"));
    }
}
