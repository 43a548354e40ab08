//! Lambda: the notification listener, on its SQS queue of payment results.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    shared::metrics::init("fulfilment")?;
    let config = listeners::ListenerConfig::from_env()?;
    let domain = listeners::config::recipient_domain()?;
    let listener = listeners::startup::notification(&shared::aws::sdk_config(), config, domain)?;
    shared::event::run(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, lambda_runtime::Error>(listeners::handle(&listener, event).await)
    })
    .await
}
