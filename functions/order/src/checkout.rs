//! POST /api/v1/users/{userId}/orders/{orderId}/checkout `{ "paymentProvider": "Ewallet" }`
//!
//! 1. The order must be the user's (else 404) and payable: Created or PaymentFailed (else 409).
//! 2. A conditional write moves it to PaymentPending with a new attempt number and that
//!    attempt's payment id, so of N concurrent checkouts exactly one goes on (the others
//!    see 409).
//! 3. The payment service is asked for the payment under the attempt's idempotency key.
//!    If that fails, the order is put back to its previous state and the client gets 503.

use http::StatusCode;
use lambda_http::Request;
use shared::contracts::{CheckoutRequest, CheckoutResponse, OrderStatus, PaymentRequest};
use shared::http::{HandlerResult, json, json_body, path_param};
use shared::{Clock, CorrelationId, OrderId, PaymentId, SystemClock, UserId};

use crate::payments::Payments;
use crate::repository::{CheckoutAbandon, CheckoutStart};
use crate::{OrderError, OrderRepository};

/// What checkout needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct CheckoutDeps<R, P, C = SystemClock> {
    pub repo: R,
    pub payments: P,
    pub clock: C,
}

pub async fn checkout<R: OrderRepository, P: Payments, C: Clock>(
    deps: &CheckoutDeps<R, P, C>,
    user: UserId,
    order_id: OrderId,
    request: &CheckoutRequest,
    correlation_id: &CorrelationId,
) -> Result<CheckoutResponse, OrderError> {
    let CheckoutDeps {
        repo,
        payments,
        clock,
    } = deps;
    let order = repo
        .get(user, order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    if !order.status.is_payable() {
        return Err(OrderError::NotPayable(order.status));
    }
    let attempt = order.checkout_attempt + 1;
    let idempotency_key = order.checkout_key(attempt);
    let payment_id = PaymentId::for_idempotency_key(&idempotency_key);
    let start = CheckoutStart {
        order: &order,
        attempt,
        payment_id,
        now: clock.now(),
    };
    if !repo.start_checkout(start).await? {
        // Another checkout changed the order between our read and our write.
        let now = repo
            .get(user, order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        return Err(OrderError::NotPayable(now.status));
    }
    tracing::info!(%order_id, attempt, %payment_id, "checkout started");

    let payment_request = PaymentRequest {
        user_id: user,
        order_id,
        amount: order.total.cents(),
        currency: order.total.currency(),
        payment_method: request.payment_provider,
    };
    match payments
        .request(&payment_request, &idempotency_key, correlation_id)
        .await
    {
        Ok(payment) => {
            if payment.payment_id != payment_id {
                tracing::error!(expected = %payment_id, got = %payment.payment_id, "payment service answered another payment id");
            }
            Ok(CheckoutResponse {
                order_id,
                user_id: user,
                status: OrderStatus::PaymentPending,
                payment_id: payment.payment_id,
                payment_status: payment.payment_status,
            })
        }
        Err(err) => {
            let abandon = CheckoutAbandon {
                order: &order,
                payment_id,
                back_to: order.status,
                now: clock.now(),
            };
            let restored = repo.abandon_checkout(abandon).await?;
            tracing::warn!(%order_id, restored, back_to = order.status.as_str(), "payment request failed; checkout abandoned");
            Err(OrderError::PaymentUnavailable(err))
        }
    }
}

pub async fn handle<R: OrderRepository, P: Payments, C: Clock>(
    deps: &CheckoutDeps<R, P, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let user = UserId::parse(&path_param(&request, "userId")?)?;
    let order = OrderId::parse(&path_param(&request, "orderId")?)?;
    let body: CheckoutRequest = json_body(&request)?;
    let response = checkout(deps, user, order, &body, &correlation_id).await?;
    Ok(json(StatusCode::ACCEPTED, &response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::memory::{FakePayments, InMemoryOrderRepository};
    use chrono::Utc;
    use shared::contracts::PaymentProvider;

    fn deps<'a>(
        repo: &'a InMemoryOrderRepository,
        payments: &'a FakePayments,
    ) -> CheckoutDeps<&'a InMemoryOrderRepository, &'a FakePayments> {
        CheckoutDeps {
            repo,
            payments,
            clock: SystemClock,
        }
    }

    const EWALLET: CheckoutRequest = CheckoutRequest {
        payment_provider: PaymentProvider::Ewallet,
    };

    fn setup(status: OrderStatus) -> (InMemoryOrderRepository, crate::Order) {
        let mut order = demo::demo_order(UserId::new_random(), 1, Utc::now());
        order.status = status;
        (InMemoryOrderRepository::with([order.clone()]), order)
    }

    #[tokio::test]
    async fn a_created_order_goes_to_payment_pending_with_one_payment_request() {
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::default();
        let cid = CorrelationId::generate();
        let response = checkout(
            &deps(&repo, &payments),
            order.user_id,
            order.id,
            &EWALLET,
            &cid,
        )
        .await
        .unwrap();
        assert_eq!(response.status, OrderStatus::PaymentPending);
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.status, OrderStatus::PaymentPending);
        assert_eq!(stored.payment_id, Some(response.payment_id));
        let requests = payments.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].0.amount, 10099);
    }

    #[tokio::test]
    async fn a_pending_or_paid_order_cannot_be_checked_out() {
        for status in [
            OrderStatus::PaymentPending,
            OrderStatus::PaymentSuccess,
            OrderStatus::Cancelled,
            OrderStatus::Delivered,
        ] {
            let (repo, order) = setup(status);
            let payments = FakePayments::default();
            let err = checkout(
                &deps(&repo, &payments),
                order.user_id,
                order.id,
                &EWALLET,
                &CorrelationId::generate(),
            )
            .await
            .unwrap_err();
            assert!(matches!(err, OrderError::NotPayable(s) if s == status));
            assert!(payments.requests().is_empty());
        }
    }

    #[tokio::test]
    async fn a_failed_payment_can_be_retried_as_a_new_attempt() {
        let mut order = demo::demo_order(UserId::new_random(), 1, Utc::now());
        order.status = OrderStatus::PaymentFailed;
        order.checkout_attempt = 1;
        let repo = InMemoryOrderRepository::with([order.clone()]);
        let payments = FakePayments::default();
        checkout(
            &deps(&repo, &payments),
            order.user_id,
            order.id,
            &EWALLET,
            &CorrelationId::generate(),
        )
        .await
        .unwrap();
        assert_eq!(payments.requests()[0].1, order.checkout_key(2));
    }

    #[tokio::test]
    async fn when_the_payment_service_fails_the_order_is_payable_again() {
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::failing();
        let err = checkout(
            &deps(&repo, &payments),
            order.user_id,
            order.id,
            &EWALLET,
            &CorrelationId::generate(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, OrderError::PaymentUnavailable(_)));
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.status, OrderStatus::Created);
    }

    #[tokio::test]
    async fn another_users_order_is_not_found() {
        let (repo, order) = setup(OrderStatus::Created);
        let err = checkout(
            &deps(&repo, &FakePayments::default()),
            UserId::new_random(),
            order.id,
            &EWALLET,
            &CorrelationId::generate(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, OrderError::NotFound));
    }

    #[tokio::test]
    async fn the_checkout_is_stamped_with_the_clocks_time() {
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::default();
        let at = order.updated_at + chrono::Duration::minutes(5);
        let deps = CheckoutDeps {
            repo: &repo,
            payments: &payments,
            clock: shared::clock::FixedClock::at(at),
        };
        checkout(
            &deps,
            order.user_id,
            order.id,
            &EWALLET,
            &CorrelationId::generate(),
        )
        .await
        .unwrap();
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.updated_at, at);
    }
}
