//! Lambda: the production listener, on its SQS queue of payment results.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = listeners::ListenerConfig::from_env()?;
    let listener = listeners::startup::production(&shared::aws::sdk_config(), config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, lambda_runtime::Error>(listeners::handle(&listener, event).await)
    }))
    .await
}
