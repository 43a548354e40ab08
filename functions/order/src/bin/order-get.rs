//! Lambda: GET /api/internal/v1/users/{userId}/orders/{orderId} and its public twin,
//! GET /api/v1/users/{userId}/orders/{orderId}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = order::OrderConfig::from_env()?;
    let deps = order::startup::order_deps(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| order::get::handle(&deps, request, correlation_id))
        .await
}
