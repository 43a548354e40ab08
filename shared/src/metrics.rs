//! Business metrics as CloudWatch Embedded Metric Format. Code counts through the `metrics`
//! facade (`metrics::counter!(PAYMENTS_REFUNDED).increment(1)`); `metrics_cloudwatch_embedded`
//! collects the counts, and the run loops (`shared::http::run`, `shared::event::run`) flush
//! them to stdout at the end of each invocation, one JSON line per metric, which Lambda's
//! log delivery turns into metrics (no API call, no extra latency).
//!
//! Each line carries the invocation's request id (`requestId`), the join key to that
//! invocation's log lines (`request_id`), which name the payment or job that was counted.
//! The id cannot be a property of the line itself: properties belong to the collector, and
//! one flush sums the counts of a whole invocation (a listener's batch is handled at once).

use std::sync::OnceLock;

use metrics_cloudwatch_embedded::{Builder, Collector};

/// Every metric of this project lives in one namespace, per service.
pub const NAMESPACE: &str = "RustCheckout";
/// The one dimension: which service counted.
pub const DIMENSION: &str = "Service";
/// The property naming the Lambda invocation a line was counted in.
pub const REQUEST_ID: &str = "requestId";

pub const PAYMENTS_PAID: &str = "PaymentsPaid";
pub const PAYMENTS_FAILED: &str = "PaymentsFailed";
pub const PAYMENTS_REQUESTED: &str = "PaymentsRequested";
pub const PAYMENTS_REFUNDED: &str = "PaymentsRefunded";
pub const JOBS_DEAD_LETTERED: &str = "JobsDeadLettered";
/// Stream records the publisher could not read as a process, and skipped.
pub const PAYMENT_RESULTS_UNREADABLE: &str = "PaymentResultsUnreadable";

/// Every counter, described as a `Count` so CloudWatch gets its unit.
const COUNTERS: [&str; 6] = [
    PAYMENTS_PAID,
    PAYMENTS_FAILED,
    PAYMENTS_REQUESTED,
    PAYMENTS_REFUNDED,
    JOBS_DEAD_LETTERED,
    PAYMENT_RESULTS_UNREADABLE,
];

/// The collector of this process, once `init` ran; functions that count nothing never
/// build one, and their flushes are no-ops.
static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
#[error("the metrics collector could not be installed")]
pub struct MetricsError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// Installs the collector for `service` (the `Service` dimension), once per cold start, in
/// `main` of a function that counts.
pub fn init(service: &'static str) -> Result<(), MetricsError> {
    let collector = Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension(DIMENSION, service)
        .init()
        .map_err(MetricsError)?;
    for name in COUNTERS {
        ::metrics::describe_counter!(name, ::metrics::Unit::Count, "");
    }
    COLLECTOR.get_or_init(|| collector);
    Ok(())
}

/// The metric that counts a payment decided with `status` (paid or not): one name per
/// outcome, so an alarm or a dashboard reads each directly.
pub fn payment_outcome_metric(status: crate::contracts::PaymentStatus) -> &'static str {
    use crate::contracts::PaymentStatus;
    match status {
        PaymentStatus::Success => PAYMENTS_PAID,
        PaymentStatus::Failed | PaymentStatus::Expired => PAYMENTS_FAILED,
        PaymentStatus::Requested => PAYMENTS_REQUESTED,
    }
}

/// Names the invocation whose counts the next flush writes. Lambda runs one invocation at a
/// time per process, so the property is this invocation's until the next one replaces it.
pub(crate) fn start_invocation(request_id: &str) {
    if let Some(collector) = COLLECTOR.get() {
        collector.set_property(REQUEST_ID, request_id);
    }
}

/// Writes the invocation's counts to stdout, before the response returns (Lambda may freeze
/// the process right after). A failed write loses metrics, never the invocation's outcome.
pub(crate) fn flush() {
    let Some(collector) = COLLECTOR.get() else {
        return;
    };
    // Under stdout's lock: a log line written meanwhile cannot land inside a metric line.
    let written = collector.flush(std::io::stdout().lock());
    if let Err(err) = written {
        tracing::error!(error = %err, "business metrics were not written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decided_outcome_has_its_metric() {
        use crate::contracts::PaymentStatus;
        assert_eq!(
            payment_outcome_metric(PaymentStatus::Success),
            PAYMENTS_PAID
        );
        assert_eq!(
            payment_outcome_metric(PaymentStatus::Failed),
            PAYMENTS_FAILED
        );
        assert_eq!(
            payment_outcome_metric(PaymentStatus::Expired),
            PAYMENTS_FAILED
        );
    }

    // The only test of this crate that installs the global recorder (one per process).
    #[test]
    fn a_count_flushes_as_an_emf_line_cloudwatch_can_read() {
        init("payment").unwrap();
        start_invocation("req-1");
        ::metrics::counter!(PAYMENTS_REFUNDED).increment(1);

        let collector = COLLECTOR.get().unwrap();
        let mut out = Vec::new();
        collector.flush(&mut out).unwrap();

        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["PaymentsRefunded"], 1);
        assert_eq!(line["Service"], "payment");
        assert_eq!(line[REQUEST_ID], "req-1");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["Service"]]));
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([{ "Name": "PaymentsRefunded", "Unit": "Count" }])
        );
        assert!(line["_aws"]["Timestamp"].is_u64());

        // Counts belong to one invocation: the next flush has nothing to write.
        let mut again = Vec::new();
        collector.flush(&mut again).unwrap();
        assert!(again.is_empty());
    }
}
