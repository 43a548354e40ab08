//! POST /api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment
//! `{ "isConfirmed": true, "paymentId": "…" }`
//!
//! Moves the order waiting for that payment from PaymentPending to PaymentSuccess or
//! PaymentFailed. Idempotent: repeating a confirmation answers 200 and changes nothing; a
//! confirmation for a payment the order is not waiting for is 409.
//!
//! A decided order gets its fulfilment process (see `processes`), written *before* the
//! order leaves PaymentPending: a confirmation that fails between the two writes leaves
//! the order pending, so the webhook's retry or, past the deadline, the reconciler comes
//! back, finds the process written, and settles the order. Writing the order first would
//! take it out of the reconciler's index with nothing left to write the process.

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
    // Only an order waiting for this payment (or already settled by it, a repeat) gets its
    // process: a process is a decision, and is published as soon as it is written.
    let Some(current) = deps.repo.get(user, order).await? else {
        return Err(OrderError::NotFound);
    };
    let waits = current.payment_id == Some(request.payment_id)
        && (current.status == OrderStatus::PaymentPending || current.status == to);
    if !waits {
        return Err(OrderError::NotWaitingForPayment(current.status));
    }
    let decided = Order {
        status: to,
        ..current
    };
    start_process(deps, &decided, request, correlation_id).await?;
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
            Ok(order)
        }
        Transition::AlreadyApplied(order) => {
            tracing::info!(order_id = %order.id, "payment already settled");
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

    /// A process store that fails its next write.
    #[derive(Default)]
    struct FailingProcesses {
        inner: InMemoryProcessRepository,
        fail_next: std::sync::atomic::AtomicBool,
    }

    impl ProcessRepository for FailingProcesses {
        async fn insert_if_absent(
            &self,
            process: &Process,
        ) -> Result<bool, crate::RepositoryError> {
            if self
                .fail_next
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                return Err(shared::store::failed(std::io::Error::other("unavailable")));
            }
            self.inner.insert_if_absent(process).await
        }
        async fn get(
            &self,
            process: shared::ProcessId,
        ) -> Result<Option<Process>, crate::RepositoryError> {
            self.inner.get(process).await
        }
        async fn get_many(
            &self,
            processes: &[shared::ProcessId],
        ) -> Result<Vec<Process>, crate::RepositoryError> {
            self.inner.get_many(processes).await
        }
        async fn change_job(
            &self,
            change: &crate::processes::JobChange,
        ) -> Result<crate::processes::JobChangeOutcome, crate::RepositoryError> {
            self.inner.change_job(change).await
        }
        async fn finish(
            &self,
            process: shared::ProcessId,
            to: shared::fulfilment::ProcessStatus,
            now: chrono::DateTime<Utc>,
        ) -> Result<bool, crate::RepositoryError> {
            self.inner.finish(process, to, now).await
        }
    }

    #[tokio::test]
    async fn when_the_process_cannot_be_written_the_order_stays_pending_for_the_retry() {
        let (repo, order, payment) = pending();
        let deps = OrderDeps {
            repo: &repo,
            processes: FailingProcesses {
                fail_next: true.into(),
                ..Default::default()
            },
            clock: SystemClock,
        };
        let failed = confirm(&deps, order.user_id, order.id, &body(true, payment), &cid()).await;
        assert!(matches!(failed, Err(OrderError::Store(_))), "{failed:?}");
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(
            stored.status,
            OrderStatus::PaymentPending,
            "the order was decided without its process"
        );
        let settled = confirm(&deps, order.user_id, order.id, &body(true, payment), &cid())
            .await
            .unwrap();
        assert_eq!(settled.status, OrderStatus::PaymentSuccess);
        assert_eq!(deps.processes.inner.all().len(), 1);
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
