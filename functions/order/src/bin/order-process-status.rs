//! Lambda: POST /api/internal/v1/orderprocesses/{processId}/status

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = order::OrderConfig::from_env()?;
    let deps = order::startup::order_deps(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| {
        order::process_status::handle(&deps, request, correlation_id)
    })
    .await
}
