//! The reconciler, fired every minute by an EventBridge Scheduler `rate()` schedule: no
//! order stays PaymentPending past its attempt's deadline.
//!
//! It finds overdue orders through the sparse `byPendingDeadline` index (never a Scan),
//! re-reads each one consistently, and asks the payment service to resolve the attempt's
//! payment, which makes the outcome definite (an open payment is cancelled at the e-wallet,
//! or its decision fetched):
//! - no payment exists → the order is payable again (PaymentFailed). Checkout stops driving
//!   an attempt on `REDRIVE_FENCE` before its deadline, so none can appear later;
//! - the payment is decided → the order is confirmed with it, exactly as confirm-payment
//!   does (the fulfilment process included), so a lost webhook or a confirm-payment that
//!   kept failing still ends in the right state;
//! - the payment service cannot say now → the order is left for the next run.
//!
//! Every write is conditional on the order still waiting for that payment, so runs that
//! overlap each other, a webhook or a checkout change each order at most once.
//!
//! Orders it cannot settle never block the others: the deadline of an order left for
//! later moves on (`defer`) by as long as its attempt has existed (one minute to an hour),
//! so it leaves the overdue pages until then; each shard is read page after page while
//! the run has time, and each run starts at another shard.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::contracts::{ConfirmPaymentRequest, OrderStatus, PaymentStatus};
use shared::telemetry::ErrorChain;
use shared::{Clock, CorrelationId, PaymentId, SystemClock};
use tokio::time::Instant;
use tracing::Instrument;

use crate::confirm::confirm;
use crate::domain::PENDING_SHARDS;
use crate::payments::{Payments, Resolution};
use crate::repository::{CheckoutAbandon, Overdue};
use crate::{OrderDeps, OrderError, OrderRepository, ProcessRepository};

/// Orders read from an index shard per query; a run reads page after page while it has time.
pub const BATCH: i32 = 25;
/// The shortest and the longest wait before an order left for later is tried again.
pub const MIN_BACKOFF: chrono::Duration = chrono::Duration::minutes(1);
pub const MAX_BACKOFF: chrono::Duration = chrono::Duration::hours(1);
/// One resolve call at most: above the payment service's own 5 s for the e-wallet.
pub const RESOLVE_CAP: Duration = Duration::from_secs(8);
/// Kept at the end of the invocation to settle the last order and answer.
pub const RUN_MARGIN: Duration = Duration::from_secs(2);
/// A run's length without a usable Lambda deadline (the function's timeout is 60 s).
pub const RUN_CAP: Duration = Duration::from_secs(55);
/// Below this much time left, no new order is started.
const MIN_CALL: Duration = Duration::from_secs(1);

/// What the reconciler needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct ReconcilerDeps<R, P, Pay, C = SystemClock> {
    pub orders: OrderDeps<R, P, C>,
    pub payments: Pay,
}

/// What one order's settling came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// No payment existed: the order is payable again.
    MadePayable,
    /// The decided payment was applied to the order.
    Confirmed,
    /// Someone else moved the order first (or the index lagged): nothing to do.
    Moved,
    /// The payment service could not say now: the next run tries again.
    Left,
}

/// One run's account (the function's response, and its log line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    pub overdue: u32,
    pub made_payable: u32,
    pub confirmed: u32,
    pub moved: u32,
    pub left: u32,
}

impl Reconciled {
    fn count(&mut self, settled: Settled) {
        let slot = match settled {
            Settled::MadePayable => &mut self.made_payable,
            Settled::Confirmed => &mut self.confirmed,
            Settled::Moved => &mut self.moved,
            Settled::Left => &mut self.left,
        };
        *slot = slot.saturating_add(1);
    }
}

