//! The one HTTP client for calls between services: per-attempt timeouts, retries with
//! jittered exponential backoff on transient failures (5xx, 408, 429, connection errors),
//! the caller's correlation id, an idempotency key so a retried call has one effect, and
//! SigV4 signing for API Gateway's IAM authorization of internal routes.
//!
//! The retry loop is written here rather than taken from a middleware: its sleeps are
//! tokio's, its jitter comes from an `Entropy` and its signing time from a `Clock`, so a
//! simulation with paused time and seeded randomness replays every call exactly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entropy::{Entropy, SystemEntropy};
use crate::transport::{Outgoing, ReqwestTransport, Transport, TransportError};
use crate::{Clock, CorrelationId, SystemClock};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// When the caller stops waiting for this attempt (ms since the epoch): the callee's work
/// is due by then (`shared::http::invocation_deadline_ms`). Sent with each attempt, after
/// signing: SigV4 lets unsigned headers through, and each attempt has its own.
pub const CALL_DEADLINE: &str = "x-call-deadline";

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
        source: TransportError,
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

    /// True only when the call certainly changed nothing at the callee: it was never
    /// sent, or the callee refused it (a 4xx other than timeout, conflict, too early or
    /// too many requests). A timeout, a 5xx, a lost connection or an unreadable 2xx may
    /// have done the work: callers must treat those as "outcome unknown".
    pub fn changed_nothing(&self) -> bool {
        match self {
            Self::Build(_) | Self::Tls(_) | Self::Credentials(_) | Self::Sign(_) => true,
            Self::Encode { .. } => true,
            Self::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 409 | 425 | 429)
            }
            Self::Transport { .. } | Self::Decode { .. } => false,
        }
    }
}

/// How long a call may take, retries included: what is left of the invocation (its
/// deadline in ms since the epoch, as `lambda_runtime::Context::deadline`) minus `margin`
/// to record what happened, and never more than `cap`. Caps nest: a callee's cap is below
/// its caller's, so a caller never gives up on a callee that is still within its budget
/// (e-wallet and confirm-payment calls 5 s < checkout's payment call 8 s).
///
/// Without a deadline, or with one already past when the invocation started (Lambda never
/// gives one; `cargo lambda watch` sends a fixed 600000, i.e. 1970), `cap` applies.
pub fn call_budget(
    deadline_ms: Option<u64>,
    now_ms: i64,
    margin: Duration,
    cap: Duration,
) -> Duration {
    let now_ms = u64::try_from(now_ms).unwrap_or(0);
    match deadline_ms {
        Some(deadline) if deadline > now_ms => Duration::from_millis(deadline - now_ms)
            .saturating_sub(margin)
            .min(cap),
        _ => cap,
    }
}

tokio::task_local! {
    /// When the call running in this task must be over (`within`): no attempt outlasts it.
    static CALL_DUE: tokio::time::Instant;
}

/// Runs `call`, a few `ServiceClient` calls, within `budget`. Each attempt inside it ends
/// by then and says so in its `CALL_DEADLINE`, so a callee never works for a caller that
/// has stopped waiting. Nested, the earlier end wins.
pub async fn within<F: Future>(
    budget: Duration,
    call: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut due = tokio::time::Instant::now() + budget;
    if let Ok(outer) = CALL_DUE.try_with(|outer| *outer) {
        due = due.min(outer);
    }
    tokio::time::timeout_at(due, CALL_DUE.scope(due, call)).await
}

/// How long the next attempt may wait: the retry settings' attempt timeout, cut to what is
/// left of an enclosing `within`.
fn attempt_timeout(retry: &RetrySettings) -> Duration {
    match CALL_DUE.try_with(|due| due.saturating_duration_since(tokio::time::Instant::now())) {
        Ok(left) => retry.attempt_timeout.min(left),
        Err(_) => retry.attempt_timeout,
    }
}

/// Signs calls as the function's IAM role, for routes behind `AWS_IAM` authorization.
#[derive(Debug, Clone)]
struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

