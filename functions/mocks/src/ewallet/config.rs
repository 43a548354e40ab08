//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::api_key::ApiKey;
use shared::config::{self, ConfigError, required};

use super::domain::{DelayRange, NotificationUri, OutcomeRule};

/// ewallet-payment-request: `EWALLET_REQUESTS_TABLE`, `EWALLET_SCHEDULE_GROUP`,
/// `EWALLET_DISPATCHER_ARN`, `EWALLET_SCHEDULER_ROLE_ARN`, the delay range
/// (`EWALLET_MIN_DELAY_SECONDS`, `EWALLET_MAX_DELAY_SECONDS`, 3 and 10 when unset), the
/// merchant's credential `EWALLET_API_KEY` and its registered webhook URLs
/// `EWALLET_WEBHOOK_URLS` (comma-separated): the only places a webhook may go.
#[derive(Debug, Clone)]
pub struct PaymentRequestConfig {
    pub requests_table: String,
    pub schedule_group: String,
    pub dispatcher_arn: String,
    pub scheduler_role_arn: String,
    pub delays: DelayRange,
    pub api_key: ApiKey,
    pub webhook_urls: Vec<NotificationUri>,
}

impl PaymentRequestConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            requests_table: required("EWALLET_REQUESTS_TABLE")?,
            schedule_group: required("EWALLET_SCHEDULE_GROUP")?,
            dispatcher_arn: required("EWALLET_DISPATCHER_ARN")?,
            scheduler_role_arn: required("EWALLET_SCHEDULER_ROLE_ARN")?,
            delays: delays_from_env()?,
            api_key: ApiKey::from_env("EWALLET_API_KEY")?,
            webhook_urls: webhook_urls_from_env()?,
        })
    }
}

fn webhook_urls_from_env() -> Result<Vec<NotificationUri>, ConfigError> {
    const NAME: &str = "EWALLET_WEBHOOK_URLS";
    let urls = required(NAME)?
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(NotificationUri::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| ConfigError::invalid(NAME, err))?;
    if urls.is_empty() {
        return Err(ConfigError::invalid(
            NAME,
            shared::ValidationError::new(NAME, "must name at least one URL"),
        ));
    }
    Ok(urls)
}

/// ewallet-refund and ewallet-cancel (the merchant's calls about a request it made):
/// `EWALLET_REQUESTS_TABLE` and the merchant's `EWALLET_API_KEY`.
#[derive(Debug, Clone)]
pub struct MerchantApiConfig {
    pub requests_table: String,
    pub api_key: ApiKey,
}

impl MerchantApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            requests_table: required("EWALLET_REQUESTS_TABLE")?,
            api_key: ApiKey::from_env("EWALLET_API_KEY")?,
        })
    }
}

/// The delay range from the environment; a minimum above the maximum stops the cold start.
pub fn delays_from_env() -> Result<DelayRange, ConfigError> {
    let min = config::parsed_or("EWALLET_MIN_DELAY_SECONDS", 3_u32)?;
    let max = config::parsed_or("EWALLET_MAX_DELAY_SECONDS", 10_u32)?;
    DelayRange::new(min, max).map_err(|err| ConfigError::invalid("EWALLET_MIN_DELAY_SECONDS", err))
}

/// ewallet-webhook-dispatcher: `EWALLET_REQUESTS_TABLE` and `EWALLET_DEFAULT_OUTCOME`
/// (SUCCESS, FAILED or EXPIRED; EXPIRED when unset; anything else stops the cold start).
/// The webhook secret is read from Secrets Manager at start-up (`WEBHOOK_SECRET_ARN`).
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub requests_table: String,
    pub outcomes: OutcomeRule,
}

impl DispatcherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            requests_table: required("EWALLET_REQUESTS_TABLE")?,
            outcomes: config::parsed_or("EWALLET_DEFAULT_OUTCOME", OutcomeRule::default())?,
        })
    }
}