/// Settles every overdue order it finds within `budget`.
pub async fn reconcile<R, P, Pay, C>(
    deps: &ReconcilerDeps<R, P, Pay, C>,
    budget: Duration,
) -> Result<Reconciled, OrderError>
where
    R: OrderRepository,
    P: ProcessRepository,
    Pay: Payments,
    C: Clock,
{
    let started = Instant::now();
    let now = deps.orders.clock.now();
    let mut report = Reconciled::default();
    // Each minute's run starts at the next shard, so a run out of time starves none.
    let first = now
        .timestamp()
        .div_euclid(60)
        .rem_euclid(i64::from(PENDING_SHARDS)) as u8;
    for step in 0..PENDING_SHARDS {
        let shard = (first + step) % PENDING_SHARDS;
        let mut seen: Vec<Overdue> = Vec::new();
        loop {
            let page = deps.orders.repo.overdue(shard, now, BATCH).await?;
            let full = page.len() >= usize::try_from(BATCH).unwrap_or(usize::MAX);
            let fresh: Vec<Overdue> = page.into_iter().filter(|o| !seen.contains(o)).collect();
            if fresh.is_empty() {
                break;
            }
            for overdue in fresh {
                seen.push(overdue);
                let left = budget.saturating_sub(started.elapsed());
                if left < MIN_CALL {
                    tracing::warn!(?report, "run out of time; the rest waits for the next run");
                    return Ok(report);
                }
                report.overdue = report.overdue.saturating_add(1);
                let correlation_id = CorrelationId::generate();
                let span = tracing::info_span!("reconcile", order_id = %overdue.order, correlation_id = %correlation_id);
                let settled = settle(deps, overdue, &correlation_id, left.min(RESOLVE_CAP))
                    .instrument(span)
                    .await;
                report.count(settled);
            }
            if !full {
                break;
            }
        }
    }
    Ok(report)
}

/// How long an order the payment service could not settle waits for its next try: as
/// long as its attempt has existed, within `MIN_BACKOFF ..= MAX_BACKOFF` (so an order
/// stuck for good is tried ever more rarely).
pub fn backoff(attempt_age: chrono::Duration) -> chrono::Duration {
    attempt_age.clamp(MIN_BACKOFF, MAX_BACKOFF)
}

/// Leaves an order for a later run, its deadline moved on so it blocks no other.
async fn leave<R: OrderRepository, P, C: Clock>(
    orders: &OrderDeps<R, P, C>,
    overdue: Overdue,
    payment_id: PaymentId,
    attempt_started: DateTime<Utc>,
) -> Settled {
    let now = orders.clock.now();
    let retry_at = now + backoff(now - attempt_started);
    match orders.repo.defer(overdue, payment_id, retry_at).await {
        Ok(true) => tracing::info!(%payment_id, %retry_at, "order left for a later run"),
        Ok(false) => tracing::info!(%payment_id, "order left; it no longer waits for this payment"),
        // Not moved: it is tried again in the next run, as before.
        Err(err) => {
            tracing::warn!(%payment_id, error = %ErrorChain(&err), "order left, not deferred")
        }
    }
    Settled::Left
}

/// Settles one overdue order; never fails the run (the next run retries what is left).
pub async fn settle<R, P, Pay, C>(
    deps: &ReconcilerDeps<R, P, Pay, C>,
    overdue: Overdue,
    correlation_id: &CorrelationId,
    budget: Duration,
) -> Settled
where
    R: OrderRepository,
    P: ProcessRepository,
    Pay: Payments,
    C: Clock,
{
    match try_settle(deps, overdue, correlation_id, budget).await {
        Ok(settled) => settled,
        Err(err) => {
            tracing::warn!(error = %ErrorChain(&err), "order left for the next run");
            Settled::Left
        }
    }
}

