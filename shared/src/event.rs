//! The Lambda event loop of the functions behind no API (SQS, DynamoDB streams, Scheduler):
//! the same per-invocation wiring as `http::run`, business metrics flushed at each end.

use std::fmt::Debug;
use std::future::Future;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::{Serialize, de::DeserializeOwned};

/// Runs the Lambda event loop with `handler`, which gets each event with its context.
pub async fn run<A, R, E, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(LambdaEvent<A>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    A: DeserializeOwned,
    R: Serialize,
    E: Into<Diagnostic> + Debug,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| async move {
        crate::metrics::start_invocation(&event.context.request_id);
        // Boxed: nesting a handler's deep future (the reconciler's) in this one overflowed
        // the compiler's query depth limit; one allocation per invocation is nothing.
        let result = Box::pin(handler(event)).await;
        crate::metrics::flush();
        result
    }))
    .await
}
