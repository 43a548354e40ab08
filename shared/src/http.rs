//! The thin adapter between API Gateway (HTTP API, payload v2) and a service's handler:
//! a span per request with the correlation id, the error → problem+json mapping applied
//! once, and the correlation id echoed in every response.

use std::future::Future;
use std::time::Instant;

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::{Serialize, de::DeserializeOwned};
use tracing::Instrument;

use crate::telemetry::ErrorChain;
use crate::{CorrelationId, Problem, ValidationError, correlation};

/// A service error that owns its whole response: which problem it is for the client, and
/// when a retry may succeed. Internals stay in logs.
pub trait ApiError: std::error::Error + 'static {
    fn problem(&self) -> Problem;

    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    fn retry_after_secs(&self) -> Option<u64> {
        None
    }

    /// The problem+json response, with `Retry-After` when the error has one.
    fn response(&self, instance: &str, correlation_id: &CorrelationId) -> Response<Body> {
        let mut response = self
            .problem()
            .with_instance(instance)
            .with_correlation_id(correlation_id.as_str())
            .into_response();
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type HandlerResult<E> = Result<Response<Body>, E>;

/// The largest request body any route takes (64 KiB): the largest real one, an e-mail of
/// 20,000 bytes to 50 recipients, is well below it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body refused before any handler reads it: too large, or not JSON.
#[derive(Debug, thiserror::Error)]
pub enum BodyRefused {
    #[error("the body has {0} bytes")]
    TooLarge(usize),
    #[error("the body's content type is {0:?}")]
    NotJson(String),
}

impl ApiError for BodyRefused {
    fn problem(&self) -> Problem {
        match self {
            Self::TooLarge(_) => Problem::body_too_large(format!(
                "The request body may have at most {MAX_BODY_BYTES} bytes."
            )),
            Self::NotJson(_) => {
                Problem::unsupported_media_type("The request body must be application/json.")
            }
        }
    }
}

/// Every route's body is JSON of bounded size: checked once here, for all of them. A
/// request without a body (a GET, a resolve) may carry any content type.
pub fn refused_body(request: &Request) -> Option<BodyRefused> {
    let size = match request.body() {
        Body::Text(text) => text.len(),
        Body::Binary(bytes) => bytes.len(),
        _ => 0,
    };
    if size == 0 {
        return None;
    }
    if size > MAX_BODY_BYTES {
        return Some(BodyRefused::TooLarge(size));
    }
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        None
    } else {
        Some(BodyRefused::NotJson(content_type))
    }
}

/// The time this request's work must be done by (ms since the epoch): the invocation's
/// deadline from the Lambda context, or the caller's, sent as `CALL_DEADLINE` with each
/// attempt, whichever comes first. A callee that keeps to it answers before its caller
/// gives up on it, so budgets nest across calls. A caller's deadline already past at
/// `now_ms` (the caller gave up; the work still finishes, within the invocation's own
/// deadline) is ignored. `None` outside Lambda without a caller's deadline (tests), where
/// callers use their own bound.
pub fn invocation_deadline_ms(request: &Request, now_ms: i64) -> Option<u64> {
    // A deadline more than a day before the caller's is no deadline: `cargo lambda watch`
    // sends a fixed one in 1970.
    const DAY_MS: u64 = 86_400_000;
    let now_ms = u64::try_from(now_ms).unwrap_or(0);
    let lambda = request.lambda_context_ref().map(|ctx| ctx.deadline);
    let caller = request
        .headers()
        .get(crate::client::CALL_DEADLINE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|due| *due > now_ms);
    match (lambda, caller) {
        (Some(lambda), Some(caller)) if lambda < caller.saturating_sub(DAY_MS) => Some(caller),
        (Some(lambda), Some(caller)) => Some(lambda.min(caller)),
        (lambda, caller) => lambda.or(caller),
    }
}

/// Runs the Lambda event loop with `handler`, which gets each request and its correlation id;
/// the business metrics counted in an invocation are flushed at its end.
pub async fn run<F, Fut, E>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request, CorrelationId) -> Fut + Sync,
    Fut: Future<Output = HandlerResult<E>> + Send,
    E: ApiError,
{
    let handler = &handler;
    lambda_http::run(service_fn(move |request: Request| {
        let correlation_id = CorrelationId::from_headers(request.headers());
        let request_id = request
            .lambda_context_ref()
            .map(|ctx| ctx.request_id.clone())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "request",
            correlation_id = %correlation_id,
            request_id = %request_id,
            method = %request.method(),
            path = %request.uri().path(),
        );
        crate::metrics::start_invocation(&request_id);
        async move {
            let started = Instant::now();
            let instance = request.uri().path().to_owned();
            let response = match refused_body(&request) {
                Some(refused) => respond::<BodyRefused>(Err(refused), &correlation_id, &instance),
                None => respond(
                    handler(request, correlation_id.clone()).await,
                    &correlation_id,
                    &instance,
                ),
            };
            tracing::info!(
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request completed"
            );
            crate::metrics::flush();
            Ok::<_, std::convert::Infallible>(response)
        }
        .instrument(span)
    }))
    .await
}