async fn try_settle<R, P, Pay, C>(
    deps: &ReconcilerDeps<R, P, Pay, C>,
    overdue: Overdue,
    correlation_id: &CorrelationId,
    budget: Duration,
) -> Result<Settled, OrderError>
where
    R: OrderRepository,
    P: ProcessRepository,
    Pay: Payments,
    C: Clock,
{
    let orders = &deps.orders;
    // The index lags the table: decide on the order as it is now.
    let Some(order) = orders.repo.get(overdue.user, overdue.order).await? else {
        return Ok(Settled::Moved);
    };
    let now = orders.clock.now();
    let (OrderStatus::PaymentPending, Some(payment_id)) = (order.status, order.payment_id) else {
        return Ok(Settled::Moved);
    };
    if order.pending_until.is_none_or(|until| until >= now) {
        return Ok(Settled::Moved);
    }
    // The attempt's start: its checkout is the order's last change (a deferral is not one).
    let started = order.updated_at;
    let resolution = match shared::client::within(
        budget,
        deps.payments.resolve(payment_id, correlation_id),
    )
    .await
    {
        Ok(Ok(resolution)) => resolution,
        Ok(Err(err)) => {
            tracing::warn!(%payment_id, error = %ErrorChain(&err), "payment not resolved yet");
            return Ok(leave(orders, overdue, payment_id, started).await);
        }
        Err(_elapsed) => {
            tracing::warn!(%payment_id, budget_ms = budget.as_millis() as u64, "payment not resolved in time");
            return Ok(leave(orders, overdue, payment_id, started).await);
        }
    };
    match resolution {
        Resolution::NoPayment => {
            let abandon = CheckoutAbandon {
                order: &order,
                payment_id,
                back_to: OrderStatus::PaymentFailed,
                now,
            };
            if orders.repo.abandon_checkout(abandon).await? {
                tracing::info!(%payment_id, "no payment exists for the overdue attempt; the order is payable again");
                Ok(Settled::MadePayable)
            } else {
                Ok(Settled::Moved)
            }
        }
        Resolution::Decided(PaymentStatus::Requested) => {
            Ok(leave(orders, overdue, payment_id, started).await)
        }
        Resolution::Decided(status) => {
            let request = ConfirmPaymentRequest {
                is_confirmed: status == PaymentStatus::Success,
                payment_id,
            };
            match confirm(orders, order.user_id, order.id, &request, correlation_id).await {
                Ok(confirmed) => {
                    tracing::info!(%payment_id, payment_status = status.as_str(), order_status = confirmed.status.as_str(), "overdue order confirmed with its decided payment");
                    Ok(Settled::Confirmed)
                }
                Err(OrderError::NotWaitingForPayment(_) | OrderError::NotFound) => {
                    Ok(Settled::Moved)
                }
                Err(err) => Err(err),
            }
        }
    }
}