#[derive(Clone)]
pub struct ServiceClient {
    transport: Arc<dyn Transport>,
    signer: Option<Signer>,
    retry: RetrySettings,
    entropy: Arc<dyn Entropy>,
    clock: Arc<dyn Clock>,
}

/// What travels with every call: who started it, and what makes a retry the same call.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    pub correlation_id: &'a CorrelationId,
    pub idempotency_key: &'a str,
}

/// Where a client's calls go and what it draws time and jitter from: HTTPS, the system's
/// clock and randomness in production; a simulated network and seeded streams in tests.
#[derive(Clone)]
pub struct ClientParts {
    pub transport: Arc<dyn Transport>,
    pub entropy: Arc<dyn Entropy>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("transport", &self.transport)
            .field("signed", &self.signer.is_some())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientParts")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl ClientParts {
    /// HTTPS with a 2 s connect timeout, the system clock and the system's randomness.
    pub fn system() -> Result<Self, CallError> {
        let inner = http_builder()?
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(CallError::Build)?;
        Ok(Self {
            transport: Arc::new(ReqwestTransport::new(inner)),
            entropy: Arc::new(SystemEntropy),
            clock: Arc::new(SystemClock),
        })
    }
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
        Ok(Self::over(ClientParts::system()?, signer, retry))
    }

    /// A client that does not sign (calls to services outside AWS, such as the e-wallet's
    /// webhook target).
    pub fn unsigned(retry: RetrySettings) -> Result<Self, CallError> {
        Ok(Self::over(ClientParts::system()?, None, retry))
    }

    /// An unsigned client over `parts` (a simulation's network, clock and randomness).
    pub fn with_parts(parts: ClientParts, retry: RetrySettings) -> Self {
        Self::over(parts, None, retry)
    }

    fn over(parts: ClientParts, signer: Option<Signer>, retry: RetrySettings) -> Self {
        Self {
            transport: parts.transport,
            signer,
            retry,
            entropy: parts.entropy,
            clock: parts.clock,
        }
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
            let at = SystemTime::from(self.clock.now());
            headers.extend(signer.sign("POST", url, &headers, &payload, at).await?);
        }
        let request = Outgoing {
            method: http::Method::POST,
            url: url.to_owned(),
            headers,
            body: payload,
        };
        let answer =
            self.send_with_retries(request)
                .await
                .map_err(|source| CallError::Transport {
                    url: url.to_owned(),
                    source,
                })?;
        if !(200..300).contains(&answer.status) {
            return Err(CallError::Status {
                url: url.to_owned(),
                status: answer.status,
                // Bounded: the body only goes to logs.
                body: String::from_utf8_lossy(&answer.body[..answer.body.len().min(512)])
                    .into_owned(),
            });
        }
        serde_json::from_slice(&answer.body).map_err(|source| CallError::Decode {
            url: url.to_owned(),
            source,
        })
    }

    /// Sends until a final answer: a failed connection, a timed-out attempt, 5xx, 408 and
    /// 429 are retried up to `max_retries` times; the last attempt's outcome is returned.
    async fn send_with_retries(
        &self,
        request: Outgoing,
    ) -> Result<crate::transport::Answer, TransportError> {
        let mut retry = 0;
        loop {
            let mut attempt = request.clone();
            let timeout = attempt_timeout(&self.retry);
            let due = self
                .clock
                .now()
                .timestamp_millis()
                .saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
            attempt
                .headers
                .push((CALL_DEADLINE.into(), due.to_string()));
            let attempt = self.transport.send(attempt);
            let outcome = match tokio::time::timeout(timeout, attempt).await {
                Ok(outcome) => outcome,
                Err(_elapsed) => Err(TransportError::Timeout(timeout)),
            };
            let transient = match &outcome {
                Ok(answer) => is_transient(answer.status),
                Err(_) => true,
            };
            if !transient || retry >= self.retry.max_retries {
                return outcome;
            }
            let pause = backoff(&self.retry, retry, self.entropy.as_ref());
            tracing::info!(retry = retry + 1, pause_ms = pause.as_millis() as u64, outcome = ?outcome.as_ref().map(|a| a.status), "retrying a transient failure");
            tokio::time::sleep(pause).await;
            retry += 1;
        }
    }
}

