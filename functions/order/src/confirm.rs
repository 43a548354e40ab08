//! POST /api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment
//! `{ "isConfirmed": true, "paymentId": "…" }`
//!
//! Moves the order waiting for that payment from PaymentPending to PaymentSuccess or
//! PaymentFailed. Idempotent: repeating a confirmation answers 200 and changes nothing; a
//! confirmation for a payment the order is not waiting for is 409.
//!
//! A decided order gets its fulfilment process (see `processes`), written after the order
//! and made again by any repeat: a confirmation that failed between the two writes is
//! retried by the webhook, finds the order settled, and writes the missing process.

use http::StatusCode;
use lambda_http::Request;
use shared::contracts::{ConfirmPaymentRequest, ConfirmPaymentResponse, OrderStatus};
use shared::http::{HandlerResult, json, json_body, path_param};
use shared::{Clock, CorrelationId, OrderId, UserId};

use crate::repository::{PaymentSettlement, Transition};
use crate::{Order, OrderDeps, OrderError, OrderRepository, Process, ProcessRepository};

pub async fn confirm<R: OrderRepository, P: ProcessRepository, C: Clock>(
    deps: &OrderDeps<R, P, C>,
    user: UserId,
    order: OrderId,
    request: &ConfirmPaymentRequest,
    correlation_id: &CorrelationId,
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
            start_process(deps, &order, request, correlation_id).await?;
            Ok(order)
        }
        Transition::AlreadyApplied(order) => {
            tracing::info!(order_id = %order.id, "payment already settled");
            start_process(deps, &order, request, correlation_id).await?;
            Ok(order)
        }
        Transition::Conflict(order) => Err(OrderError::NotWaitingForPayment(order.status)),
        Transition::NotFound => Err(OrderError::NotFound),
    }
}

/// Writes the order's process unless it exists; its insertion is the payment-result event.
async fn start_process<R, P: ProcessRepository, C: Clock>(
    deps: &OrderDeps<R, P, C>,
    order: &Order,
    request: &ConfirmPaymentRequest,
    correlation_id: &CorrelationId,
) -> Result<(), OrderError> {
    let process = Process::for_decided(order, request.payment_id, correlation_id, deps.clock.now());
    if deps.processes.insert_if_absent(&process).await? {
        tracing::info!(process_id = %process.process_id, jobs = process.jobs.len(), "order process started");
    }
    Ok(())
}

pub async fn handle<R: OrderRepository, P: ProcessRepository, C: Clock>(
    deps: &OrderDeps<R, P, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let user = UserId::parse(&path_param(&request, "userId")?)?;
    let order = OrderId::parse(&path_param(&request, "orderId")?)?;
    let body: ConfirmPaymentRequest = json_body(&request)?;
    let order = confirm(deps, user, order, &body, &correlation_id).await?;
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
    use crate::processes::memory::InMemoryProcessRepository;
    use chrono::Utc;
    use shared::{PaymentId, SystemClock};

    fn deps(
        repo: &InMemoryOrderRepository,
    ) -> OrderDeps<&InMemoryOrderRepository, InMemoryProcessRepository> {
        OrderDeps {
            repo,
            processes: InMemoryProcessRepository::default(),
            clock: SystemClock,
        }
    }

    fn cid() -> CorrelationId {
        CorrelationId::from_value(Some("confirm-test"))
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
        let first = confirm(
            &deps(&repo),
            order.user_id,
            order.id,
            &body(true, payment),
            &cid(),
        )
        .await
        .unwrap();
        assert_eq!(first.status, OrderStatus::PaymentSuccess);
        let again = confirm(
            &deps(&repo),
            order.user_id,
            order.id,
            &body(true, payment),
            &cid(),
        )
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
        let settled = confirm(
            &deps(&repo),
            order.user_id,
            order.id,
            &body(false, payment),
            &cid(),
        )
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
            &cid(),
        )
        .await;
        assert!(matches!(
            other,
            Err(OrderError::NotWaitingForPayment(
                OrderStatus::PaymentPending
            ))
        ));
        confirm(
            &deps(&repo),
            order.user_id,
            order.id,
            &body(true, payment),
            &cid(),
        )
        .await
        .unwrap();
        let opposite = confirm(
            &deps(&repo),
            order.user_id,
            order.id,
            &body(false, payment),
            &cid(),
        )
        .await;
        assert!(matches!(
            opposite,
            Err(OrderError::NotWaitingForPayment(
                OrderStatus::PaymentSuccess
            ))
        ));
    }

    #[tokio::test]
    async fn a_decided_payment_starts_one_process_with_the_jobs_of_its_outcome() {
        use shared::fulfilment::{JobStatus, JobType};
        for (confirmed, jobs) in [(true, 3), (false, 1)] {
            let (repo, order, payment) = pending();
            let deps = deps(&repo);
            for _ in 0..2 {
                confirm(
                    &deps,
                    order.user_id,
                    order.id,
                    &body(confirmed, payment),
                    &cid(),
                )
                .await
                .unwrap();
            }
            let processes = deps.processes.all();
            assert_eq!(processes.len(), 1, "a repeat made a second process");
            let process = &processes[0];
            assert_eq!(process.jobs.len(), jobs);
            assert!(process.jobs.contains_key(&JobType::Notification));
            assert!(process.jobs.values().all(|j| j.status == JobStatus::Queued));
            assert_eq!(process.correlation_id, "confirm-test");
        }
    }
}
