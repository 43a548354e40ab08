//! The one place where the listeners' dependencies are built from their config, once per
//! cold start.

use std::time::Duration;

use shared::aws::SdkConfig;
use shared::client::{CallError, RetrySettings, ServiceClient};

use crate::{
    HttpInvoice, HttpNotification, HttpProcessStatus, HttpProduction, Listener, ListenerConfig,
};

/// Few in-call retries: SQS redelivers a failed message, so a call need not outlast a
/// short outage, and the batch must finish within the function's timeout.
fn client(sdk: &SdkConfig) -> Result<ServiceClient, CallError> {
    ServiceClient::new(
        sdk,
        RetrySettings {
            attempt_timeout: Duration::from_secs(3),
            max_retries: 1,
            ..RetrySettings::default()
        },
    )
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
        job: HttpProduction::new(client(sdk)?, config.internal_api_url.clone()),
        status: status(sdk, &config)?,
        max_receive_count: config.max_receive_count,
    })
}

pub fn invoice(
    sdk: &SdkConfig,
    config: ListenerConfig,
) -> Result<Listener<HttpInvoice, HttpProcessStatus>, CallError> {
    Ok(Listener {
        job: HttpInvoice::new(client(sdk)?, config.internal_api_url.clone()),
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
            client(sdk)?,
            config.internal_api_url.clone(),
            recipient_domain,
        ),
        status: status(sdk, &config)?,
        max_receive_count: config.max_receive_count,
    })
}
