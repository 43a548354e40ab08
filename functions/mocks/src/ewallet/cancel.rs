//! POST /api/payment/payment-requests/{paymentRequestId}/cancel: makes a payment request's
//! outcome definite for the merchant (see `shared::contracts::EwalletCancelResponse`).
//! Only the merchant may ask (its API key). A request whose webhook was not delivered is
//! cancelled, once, and never delivered after; one whose webhook was delivered answers its
//! verdict instead; one being delivered right now is a 409.

use http::StatusCode;
use lambda_http::Request;
use shared::api_key::ApiKey;
use shared::contracts::{EwalletCancelResponse, EwalletCancelStatus, EwalletCancelTransaction};
use shared::http::{HandlerResult, json, path_param};
use shared::{Clock, CorrelationId, SystemClock};

use super::domain::{EwalletRequest, PaymentRequestId};
use super::error::EwalletError;
use super::payment_request::authorize;
use super::repository::{Cancel, EwalletRequestRepository, RepositoryError};

/// Everything the endpoint needs, built once per cold start.
#[derive(Debug)]
pub struct CancelService<R, C = SystemClock> {
    pub repo: R,
    pub clock: C,
    pub api_key: ApiKey,
}

pub async fn handle<R: EwalletRequestRepository, C: Clock>(
    service: &CancelService<R, C>,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<EwalletError> {
    authorize(&service.api_key, &request)?;
    let id = PaymentRequestId::parse(&path_param(&request, "paymentRequestId")?)?;
    let answer = match service.repo.cancel(id, service.clock.now()).await? {
        Cancel::Cancelled(at) => {
            tracing::info!(payment_request_id = %id, cancelled_at = %at, "payment request cancelled");
            EwalletCancelResponse {
                payment_request_id: id.to_string(),
                status: EwalletCancelStatus::Cancelled,
                cancelled_at: Some(at),
                transaction: None,
            }
        }
        Cancel::Decided(request) => {
            let answer = decided(&request)?;
            tracing::info!(payment_request_id = %id, status = ?answer.status, "not cancelled: its webhook was delivered");
            answer
        }
        Cancel::Busy => {
            tracing::info!(payment_request_id = %id, "not cancelled: its webhook is being delivered");
            return Err(EwalletError::Busy);
        }
        Cancel::NotFound => return Err(EwalletError::NotFound),
    };
    Ok(json(StatusCode::OK, &answer))
}

/// The verdict a delivered webhook reported, with its transaction.
fn decided(request: &EwalletRequest) -> Result<EwalletCancelResponse, EwalletError> {
    let corrupt = |reason: &str| RepositoryError::Corrupt {
        key: format!("paymentRequestId={}", request.id),
        reason: format!("a sent request without {reason}"),
    };
    let outcome = request.outcome.ok_or_else(|| corrupt("outcome"))?;
    let transaction_id = request
        .transaction_id
        .clone()
        .ok_or_else(|| corrupt("transactionId"))?;
    let sent_at = request.sent_at.ok_or_else(|| corrupt("sentAt"))?;
    Ok(EwalletCancelResponse {
        payment_request_id: request.id.to_string(),
        status: outcome.into(),
        cancelled_at: None,
        transaction: Some(EwalletCancelTransaction {
            transaction_id,
            amount: request.amount.cents(),
            currency: request.amount.currency(),
            transaction_time: sent_at,
        }),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use shared::clock::FixedClock;
    use shared::contracts::EwalletStatusCode;
    use shared::testing::{ApiRequest, assert_problem, body_json};
    use shared::{Currency, Money, OrderId};

    use super::*;
    use crate::ewallet::domain::{NewPaymentRequest, NotificationUri, RequestStatus};
    use crate::ewallet::memory::InMemoryEwalletRequests;
    use crate::ewallet::repository::{Claim, Settlement};

    const ROUTE: &str = "/api/payment/payment-requests/{paymentRequestId}/cancel";
    const KEY: &str = "merchant-api-key-0001";

    type Service = CancelService<InMemoryEwalletRequests, FixedClock>;

    fn service() -> Service {
        CancelService {
            repo: InMemoryEwalletRequests::default(),
            clock: FixedClock::at(Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()),
            api_key: ApiKey::new(KEY).unwrap(),
        }
    }

    /// A Pending request for 100.99 USD.
    async fn given(service: &Service) -> PaymentRequestId {
        let id = PaymentRequestId::new_random();
        let now = service.clock.now();
        let terms = NewPaymentRequest {
            amount: Money::from_cents(10099, Currency::USD),
            notification_uri: NotificationUri::parse("https://example.com/hook").unwrap(),
            order_id: OrderId::new_random(),
        };
        let request = EwalletRequest::new(id, terms, "corr", now, now);
        service.repo.insert_if_absent(&request).await.unwrap();
        id
    }

    /// Claimed by a firing whose lease ends `lease` from now.
    async fn claimed(service: &Service, id: PaymentRequestId, lease: Duration) -> Claim {
        let now = service.clock.now();
        let claim = Claim {
            token: uuid::Uuid::new_v4().to_string(),
            lease_until: now + lease,
        };
        assert!(service.repo.claim(id, now, &claim).await.unwrap());
        claim
    }

    async fn call(
        service: &Service,
        id: &str,
        key: Option<&str>,
    ) -> lambda_http::Response<lambda_http::Body> {
        let mut request = ApiRequest::new("POST", ROUTE, &[("paymentRequestId", id)]);
        if let Some(key) = key {
            request = request.header("X-Api-Key", key);
        }
        let cid = CorrelationId::generate();
        shared::http::respond(
            handle(service, request.build(), cid.clone()).await,
            &cid,
            ROUTE,
        )
    }

    #[tokio::test]
    async fn a_pending_request_is_cancelled_once_and_a_repeat_answers_the_first_cancel() {
        let service = service();
        let id = given(&service).await;

        let first = call(&service, &id.to_string(), Some(KEY)).await;
        service.clock.advance(Duration::seconds(30));
        let again = call(&service, &id.to_string(), Some(KEY)).await;

        assert_eq!(first.status(), 200);
        assert_eq!(
            body_json(&first),
            serde_json::json!({
                "paymentRequestId": id.to_string(),
                "status": "CANCELLED",
                "cancelledAt": "2026-11-25T12:00:00Z",
            })
        );
        assert_eq!(body_json(&again), body_json(&first));
        let stored = service.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.status, RequestStatus::Cancelled);
    }

    #[tokio::test]
    async fn a_delivered_request_answers_its_verdict_and_transaction_instead() {
        let service = service();
        let id = given(&service).await;
        let held = claimed(&service, id, Duration::seconds(60)).await;
        let sent = Settlement::Sent {
            outcome: EwalletStatusCode::Failed,
            transaction_id: "tx-delivered".into(),
            at: service.clock.now(),
        };
        assert!(service.repo.settle(id, &held.token, &sent).await.unwrap());

        let response = call(&service, &id.to_string(), Some(KEY)).await;

        assert_eq!(response.status(), 200);
        assert_eq!(
            body_json(&response),
            serde_json::json!({
                "paymentRequestId": id.to_string(),
                "status": "FAILED",
                "transaction": {
                    "transactionId": "tx-delivered",
                    "amount": 100.99,
                    "currency": "USD",
                    "transactionTime": "2026-11-25T12:00:00Z",
                },
            })
        );
        assert_eq!(
            service.repo.get(id).await.unwrap().unwrap().status,
            RequestStatus::Sent
        );
    }

    #[tokio::test]
    async fn a_request_being_delivered_is_409_until_its_firing_dies() {
        let service = service();
        let id = given(&service).await;
        claimed(&service, id, Duration::seconds(60)).await;

        assert_problem(&call(&service, &id.to_string(), Some(KEY)).await, 409);
        assert_eq!(
            service.repo.get(id).await.unwrap().unwrap().status,
            RequestStatus::Sending
        );

        service.clock.advance(Duration::seconds(61));
        let response = call(&service, &id.to_string(), Some(KEY)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(body_json(&response)["status"], "CANCELLED");
    }

    #[tokio::test]
    async fn a_request_the_merchant_refused_is_cancelled() {
        let service = service();
        let id = given(&service).await;
        let held = claimed(&service, id, Duration::seconds(60)).await;
        let rejected = Settlement::Rejected {
            status: 400,
            at: service.clock.now(),
        };
        assert!(
            service
                .repo
                .settle(id, &held.token, &rejected)
                .await
                .unwrap()
        );

        let response = call(&service, &id.to_string(), Some(KEY)).await;

        assert_eq!(response.status(), 200);
        assert_eq!(body_json(&response)["status"], "CANCELLED");
    }

    #[tokio::test]
    async fn only_the_merchant_may_cancel_and_only_a_known_request() {
        let service = service();
        let id = given(&service).await;
        let unknown = PaymentRequestId::new_random().to_string();
        assert_problem(&call(&service, &unknown, Some(KEY)).await, 404);
        assert_problem(&call(&service, "not-an-id", Some(KEY)).await, 400);
        assert_problem(&call(&service, &id.to_string(), None).await, 401);
        assert_problem(
            &call(&service, &id.to_string(), Some("merchant-api-key-0002")).await,
            401,
        );
        assert_eq!(
            service.repo.get(id).await.unwrap().unwrap().status,
            RequestStatus::Pending
        );
    }
}
