//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::config::{ConfigError, parsed_or, required};

/// search, get, confirm-payment, process-status: `ORDERS_TABLE`, `PROCESSES_TABLE`.
#[derive(Debug, Clone)]
pub struct OrderConfig {
    pub orders_table: String,
    pub processes_table: String,
}

impl OrderConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: required("ORDERS_TABLE")?,
            processes_table: required("PROCESSES_TABLE")?,
        })
    }
}

/// payment-results-publisher: `PAYMENT_RESULTS_TOPIC_ARN`, `FAULT_INJECTION`.
#[derive(Debug)]
pub struct PublisherConfig {
    pub topic_arn: String,
    pub faults: shared::fault::Faults,
}

impl PublisherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            topic_arn: required("PAYMENT_RESULTS_TOPIC_ARN")?,
            faults: shared::fault::Faults::from_env()?,
        })
    }
}

/// checkout: `ORDERS_TABLE`, `INTERNAL_API_URL`, `PAYMENT_DEADLINE_SECONDS`.
#[derive(Debug, Clone)]
pub struct CheckoutConfig {
    pub orders_table: String,
    /// The base URL of the internal (IAM-authorized) API, where the payment service lives.
    pub internal_api_url: String,
    pub payment_deadline: PaymentDeadline,
}

impl CheckoutConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: required("ORDERS_TABLE")?,
            internal_api_url: required("INTERNAL_API_URL")?,
            payment_deadline: parsed_or("PAYMENT_DEADLINE_SECONDS", PaymentDeadline::default())?,
        })
    }
}

/// reconciler: `ORDERS_TABLE`, `PROCESSES_TABLE`, `INTERNAL_API_URL`.
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    pub orders: OrderConfig,
    pub internal_api_url: String,
}

impl ReconcilerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            orders: OrderConfig::from_env()?,
            internal_api_url: required("INTERNAL_API_URL")?,
        })
    }
}

/// How long a checkout attempt may stay PaymentPending before the reconciler settles it:
/// more than `REDRIVE_FENCE` (else a retried checkout could never drive it on), at most a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentDeadline(pub chrono::Duration);

impl Default for PaymentDeadline {
    /// Past the e-wallet's 3-10 s answer and its webhook's retries (about 3 minutes).
    fn default() -> Self {
        Self(chrono::Duration::minutes(5))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("PAYMENT_DEADLINE_SECONDS must be whole seconds from {min} to 86400")]
pub struct BadDeadline {
    min: i64,
}

impl std::str::FromStr for PaymentDeadline {
    type Err = BadDeadline;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let min = crate::checkout::REDRIVE_FENCE.num_seconds() + 1;
        match raw.parse::<i64>() {
            Ok(secs) if (min..=86_400).contains(&secs) => Ok(Self(chrono::Duration::seconds(secs))),
            _ => Err(BadDeadline { min }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_deadline_must_leave_room_to_retry_a_checkout() {
        assert_eq!(
            "60".parse::<PaymentDeadline>().unwrap().0,
            chrono::Duration::seconds(60)
        );
        for bad in ["30", "0", "-5", "86401", "1e3", "", "9223372036854775807"] {
            assert!(bad.parse::<PaymentDeadline>().is_err(), "{bad}");
        }
    }
}
