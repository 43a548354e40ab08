//! Lambda: POST /api/v1/users/{userId}/orders/{orderId}/checkout

use shared::client::{RetrySettings, ServiceClient};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let sdk = shared::aws::sdk_config();
    let repo = order::DynamoDbOrderRepository::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        shared::config::required("ORDERS_TABLE")?,
    );
    let payments = order::HttpPayments::new(
        ServiceClient::new(&sdk, RetrySettings::default())?,
        shared::config::required("INTERNAL_API_URL")?,
    );
    shared::http::run(|request, correlation_id| {
        order::checkout::handle(&repo, &payments, request, correlation_id)
    })
    .await
}
