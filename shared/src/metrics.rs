//! Business metrics as CloudWatch Embedded Metric Format: one JSON line on stdout per
//! event, which Lambda's log delivery turns into a metric (no API call, no extra latency).

use serde_json::{Map, Value, json};

/// Every metric of this project lives in one namespace, per service.
pub const NAMESPACE: &str = "RustCheckout";

/// The EMF line that counts one `metric` for `service`; `properties` travel with it (they
/// are searchable in the logs, not dimensions).
pub fn count_line(
    service: &str,
    metric: &str,
    properties: &[(&str, String)],
    now_ms: i64,
) -> Value {
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Service"]],
                "Metrics": [{ "Name": metric, "Unit": "Count" }],
            }],
        }),
    );
    line.insert("Service".into(), service.into());
    line.insert(metric.into(), 1.into());
    for (name, value) in properties {
        line.insert((*name).into(), value.clone().into());
    }
    Value::Object(line)
}

/// The metric that counts a payment decided with `status` (paid or not): one name per
/// outcome, so an alarm or a dashboard reads each directly.
pub fn payment_outcome_metric(status: crate::contracts::PaymentStatus) -> &'static str {
    use crate::contracts::PaymentStatus;
    match status {
        PaymentStatus::Success => "PaymentsPaid",
        PaymentStatus::Failed | PaymentStatus::Expired => "PaymentsFailed",
        PaymentStatus::Requested => "PaymentsRequested",
    }
}

/// Counts one `metric` now.
pub fn count(service: &str, metric: &str, properties: &[(&str, String)]) {
    let line = count_line(
        service,
        metric,
        properties,
        chrono::Utc::now().timestamp_millis(),
    );
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decided_outcome_has_its_metric() {
        use crate::contracts::PaymentStatus;
        assert_eq!(
            payment_outcome_metric(PaymentStatus::Success),
            "PaymentsPaid"
        );
        assert_eq!(
            payment_outcome_metric(PaymentStatus::Failed),
            "PaymentsFailed"
        );
        assert_eq!(
            payment_outcome_metric(PaymentStatus::Expired),
            "PaymentsFailed"
        );
    }

    #[test]
    fn a_count_is_an_emf_line_cloudwatch_can_read() {
        let line = count_line(
            "payment",
            "PaymentsRefunded",
            &[("paymentId", "p-1".into())],
            1_000,
        );
        assert_eq!(line["PaymentsRefunded"], 1);
        assert_eq!(line["Service"], "payment");
        assert_eq!(line["paymentId"], "p-1");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Metrics"][0]["Name"], "PaymentsRefunded");
        assert_eq!(directive["Dimensions"][0][0], "Service");
        assert_eq!(line["_aws"]["Timestamp"], 1_000);
    }
}
