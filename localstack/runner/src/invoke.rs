//! Functions are reached only through the Lambda Invoke API, so the runner works the same
//! against `cargo lambda watch`, `sam local start-lambda` or LocalStack.

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// A synchronous (`RequestResponse`) Invoke API client.
#[derive(Clone, Debug)]
pub struct Invoker {
    client: aws_sdk_lambda::Client,
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
    pub fn new(sdk_config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_lambda::config::Builder::from(sdk_config)
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .build();
        Self {
            client: aws_sdk_lambda::Client::from_conf(config),
        }
    }

    /// Invokes `function` with the JSON `payload` and returns its response payload.
    #[tracing::instrument(level = "debug", skip(self, payload))]
    pub async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
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
