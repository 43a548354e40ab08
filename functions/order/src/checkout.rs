//! POST /api/v1/users/{userId}/orders/{orderId}/checkout `{ "paymentProvider": "Ewallet" }`
//!
//! 1. The order must be the user's (else 404), read strongly consistent.
//! 2. A payable order (Created, PaymentFailed) starts a new attempt: a conditional write
//!    moves it to PaymentPending with the attempt's payment id, so of N concurrent
//!    checkouts exactly one goes on (the others see 409). A PaymentPending order continues
//!    its attempt: the same idempotency key, so the payment service answers with the same
//!    payment instead of making a second one. Any other status is 409.
//! 3. The payment service is asked for the payment within the invocation's time budget.
//!    Only a definite "nothing was done" (the request refused, or never sent) puts the
//!    order back. Any other failure (timeout, 5xx, lost answer) may hide a payment that
//!    went through: the order keeps waiting for it, and the client gets 503 with
//!    Retry-After; a retried checkout continues the same payment.
//! 4. Each attempt has a deadline (`PAYMENT_DEADLINE_SECONDS` after it started). Past it,
//!    the reconciler settles the order from the payment service's record. From
//!    `REDRIVE_FENCE` before it, checkout no longer drives the attempt on (503), so no
//!    payment it asks for can appear after the reconciler found none.

use std::time::Duration;

use http::StatusCode;
use lambda_http::Request;
use shared::client::call_budget;
use shared::contracts::{CheckoutRequest, CheckoutResponse, OrderStatus, PaymentRequest};
use shared::http::{HandlerResult, invocation_deadline_ms, json, json_body, path_param};
use shared::{Clock, CorrelationId, OrderId, PaymentId, SystemClock, UserId};

use crate::payments::Payments;
use crate::repository::{CheckoutAbandon, CheckoutStart};
use crate::{Order, OrderError, OrderRepository};

/// Left of the invocation after the payment call: enough to record its outcome and answer.
pub const CHECKOUT_MARGIN: Duration = Duration::from_millis(1_500);
/// The payment call's budget at most, and without a usable Lambda deadline (tests, cargo
/// lambda watch): above the payment service's own 5 s for the e-wallet, so budgets nest.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(8);

/// How long before an attempt's deadline checkout stops driving it on: longer than a
/// checkout (10 s timeout) and the payment request it started (10 s) can still run, so any
/// payment a checkout asks for exists before the reconciler looks for it.
pub const REDRIVE_FENCE: chrono::Duration = chrono::Duration::seconds(30);

/// What checkout needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct CheckoutDeps<R, P, C = SystemClock> {
    pub repo: R,
    pub payments: P,
    pub clock: C,
    /// How long an attempt may stay PaymentPending before the reconciler settles it.
    pub payment_deadline: chrono::Duration,
}

/// The attempt this checkout drives: a new one, or the one the order is waiting for.
struct Attempt {
    number: u32,
    payment_id: PaymentId,
    /// The status to go back to if the payment service says no payment exists.
    back_to: OrderStatus,
}

