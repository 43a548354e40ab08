//! POST /api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment
//! `{ "isConfirmed": true, "paymentId": "…" }`
//!
//! Moves the order waiting for that payment from PaymentPending to PaymentSuccess or
//! PaymentFailed. Idempotent: repeating a confirmation answers 200 and changes nothing; a
//! confirmation for a payment the order is not waiting for is 409.

use http::StatusCode;
use lambda_http::Request;
use shared::contracts::{ConfirmPaymentRequest, ConfirmPaymentResponse, OrderStatus};
use shared::http::{HandlerResult, json, json_body, path_param};
use shared::{Clock, CorrelationId, OrderId, UserId};

use crate::repository::{PaymentSettlement, Transition};
use crate::{Order, OrderDeps, OrderError, OrderRepository};

pub async fn confirm<R: OrderRepository, C: Clock>(
    deps: &OrderDeps<R, C>,
    user: UserId,
    order: OrderId,
    request: &ConfirmPaymentRequest,
) -> Result<Order, OrderError> {
    let to = if request.is_confirmed {
        OrderStatus::PaymentSuccess
    } else {
        OrderStatus::PaymentFailed
    };
    let settlement = PaymentSettlement {
        user,
        order,
        payment_id: request.payment_id,
        to,
        now: deps.clock.now(),
    };
    match deps.repo.settle_payment(settlement).await? {
        Transition::Applied(order) => {
            tracing::info!(order_id = %order.id, status = to.as_str(), payment_id = %request.payment_id, "payment settled");
            // Planned: fulfilment (the follow-up jobs and the published payment result) starts
            // here; today the order only records the outcome.
            Ok(order)
        }
        Transition::AlreadyApplied(order) => {
            tracing::info!(order_id = %order.id, "payment already settled; nothing changed");
            Ok(order)
        }
        Transition::Conflict(order) => Err(OrderError::NotWaitingForPayment(order.status)),
        Transition::NotFound => Err(OrderError::NotFound),
    }
}

pub async fn handle<R: OrderRepository, C: Clock>(
    deps: &OrderDeps<R, C>,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let user = UserId::parse(&path_param(&request, "userId")?)?;
    let order = OrderId::parse(&path_param(&request, "orderId")?)?;
    let body: ConfirmPaymentRequest = json_body(&request)?;
    let order = confirm(deps, user, order, &body).await?;
    Ok(json(
        StatusCode::OK,
        &ConfirmPaymentResponse {
            order_id: order.id,
            user_id: order.user_id,
            status: order.status,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::memory::InMemoryOrderRepository;
    use chrono::Utc;
    use shared::{PaymentId, SystemClock};

    fn deps(repo: &InMemoryOrderRepository) -> OrderDeps<&InMemoryOrderRepository> {
        OrderDeps {
            repo,
            clock: SystemClock,
        }
    }

    fn pending() -> (InMemoryOrderRepository, Order, PaymentId) {
        let mut order = demo::demo_order(UserId::new_random(), 1, Utc::now());
        let payment = PaymentId::new_random();
        order.status = OrderStatus::PaymentPending;
        order.payment_id = Some(payment);
        (
            InMemoryOrderRepository::with([order.clone()]),
            order,
            payment,
        )
    }

    fn body(is_confirmed: bool, payment_id: PaymentId) -> ConfirmPaymentRequest {
        ConfirmPaymentRequest {
            is_confirmed,
            payment_id,
        }
    }

    #[tokio::test]
    async fn a_confirmed_payment_makes_the_order_payment_success_once() {
        let (repo, order, payment) = pending();
        let first = confirm(&deps(&repo), order.user_id, order.id, &body(true, payment))
            .await
            .unwrap();
        assert_eq!(first.status, OrderStatus::PaymentSuccess);
        let again = confirm(&deps(&repo), order.user_id, order.id, &body(true, payment))
            .await
            .unwrap();
        assert_eq!(
            again.updated_at, first.updated_at,
            "a repeat changed the order"
        );
    }

    #[tokio::test]
    async fn a_refused_payment_makes_the_order_payment_failed() {
        let (repo, order, payment) = pending();
        let settled = confirm(&deps(&repo), order.user_id, order.id, &body(false, payment))
            .await
            .unwrap();
        assert_eq!(settled.status, OrderStatus::PaymentFailed);
    }

    #[tokio::test]
    async fn a_confirmation_for_another_payment_or_the_opposite_outcome_is_a_conflict() {
        let (repo, order, payment) = pending();
        let other = confirm(
            &deps(&repo),
            order.user_id,
            order.id,
            &body(true, PaymentId::new_random()),
        )
        .await;
        assert!(matches!(
            other,
            Err(OrderError::NotWaitingForPayment(
                OrderStatus::PaymentPending
            ))
        ));
        confirm(&deps(&repo), order.user_id, order.id, &body(true, payment))
            .await
            .unwrap();
        let opposite = confirm(&deps(&repo), order.user_id, order.id, &body(false, payment)).await;
        assert!(matches!(
            opposite,
            Err(OrderError::NotWaitingForPayment(
                OrderStatus::PaymentSuccess
            ))
        ));
    }
}