/// The Lambda handler: the schedule's event carries nothing the run needs.
pub async fn handle<R, P, Pay, C>(
    deps: &ReconcilerDeps<R, P, Pay, C>,
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<Reconciled, OrderError>
where
    R: OrderRepository,
    P: ProcessRepository,
    Pay: Payments,
    C: Clock,
{
    let budget = shared::client::call_budget(
        Some(event.context.deadline),
        deps.orders.clock.now().timestamp_millis(),
        RUN_MARGIN,
        RUN_CAP,
    );
    let span = tracing::info_span!("reconcile_run", request_id = %event.context.request_id);
    let report = reconcile(deps, budget).instrument(span).await?;
    tracing::info!(?report, "reconciler run done");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::memory::{FakePayments, InMemoryOrderRepository, PaymentsFault};
    use crate::processes::memory::InMemoryProcessRepository;
    use crate::{Order, OrderRepository};
    use chrono::{DateTime, TimeZone, Utc};
    use shared::clock::FixedClock;
    use shared::{PaymentId, UserId};

    type Deps<'a> = ReconcilerDeps<
        &'a InMemoryOrderRepository,
        InMemoryProcessRepository,
        &'a FakePayments,
        FixedClock,
    >;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn deps<'a>(repo: &'a InMemoryOrderRepository, payments: &'a FakePayments) -> Deps<'a> {
        ReconcilerDeps {
            orders: OrderDeps {
                repo,
                processes: InMemoryProcessRepository::default(),
                clock: FixedClock::at(now()),
            },
            payments,
        }
    }

    /// A PaymentPending order of attempt 1 whose deadline is `until`.
    fn pending(until: DateTime<Utc>) -> (Order, PaymentId) {
        let mut order = demo::demo_order(UserId::new_random(), 1, now());
        order.checkout_attempt = 1;
        let payment = PaymentId::for_idempotency_key(&order.checkout_key(1));
        order.status = OrderStatus::PaymentPending;
        order.payment_id = Some(payment);
        order.pending_until = Some(until);
        (order, payment)
    }

    async fn status_of(repo: &InMemoryOrderRepository, order: &Order) -> OrderStatus {
        repo.get(order.user_id, order.id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    const OVERDUE: chrono::Duration = chrono::Duration::seconds(1);

    #[tokio::test]
    async fn an_overdue_order_whose_payment_never_existed_is_payable_again() {
        let (order, _) = pending(now() - OVERDUE);
        let repo = InMemoryOrderRepository::with([order.clone()]);
        let payments = FakePayments::default();
        let report = reconcile(&deps(&repo, &payments), RUN_CAP).await.unwrap();
        assert_eq!(report.made_payable, 1);
        assert_eq!(status_of(&repo, &order).await, OrderStatus::PaymentFailed);
        let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
        assert_eq!(stored.pending_until, None, "out of the pending index");
    }

    #[tokio::test]
    async fn an_overdue_order_whose_payment_succeeded_is_confirmed_and_fulfilled() {
        let (order, payment) = pending(now() - OVERDUE);
        let repo = InMemoryOrderRepository::with([order.clone()]);
        let payments = FakePayments::default();
        payments.decide(payment, PaymentStatus::Success);
        let deps = deps(&repo, &payments);
        let report = reconcile(&deps, RUN_CAP).await.unwrap();
        assert_eq!(report.confirmed, 1);
        assert_eq!(status_of(&repo, &order).await, OrderStatus::PaymentSuccess);
        let processes = deps.orders.processes.all();
        assert_eq!(processes.len(), 1, "the fulfilment process is started");
        assert_eq!(processes[0].payment_id, payment);
    }

    #[tokio::test]
    async fn an_overdue_order_whose_payment_failed_or_was_cancelled_is_payable_again() {
        let (order, payment) = pending(now() - OVERDUE);
        let repo = InMemoryOrderRepository::with([order.clone()]);
        let payments = FakePayments::default();
        payments.decide(payment, PaymentStatus::Failed);
        reconcile(&deps(&repo, &payments), RUN_CAP).await.unwrap();
        assert_eq!(status_of(&repo, &order).await, OrderStatus::PaymentFailed);
    }

    #[tokio::test]
    async fn an_order_before_its_deadline_is_left_alone() {
        let (order, payment) = pending(now() + OVERDUE);
        let repo = InMemoryOrderRepository::with([order.clone()]);
        let payments = FakePayments::default();
        payments.decide(payment, PaymentStatus::Success);
        let report = reconcile(&deps(&repo, &payments), RUN_CAP).await.unwrap();
        assert_eq!(report, Reconciled::default());
        assert!(payments.resolved().is_empty());
        assert_eq!(status_of(&repo, &order).await, OrderStatus::PaymentPending);
    }

    #[tokio::test]
    async fn when_the_payment_service_cannot_say_the_order_waits_for_the_next_run() {
        let (order, payment) = pending(now() - OVERDUE);
        let repo = InMemoryOrderRepository::with([order.clone()]);
        let payments = FakePayments::with_fault(PaymentsFault::Unavailable);
        let report = reconcile(&deps(&repo, &payments), RUN_CAP).await.unwrap();
        assert_eq!(report.left, 1);
        assert_eq!(status_of(&repo, &order).await, OrderStatus::PaymentPending);

        payments.set_fault(PaymentsFault::None);
        payments.decide(payment, PaymentStatus::Success);
        let deps = deps(&repo, &payments);
        deps.orders
            .clock
            .advance(MIN_BACKOFF + chrono::Duration::seconds(1));
        let report = reconcile(&deps, RUN_CAP).await.unwrap();
        assert_eq!(report.confirmed, 1);
        assert_eq!(status_of(&repo, &order).await, OrderStatus::PaymentSuccess);
    }

    #[tokio::test]
    async fn two_runs_at_once_settle_each_order_once() {
        let orders: Vec<(Order, PaymentId)> = (0..12).map(|_| pending(now() - OVERDUE)).collect();
        let repo = InMemoryOrderRepository::with(orders.iter().map(|(o, _)| o.clone()));
        let payments = FakePayments::default();
        for (_, payment) in orders.iter().step_by(2) {
            payments.decide(*payment, PaymentStatus::Success);
        }
        let deps = deps(&repo, &payments);
        let (a, b) = tokio::join!(reconcile(&deps, RUN_CAP), reconcile(&deps, RUN_CAP));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.confirmed + b.confirmed, 6);
        assert_eq!(a.made_payable + b.made_payable, 6);
        assert_eq!(
            deps.orders.processes.all().len(),
            6,
            "one process per paid order"
        );
        for (i, (order, _)) in orders.iter().enumerate() {
            let want = if i % 2 == 0 {
                OrderStatus::PaymentSuccess
            } else {
                OrderStatus::PaymentFailed
            };
            assert_eq!(status_of(&repo, order).await, want);
        }
    }

    /// A pending order of index shard `shard`, overdue since `ago` seconds.
    fn pending_in_shard(shard: u8, ago: i64) -> (Order, PaymentId) {
        loop {
            let (order, payment) = pending(now() - chrono::Duration::seconds(ago));
            if crate::domain::pending_shard(order.id) == shard {
                return (order, payment);
            }
        }
    }

    #[tokio::test]
    async fn orders_that_cannot_be_settled_do_not_block_a_paid_order_behind_them() {
        let stuck: Vec<(Order, PaymentId)> = (0..2 * BATCH)
            .map(|n| pending_in_shard(0, 600 - i64::from(n)))
            .collect();
        let (paid, payment) = pending_in_shard(0, 5);
        let repo = InMemoryOrderRepository::with(
            stuck.iter().map(|(o, _)| o.clone()).chain([paid.clone()]),
        );
        let payments = FakePayments::default();
        for (_, stuck) in &stuck {
            payments.stick(*stuck);
        }
        payments.decide(payment, PaymentStatus::Success);
        let deps = deps(&repo, &payments);
        let report = reconcile(&deps, RUN_CAP).await.unwrap();
        assert_eq!(report.left, 2 * BATCH as u32);
        assert_eq!(report.confirmed, 1, "{report:?}");
        assert_eq!(status_of(&repo, &paid).await, OrderStatus::PaymentSuccess);
        // Each left order waits (at least a minute) before its next try.
        let tried = payments.resolved().len();
        let report = reconcile(&deps, RUN_CAP).await.unwrap();
        assert_eq!(
            report.overdue, 0,
            "a deferred order was tried again at once"
        );
        assert_eq!(payments.resolved().len(), tried);
        deps.orders
            .clock
            .advance(MIN_BACKOFF + chrono::Duration::seconds(1));
        let report = reconcile(&deps, RUN_CAP).await.unwrap();
        assert_eq!(report.left, 2 * BATCH as u32, "deferred orders come back");
    }

    #[test]
    fn an_order_left_waits_as_long_as_its_attempt_has_existed_from_a_minute_to_an_hour() {
        assert_eq!(backoff(chrono::Duration::seconds(5)), MIN_BACKOFF);
        assert_eq!(
            backoff(chrono::Duration::minutes(7)),
            chrono::Duration::minutes(7)
        );
        assert_eq!(backoff(chrono::Duration::days(2)), MAX_BACKOFF);
    }

    #[tokio::test(start_paused = true)]
    async fn each_resolve_call_gets_at_most_8_s_and_the_run_stops_before_its_budget() {
        let orders: Vec<(Order, PaymentId)> = (0..5).map(|_| pending(now() - OVERDUE)).collect();
        let repo = InMemoryOrderRepository::with(orders.iter().map(|(o, _)| o.clone()));
        let payments = FakePayments::with_fault(PaymentsFault::Hang);
        let started = Instant::now();
        // 20 s: two full calls of 8 s, a third of the 4 s left, then less than 1 s remains.
        let report = reconcile(&deps(&repo, &payments), Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        assert_eq!(report.left, 3);
        assert_eq!(payments.resolved().len(), 3);
        for (order, _) in &orders {
            assert_eq!(status_of(&repo, order).await, OrderStatus::PaymentPending);
        }
    }

    #[test]
    fn a_run_gets_the_invocations_time_left_minus_2_s_and_at_most_55_s() {
        let now_ms = 1_000_000_i64;
        let budget = |left_ms: u64| {
            shared::client::call_budget(Some(now_ms as u64 + left_ms), now_ms, RUN_MARGIN, RUN_CAP)
        };
        assert_eq!(budget(60_000), Duration::from_secs(55));
        assert_eq!(budget(30_000), Duration::from_secs(28));
        assert_eq!(budget(1_000), Duration::ZERO);
    }
}
