//! The values the simulation takes from template.yaml, so the simulated AWS behaves as the
//! deployed one is configured: function timeouts, retry counts, queue settings, batch
//! sizes, concurrency caps and filter policies. A value the template does not state is
//! AWS's default, named where it is used.

use std::sync::OnceLock;
use std::time::Duration;

use serde_yaml_ng::Value;

#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// The template, read once per process.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = shared::testing::workspace_root().join("template.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let root =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Template { root }
    })
}

/// A `!Ref Parameter` (or a plain value) as a number: a parameter's default.
fn number(template: &Value, value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        Value::Tagged(tagged) if tagged.tag == "!Ref" => {
            let name = tagged.value.as_str()?;
            number(template, &template["Parameters"][name]["Default"])
        }
        _ => None,
    }
}

impl Template {
    fn resource(&self, logical_id: &str) -> &Value {
        &self.root["Resources"][logical_id]
    }

    fn number(&self, value: &Value, what: &str) -> u64 {
        number(&self.root, value).unwrap_or_else(|| panic!("template.yaml states no {what}"))
    }

    /// The timeout of the function built from `binary` (its own, else the Globals').
    pub fn timeout(&self, binary: &str) -> Duration {
        let function = self.root["Resources"]
            .as_mapping()
            .into_iter()
            .flat_map(|resources| resources.values())
            .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
            .unwrap_or_else(|| panic!("template.yaml deploys no {binary}"));
        let own = &function["Properties"]["Timeout"];
        let seconds = if own.is_null() {
            self.number(
                &self.root["Globals"]["Function"]["Timeout"],
                "global timeout",
            )
        } else {
            self.number(own, "timeout")
        };
        Duration::from_secs(seconds)
    }

    /// `MaximumRetryAttempts` of a function's asynchronous invokes.
    pub fn async_retries(&self, logical_id: &str) -> u32 {
        let value =
            &self.resource(logical_id)["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"];
        // AWS's default for asynchronous invokes.
        if value.is_null() {
            return 2;
        }
        self.number(value, "MaximumRetryAttempts") as u32
    }

    /// A parameter's default, as a number.
    pub fn parameter(&self, name: &str) -> u64 {
        self.number(
            &self.root["Parameters"][name]["Default"],
            &format!("default of {name}"),
        )
    }

    /// An event source mapping's settings.
    pub fn mapping(&self, logical_id: &str) -> Mapping {
        let properties = &self.resource(logical_id)["Properties"];
        let optional = |key: &str| number(&self.root, &properties[key]);
        Mapping {
            // AWS's defaults: 100 records from a stream, 10 messages from SQS.
            batch_size: optional("BatchSize").unwrap_or(10) as usize,
            // None: -1 or unset, retried until the record expires.
            retries: optional("MaximumRetryAttempts").map(|n| n as u32),
            bisect: properties["BisectBatchOnFunctionError"].as_bool() == Some(true),
            max_concurrency: number(
                &self.root,
                &properties["ScalingConfig"]["MaximumConcurrency"],
            )
            .map(|n| n as usize),
            partial_batch: properties["FunctionResponseTypes"]
                .as_sequence()
                .is_some_and(|types| {
                    types
                        .iter()
                        .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
                }),
        }
    }

    /// A queue's visibility timeout and its redrive policy's maxReceiveCount.
    pub fn queue(&self, logical_id: &str) -> QueueSettings {
        let properties = &self.resource(logical_id)["Properties"];
        QueueSettings {
            visibility: Duration::from_secs(
                self.number(&properties["VisibilityTimeout"], "VisibilityTimeout"),
            ),
            max_receive_count: self.number(
                &properties["RedrivePolicy"]["maxReceiveCount"],
                "maxReceiveCount",
            ) as u32,
        }
    }

    /// The `eventType` values a subscription's filter policy lets through.
    pub fn filter(&self, subscription: &str) -> Vec<String> {
        self.resource(subscription)["Properties"]["FilterPolicy"]["eventType"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    pub batch_size: usize,
    pub retries: Option<u32>,
    pub bisect: bool,
    pub max_concurrency: Option<usize>,
    pub partial_batch: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    pub visibility: Duration,
    pub max_receive_count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_the_simulation_relies_on_are_read_from_the_template() {
        let template = template();
        assert_eq!(template.timeout("order-checkout"), Duration::from_secs(10));
        assert_eq!(
            template.timeout("order-reconciler"),
            Duration::from_secs(60)
        );
        assert_eq!(
            template.async_retries("EwalletWebhookDispatcherFunction"),
            2
        );
        let stream = template.mapping("OrderPaymentResultsPublisherStreamMapping");
        // -1: retried until the record leaves the stream.
        assert!(stream.bisect && stream.retries.is_none());
        let queue = template.queue("NotificationQueue");
        assert!(queue.max_receive_count >= 1);
        assert!(
            template
                .mapping("NotificationListenerQueueMapping")
                .partial_batch
        );
        assert_eq!(
            template.filter("ProductionSubscription"),
            ["PaymentSucceeded"]
        );
    }
}
