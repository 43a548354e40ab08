//! The one place where the order service's dependencies are built from their config, once
//! per cold start.

use aws_sdk_dynamodb::Client;
use shared::SystemClock;
use shared::aws::SdkConfig;
use shared::client::{CallError, RetrySettings, ServiceClient};

use crate::{
    CheckoutConfig, CheckoutDeps, DynamoDbOrderRepository, DynamoDbProcessRepository, HttpPayments,
    OrderConfig, OrderDeps, PublisherConfig, ReconcilerConfig,
    publisher::{SnsPaymentResults, WithFaults},
    reconciler::ReconcilerDeps,
};

/// Checkout's and the reconciler's calls to the payment service: the defaults (attempts
/// of at most 5 s), each cut to what is left of the caller's budget (`within`). The
/// simulation uses these too.
pub fn payments_retry_settings() -> RetrySettings {
    RetrySettings::default()
}

pub fn order_deps(
    sdk: &SdkConfig,
    config: OrderConfig,
) -> OrderDeps<DynamoDbOrderRepository, DynamoDbProcessRepository> {
    let client = Client::new(sdk);
    OrderDeps {
        repo: DynamoDbOrderRepository::new(client.clone(), config.orders_table),
        processes: DynamoDbProcessRepository::new(client, config.processes_table),
        clock: SystemClock,
    }
}

pub fn publisher(sdk: &SdkConfig, config: PublisherConfig) -> WithFaults<SnsPaymentResults> {
    WithFaults {
        inner: SnsPaymentResults::new(aws_sdk_sns::Client::new(sdk), config.topic_arn),
        faults: config.faults,
    }
}

pub fn checkout_deps(
    sdk: &SdkConfig,
    config: CheckoutConfig,
) -> Result<CheckoutDeps<DynamoDbOrderRepository, HttpPayments>, CallError> {
    Ok(CheckoutDeps {
        repo: DynamoDbOrderRepository::new(Client::new(sdk), config.orders_table),
        // Signed as the function's role: the internal API is IAM-authorized.
        payments: HttpPayments::new(
            ServiceClient::new(sdk, payments_retry_settings())?,
            config.internal_api_url,
        ),
        clock: SystemClock,
        payment_deadline: config.payment_deadline.0,
    })
}

pub fn reconciler_deps(
    sdk: &SdkConfig,
    config: ReconcilerConfig,
) -> Result<
    ReconcilerDeps<DynamoDbOrderRepository, DynamoDbProcessRepository, HttpPayments>,
    CallError,
> {
    Ok(ReconcilerDeps {
        orders: order_deps(sdk, config.orders),
        payments: HttpPayments::new(
            ServiceClient::new(sdk, payments_retry_settings())?,
            config.internal_api_url,
        ),
    })
}
