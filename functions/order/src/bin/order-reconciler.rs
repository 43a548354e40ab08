//! Lambda: the reconciler, fired every minute by an EventBridge Scheduler `rate()`
//! schedule; settles the PaymentPending orders past their deadline.

use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = order::ReconcilerConfig::from_env()?;
    let deps = order::startup::reconciler_deps(&shared::aws::sdk_config(), config)?;
    shared::event::run(|event: LambdaEvent<serde_json::Value>| {
        order::reconciler::handle(&deps, event)
    })
    .await
}
