//! Functions are reached only through the Lambda Invoke API, so the runner works the same
//! against `cargo lambda watch`, `sam local start-lambda` or LocalStack.
//!
//! At most `max_in_flight` invocations per function are sent at once; the others wait here,
//! in arrival order. `cargo lambda watch` (1.9) queues invocations per function in a channel
//! of 100 and feeds them from one scheduler loop: once one function has 100 waiting, that
//! loop blocks and no function gets invoked, so checkout's nested call to payment-request
//! never arrives (measured: of 500 checkouts at once, at most one answered). Lambda scales out
//! instead; waiting here keeps watch's queues short so the other functions keep running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// A synchronous (`RequestResponse`) Invoke API client.
#[derive(Clone, Debug)]
pub struct Invoker {
    client: aws_sdk_lambda::Client,
    max_in_flight: usize,
    in_flight: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The Invoke API did not answer, or refused the call (unknown function, bad payload...).
    #[error("the Lambda endpoint failed: {0}")]
    Request(String),
    /// The function ran and failed (`X-Amz-Function-Error`): an error or a panic.
    #[error("the function failed ({kind}): {payload}")]
    Function { kind: String, payload: String },
}

impl Invoker {
    /// An Invoke API client for `endpoint`, from the shared AWS configuration. Invocations
    /// are not retried: the caller decides, as API Gateway and event sources do.
    pub fn new(sdk_config: &aws_config::SdkConfig, endpoint: &str, max_in_flight: usize) -> Self {
        let config = aws_sdk_lambda::config::Builder::from(sdk_config)
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .build();
        Self {
            client: aws_sdk_lambda::Client::from_conf(config),
            max_in_flight: max_in_flight.max(1),
            in_flight: Arc::default(),
        }
    }

    /// The gate of `function`'s invocations (tokio's semaphore is first come, first served).
    fn gate(&self, function: &str) -> Arc<Semaphore> {
        let mut gates = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        gates
            .entry(function.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.max_in_flight)))
            .clone()
    }

    /// Invokes `function` with the JSON `payload` and returns its response payload.
    #[tracing::instrument(level = "debug", skip(self, payload))]
    pub async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        // The semaphore is never closed, so acquiring only fails if that changes.
        let _permit = self
            .gate(function)
            .acquire_owned()
            .await
            .map_err(|e| InvokeError::Request(e.to_string()))?;
        let output = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| InvokeError::Request(describe(&e)))?;
        let payload = output.payload.map(Blob::into_inner).unwrap_or_default();
        match output.function_error {
            Some(kind) => Err(InvokeError::Function {
                kind,
                payload: String::from_utf8_lossy(&payload).into_owned(),
            }),
            None => Ok(payload),
        }
    }
}

/// The endpoint's own error code and message (or, if it sent none that the SDK reads, its
/// status and body), or the whole chain of a transport failure (connection refused...).
fn describe<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let service = context.err();
            match (service.code(), service.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                _ => {
                    let raw = context.raw();
                    let body = raw.body().bytes().map(String::from_utf8_lossy);
                    let body: String = body.unwrap_or_default().chars().take(500).collect();
                    format!("HTTP {}: {body}", raw.status().as_u16())
                }
            }
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    fn invoker(max_in_flight: usize) -> Invoker {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Invoker::new(&config, "http://127.0.0.1:9", max_in_flight)
    }

    #[test]
    fn each_function_has_its_own_gate_of_max_in_flight_permits() {
        let invoker = invoker(2);
        let checkout = invoker.gate("order-checkout");
        let first = checkout
            .clone()
            .try_acquire_owned()
            .expect("a first permit");
        let _second = checkout
            .clone()
            .try_acquire_owned()
            .expect("a second permit");
        assert!(
            invoker.gate("order-checkout").try_acquire_owned().is_err(),
            "a third checkout waits"
        );
        assert!(
            invoker.gate("payment-request").try_acquire_owned().is_ok(),
            "a busy function does not hold up another"
        );
        drop(first);
        assert!(invoker.gate("order-checkout").try_acquire_owned().is_ok());
    }

    #[test]
    fn zero_is_taken_as_one() {
        assert_eq!(invoker(0).gate("f").available_permits(), 1);
    }
}
