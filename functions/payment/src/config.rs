//! Settings from the environment (once per cold start) and the dependencies built from
//! them. Tests build the same structs with their own URLs.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use shared::aws::SdkConfig;
use shared::client::{CallError, RetrySettings, ServiceClient};
use shared::config::{ConfigError, required};

use crate::DynamoDbPaymentRepository;
use crate::gateway::{HttpEwallet, HttpOrderConfirmation};
use crate::request::RequestDeps;
use crate::webhook::WebhookDeps;

/// The HMAC key of the e-wallet's webhook signature. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// As long as the template's `WebhookSecret` parameter demands.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: impl Into<String>) -> Result<Self, ConfigError> {
        let secret = secret.into();
        if secret.len() < Self::MIN_LEN {
            return Err(ConfigError::Invalid {
                name: "WEBHOOK_SECRET",
                reason: format!("must be at least {} bytes", Self::MIN_LEN),
            });
        }
        Ok(Self(secret.into_bytes()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] CallError),
}

/// Outbound calls must finish well inside the function's 10 s timeout: two quick
/// retries, then the caller (checkout, or the e-wallet's redelivery) retries later.
pub fn retry_settings() -> RetrySettings {
    RetrySettings {
        attempt_timeout: Duration::from_secs(2),
        max_retries: 2,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    }
}

/// payment-request: `PAYMENTS_TABLE`, `EWALLET_API_URL`, `WEBHOOK_URL`.
#[derive(Debug, Clone)]
pub struct RequestConfig {
    pub payments_table: String,
    /// The e-wallet's base URL.
    pub ewallet_api_url: String,
    /// Where the e-wallet sends the outcome (our webhook).
    pub webhook_url: String,
}

impl RequestConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: required("PAYMENTS_TABLE")?,
            ewallet_api_url: required("EWALLET_API_URL")?,
            webhook_url: required("WEBHOOK_URL")?,
        })
    }
}

impl RequestDeps<DynamoDbPaymentRepository, HttpEwallet> {
    pub fn new(
        sdk: &SdkConfig,
        config: RequestConfig,
        retry: RetrySettings,
    ) -> Result<Self, CallError> {
        Ok(Self {
            repo: DynamoDbPaymentRepository::new(Client::new(sdk), config.payments_table),
            // A third party: it does not know our IAM identities, so calls are unsigned.
            ewallet: HttpEwallet::new(
                ServiceClient::unsigned(retry)?,
                config.ewallet_api_url,
                config.webhook_url,
            ),
        })
    }

    pub async fn from_env() -> Result<Self, StartupError> {
        let config = RequestConfig::from_env()?;
        let sdk = shared::aws::sdk_config();
        Ok(Self::new(&sdk, config, retry_settings())?)
    }
}

/// payment-webhook: `PAYMENTS_TABLE`, `WEBHOOK_SECRET`, `INTERNAL_API_URL`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub payments_table: String,
    pub secret: WebhookSecret,
    /// The base URL of the internal (IAM-authorized) API, where confirm-payment lives.
    pub internal_api_url: String,
}

impl WebhookConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: required("PAYMENTS_TABLE")?,
            secret: WebhookSecret::new(required("WEBHOOK_SECRET")?)?,
            internal_api_url: required("INTERNAL_API_URL")?,
        })
    }
}

impl WebhookDeps<DynamoDbPaymentRepository, HttpOrderConfirmation> {
    pub fn new(
        sdk: &SdkConfig,
        config: WebhookConfig,
        retry: RetrySettings,
    ) -> Result<Self, CallError> {
        Ok(Self {
            repo: DynamoDbPaymentRepository::new(Client::new(sdk), config.payments_table),
            // Signed as the function's role: the internal API is IAM-authorized.
            orders: HttpOrderConfirmation::new(
                ServiceClient::new(sdk, retry)?,
                config.internal_api_url,
            ),
            secret: config.secret,
        })
    }

    pub async fn from_env() -> Result<Self, StartupError> {
        let config = WebhookConfig::from_env()?;
        let sdk = shared::aws::sdk_config();
        Ok(Self::new(&sdk, config, retry_settings())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_secret_is_never_printed() {
        let secret = WebhookSecret::new("a-very-secret-value").unwrap();
        assert!(!format!("{secret:?}").contains("secret-value"));
    }

    #[test]
    fn a_short_webhook_secret_is_refused_at_start_up() {
        assert!(WebhookSecret::new("short").is_err());
    }
}
