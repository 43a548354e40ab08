//! Lambda: on the processes table's DynamoDB stream; publishes each new process's payment
//! result to the SNS topic (the outbox's relay).

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    shared::metrics::init("fulfilment")?;
    let config = order::PublisherConfig::from_env()?;
    let publisher = order::startup::publisher(&shared::aws::sdk_config(), config);
    shared::event::run(|event: LambdaEvent<Event>| {
        order::publisher::handle(&publisher, event.payload)
    })
    .await
}
