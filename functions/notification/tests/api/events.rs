//! Every sample event in `events/` goes through its handler: the files stay true to the code.

use notification::NotificationDeps;
use notification::memory::{FakeEmailSender, InMemoryEmailLog};
use shared::testing::{from_event_json, read_sample, sample_events as files_of};

const EXPECTED: &[(&str, u16)] = &[
    ("notification-send-email/send.json", 200),
    ("notification-send-email/bad-address.json", 400),
    ("notification-send-email/missing-idempotency-key.json", 400),
    ("notification-send-email/malformed-user-id.json", 400),
];

#[test]
fn every_function_of_the_template_has_samples_sent_through_its_handler() {
    shared::testing::assert_every_template_function_has_samples(
        env!("CARGO_MANIFEST_DIR"),
        &["notification-send-email"],
    );
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    for file in files_of("notification-send-email") {
        let deps = NotificationDeps {
            log: InMemoryEmailLog::default(),
            sender: FakeEmailSender::default(),
            clock: shared::SystemClock,
            from: "orders@checkout.example".into(),
        };
        let cid = shared::CorrelationId::generate();
        let result =
            notification::send::handle(&deps, from_event_json(&read_sample(&file)), cid.clone())
                .await;
        let response = shared::http::respond(result, &cid, "/events");
        assert_eq!(
            response.status().as_u16(),
            shared::testing::expected_status(EXPECTED, &file),
            "{file}: {:?}",
            response.body()
        );
    }
}
