//! Lambda: POST /api/v1/users/{userId}/orders/{orderId}/checkout

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = order::CheckoutConfig::from_env()?;
    let deps = order::startup::checkout_deps(&shared::aws::sdk_config(), config)?;
    shared::http::run(|request, correlation_id| {
        order::checkout::handle(&deps, request, correlation_id)
    })
    .await
}
