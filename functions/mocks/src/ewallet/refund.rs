//! POST /api/payment/payment-requests/{paymentRequestId}/refunds: pays a successful
//! payment back to the customer, once. Only the merchant may ask (its API key), only for a
//! request whose webhook reported SUCCESS or is being delivered (the merchant refunds from
//! inside that delivery); a repeated call answers the first refund.

use http::StatusCode;
use lambda_http::Request;
use shared::api_key::ApiKey;
use shared::contracts::EwalletRefundResponse;
use shared::http::{HandlerResult, json, path_param};
use shared::{Clock, CorrelationId, SystemClock};

use super::domain::PaymentRequestId;
use super::error::EwalletError;
use super::payment_request::authorize;
use super::repository::{EwalletRequestRepository, Refund};

/// Everything the endpoint needs, built once per cold start.
#[derive(Debug)]
pub struct RefundService<R, C = SystemClock> {
    pub repo: R,
    pub clock: C,
    pub api_key: ApiKey,
}

pub async fn handle<R: EwalletRequestRepository, C: Clock>(
    service: &RefundService<R, C>,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<EwalletError> {
    authorize(&service.api_key, &request)?;
    let id = PaymentRequestId::parse(&path_param(&request, "paymentRequestId")?)?;
    match service.repo.refund(id, service.clock.now()).await? {
        Refund::Refunded(at) => {
            tracing::info!(payment_request_id = %id, refunded_at = %at, "payment refunded");
            Ok(json(
                StatusCode::OK,
                &EwalletRefundResponse {
                    payment_request_id: id.to_string(),
                    refunded_at: at,
                },
            ))
        }
        Refund::NotRefundable(request) => {
            tracing::warn!(payment_request_id = %id, status = %request.status, "refund refused: not a successful payment");
            Err(EwalletError::NotRefundable)
        }
        Refund::NotFound => Err(EwalletError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use shared::clock::FixedClock;
    use shared::contracts::EwalletStatusCode;
    use shared::testing::{ApiRequest, assert_problem, body_json};
    use shared::{Currency, Money, OrderId};

    use super::*;
    use crate::ewallet::domain::{
        EwalletRequest, NewPaymentRequest, NotificationUri, RequestStatus,
    };
    use crate::ewallet::memory::InMemoryEwalletRequests;

    const ROUTE: &str = "/api/payment/payment-requests/{paymentRequestId}/refunds";
    const KEY: &str = "merchant-api-key-0001";

    fn service() -> RefundService<InMemoryEwalletRequests, FixedClock> {
        RefundService {
            repo: InMemoryEwalletRequests::default(),
            clock: FixedClock::at(Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()),
            api_key: ApiKey::new(KEY).unwrap(),
        }
    }

    async fn given(
        service: &RefundService<InMemoryEwalletRequests, FixedClock>,
        outcome: EwalletStatusCode,
    ) -> PaymentRequestId {
        let id = PaymentRequestId::new_random();
        let now = service.clock.now();
        let terms = NewPaymentRequest {
            amount: Money::from_cents(10099, Currency::USD),
            notification_uri: NotificationUri::parse("https://example.com/hook").unwrap(),
            order_id: OrderId::new_random(),
        };
        let mut request = EwalletRequest::new(id, terms, "corr", now, now);
        request.status = RequestStatus::Sent;
        request.outcome = Some(outcome);
        service.repo.insert_if_absent(&request).await.unwrap();
        id
    }

    async fn call(
        service: &RefundService<InMemoryEwalletRequests, FixedClock>,
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
    async fn a_successful_payment_is_refunded_once() {
        let service = service();
        let id = given(&service, EwalletStatusCode::Success).await;
        let first = call(&service, &id.to_string(), Some(KEY)).await;
        assert_eq!(first.status(), 200);
        let again = call(&service, &id.to_string(), Some(KEY)).await;
        assert_eq!(body_json(&first), body_json(&again));
        let stored = service.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.refunded_at, Some(service.clock.now()));
    }

    #[tokio::test]
    async fn only_the_merchant_may_refund_and_only_a_success() {
        let service = service();
        let failed = given(&service, EwalletStatusCode::Failed).await;
        let paid = given(&service, EwalletStatusCode::Success).await;
        assert_problem(&call(&service, &failed.to_string(), Some(KEY)).await, 409);
        assert_problem(
            &call(
                &service,
                &PaymentRequestId::new_random().to_string(),
                Some(KEY),
            )
            .await,
            404,
        );
        assert_problem(&call(&service, "not-an-id", Some(KEY)).await, 400);
        assert_problem(&call(&service, &paid.to_string(), None).await, 401);
        assert_problem(
            &call(&service, &paid.to_string(), Some("merchant-api-key-0002")).await,
            401,
        );
        assert_eq!(
            service.repo.get(paid).await.unwrap().unwrap().refunded_at,
            None
        );
    }
}
