//! The one HTTP client for calls between services: per-attempt timeouts, retries with
//! jittered exponential backoff on transient failures (5xx, 408, 429, connection errors),
//! the caller's correlation id, an idempotency key so a retried call has one effect, and
//! SigV4 signing for API Gateway's IAM authorization of internal routes.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::{RetryTransientMiddleware, policies::ExponentialBackoff};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CorrelationId;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Debug, Clone, Copy)]
pub struct RetrySettings {
    pub attempt_timeout: Duration,
    pub max_retries: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(5),
            max_retries: 3,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("could not build the HTTP client")]
    Build(#[source] reqwest::Error),
    #[error("could not set up TLS")]
    Tls(#[source] rustls::Error),
    #[error("no AWS credentials to sign the call with")]
    Credentials(#[source] aws_credential_types::provider::error::CredentialsError),
    #[error("could not sign the call")]
    Sign(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("call to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest_middleware::Error,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// Our own request body could not be serialised: nothing was sent.
    #[error("the body for {url} could not be serialised")]
    Encode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    /// A 2xx came back, but its body is not the expected JSON.
    #[error("{url} answered a body that is not the expected JSON")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

impl CallError {
    /// The status the called service answered, if it answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Signs calls as the function's IAM role, for routes behind `AWS_IAM` authorization.
#[derive(Debug, Clone)]
struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

#[derive(Debug, Clone)]
pub struct ServiceClient {
    http: ClientWithMiddleware,
    signer: Option<Signer>,
}

/// What travels with every call: who started it, and what makes a retry the same call.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    pub correlation_id: &'a CorrelationId,
    pub idempotency_key: &'a str,
}

impl ServiceClient {
    /// Built once per cold start. Calls are signed when the SDK config has credentials.
    pub fn new(sdk: &aws_config::SdkConfig, retry: RetrySettings) -> Result<Self, CallError> {
        let signer = sdk.credentials_provider().map(|credentials| Signer {
            credentials,
            region: sdk
                .region()
                .map(ToString::to_string)
                .unwrap_or_else(|| "us-east-1".to_owned()),
        });
        Self::build(signer, retry)
    }

    /// A client that does not sign (calls to services outside AWS, such as the e-wallet's
    /// webhook target).
    pub fn unsigned(retry: RetrySettings) -> Result<Self, CallError> {
        Self::build(None, retry)
    }

    fn build(signer: Option<Signer>, retry: RetrySettings) -> Result<Self, CallError> {
        let inner = http_builder()?
            .timeout(retry.attempt_timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(CallError::Build)?;
        let policy = ExponentialBackoff::builder()
            .retry_bounds(retry.min_backoff, retry.max_backoff)
            .build_with_max_retries(retry.max_retries);
        let http = ClientBuilder::new(inner)
            .with(RetryTransientMiddleware::new_with_policy(policy))
            .build();
        Ok(Self { http, signer })
    }

    /// POSTs `body` as JSON and parses a 2xx answer as `R`. Any other status is
    /// `CallError::Status` (after retries for transient ones).
    #[tracing::instrument(skip(self, body, ctx), fields(idempotency_key = ctx.idempotency_key))]
    pub async fn post_json<B: Serialize, R: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
        ctx: CallContext<'_>,
    ) -> Result<R, CallError> {
        let payload = serde_json::to_vec(body).map_err(|source| CallError::Encode {
            url: url.to_owned(),
            source,
        })?;
        self.post_bytes(url, payload, &[], ctx).await
    }

    /// POSTs raw bytes (already serialised, e.g. because a signature covers them).
    pub async fn post_bytes<R: DeserializeOwned>(
        &self,
        url: &str,
        payload: Vec<u8>,
        extra_headers: &[(&str, String)],
        ctx: CallContext<'_>,
    ) -> Result<R, CallError> {
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            (
                crate::correlation::HEADER.into(),
                ctx.correlation_id.to_string(),
            ),
            (IDEMPOTENCY_KEY.into(), ctx.idempotency_key.to_owned()),
        ];
        headers.extend(
            extra_headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone())),
        );
        if let Some(signer) = &self.signer {
            headers.extend(signer.sign("POST", url, &headers, &payload).await?);
        }
        let mut request = self.http.post(url).body(payload);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|source| CallError::Transport {
                url: url.to_owned(),
                source,
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| CallError::Transport {
                url: url.to_owned(),
                source: source.into(),
            })?;
        if !status.is_success() {
            return Err(CallError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                // Bounded: the body only goes to logs.
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| CallError::Decode {
            url: url.to_owned(),
            source,
        })
    }
}

impl Signer {
    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, CallError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(CallError::Credentials)?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CallError::Sign(Box::new(e)))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| CallError::Sign(Box::new(e)))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| CallError::Sign(Box::new(e)))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }
}

/// A reqwest builder on this crate's TLS set-up. reqwest is built without a default crypto
/// provider (it would bring aws-lc), so every client starts here.
pub fn http_builder() -> Result<reqwest::ClientBuilder, CallError> {
    let tls = tls_config().map_err(CallError::Tls)?;
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

/// rustls on ring with Mozilla's roots compiled in (webpki-roots): the same trust as a
/// browser for services outside AWS, without reading the system's CA store at init.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_that_cannot_be_serialised_is_an_encoding_failure_and_nothing_is_sent() {
        let client = ServiceClient::unsigned(RetrySettings::default()).unwrap();
        // JSON object keys must be strings: serde_json refuses a map keyed by pairs.
        let body = std::collections::BTreeMap::from([((1, 2), 3)]);
        let correlation_id = CorrelationId::generate();
        let ctx = CallContext {
            correlation_id: &correlation_id,
            idempotency_key: "k",
        };
        let err = client
            .post_json::<_, serde_json::Value>("http://127.0.0.1:9/unreachable", &body, ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Encode { .. }), "{err:?}");
    }
}