/// Turns a handler's outcome into the response: errors become problem+json (5xx logged
/// with their causes), and the correlation id is echoed.
pub fn respond<E: ApiError>(
    result: HandlerResult<E>,
    correlation_id: &CorrelationId,
    instance: &str,
) -> Response<Body> {
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            let status = err.problem().status;
            match err.retry_after_secs() {
                // Not a fault: the client is asked to come back (another call is under way).
                Some(retry_after_secs) => {
                    tracing::info!(status, retry_after_secs, error = %err, "request deferred");
                }
                None if status >= 500 => {
                    tracing::error!(error = %ErrorChain(&err), status, "request failed");
                }
                None => {
                    tracing::info!(status, detail = %err.problem().detail, "request rejected");
                }
            }
            err.response(instance, correlation_id)
        }
    };
    if let Ok(value) = HeaderValue::from_str(correlation_id.as_str()) {
        response.headers_mut().insert(correlation::HEADER, value);
    }
    response
}

/// A JSON response. Serialising the contract types cannot fail; if it ever did, the
/// client gets a 503 problem instead of a half-written body.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut response = Response::new(Body::Text(text));
            *response.status_mut() = status;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            Problem::unavailable().into_response()
        }
    }
}

/// A path parameter of the route (`{userId}`); missing means the route and the function
/// disagree, which is still the request's problem from the client's point of view.
pub fn path_param(request: &Request, name: &'static str) -> Result<String, ValidationError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
        .ok_or_else(|| ValidationError::new(name, "is missing from the path"))
}

/// The first value of a query string parameter (API Gateway joins repeats with commas).
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

/// The caller's `Idempotency-Key` header (1 to 128 printable ASCII characters, spaces
/// only inside): what makes its retries one call.
pub fn idempotency_key(request: &Request) -> Result<String, ValidationError> {
    let printable = |k: &str| {
        k.bytes().all(|b| (0x20..=0x7e).contains(&b)) && !k.starts_with(' ') && !k.ends_with(' ')
    };
    request
        .headers()
        .get(crate::client::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128 && printable(k))
        .map(str::to_owned)
        .ok_or_else(|| {
            ValidationError::new(
                "Idempotency-Key",
                "the header is required (1 to 128 printable ASCII characters, spaces only inside)",
            )
        })
}

/// Parses a JSON body into a contract type; any mismatch is a 400 naming what was wrong.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ValidationError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.is_empty() {
        return Err(ValidationError::new("body", "a JSON body is required"));
    }
    parse_json(bytes)
}

/// How deep a body's arrays and objects may nest: our contracts need 4 levels. serde_json
/// skips an ignored field's value without its own recursion limit, so this is checked
/// before parsing.
pub const MAX_JSON_DEPTH: usize = 32;

/// Parses a JSON body (UTF-8, nested at most `MAX_JSON_DEPTH` deep) into a contract type;
/// any mismatch is a 400 naming what was wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ValidationError> {
    // API Gateway hands over a body that is not UTF-8 with U+FFFD in place of each bad
    // byte; no field of ours takes that character either.
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|text| !text.contains('\u{FFFD}'))
        .ok_or_else(|| ValidationError::new("body", "is not valid UTF-8"))?;
    if nesting_depth(text) > MAX_JSON_DEPTH {
        return Err(ValidationError::new(
            "body",
            format!("nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"),
        ));
    }
    serde_json::from_str(text).map_err(|err| ValidationError::new("body", err.to_string()))
}