pub async fn checkout<R: OrderRepository, P: Payments, C: Clock>(
    deps: &CheckoutDeps<R, P, C>,
    user: UserId,
    order_id: OrderId,
    request: &CheckoutRequest,
    correlation_id: &CorrelationId,
    budget: Duration,
) -> Result<CheckoutResponse, OrderError> {
    let CheckoutDeps {
        repo,
        payments,
        clock,
        payment_deadline,
    } = deps;
    let order = repo
        .get(user, order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    let attempt = match (order.status, order.payment_id) {
        (OrderStatus::PaymentPending, Some(_))
            if !order.may_redrive(clock.now(), REDRIVE_FENCE) =>
        {
            tracing::info!(%order_id, pending_until = ?order.pending_until, "checkout of an attempt being settled by the reconciler");
            return Err(OrderError::BeingSettled);
        }
        (OrderStatus::PaymentPending, Some(payment_id)) => {
            tracing::info!(%order_id, attempt = order.checkout_attempt, %payment_id, "checkout continues the pending attempt");
            Attempt {
                number: order.checkout_attempt,
                payment_id,
                // Which payable status it had is not kept; PaymentFailed is payable and
                // true to what the user saw: that attempt did not pay.
                back_to: OrderStatus::PaymentFailed,
            }
        }
        (status, _) if status.is_payable() => {
            start_attempt(repo, clock, &order, *payment_deadline).await?
        }
        (status, _) => return Err(OrderError::NotPayable(status)),
    };

    let idempotency_key = order.checkout_key(attempt.number);
    let payment_request = PaymentRequest {
        user_id: user,
        order_id,
        amount: order.total.cents(),
        currency: order.total.currency(),
        payment_method: request.payment_provider,
    };
    let call = payments.request(&payment_request, &idempotency_key, correlation_id);
    let err = match shared::client::within(budget, call).await {
        Ok(Ok(payment)) => {
            if payment.payment_id != attempt.payment_id {
                tracing::error!(expected = %attempt.payment_id, got = %payment.payment_id, "payment service answered another payment id");
            }
            return Ok(CheckoutResponse {
                order_id,
                user_id: user,
                status: OrderStatus::PaymentPending,
                payment_id: payment.payment_id,
                payment_status: payment.payment_status,
            });
        }
        Ok(Err(err)) if err.changed_nothing() => err,
        Ok(Err(err)) => {
            tracing::warn!(%order_id, error = %shared::telemetry::ErrorChain(&err), "payment outcome unknown; the order keeps waiting for it");
            return Err(OrderError::PaymentOutcomeUnknown(Some(err)));
        }
        Err(_elapsed) => {
            tracing::warn!(%order_id, budget_ms = budget.as_millis() as u64, "payment call out of time; the order keeps waiting for it");
            return Err(OrderError::PaymentOutcomeUnknown(None));
        }
    };
    let abandon = CheckoutAbandon {
        order: &order,
        payment_id: attempt.payment_id,
        back_to: attempt.back_to,
        now: clock.now(),
    };
    let restored = repo.abandon_checkout(abandon).await?;
    tracing::warn!(%order_id, restored, back_to = attempt.back_to.as_str(), "payment request refused; checkout abandoned");
    Err(OrderError::PaymentRefused(err))
}

/// Moves a payable order to PaymentPending under a new attempt, if no one else did first.
async fn start_attempt<R: OrderRepository, C: Clock>(
    repo: &R,
    clock: &C,
    order: &Order,
    payment_deadline: chrono::Duration,
) -> Result<Attempt, OrderError> {
    let number = order
        .checkout_attempt
        .checked_add(1)
        .ok_or(OrderError::NotPayable(order.status))?;
    let payment_id = PaymentId::for_idempotency_key(&order.checkout_key(number));
    let now = clock.now();
    let start = CheckoutStart {
        order,
        attempt: number,
        payment_id,
        pending_until: now + payment_deadline,
        now,
    };
    if !repo.start_checkout(start).await? {
        // Another checkout changed the order between our read and our write.
        let now = repo
            .get(order.user_id, order.id)
            .await?
            .ok_or(OrderError::NotFound)?;
        return Err(OrderError::NotPayable(now.status));
    }
    tracing::info!(order_id = %order.id, attempt = number, %payment_id, "checkout started");
    Ok(Attempt {
        number,
        payment_id,
        back_to: order.status,
    })
}

pub async fn handle<R: OrderRepository, P: Payments, C: Clock>(
    deps: &CheckoutDeps<R, P, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let user = UserId::parse(&path_param(&request, "userId")?)?;
    let order = OrderId::parse(&path_param(&request, "orderId")?)?;
    let body: CheckoutRequest = json_body(&request)?;
    let budget = call_budget(
        invocation_deadline_ms(&request, deps.clock.now().timestamp_millis()),
        deps.clock.now().timestamp_millis(),
        CHECKOUT_MARGIN,
        DEFAULT_BUDGET,
    );
    let response = checkout(deps, user, order, &body, &correlation_id, budget).await?;
    Ok(json(StatusCode::ACCEPTED, &response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::error::RETRY_PENDING_CHECKOUT_SECS;
    use crate::memory::{FakePayments, InMemoryOrderRepository, PaymentsFault};
    use chrono::Utc;
    use shared::contracts::PaymentProvider;
    use shared::http::ApiError;

    fn deps<'a>(
        repo: &'a InMemoryOrderRepository,
        payments: &'a FakePayments,
    ) -> CheckoutDeps<&'a InMemoryOrderRepository, &'a FakePayments> {
        CheckoutDeps {
            repo,
            payments,
            clock: SystemClock,
            payment_deadline: crate::config::PaymentDeadline::default().0,
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
        let response = checkout_with(&repo, &payments, &order, DEFAULT_BUDGET)
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
            // PaymentPending without a payment: nothing to continue.
            OrderStatus::PaymentPending,
            OrderStatus::PaymentSuccess,
            OrderStatus::Cancelled,
            OrderStatus::Delivered,
        ] {
            let (repo, order) = setup(status);
            let payments = FakePayments::default();
            let err = checkout_with(&repo, &payments, &order, DEFAULT_BUDGET)
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
        checkout_with(&repo, &payments, &order, DEFAULT_BUDGET)
            .await
            .unwrap();
        assert_eq!(payments.requests()[0].1, order.checkout_key(2));
    }

    async fn checkout_with(
        repo: &InMemoryOrderRepository,
        payments: &FakePayments,
        order: &crate::Order,
        budget: Duration,
    ) -> Result<CheckoutResponse, OrderError> {
        checkout(
            &deps(repo, payments),
            order.user_id,
            order.id,
            &EWALLET,
            &CorrelationId::generate(),
            budget,
        )
        .await
    }

    #[tokio::test]
    async fn when_the_payment_outcome_is_unknown_the_order_keeps_waiting_for_it() {
        for fault in [PaymentsFault::Unavailable, PaymentsFault::AnswerLost] {
            let (repo, order) = setup(OrderStatus::Created);
            let payments = FakePayments::with_fault(fault);
            let err = checkout_with(&repo, &payments, &order, DEFAULT_BUDGET)
                .await
                .unwrap_err();
            assert!(
                matches!(err, OrderError::PaymentOutcomeUnknown(_)),
                "{fault:?}: {err}"
            );
            assert_eq!(err.retry_after_secs(), Some(RETRY_PENDING_CHECKOUT_SECS));
            let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
            assert_eq!(stored.status, OrderStatus::PaymentPending, "{fault:?}");
        }
    }

    #[tokio::test]
    async fn a_pending_order_continues_its_attempt_under_the_same_key() {
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::with_fault(PaymentsFault::AnswerLost);
        checkout_with(&repo, &payments, &order, DEFAULT_BUDGET)
            .await
            .unwrap_err();
        payments.set_fault(PaymentsFault::None);
        let pending = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        let response = checkout_with(&repo, &payments, &pending, DEFAULT_BUDGET)
            .await
            .unwrap();
        let keys: Vec<String> = payments.requests().into_iter().map(|(_, k)| k).collect();
        assert_eq!(keys, [order.checkout_key(1), order.checkout_key(1)]);
        assert_eq!(payments.payments_made().len(), 1);
        assert_eq!(Some(response.payment_id), pending.payment_id);
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.checkout_attempt, 1);
    }

    #[tokio::test]
    async fn when_the_payment_service_refuses_the_order_is_payable_again() {
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::with_fault(PaymentsFault::Rejected);
        let err = checkout_with(&repo, &payments, &order, DEFAULT_BUDGET)
            .await
            .unwrap_err();
        assert!(matches!(err, OrderError::PaymentRefused(_)), "{err}");
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.status, OrderStatus::Created);
    }

    #[tokio::test(start_paused = true)]
    async fn the_payment_call_gets_the_invocations_time_left_minus_the_margin() {
        // A Lambda deadline 10 s away leaves the call 8.5 s, capped at 8 s; the payment
        // service never answers, so checkout must give up by then and still answer.
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::with_fault(PaymentsFault::Hang);
        let now_ms = 1_000_000;
        let budget = call_budget(
            Some(now_ms as u64 + 10_000),
            now_ms,
            CHECKOUT_MARGIN,
            DEFAULT_BUDGET,
        );
        assert_eq!(budget, Duration::from_secs(8));
        let started = tokio::time::Instant::now();
        let err = checkout_with(&repo, &payments, &order, budget)
            .await
            .unwrap_err();
        assert!(
            matches!(err, OrderError::PaymentOutcomeUnknown(None)),
            "{err}"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(8));
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.status, OrderStatus::PaymentPending);
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
            DEFAULT_BUDGET,
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
            payment_deadline: crate::config::PaymentDeadline::default().0,
        };
        checkout(
            &deps,
            order.user_id,
            order.id,
            &EWALLET,
            &CorrelationId::generate(),
            DEFAULT_BUDGET,
        )
        .await
        .unwrap();
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.updated_at, at);
    }

    #[tokio::test]
    async fn a_retried_checkout_drives_the_attempt_on_only_until_30_s_before_its_deadline() {
        let (repo, order) = setup(OrderStatus::Created);
        let payments = FakePayments::with_fault(PaymentsFault::AnswerLost);
        let start = order.updated_at;
        let deadline = chrono::Duration::seconds(60);
        let deps = CheckoutDeps {
            repo: &repo,
            payments: &payments,
            clock: shared::clock::FixedClock::at(start),
            payment_deadline: deadline,
        };
        let cid = CorrelationId::generate();
        let go = || {
            checkout(
                &deps,
                order.user_id,
                order.id,
                &EWALLET,
                &cid,
                DEFAULT_BUDGET,
            )
        };
        assert!(matches!(
            go().await,
            Err(OrderError::PaymentOutcomeUnknown(_))
        ));
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.pending_until, Some(start + deadline));

        deps.clock.advance(chrono::Duration::seconds(29));
        assert!(matches!(
            go().await,
            Err(OrderError::PaymentOutcomeUnknown(_))
        ));
        assert_eq!(payments.requests().len(), 2, "re-driven with the same key");

        deps.clock.advance(chrono::Duration::seconds(1));
        let err = go().await.unwrap_err();
        assert!(matches!(err, OrderError::BeingSettled), "{err}");
        assert_eq!(err.retry_after_secs(), Some(60));
        assert_eq!(
            payments.requests().len(),
            2,
            "no payment asked for past the fence"
        );
        assert_eq!(payments.payments_made().len(), 1);
    }
}
