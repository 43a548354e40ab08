//! The port that POSTs a signed webhook, and its adapter over the shared service client
//! (unsigned by SigV4: the receiver is "outside AWS"; jittered retries on transient faults).

use std::future::Future;

use serde::de::IgnoredAny;
use shared::CorrelationId;
use shared::client::{CallContext, CallError, RetrySettings, ServiceClient};

/// A webhook ready to go: `body` is exactly the bytes `signature` covers.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub url: String,
    pub body: Vec<u8>,
    /// The `X-Ewallet-Signature` header value.
    pub signature: String,
    pub correlation_id: CorrelationId,
    /// The payment request id: a receiver sees repeats of one webhook under one key.
    pub idempotency_key: String,
}

pub trait WebhookSender: Send + Sync {
    /// `Ok` when the receiver answered 2xx; otherwise the last failure after retries.
    fn send(&self, webhook: SignedWebhook) -> impl Future<Output = Result<(), CallError>> + Send;
}

#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: ServiceClient,
}

impl HttpWebhookSender {
    pub fn new(retry: RetrySettings) -> Result<Self, CallError> {
        Ok(Self {
            client: ServiceClient::unsigned(retry)?,
        })
    }

    /// Over a client built elsewhere (a simulation's network).
    pub fn over(client: ServiceClient) -> Self {
        Self { client }
    }
}

impl WebhookSender for HttpWebhookSender {
    #[tracing::instrument(skip(self, webhook), fields(idempotency_key = %webhook.idempotency_key))]
    async fn send(&self, webhook: SignedWebhook) -> Result<(), CallError> {
        let ctx = CallContext {
            correlation_id: &webhook.correlation_id,
            idempotency_key: &webhook.idempotency_key,
        };
        let headers = [(shared::signature::HEADER, webhook.signature)];
        // The receiver answers JSON; its content does not matter here.
        self.client
            .post_bytes::<IgnoredAny>(&webhook.url, webhook.body, &headers, ctx)
            .await
            .map(|_| ())
    }
}
