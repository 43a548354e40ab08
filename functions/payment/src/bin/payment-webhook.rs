//! Lambda: POST /api/v1/payments/webhook

use payment::startup::{retry_settings, webhook_deps};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    shared::metrics::init("payment")?;
    let config = payment::WebhookConfig::from_env()?;
    let sdk = shared::aws::sdk_config();
    let source = shared::secrets::SecretsManager::new(&sdk, "WEBHOOK_SECRET_ARN")?;
    let now = shared::Clock::now(&shared::SystemClock).timestamp();
    let secret = shared::secrets::LiveSecrets::load(std::sync::Arc::new(source), now).await?;
    let deps = webhook_deps(&sdk, config, secret, retry_settings())?;
    shared::http::run(|request, correlation_id| {
        payment::webhook::handle(&deps, request, correlation_id)
    })
    .await
}
