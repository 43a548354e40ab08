//! Every sample event in `events/` goes through its listener: the files stay true to the code.

use aws_lambda_events::sqs::SqsEvent;
use listeners::Listener;
use listeners::memory::{FakeJob, FakeProcessStatus};
use shared::fulfilment::JobType;
use shared::testing::{read_sample, sample_events as files_of};

/// How many messages of each sample must fail, and how many jobs take effect.
fn expected(file: &str) -> (usize, usize) {
    match file.rsplit('/').next() {
        Some("success.json") | Some("failure.json") => (0, 1),
        Some("poison-in-batch.json") => (1, 1),
        _ => panic!("events/{file} has no expected outcome in tests/api/events.rs"),
    }
}

#[test]
fn every_function_of_the_template_has_samples_sent_through_its_handler() {
    shared::testing::assert_every_template_function_has_samples(
        env!("CARGO_MANIFEST_DIR"),
        &[
            "production-listener",
            "invoice-listener",
            "notification-listener",
        ],
    );
}

#[tokio::test]
async fn every_sample_batch_fails_only_its_bad_messages() {
    for (function, job_type) in [
        ("production-listener", JobType::Production),
        ("invoice-listener", JobType::Invoice),
        ("notification-listener", JobType::Notification),
    ] {
        for file in files_of(function) {
            let event: SqsEvent = serde_json::from_str(&read_sample(&file)).unwrap();
            let listener = Listener {
                job: FakeJob::new(job_type, 0),
                status: FakeProcessStatus::default(),
                max_receive_count: 3,
            };
            let event = lambda_runtime::LambdaEvent::new(event, Default::default());
            let response = listeners::handle(&listener, event).await;
            let (failures, effects) = expected(&file);
            assert_eq!(response.batch_item_failures.len(), failures, "{file}");
            assert_eq!(listener.job.effects(), effects, "{file}");
            assert_eq!(listener.status.reports().len(), effects, "{file}");
        }
    }
}
