//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::config::{ConfigError, required};

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

/// checkout: `ORDERS_TABLE`, `INTERNAL_API_URL`.
#[derive(Debug, Clone)]
pub struct CheckoutConfig {
    pub orders_table: String,
    /// The base URL of the internal (IAM-authorized) API, where the payment service lives.
    pub internal_api_url: String,
}

impl CheckoutConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: required("ORDERS_TABLE")?,
            internal_api_url: required("INTERNAL_API_URL")?,
        })
    }
}
