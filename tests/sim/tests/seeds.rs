//! Seeds that once broke an invariant, kept as regression scenarios, and the replay
//! guarantee: a seed run twice tells the same story.

/// Runs `seed` and fails with its violations, if any.
fn holds(seed: u64) {
    let report = sim::run(seed, false);
    assert_eq!(
        report.violations,
        Vec::<String>::new(),
        "replay: SIM_SEED={seed} make sim"
    );
}

/// Seed 20: the dispatcher's claim was applied, its answer lost and the SDK retried it; the
/// retry met the claim itself and read "busy", so the webhook was never sent (the e-wallet
/// request stayed Sending). Fixed by letting a claim's own token satisfy its condition.
#[test]
fn a_retried_claim_is_not_read_as_another_firings() {
    holds(20);
}

/// Seed 245: a firing died holding the claim; its retry met the live lease, answered
/// "busy" as a success, and nobody fired again. Fixed by failing such a firing, so Lambda
/// retries it after the lease.
#[test]
fn a_firing_that_meets_a_dead_holders_lease_is_retried() {
    holds(245);
}

/// Seed 4: the e-wallet refused an order's payment request for good (422). payment-request
/// answered 503, so checkout kept the order PaymentPending, and at the deadline resolve
/// re-sent the request, got the same 422 and answered 503 again: the order stayed
/// PaymentPending for ever. Fixed: payment-request answers the refusal as 422 (checkout puts
/// the order back), and resolve records a refused re-drive as Failed.
#[test]
fn a_payment_the_ewallet_refuses_for_good_leaves_the_order_payable() {
    holds(4);
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [1, 7, 20] {
        let (first, again) = (sim::run(seed, false), sim::run(seed, false));
        assert!(
            first.events > 20,
            "seed {seed} did little: {} events",
            first.events
        );
        assert_eq!(first.trace_hash, again.trace_hash, "seed {seed}");
    }
}
