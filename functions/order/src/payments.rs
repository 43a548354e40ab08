//! The order service's view of the payment service: ask for the payment of a checkout,
//! and (the reconciler) have a payment's outcome made definite.

use std::future::Future;

use serde::Deserialize;
use shared::client::{CallContext, CallError, ServiceClient};
use shared::contracts::{PaymentRequest, PaymentResponse, PaymentStatus};
use shared::{CorrelationId, PaymentId};

/// What the payment service knows for sure about a payment after resolving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// No payment with that id exists (and, past the order's deadline, none will).
    NoPayment,
    /// The payment has this outcome for good.
    Decided(PaymentStatus),
}

pub trait Payments: Send + Sync {
    /// Requests the payment; a retry with the same `idempotency_key` is the same payment.
    fn request(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<PaymentResponse, CallError>> + Send;

    /// Makes the payment's outcome definite (cancelling it at the e-wallet if it is still
    /// open) and answers it.
    fn resolve(
        &self,
        payment_id: PaymentId,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<Resolution, CallError>> + Send;
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

    fn resolve(
        &self,
        payment_id: PaymentId,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<Resolution, CallError>> + Send {
        (**self).resolve(payment_id, correlation_id)
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

    async fn resolve(
        &self,
        payment_id: PaymentId,
        correlation_id: &CorrelationId,
    ) -> Result<Resolution, CallError> {
        let url = format!(
            "{}/api/internal/v1/payments/{payment_id}/resolve",
            self.internal_api_url
        );
        let idempotency_key = format!("resolve-{payment_id}");
        let context = CallContext {
            correlation_id,
            idempotency_key: &idempotency_key,
        };
        match self
            .client
            .post_json::<_, PaymentResponse>(&url, &serde_json::json!({}), context)
            .await
        {
            Ok(payment) if payment.payment_status == PaymentStatus::Requested => {
                // The contract answers decided payments only; treat anything else as no answer.
                Err(CallError::Status {
                    url,
                    status: 502,
                    body: "resolve answered a payment that is still Requested".into(),
                })
            }
            Ok(payment) => Ok(Resolution::Decided(payment.payment_status)),
            Err(err) if is_no_such_payment(&err) => Ok(Resolution::NoPayment),
            Err(err) => Err(err),
        }
    }
}

/// The payment service's own 404 (problem+json), not a gateway's for an unknown route:
/// only that one may make an order payable again.
fn is_no_such_payment(err: &CallError) -> bool {
    #[derive(Deserialize)]
    struct Problem {
        #[serde(rename = "type")]
        kind: String,
    }
    match err {
        CallError::Status {
            status: 404, body, ..
        } => serde_json::from_str::<Problem>(body)
            .is_ok_and(|p| p.kind == shared::Problem::NOT_FOUND_TYPE),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, body: &str) -> CallError {
        CallError::Status {
            url: "u".into(),
            status,
            body: body.into(),
        }
    }

    #[test]
    fn only_the_payment_services_own_404_means_no_payment() {
        let ours = r#"{"type":"urn:checkout:problem:not-found","title":"Not found","status":404,"detail":"x"}"#;
        assert!(is_no_such_payment(&status(404, ours)));
        assert!(!is_no_such_payment(&status(
            404,
            r#"{"message":"Not Found"}"#
        )));
        assert!(!is_no_such_payment(&status(404, "")));
        assert!(!is_no_such_payment(&status(503, ours)));
    }
}