fn is_transient(status: u16) -> bool {
    status >= 500 || matches!(status, 408 | 429)
}

/// Exponential backoff with full jitter: the n-th pause is drawn uniformly from
/// `min_backoff ..= min(min_backoff * 2^n, max_backoff)`.
fn backoff(settings: &RetrySettings, retry: u32, entropy: &dyn Entropy) -> Duration {
    let floor = settings.min_backoff.as_millis() as u64;
    let ceiling = floor
        .saturating_mul(1u64.checked_shl(retry).unwrap_or(u64::MAX))
        .min(settings.max_backoff.as_millis() as u64)
        .max(floor);
    Duration::from_millis(floor + entropy.below(ceiling - floor + 1))
}

impl Signer {
    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
        at: SystemTime,
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
            .time(at)
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
mod budget_tests {
    use super::*;

    #[test]
    fn the_budget_is_the_time_left_minus_the_margin() {
        let margin = Duration::from_millis(1_500);
        let fallback = Duration::from_secs(8);
        assert_eq!(
            call_budget(Some(10_000), 1_000, margin, fallback),
            Duration::from_millis(7_500)
        );
        assert_eq!(
            call_budget(Some(100_000), 1_000, margin, fallback),
            fallback,
            "never more than the cap"
        );
        assert_eq!(
            call_budget(Some(10_000), 9_000, margin, fallback),
            Duration::ZERO
        );
    }

    #[test]
    fn without_a_real_deadline_the_fallback_applies() {
        let (margin, fallback) = (Duration::from_millis(1_500), Duration::from_secs(8));
        let now = 1_796_092_762_519;
        assert_eq!(call_budget(None, now, margin, fallback), fallback);
        // cargo lambda watch's fixed deadline.
        assert_eq!(call_budget(Some(600_000), now, margin, fallback), fallback);
        assert_eq!(call_budget(Some(0), i64::MIN, margin, fallback), fallback);
    }

    #[test]
    fn only_refusals_and_unsent_calls_changed_nothing() {
        let status = |status| CallError::Status {
            url: "u".into(),
            status,
            body: String::new(),
        };
        for definite in [400, 401, 403, 404, 422] {
            assert!(status(definite).changed_nothing(), "{definite}");
        }
        for unknown in [408, 409, 429, 500, 502, 503, 504] {
            assert!(!status(unknown).changed_nothing(), "{unknown}");
        }
    }
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

#[cfg(test)]
mod retry_tests {
    use std::future::Future;
    use std::sync::Mutex;

    use super::*;
    use crate::entropy::SeededEntropy;
    use crate::transport::{Answer, BoxFuture};

    /// Answers each attempt with the next scripted status; `None` never answers. Keeps
    /// each attempt's `CALL_DEADLINE`.
    #[derive(Debug)]
    struct Script(Mutex<Vec<Option<u16>>>, Mutex<u32>, Mutex<Vec<String>>);

