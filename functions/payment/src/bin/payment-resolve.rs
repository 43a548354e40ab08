//! Lambda: POST /api/internal/v1/payments/{paymentId}/resolve

use payment::startup::{resolve_deps, retry_settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    shared::metrics::init("payment")?;
    let config = payment::RequestConfig::from_env()?;
    let deps = resolve_deps(&shared::aws::sdk_config(), config, retry_settings())?;
    shared::http::run(|request, correlation_id| {
        payment::resolve::handle(&deps, request, correlation_id)
    })
    .await
}
