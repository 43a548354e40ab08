//! The one place where the listeners' dependencies are built from their config, once per
//! cold start.

use std::time::Duration;

use shared::aws::SdkConfig;
use shared::client::{CallError, RetrySettings, ServiceClient};

use crate::{
    HttpInvoice, HttpNotification, HttpProcessStatus, HttpProduction, Listener, ListenerConfig,
};

/// One in-call retry: SQS redelivers a failed message, so a call need not outlast a short
/// outage. A message makes two calls of at most 2 × 2 s + 0.5 s each, so it ends within
/// the listeners' 10 s timeout (the messages of a batch run at once).
pub fn retry_settings() -> RetrySettings {
    RetrySettings {
        attempt_timeout: Duration::from_secs(2),
        max_retries: 1,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
    }
}

/// The e-mail call's one attempt: send-email may need a slow SES call, which it cannot cut
/// short without risking a second mail, so it gets longer than other calls, and no in-call
/// retry (SQS redelivers). With the status call's 4.5 s, a message ends within 10 s.
pub fn email_retry_settings() -> RetrySettings {
    RetrySettings {
        attempt_timeout: Duration::from_secs(5),
        max_retries: 0,
        ..retry_settings()
    }
}

fn client(sdk: &SdkConfig) -> Result<ServiceClient, CallError> {
    ServiceClient::new(sdk, retry_settings())
}

fn status(sdk: &SdkConfig, config: &ListenerConfig) -> Result<HttpProcessStatus, CallError> {
    Ok(HttpProcessStatus::new(
        client(sdk)?,
        config.internal_api_url.clone(),
    ))
}

pub fn production(
    sdk: &SdkConfig,
    config: ListenerConfig,
) -> Result<Listener<HttpProduction, HttpProcessStatus>, CallError> {
    Ok(Listener {
        job: HttpProduction::new(client(sdk)?, config.job_api_url.clone()),
        status: status(sdk, &config)?,
        max_receive_count: config.max_receive_count,
    })
}

pub fn invoice(
    sdk: &SdkConfig,
    config: ListenerConfig,
) -> Result<Listener<HttpInvoice, HttpProcessStatus>, CallError> {
    Ok(Listener {
        job: HttpInvoice::new(client(sdk)?, config.job_api_url.clone()),
        status: status(sdk, &config)?,
        max_receive_count: config.max_receive_count,
    })
}

pub fn notification(
    sdk: &SdkConfig,
    config: ListenerConfig,
    recipient_domain: String,
) -> Result<Listener<HttpNotification, HttpProcessStatus>, CallError> {
    Ok(Listener {
        job: HttpNotification::new(
            ServiceClient::new(sdk, email_retry_settings())?,
            config.internal_api_url.clone(),
            recipient_domain,
        ),
        status: status(sdk, &config)?,
        max_receive_count: config.max_receive_count,
    })
}
