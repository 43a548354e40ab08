//! Lambda: POST /api/internal/v1/users/{userId}/payments

use payment::startup::{request_deps, retry_settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = payment::RequestConfig::from_env()?;
    let deps = request_deps(&shared::aws::sdk_config(), config, retry_settings())?;
    shared::http::run(|request, correlation_id| {
        payment::request::handle(&deps, request, correlation_id)
    })
    .await
}
