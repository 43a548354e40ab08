//! The two services the payment service calls: the e-wallet (a third party, unsigned
//! calls: payment requests, refunds, cancels) and the order service's confirm-payment
//! (internal, IAM-signed calls). Both
//! adapters go through `shared::client::ServiceClient`, which retries transient failures
//! with backoff and sends the correlation id and an idempotency key.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use shared::api_key::{self, ApiKey};
use shared::client::{CallContext, CallError, ServiceClient};
use shared::contracts::{
    ConfirmPaymentRequest, EwalletCancelResponse, EwalletCancelStatus, EwalletPaymentRequest,
    EwalletPaymentResponse, EwalletRefundResponse, MerchantData, PaymentStatus,
};
use shared::{CorrelationId, ValidationError};

use crate::domain::{ExternalId, Payment, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the call failed")]
    Call(#[from] CallError),
    #[error("the answer is unusable")]
    BadAnswer(#[source] shared::ValidationError),
    /// A failure without an HTTP call behind it (fakes in tests).
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// The call's budget (the invocation's time left) ran out before an answer came.
    #[error("no answer within {budget_ms} ms")]
    OutOfTime { budget_ms: u64 },
}

impl GatewayError {
    /// The e-wallet refused the request for good (a 4xx that changed nothing), other than
    /// a 401: that one is about our credentials (a key being rotated), not the payment.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Call(err) if err.changed_nothing() && err.status().is_some_and(|s| s != 401))
    }
}

/// Runs `call` within `budget`; out of time is an error like any failed call.
pub async fn within<T>(
    budget: std::time::Duration,
    call: impl Future<Output = Result<T, GatewayError>>,
) -> Result<T, GatewayError> {
    shared::client::within(budget, call)
        .await
        .unwrap_or_else(|_| {
            Err(GatewayError::OutOfTime {
                budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
            })
        })
}

/// Both outbound calls of the payment service (to the e-wallet, to confirm-payment) get at
/// most this, less when the invocation has less left: below checkout's 8 s for the whole
/// payment request, so the caller's budget covers the callee's.
pub const CALL_CAP: std::time::Duration = std::time::Duration::from_secs(5);
/// What a handler keeps for itself after the call: recording the outcome and answering.
pub const CALL_MARGIN: std::time::Duration = std::time::Duration::from_millis(1_500);

/// The e-wallet, as the payment request needs it.
pub trait Ewallet: Send + Sync {
    /// Asks the e-wallet to collect `payment`; a retry with the same payment gets the
    /// same payment request id from an idempotent provider.
    fn request_payment(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<ExternalId, GatewayError>> + Send;
}

/// The e-wallet's refunds, as the webhook needs them: a success that no order awaits is
/// paid back, never kept.
pub trait Refunds: Send + Sync {
    /// Pays `payment` back; a repeated call is the same refund. Answers when it happened.
    fn refund(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<DateTime<Utc>, GatewayError>> + Send;
}

/// What the e-wallet's cancel found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelAnswer {
    /// Cancelled at this time (now, or by an earlier call): the e-wallet never takes this
    /// payment and never reports on it.
    Cancelled { at: DateTime<Utc> },
    /// Its outcome was reported before the cancel: it stands, with its transaction.
    Decided {
        status: PaymentStatus,
        transaction: Transaction,
    },
}

/// The e-wallet's cancel, as resolving a payment needs it.
pub trait Cancellations: Send + Sync {
    /// Cancels `payment`'s request unless its outcome was reported; a repeated call
    /// answers the same. A request whose webhook is being delivered right now is an error
    /// (a 409): the caller tries again later.
    fn cancel(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<CancelAnswer, GatewayError>> + Send;
}

/// Reads the e-wallet's cancel answer about `payment`: a verdict must carry a transaction
/// for the payment's own amount and currency, or it is not recorded.
pub fn cancel_answer(
    payment: &Payment,
    answer: EwalletCancelResponse,
) -> Result<CancelAnswer, ValidationError> {
    if payment.external_id.as_ref().map(ExternalId::as_str) != Some(&answer.payment_request_id) {
        return Err(ValidationError::new(
            "paymentRequestId",
            "is not the payment request that was cancelled",
        ));
    }
    let status = match answer.status {
        EwalletCancelStatus::Cancelled => {
            let at = answer
                .cancelled_at
                .ok_or_else(|| ValidationError::new("cancelledAt", "is required with CANCELLED"))?;
            return Ok(CancelAnswer::Cancelled { at });
        }
        EwalletCancelStatus::Success => PaymentStatus::Success,
        EwalletCancelStatus::Failed => PaymentStatus::Failed,
        EwalletCancelStatus::Expired => PaymentStatus::Expired,
    };
    let tx = answer.transaction.ok_or_else(|| {
        ValidationError::new("transaction", "is required with a reported outcome")
    })?;
    if tx.amount != payment.amount.cents() || tx.currency != payment.amount.currency() {
        return Err(ValidationError::new(
            "transaction.amount",
            "differs from the payment's amount or currency",
        ));
    }
    Ok(CancelAnswer::Decided {
        status,
        transaction: Transaction::new(&tx.transaction_id, tx.amount, tx.transaction_time)?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The order took the outcome.
    Confirmed,
    /// The order no longer waits for this payment (409): nothing to retry.
    NotAwaited,
}

/// The order service's confirm-payment, as the webhook needs it.
pub trait OrderConfirmation: Send + Sync {
    /// Tells the payment's order its recorded outcome.
    fn confirm_payment(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<Confirmation, GatewayError>> + Send;
}

fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[derive(Debug, Clone)]
pub struct HttpEwallet {
    client: ServiceClient,
    api_url: String,
    webhook_url: String,
    api_key: ApiKey,
}

impl HttpEwallet {
    /// `api_url` is the e-wallet's base URL; `webhook_url` is where it sends the outcome
    /// (one the merchant registered there); `api_key` is the merchant's credential.
    pub fn new(
        client: ServiceClient,
        api_url: impl Into<String>,
        webhook_url: impl Into<String>,
        api_key: ApiKey,
    ) -> Self {
        Self {
            client,
            api_url: api_url.into(),
            webhook_url: webhook_url.into(),
            api_key,
        }
    }
}

impl Ewallet for HttpEwallet {
    #[tracing::instrument(skip_all, fields(payment_id = %payment.id))]
    async fn request_payment(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> Result<ExternalId, GatewayError> {
        let url = join(&self.api_url, "/api/payment/payment-requests");
        let body = EwalletPaymentRequest {
            amount: payment.amount.cents(),
            currency: payment.amount.currency(),
            notification_uri: self.webhook_url.clone(),
            merchant_data: MerchantData {
                order_id: payment.order_id,
            },
        };
        // Our payment id makes a retried call the same payment request at the provider.
        let payment_id = payment.id.to_string();
        let ctx = CallContext {
            correlation_id,
            idempotency_key: &payment_id,
        };
        let payload = serde_json::to_vec(&body).map_err(|source| CallError::Encode {
            url: url.clone(),
            source,
        })?;
        let key = String::from_utf8_lossy(self.api_key.expose()).into_owned();
        let answer: EwalletPaymentResponse = self
            .client
            .post_bytes(&url, payload, &[(api_key::HEADER, key)], ctx)
            .await?;
        ExternalId::parse(&answer.payment_request_id).map_err(GatewayError::BadAnswer)
    }
}

impl Refunds for HttpEwallet {
    #[tracing::instrument(skip_all, fields(payment_id = %payment.id))]
    async fn refund(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> Result<DateTime<Utc>, GatewayError> {
        let Some(external) = &payment.external_id else {
            return Err(GatewayError::Unavailable(
                "the payment has no e-wallet id to refund",
            ));
        };
        let url = join(
            &self.api_url,
            &format!("/api/payment/payment-requests/{external}/refunds"),
        );
        let key = format!("refund-{}", payment.id);
        let ctx = CallContext {
            correlation_id,
            idempotency_key: &key,
        };
        let api_key = String::from_utf8_lossy(self.api_key.expose()).into_owned();
        let answer: EwalletRefundResponse = self
            .client
            .post_bytes(&url, b"{}".to_vec(), &[(api_key::HEADER, api_key)], ctx)
            .await?;
        Ok(answer.refunded_at)
    }
}

impl Cancellations for HttpEwallet {
    #[tracing::instrument(skip_all, fields(payment_id = %payment.id))]
    async fn cancel(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> Result<CancelAnswer, GatewayError> {
        let Some(external) = &payment.external_id else {
            return Err(GatewayError::Unavailable(
                "the payment has no e-wallet id to cancel",
            ));
        };
        let url = join(
            &self.api_url,
            &format!("/api/payment/payment-requests/{external}/cancel"),
        );
        let key = format!("cancel-{}", payment.id);
        let ctx = CallContext {
            correlation_id,
            idempotency_key: &key,
        };
        let api_key = String::from_utf8_lossy(self.api_key.expose()).into_owned();
        let answer: EwalletCancelResponse = self
            .client
            .post_bytes(&url, b"{}".to_vec(), &[(api_key::HEADER, api_key)], ctx)
            .await?;
        cancel_answer(payment, answer).map_err(GatewayError::BadAnswer)
    }
}

#[derive(Debug, Clone)]
pub struct HttpOrderConfirmation {
    client: ServiceClient,
    internal_api_url: String,
}

impl HttpOrderConfirmation {
    /// `internal_api_url` is the base URL of the internal (IAM-authorized) API.
    pub fn new(client: ServiceClient, internal_api_url: impl Into<String>) -> Self {
        Self {
            client,
            internal_api_url: internal_api_url.into(),
        }
    }
}

impl OrderConfirmation for HttpOrderConfirmation {
    #[tracing::instrument(skip_all, fields(payment_id = %payment.id, order_id = %payment.order_id))]
    async fn confirm_payment(
        &self,
        payment: &Payment,
        correlation_id: &CorrelationId,
    ) -> Result<Confirmation, GatewayError> {
        let url = join(
            &self.internal_api_url,
            &format!(
                "/api/internal/v1/users/{}/orders/{}/confirm-payment",
                payment.user_id, payment.order_id
            ),
        );
        let body = ConfirmPaymentRequest {
            is_confirmed: payment.status.is_success(),
            payment_id: payment.id,
        };
        let key = format!("confirm-{}", payment.id);
        let ctx = CallContext {
            correlation_id,
            idempotency_key: &key,
        };
        match self
            .client
            .post_json::<_, IgnoredAny>(&url, &body, ctx)
            .await
        {
            Ok(_) => Ok(Confirmation::Confirmed),
            // A 2xx is a confirmation whatever its body says.
            Err(CallError::Decode { .. }) => Ok(Confirmation::Confirmed),
            Err(err) if err.status() == Some(409) => Ok(Confirmation::NotAwaited),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use shared::contracts::EwalletCancelTransaction;
    use shared::{Currency, Money, OrderId, UserId};

    use super::*;
    use crate::domain::{IdempotencyKey, NewPayment};

    fn payment() -> Payment {
        let new = NewPayment {
            key: IdempotencyKey::parse("cancel-answer-test").unwrap(),
            user_id: UserId::new_random(),
            order_id: OrderId::new_random(),
            amount: Money::from_cents(10099, Currency::USD),
        };
        let mut payment = Payment::requested(&new, Utc::now());
        payment.external_id = Some(ExternalId::parse("ewallet-1").unwrap());
        payment
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn answer(status: EwalletCancelStatus) -> EwalletCancelResponse {
        EwalletCancelResponse {
            payment_request_id: "ewallet-1".into(),
            status,
            cancelled_at: Some(at()),
            transaction: Some(EwalletCancelTransaction {
                transaction_id: "tx-1".into(),
                amount: 10099,
                currency: Currency::USD,
                transaction_time: at(),
            }),
        }
    }

    #[test]
    fn a_cancel_or_a_reported_verdict_is_read_as_such() {
        let payment = payment();
        assert_eq!(
            cancel_answer(&payment, answer(EwalletCancelStatus::Cancelled)),
            Ok(CancelAnswer::Cancelled { at: at() })
        );
        for (wire, status) in [
            (EwalletCancelStatus::Success, PaymentStatus::Success),
            (EwalletCancelStatus::Failed, PaymentStatus::Failed),
            (EwalletCancelStatus::Expired, PaymentStatus::Expired),
        ] {
            assert_eq!(
                cancel_answer(&payment, answer(wire)),
                Ok(CancelAnswer::Decided {
                    status,
                    transaction: Transaction::new("tx-1", 10099, at()).unwrap(),
                })
            );
        }
    }

    #[test]
    fn an_answer_that_does_not_fit_the_payment_is_unusable() {
        let payment = payment();
        let mut other_request = answer(EwalletCancelStatus::Cancelled);
        other_request.payment_request_id = "ewallet-2".into();
        let mut no_time = answer(EwalletCancelStatus::Cancelled);
        no_time.cancelled_at = None;
        let mut no_transaction = answer(EwalletCancelStatus::Success);
        no_transaction.transaction = None;
        let mut other_amount = answer(EwalletCancelStatus::Success);
        if let Some(tx) = other_amount.transaction.as_mut() {
            tx.amount = 10098;
        }
        let mut other_currency = answer(EwalletCancelStatus::Success);
        if let Some(tx) = other_currency.transaction.as_mut() {
            tx.currency = Currency::parse("EUR").unwrap();
        }
        let mut blank_id = answer(EwalletCancelStatus::Success);
        if let Some(tx) = blank_id.transaction.as_mut() {
            tx.transaction_id = String::new();
        }
        for (bad, field) in [
            (other_request, "paymentRequestId"),
            (no_time, "cancelledAt"),
            (no_transaction, "transaction"),
            (other_amount, "transaction.amount"),
            (other_currency, "transaction.amount"),
            (blank_id, "transaction.transactionId"),
        ] {
            assert_eq!(cancel_answer(&payment, bad).unwrap_err().field, field);
        }
    }
}
