//! The one place where the payment service's dependencies are built from their config,
//! once per cold start.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use shared::SystemClock;
use shared::aws::SdkConfig;
use shared::client::{CallError, RetrySettings, ServiceClient};
use shared::store::Table;

use crate::gateway::{HttpEwallet, HttpOrderConfirmation};
use crate::{
    DynamoDbPaymentRepository, RequestConfig, RequestDeps, ResolveDeps, WebhookConfig, WebhookDeps,
};

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

pub fn request_deps(
    sdk: &SdkConfig,
    config: RequestConfig,
    retry: RetrySettings,
) -> Result<RequestDeps<DynamoDbPaymentRepository, HttpEwallet>, CallError> {
    Ok(RequestDeps {
        repo: DynamoDbPaymentRepository(Table::new(Client::new(sdk), config.payments_table)),
        // A third party: it does not know our IAM identities, so calls are unsigned.
        ewallet: HttpEwallet::new(
            ServiceClient::unsigned(retry)?,
            config.ewallet_api_url,
            config.webhook_url,
            config.ewallet_api_key,
        ),
        clock: SystemClock,
    })
}

/// The same table and e-wallet as the payment request: a resolve re-drives a request
/// exactly as it was made, then cancels it.
pub fn resolve_deps(
    sdk: &SdkConfig,
    config: RequestConfig,
    retry: RetrySettings,
) -> Result<ResolveDeps<DynamoDbPaymentRepository, HttpEwallet>, CallError> {
    let RequestDeps {
        repo,
        ewallet,
        clock,
    } = request_deps(sdk, config, retry)?;
    Ok(ResolveDeps {
        repo,
        ewallet,
        clock,
    })
}

pub fn webhook_deps(
    sdk: &SdkConfig,
    config: WebhookConfig,
    secret: shared::secrets::LiveSecrets,
    retry: RetrySettings,
) -> Result<WebhookDeps<DynamoDbPaymentRepository, HttpOrderConfirmation, HttpEwallet>, CallError> {
    Ok(WebhookDeps {
        repo: DynamoDbPaymentRepository(Table::new(Client::new(sdk), config.payments_table)),
        // Signed as the function's role: the internal API is IAM-authorized.
        orders: HttpOrderConfirmation::new(
            ServiceClient::new(sdk, retry)?,
            config.internal_api_url,
        ),
        // Refunds go to the same third party as payment requests, unsigned, with the key
        // (a refund names no webhook URL).
        refunds: HttpEwallet::new(
            ServiceClient::unsigned(retry)?,
            config.ewallet_api_url,
            "",
            config.ewallet_api_key,
        ),
        secret,
        clock: SystemClock,
    })
}
