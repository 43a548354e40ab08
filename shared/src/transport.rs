//! What carries a `ServiceClient`'s calls: one request out, one answer back. Production
//! sends over HTTPS with reqwest; a simulation routes the same bytes to handlers in the
//! same process, so the real adapters and their error classification run in both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// One request, as it leaves the caller.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The callee's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request never left: nothing can have happened at the callee.
    #[error("could not connect: {0}")]
    Connect(String),
    /// No answer within the attempt's time: the callee may have done the work.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed after the request was sent.
    #[error("the connection failed: {0}")]
    Io(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Boxed rather than generic: `ServiceClient` is one concrete type in every adapter, and a
/// call's cost is dominated by the network, not by one allocation.
pub trait Transport: Send + Sync + fmt::Debug {
    fn send(&self, request: Outgoing) -> BoxFuture<'_, Result<Answer, TransportError>>;
}

/// HTTPS through reqwest, on this crate's TLS set-up.
#[derive(Debug, Clone)]
pub struct ReqwestTransport(reqwest::Client);

impl ReqwestTransport {
    pub fn new(client: reqwest::Client) -> Self {
        Self(client)
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: Outgoing) -> BoxFuture<'_, Result<Answer, TransportError>> {
        Box::pin(async move {
            let mut builder = self
                .0
                .request(request.method, &request.url)
                .body(request.body);
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let response = builder.send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(classify)?;
            Ok(Answer {
                status,
                body: body.to_vec(),
            })
        })
    }
}

fn classify(err: reqwest::Error) -> TransportError {
    let text = crate::telemetry::ErrorChain(&err).to_string();
    if err.is_connect() {
        TransportError::Connect(text)
    } else {
        TransportError::Io(text)
    }
}
