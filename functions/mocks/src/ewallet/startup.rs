//! The one place where the e-wallet mock's dependencies are built from their config, once
//! per cold start.

use shared::SystemClock;
use shared::aws::SdkConfig;
use shared::client::{CallError, RetrySettings};
use shared::store::Table;

use super::cancel::CancelService;
use super::dispatcher::{Dispatcher, LEASE};
use super::dynamodb::DynamoDbEwalletRequests;
use super::payment_request::PaymentRequestService;
use super::refund::RefundService;
use super::scheduler::EventBridgeWebhookScheduler;
use super::sender::HttpWebhookSender;
use super::{DispatcherConfig, MerchantApiConfig, PaymentRequestConfig};

fn requests(sdk: &SdkConfig, table: String) -> DynamoDbEwalletRequests {
    DynamoDbEwalletRequests(Table::new(aws_sdk_dynamodb::Client::new(sdk), table))
}

pub fn payment_request_service(
    sdk: &SdkConfig,
    config: PaymentRequestConfig,
) -> PaymentRequestService<DynamoDbEwalletRequests, EventBridgeWebhookScheduler> {
    PaymentRequestService {
        repo: requests(sdk, config.requests_table),
        scheduler: EventBridgeWebhookScheduler::new(
            aws_sdk_scheduler::Client::new(sdk),
            config.schedule_group,
            config.dispatcher_arn,
            config.scheduler_role_arn,
        ),
        clock: SystemClock,
        delays: config.delays,
        entropy: std::sync::Arc::new(shared::entropy::SystemEntropy),
        api_key: config.api_key,
        webhook_urls: config.webhook_urls,
    }
}

pub fn refund_service(
    sdk: &SdkConfig,
    config: MerchantApiConfig,
) -> RefundService<DynamoDbEwalletRequests> {
    RefundService {
        repo: requests(sdk, config.requests_table),
        clock: SystemClock,
        api_key: config.api_key,
    }
}

pub fn cancel_service(
    sdk: &SdkConfig,
    config: MerchantApiConfig,
) -> CancelService<DynamoDbEwalletRequests> {
    CancelService {
        repo: requests(sdk, config.requests_table),
        clock: SystemClock,
        api_key: config.api_key,
    }
}

/// The webhook's delivery: the defaults (4 attempts of at most 5 s, backoff up to 2 s) end
/// within the function's 30 s timeout and well within the lease. The simulation uses
/// these too.
pub fn dispatcher_retry_settings() -> RetrySettings {
    RetrySettings::default()
}

pub fn dispatcher(
    sdk: &SdkConfig,
    config: DispatcherConfig,
    secret: shared::secrets::LiveSecrets,
) -> Result<Dispatcher<DynamoDbEwalletRequests, HttpWebhookSender>, CallError> {
    Ok(Dispatcher {
        repo: requests(sdk, config.requests_table),
        sender: HttpWebhookSender::new(dispatcher_retry_settings())?,
        clock: SystemClock,
        secret,
        outcomes: config.outcomes,
        lease: LEASE,
        entropy: std::sync::Arc::new(shared::entropy::SystemEntropy),
    })
}
