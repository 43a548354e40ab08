//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::config::{ConfigError, required};

/// search, get, confirm-payment: `ORDERS_TABLE`.
#[derive(Debug, Clone)]
pub struct OrderConfig {
    pub orders_table: String,
}

impl OrderConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: required("ORDERS_TABLE")?,
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
