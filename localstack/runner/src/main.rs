//! `local-runner`: on one machine, does what AWS does between the functions of
//! template.yaml, reading the stack that `localstack/provision.py` describes in
//! `.local/stack.json`. Each event source is a sibling service here: the HttpApi routes and
//! the EventBridge Scheduler poller (SQS queues fit beside them). Functions are reached
//! only through the Lambda Invoke API. No business logic lives here.

mod http_api;
mod invoke;
mod scheduler;
mod shutdown;
mod stack;

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use aws_sdk_lambda::config::{Credentials, Region};
use clap::Parser;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing_subscriber::EnvFilter;

use http_api::HttpApiServer;
use invoke::Invoker;
use scheduler::SchedulerPoller;
use stack::{EventSource, FunctionNames, Stack};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Serves the stack's event sources locally and invokes its functions through the Lambda Invoke API."
)]
struct Args {
    /// The stack description written by localstack/provision.py.
    #[arg(long, env = "LOCAL_RUNNER_STACK", default_value = ".local/stack.json")]
    stack: PathBuf,
    /// The Lambda Invoke API (cargo lambda watch; sam local start-lambda: :3001; LocalStack: :4566).
    #[arg(
        long,
        env = "LOCAL_RUNNER_LAMBDA_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    lambda_endpoint: String,
    /// How the Lambda endpoint names functions.
    #[arg(long, value_enum, default_value_t = FunctionNames::Binary)]
    function_names: FunctionNames,
    /// Where to serve the HttpApi routes.
    #[arg(long, env = "LOCAL_RUNNER_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// The AWS emulator, whose Scheduler API is polled (default: the stack's EndpointUrl).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    aws_endpoint: Option<String>,
    /// The emulator's region (default: the stack's Region).
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// How often to poll the emulator for EventBridge Scheduler schedules, in milliseconds.
    #[arg(
        long,
        env = "LOCAL_RUNNER_SCHEDULER_POLL_MS",
        default_value_t = 250,
        value_parser = clap::value_parser!(u64).range(10..)
    )]
    scheduler_poll_ms: u64,
    /// Invocations sent to the Lambda endpoint at once per function; more wait in the runner.
    /// Keep it under 100: cargo lambda watch stalls every function when one has 100 queued.
    #[arg(
        long,
        env = "LOCAL_RUNNER_MAX_IN_FLIGHT",
        default_value_t = 32,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    max_in_flight: u32,
    /// Do not fire schedules (for an emulator that fires them itself, such as LocalStack).
    #[arg(long, env = "LOCAL_RUNNER_NO_SCHEDULER")]
    no_scheduler: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LOCAL_RUNNER_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let stack = Stack::load(&args.stack)?;
    let functions = stack.functions(args.function_names)?;
    report_unserved_events(&functions);

    let aws_endpoint = args
        .aws_endpoint
        .clone()
        .unwrap_or_else(|| stack.endpoint_url.clone());
    let region = args.region.clone().unwrap_or_else(|| stack.region.clone());
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        // The emulator is plain HTTP on localhost: no TLS stack needed.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .region(Region::new(region))
        .credentials_provider(Credentials::new("test", "test", None, None, "local-runner"))
        .endpoint_url(&aws_endpoint)
        .load()
        .await;
    let invoker = Invoker::new(
        &sdk_config,
        &args.lambda_endpoint,
        usize::try_from(args.max_in_flight).unwrap_or(usize::MAX),
    );

    let (trigger, shutdown) = shutdown::channel();
    let mut services = JoinSet::new();

    let http = HttpApiServer::new(&stack, &functions, invoker.clone(), args.listen)?;
    if http.is_empty() {
        tracing::info!("the stack declares no HttpApi routes");
    } else {
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let url = format!("http://{}", args.listen);
        if url != stack.api_url.trim_end_matches('/') {
            tracing::warn!(
                "functions were told the API is at {} (provision.py --api-url) but it is served at {url}",
                stack.api_url
            );
        }
        println!(
            "HttpApi routes of stack {} on {url} (in matching order), invoked through {}:\n{}",
            stack.stack_name,
            args.lambda_endpoint,
            http.describe()
        );
        services.spawn(http.run(listener, shutdown.clone()));
    }

    let poll = Duration::from_millis(args.scheduler_poll_ms);
    let scheduler = SchedulerPoller::new(&sdk_config, &functions, invoker.clone(), poll);
    if args.no_scheduler {
        tracing::info!("EventBridge Scheduler schedules are not fired (--no-scheduler)");
    } else if !scheduler.has_targets() {
        tracing::info!("no function of the stack has an Arn: no schedule can target one");
    } else {
        println!(
            "EventBridge Scheduler poller active: every {} ms, lists the schedules of {aws_endpoint} \
             and fires due one-time at() schedules whose target is one of these functions, \
             invoked through {}:\n{}",
            poll.as_millis(),
            args.lambda_endpoint,
            scheduler.describe()
        );
        services.spawn(scheduler.run(shutdown.clone()));
    }

    if services.is_empty() {
        anyhow::bail!("nothing to run: the stack has no event source this runner serves");
    }

    tokio::select! {
        () = shutdown::signal() => tracing::info!("shutting down"),
        Some(finished) = services.join_next() => {
            trigger.fire();
            finished.context("a service panicked")??;
        }
    }
    trigger.fire();
    while let Some(finished) = services.join_next().await {
        finished.context("a service panicked")??;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Lists, once, the event sources of the stack this runner does not serve.
fn report_unserved_events(functions: &[stack::Function]) {
    let mut unserved: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for function in functions {
        for event in &function.events {
            if let EventSource::Other { kind } = &event.source {
                unserved.entry(kind).or_default().push(&function.logical_id);
            }
        }
    }
    for (kind, functions) in unserved {
        tracing::warn!(
            "{kind} events are not served by the local runner: {}",
            functions.join(", ")
        );
    }
}
