//! Settings from the environment, read once per cold start (SAM sets them per function).
//! Tests build the same structs with their own URLs.

use shared::config::{ConfigError, required};

/// payment-request and payment-resolve (which re-drives a request the same way):
/// `PAYMENTS_TABLE`, `EWALLET_API_URL`, `WEBHOOK_URL`, `EWALLET_API_KEY`.
#[derive(Debug, Clone)]
pub struct RequestConfig {
    pub payments_table: String,
    /// The e-wallet's base URL.
    pub ewallet_api_url: String,
    /// Where the e-wallet sends the outcome (our webhook).
    pub webhook_url: String,
    /// The merchant's credential at the e-wallet (`EWALLET_API_KEY`).
    pub ewallet_api_key: shared::api_key::ApiKey,
}

impl RequestConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: required("PAYMENTS_TABLE")?,
            ewallet_api_url: required("EWALLET_API_URL")?,
            webhook_url: required("WEBHOOK_URL")?,
            ewallet_api_key: shared::api_key::ApiKey::from_env("EWALLET_API_KEY")?,
        })
    }
}

/// payment-webhook: `PAYMENTS_TABLE`, `INTERNAL_API_URL`, and the e-wallet's
/// `EWALLET_API_URL` and `EWALLET_API_KEY` (refunds). The webhook secret is read from
/// Secrets Manager at start-up (`WEBHOOK_SECRET_ARN`, see `shared::secrets`).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub payments_table: String,
    /// The base URL of the internal (IAM-authorized) API, where confirm-payment lives.
    pub internal_api_url: String,
    pub ewallet_api_url: String,
    pub ewallet_api_key: shared::api_key::ApiKey,
}

impl WebhookConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: required("PAYMENTS_TABLE")?,
            internal_api_url: required("INTERNAL_API_URL")?,
            ewallet_api_url: required("EWALLET_API_URL")?,
            ewallet_api_key: shared::api_key::ApiKey::from_env("EWALLET_API_KEY")?,
        })
    }
}
