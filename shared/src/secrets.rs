//! Secrets read once per cold start from Secrets Manager, never from function
//! configuration (where anyone allowed to read the function's settings would see them).

use std::time::Instant;

use aws_types::SdkConfig;

use crate::config::ConfigError;
use crate::signature::WebhookSecrets;

/// The webhook's secrets from the secret named by the environment variable `name` (its
/// ARN). Logs how long the read took: it is part of the function's cold start.
pub async fn webhook_secrets(
    sdk: &SdkConfig,
    name: &'static str,
) -> Result<WebhookSecrets, ConfigError> {
    let secret_id = crate::config::required(name)?;
    let started = Instant::now();
    let output = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(&secret_id)
        .send()
        .await
        .map_err(|err| ConfigError::invalid(name, aws_sdk_secretsmanager::Error::from(err)))?;
    let raw = output
        .secret_string()
        .ok_or_else(|| ConfigError::invalid(name, NotAString))?;
    let secrets = WebhookSecrets::from_json(raw).map_err(|err| ConfigError::invalid(name, err))?;
    tracing::info!(
        read_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "webhook secret read from Secrets Manager"
    );
    Ok(secrets)
}

#[derive(Debug, thiserror::Error)]
#[error("the secret has no string value")]
struct NotAString;
