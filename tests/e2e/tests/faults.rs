//! Money safety through the deployed stack, each invariant under the fault that would break
//! it. Faults are injected by the invocation gate in front of the functions
//! (localstack/gate.py), for one order's invocations only: a slow callee, an invocation
//! that never ran, an answer lost after the work was done. `make test` deploys with a 45 s
//! payment deadline, and the reconciler's `rate(1 minute)` schedule is fired by the
//! emulator's Scheduler, so a test that needs the reconciler waits up to ~2 minutes.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use futures::future::join_all;
use order::Order;
use serde_json::Value;

/// Deadline (45 s) + one schedule period (60 s) + the emulator's late firing and the run.
const RECONCILED_WITHIN: Duration = Duration::from_secs(150);

async fn checkout(order: &Order) -> reqwest::Response {
    common::checkout(order, &format!("e2e-faults-{}", order.id)).await
}

/// A user who keeps retrying a checkout answered 502/503 for up to a minute, as the API
/// asks (Retry-After); the last answer.
async fn checkout_as_a_user(order: &Order) -> u16 {
    let started = std::time::Instant::now();
    loop {
        let status = checkout(order).await.status().as_u16();
        if !(502..=504).contains(&status) || started.elapsed() > Duration::from_secs(60) {
            return status;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Checkout could not tell whether it paid: 503 with Retry-After, or (when the machine is
/// so loaded that the emulator's 10 s timeout for checkout itself passes first) 502.
fn assert_ambiguous(response: &reqwest::Response) {
    let status = response.status().as_u16();
    assert!(matches!(status, 502 | 503), "{status}");
    if status == 503 {
        assert!(response.headers().contains_key("retry-after"));
    }
}

fn payment_of(order: &Order, attempt: u32) -> String {
    shared::PaymentId::for_idempotency_key(&order.checkout_key(attempt)).to_string()
}

#[tokio::test]
async fn a_payment_service_slower_than_checkouts_budget_and_a_retry_make_one_payment() {
    let order = common::given_order("Faults slow payment service", 10099).await;
    // Both tries of the first checkout's call (5 s each) are held past its 8 s budget: it
    // cannot know whether it paid. The held invocations still run, late.
    common::inject("payment-request", &order.id.to_string(), "hold", 6_000, 2).await;

    let first = checkout(&order).await;
    assert_ambiguous(&first);
    // The retry continues the same payment (202), or finds it already paid by the late
    // held call (409), or, past the attempt's re-drive window, is told the attempt is being
    // settled (503): never a second payment, whatever it gets.
    let again = checkout_as_a_user(&order).await;
    assert!(matches!(again, 202 | 409 | 503), "{again}");

    let view = common::final_view(&order, RECONCILED_WITHIN).await;
    assert_eq!(view["status"], "PaymentSuccess");
    let payments = common::payments_of(&order).await;
    assert_eq!(payments.len(), 1, "one attempt, one payment: {payments:?}");
    assert_eq!(common::kept_successes(&payments), 1);
    let requests = common::ewallet_requests_of(&order).await;
    assert_eq!(
        requests.len(),
        1,
        "the e-wallet was asked once: {requests:?}"
    );
}

#[tokio::test]
async fn a_checkout_that_could_not_start_before_its_timeout_is_refused_and_never_runs_later() {
    let order = common::given_order("Faults checkout refused", 10099).await;
    // No instance frees up within checkout's 10 s: the gate refuses it a second before its
    // deadline, as Lambda throttles. Without that rule it ran 15 s in, after its answer.
    common::inject("order-checkout", &order.id.to_string(), "hold", 15_000, 1).await;

    let refused = checkout(&order).await.status().as_u16();
    assert!(matches!(refused, 429 | 502), "{refused}");
    tokio::time::sleep(Duration::from_secs(8)).await; // past the end of the hold
    let view = common::order_view(&order).await;
    assert_eq!(
        view["status"], "Created",
        "the refused checkout never ran: {view}"
    );
    assert_eq!(
        common::payments_of(&order).await,
        Vec::<Option<Value>>::new()
    );
    assert_eq!(
        common::ewallet_requests_of(&order).await,
        Vec::<Value>::new()
    );

    assert_eq!(checkout_as_a_user(&order).await, 202);
    let view = common::final_view(&order, RECONCILED_WITHIN).await;
    assert_eq!(view["status"], "PaymentSuccess");
    assert_eq!(common::payments_of(&order).await.len(), 1);
}

#[tokio::test]
async fn when_checkout_runs_out_of_time_before_the_payment_exists_the_reconciler_frees_the_order() {
    let order = common::given_order("Faults checkout out of time", 10099).await;
    // Checkout's deadline passes mid-call, and neither try of its payment request ever runs.
    common::inject("payment-request", &order.id.to_string(), "fail", 9_000, 2).await;

    assert_ambiguous(&checkout(&order).await);
    let view = common::final_view(&order, RECONCILED_WITHIN).await;
    assert_eq!(
        view["status"], "PaymentFailed",
        "no payment exists: the reconciler makes the order payable again"
    );
    assert_eq!(common::payments_of(&order).await, vec![None]);

    // No 409 forever: the next checkout pays.
    assert_eq!(checkout_as_a_user(&order).await, 202);
    let view = common::final_view(&order, RECONCILED_WITHIN).await;
    assert_eq!(view["status"], "PaymentSuccess");
}

#[tokio::test]
async fn when_confirm_payment_keeps_failing_after_a_recorded_success_the_order_still_ends_paid() {
    let order = common::given_order("Faults confirm-payment down", 10099).await;
    common::inject(
        "order-confirm-payment",
        &order.id.to_string(),
        "fail",
        0,
        10_000,
    )
    .await;

    assert_eq!(checkout_as_a_user(&order).await, 202);
    let view = common::final_view(&order, RECONCILED_WITHIN).await;
    assert_eq!(view["status"], "PaymentSuccess", "{view}");
    assert!(
        view["process"].is_object(),
        "its fulfilment started: {view}"
    );
    assert_eq!(
        common::kept_successes(&common::payments_of(&order).await),
        1
    );
}

/// A fault for one order: function, action, milliseconds, how many invocations.
type Fault = (&'static str, &'static str, u64, u32);

/// One fault per order, taking each step of the flow in turn.
const SWEEP: &[Fault] = &[
    ("order-checkout", "lose", 0, 1),
    ("payment-request", "hold", 6_000, 2),
    ("payment-request", "fail", 9_000, 2),
    ("payment-request", "lose", 0, 1),
    ("payment-request", "fail", 0, 10_000),
    ("ewallet-payment-request", "fail", 0, 3),
    ("ewallet-payment-request", "lose", 0, 1),
    ("payment-webhook", "fail", 0, 2),
    ("payment-webhook", "lose", 0, 1),
    ("order-confirm-payment", "fail", 0, 10_000),
    ("order-confirm-payment", "lose", 0, 1),
    ("payment-resolve", "fail", 0, 1),
];

#[tokio::test]
async fn fifty_checkouts_with_a_fault_at_each_step_pay_at_most_once_and_all_settle() {
    let orders: Vec<(Order, &Fault)> = join_all((0..50).map(|n| async move {
        let cents = if n % 5 == 4 { 4011 } else { 4099 };
        let fault = &SWEEP[n % SWEEP.len()];
        let order =
            common::given_order(&format!("Faults sweep {n} {} {}", fault.0, fault.1), cents).await;
        (order, fault)
    }))
    .await;
    for (order, (function, action, ms, times)) in &orders {
        // payment-resolve is called with the payment id, not the order id.
        let matching = if *function == "payment-resolve" {
            payment_of(order, 1)
        } else {
            order.id.to_string()
        };
        common::inject(function, &matching, action, *ms, *times).await;
    }

    let finals: Vec<(u16, Value)> = join_all(orders.iter().map(|(order, _)| async move {
        let status = checkout_as_a_user(order).await;
        (status, common::final_view(order, RECONCILED_WITHIN).await)
    }))
    .await;

    let mut failures = Vec::new();
    for ((order, fault), (checkout_status, view)) in orders.iter().zip(&finals) {
        let payments = common::payments_of(order).await;
        let kept = common::kept_successes(&payments);
        let status = view["status"].as_str().unwrap_or_default();
        let ok = match status {
            "PaymentSuccess" => kept == 1,
            "PaymentFailed" => kept == 0,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} {fault:?}: checkout {checkout_status}, order {status}, {kept} kept successes, payments {payments:?}",
                order.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The sweep must prove something: most orders were paid despite their fault.
    let paid = finals
        .iter()
        .filter(|(_, v)| v["status"] == "PaymentSuccess")
        .count();
    assert!(paid >= 30, "only {paid} of 50 paid");
}