    impl Transport for Script {
        fn send(&self, request: Outgoing) -> BoxFuture<'_, Result<Answer, TransportError>> {
            *self.1.lock().unwrap() += 1;
            self.2.lock().unwrap().extend(
                request
                    .headers
                    .iter()
                    .filter(|(name, _)| name == CALL_DEADLINE)
                    .map(|(_, value)| value.clone()),
            );
            let next = self.0.lock().unwrap().remove(0);
            Box::pin(async move {
                match next {
                    Some(status) => Ok(Answer {
                        status,
                        body: b"{}".to_vec(),
                    }),
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn client(script: Vec<Option<u16>>) -> (ServiceClient, Arc<Script>) {
        let transport = Arc::new(Script(Mutex::new(script), Mutex::new(0), Mutex::default()));
        let parts = ClientParts {
            transport: transport.clone(),
            entropy: Arc::new(SeededEntropy::new(1)),
            clock: Arc::new(SystemClock),
        };
        (
            ServiceClient::with_parts(parts, RetrySettings::default()),
            transport,
        )
    }

    async fn call(client: &ServiceClient) -> Result<serde_json::Value, CallError> {
        let correlation_id = CorrelationId::generate();
        let ctx = CallContext {
            correlation_id: &correlation_id,
            idempotency_key: "k",
        };
        client.post_json("http://svc/x", &1, ctx).await
    }

    #[tokio::test(start_paused = true)]
    async fn each_attempt_tells_the_callee_when_its_caller_stops_waiting() {
        let transport = Arc::new(Script(
            Mutex::new(vec![Some(503), Some(200)]),
            Mutex::new(0),
            Mutex::default(),
        ));
        let start = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
        let clock = Arc::new(crate::clock::FixedClock::at(start));
        let parts = ClientParts {
            transport: transport.clone(),
            entropy: Arc::new(SeededEntropy::new(1)),
            clock: clock.clone(),
        };
        let client = ServiceClient::with_parts(parts, RetrySettings::default());
        let first = call(&client);
        tokio::pin!(first);
        // The first attempt is sent at `start`; the second after the clock moved on.
        assert!(futures_poll_once(first.as_mut()).await.is_none());
        clock.advance(chrono::Duration::seconds(1));
        assert!(first.await.is_ok());
        let due: Vec<String> = transport.2.lock().unwrap().clone();
        assert_eq!(due, ["1800000005000", "1800000006000"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_inside_within_ends_with_it_and_tells_the_callee_so() {
        let transport = Arc::new(Script(
            Mutex::new(vec![None]),
            Mutex::new(0),
            Mutex::default(),
        ));
        let start = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
        let parts = ClientParts {
            transport: transport.clone(),
            entropy: Arc::new(SeededEntropy::new(1)),
            clock: Arc::new(crate::clock::FixedClock::at(start)),
        };
        // The attempt timeout (5 s) is longer than the caller's budget (3 s).
        let client = ServiceClient::with_parts(parts, RetrySettings::default());
        let began = tokio::time::Instant::now();
        let outer = within(
            Duration::from_secs(4),
            within(Duration::from_secs(3), call(&client)),
        );
        assert!(outer.await.is_ok_and(|inner| inner.is_err()));
        assert_eq!(began.elapsed(), Duration::from_secs(3));
        let due: Vec<String> = transport.2.lock().unwrap().clone();
        assert_eq!(due, ["1800000003000"]);
    }

    /// Polls a future once: its output if it is ready.
    async fn futures_poll_once<F: Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn transient_answers_are_retried_until_one_is_final() {
        let (client, transport) = client(vec![Some(503), Some(429), Some(200)]);
        assert!(call(&client).await.is_ok());
        assert_eq!(*transport.1.lock().unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_final_at_once() {
        let (client, transport) = client(vec![Some(400), Some(200)]);
        let err = call(&client).await.unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert_eq!(*transport.1.lock().unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_that_never_answer_time_out_and_the_last_outcome_is_returned() {
        let (client, transport) = client(vec![None, None, None, None]);
        let started = tokio::time::Instant::now();
        let err = call(&client).await.unwrap_err();
        assert!(
            matches!(
                err,
                CallError::Transport {
                    source: TransportError::Timeout(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            *transport.1.lock().unwrap(),
            4,
            "one attempt and three retries"
        );
        let waited = started.elapsed();
        // Four 5 s attempts, and three pauses of 100 ms ..= 400 ms.
        assert!(
            waited >= Duration::from_millis(20_300) && waited <= Duration::from_millis(20_700),
            "{waited:?}"
        );
    }

    #[test]
    fn pauses_grow_within_their_bounds() {
        let settings = RetrySettings::default();
        let entropy = SeededEntropy::new(3);
        for retry in 0..40 {
            let pause = backoff(&settings, retry, &entropy);
            let ceiling = Duration::from_millis(100 << retry.min(5)).min(settings.max_backoff);
            assert!(
                pause >= settings.min_backoff && pause <= ceiling,
                "{retry}: {pause:?}"
            );
        }
    }
}
