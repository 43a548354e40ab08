//! Lambda: the mock e-wallet's webhook dispatcher, fired by EventBridge Scheduler with
//! `{"paymentRequestId": "..."}` (the schedule's target Input).

use lambda_runtime::LambdaEvent;
use mocks::ewallet::{DispatcherConfig, dispatcher, startup};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = DispatcherConfig::from_env()?;
    let sdk = shared::aws::sdk_config();
    let source = shared::secrets::SecretsManager::new(&sdk, "WEBHOOK_SECRET_ARN")?;
    let now = shared::Clock::now(&shared::SystemClock).timestamp();
    let secret = shared::secrets::LiveSecrets::load(std::sync::Arc::new(source), now).await?;
    let service = startup::dispatcher(&sdk, config, secret)?;
    shared::event::run(|event: LambdaEvent<serde_json::Value>| dispatcher::handle(&service, event))
        .await
}