/// The deepest nesting of `[` and `{` outside strings (malformed JSON is the parser's
/// to refuse).
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("busy")]
    struct Busy(Option<u64>);

    impl ApiError for Busy {
        fn problem(&self) -> Problem {
            Problem::unavailable()
        }

        fn retry_after_secs(&self) -> Option<u64> {
            self.0
        }
    }

    fn request_with(lambda_deadline: Option<u64>, caller: Option<&str>) -> Request {
        let mut builder = http::Request::builder().uri("/x");
        if let Some(caller) = caller {
            builder = builder.header(crate::client::CALL_DEADLINE, caller);
        }
        let request: Request = builder.body(Body::Empty).unwrap();
        match lambda_deadline {
            Some(deadline) => {
                let mut context = lambda_runtime::Context::default();
                context.deadline = deadline;
                request.with_lambda_context(context)
            }
            None => request,
        }
    }

    #[test]
    fn the_work_is_due_at_the_earlier_of_the_invocations_and_the_callers_deadline() {
        let now = 1_800_000_000_000_u64;
        let deadline =
            |lambda, caller| invocation_deadline_ms(&request_with(lambda, caller), now as i64);
        assert_eq!(deadline(Some(now + 10_000), None), Some(now + 10_000));
        let caller = (now + 4_000).to_string();
        assert_eq!(
            deadline(Some(now + 10_000), Some(&caller)),
            Some(now + 4_000)
        );
        assert_eq!(
            deadline(Some(now + 2_000), Some(&caller)),
            Some(now + 2_000)
        );
        assert_eq!(deadline(None, Some(&caller)), Some(now + 4_000));
        // cargo lambda watch's fixed deadline in 1970.
        assert_eq!(deadline(Some(600_000), Some(&caller)), Some(now + 4_000));
        assert_eq!(
            deadline(Some(now + 10_000), Some("soon")),
            Some(now + 10_000)
        );
        // The caller gave up already: the work finishes within the invocation's deadline.
        let past = (now - 1).to_string();
        assert_eq!(
            deadline(Some(now + 10_000), Some(&past)),
            Some(now + 10_000)
        );
        assert_eq!(deadline(None, None), None);
    }

    #[test]
    fn an_error_with_a_retry_after_answers_it_in_its_problem_response() {
        let cid = CorrelationId::from_value(Some("cid-1"));
        let response = respond::<Busy>(Err(Busy(Some(3))), &cid, "/x");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "3");
        assert_eq!(response.headers()[correlation::HEADER], "cid-1");
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            crate::problem::CONTENT_TYPE
        );
        let plain = respond::<Busy>(Err(Busy(None)), &cid, "/x");
        assert!(plain.headers().get(http::header::RETRY_AFTER).is_none());
    }

    #[test]
    fn an_idempotency_key_is_printable_ascii_with_spaces_only_inside() {
        let key = |raw: &[u8]| {
            let request: Request = http::Request::builder()
                .header(
                    crate::client::IDEMPOTENCY_KEY,
                    http::HeaderValue::from_bytes(raw).unwrap(),
                )
                .body(Body::Empty)
                .unwrap();
            idempotency_key(&request)
        };
        assert_eq!(key(b"checkout-1 try 2").as_deref(), Ok("checkout-1 try 2"));
        assert_eq!(key("k".repeat(128).as_bytes()).map(|k| k.len()), Ok(128));
        for bad in [
            &b"<\tmT[S3v"[..],
            b" leading",
            b"trailing ",
            b"caf\xc3\xa9",
            "k".repeat(129).as_bytes(),
        ] {
            assert!(key(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn post(content_type: Option<&str>, body: Body) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/x");
        if let Some(content_type) = content_type {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        builder.body(body).unwrap()
    }

    #[test]
    fn a_body_must_be_json_and_at_most_64_kib() {
        let json = |n: usize| Body::Text(format!(r#"{{"a":"{}"}}"#, "x".repeat(n)));
        assert!(refused_body(&post(Some("application/json"), json(10))).is_none());
        assert!(refused_body(&post(Some("Application/JSON; charset=utf-8"), json(10))).is_none());
        assert!(
            refused_body(&post(None, Body::Empty)).is_none(),
            "no body, no rule"
        );
        assert!(refused_body(&post(Some("text/plain"), Body::Empty)).is_none());
        let at_limit = json(MAX_BODY_BYTES - 8);
        assert!(refused_body(&post(Some("application/json"), at_limit)).is_none());
        let over = refused_body(&post(Some("application/json"), json(MAX_BODY_BYTES)));
        assert_eq!(over.map(|r| r.problem().status), Some(413));
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some("multipart/form-data"),
        ] {
            let refused = refused_body(&post(content_type, json(1)));
            assert_eq!(
                refused.map(|r| r.problem().status),
                Some(415),
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_utf_8_is_refused_as_such() {
        #[derive(Debug, serde::Deserialize)]
        struct Named {
            #[allow(dead_code)]
            name: String,
        }
        let read = |body: Body| json_body::<Named>(&post(Some("application/json"), body));
        assert!(read(Body::Text(r#"{"name":"café"}"#.into())).is_ok());
        for body in [
            Body::Binary(b"{\"name\":\"caf\xe9\"}".to_vec()),
            Body::Text("{\"name\":\"caf\u{FFFD}\"}".into()),
        ] {
            let err = read(body).unwrap_err();
            assert_eq!(err.reason, "is not valid UTF-8");
        }
    }

    #[test]
    fn json_nested_past_the_limit_is_refused_before_parsing() {
        assert_eq!(
            nesting_depth(r#"{"a":[1,{"b":"[[[{{"}]}"#),
            3,
            "brackets in strings do not count"
        );
        assert_eq!(
            nesting_depth(r#"{"a":"\"[[["}"#),
            1,
            "nor after an escaped quote"
        );
        let nested = |n: usize| format!(r#"{{"x":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        assert!(parse_json::<serde_json::Value>(nested(MAX_JSON_DEPTH - 1).as_bytes()).is_ok());
        let err = parse_json::<serde_json::Value>(nested(MAX_JSON_DEPTH).as_bytes()).unwrap_err();
        assert!(err.reason.contains("deeper than 32"), "{err}");
    }
}
