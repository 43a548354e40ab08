//! The order service's view of the payment service: ask for the payment of a checkout.

use std::future::Future;

use shared::CorrelationId;
use shared::client::{CallContext, CallError, ServiceClient};
use shared::contracts::{PaymentRequest, PaymentResponse};

pub trait Payments: Send + Sync {
    /// Requests the payment; a retry with the same `idempotency_key` is the same payment.
    fn request(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<PaymentResponse, CallError>> + Send;
}

impl<T: Payments + ?Sized> Payments for &T {
    fn request(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<PaymentResponse, CallError>> + Send {
        (**self).request(request, idempotency_key, correlation_id)
    }
}

/// The payment service behind the internal (IAM-authorized) API.
#[derive(Debug, Clone)]
pub struct HttpPayments {
    client: ServiceClient,
    internal_api_url: String,
}

impl HttpPayments {
    pub fn new(client: ServiceClient, internal_api_url: impl Into<String>) -> Self {
        Self {
            client,
            internal_api_url: internal_api_url.into().trim_end_matches('/').to_owned(),
        }
    }
}

impl Payments for HttpPayments {
    async fn request(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
        correlation_id: &CorrelationId,
    ) -> Result<PaymentResponse, CallError> {
        let url = format!(
            "{}/api/internal/v1/users/{}/payments",
            self.internal_api_url, request.user_id
        );
        self.client
            .post_json(
                &url,
                request,
                CallContext {
                    correlation_id,
                    idempotency_key,
                },
            )
            .await
    }
}
