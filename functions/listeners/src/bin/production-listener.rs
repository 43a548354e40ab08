//! Lambda: the production listener, on its SQS queue of payment results.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    shared::metrics::init("fulfilment")?;
    let config = listeners::ListenerConfig::from_env()?;
    let listener = listeners::startup::production(&shared::aws::sdk_config(), config)?;
    shared::event::run(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, lambda_runtime::Error>(listeners::handle(&listener, event).await)
    })
    .await
}
