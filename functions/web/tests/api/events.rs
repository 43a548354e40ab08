//! Every sample event in `events/web/` goes through the handler: the files stay true to the
//! code.

use shared::testing::{from_event_json, read_sample, sample_events as files_of};

const EXPECTED: &[(&str, u16)] = &[
    ("web/page.json", 200),
    ("web/script.json", 200),
    ("web/unknown-asset.json", 404),
];

#[test]
fn every_function_of_the_template_has_samples_sent_through_its_handler() {
    shared::testing::assert_every_template_function_has_samples(
        env!("CARGO_MANIFEST_DIR"),
        &["web"],
    );
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let site = web::Site::embedded();
    for file in files_of("web") {
        let cid = shared::CorrelationId::generate();
        let result =
            web::serve::handle(&site, from_event_json(&read_sample(&file)), cid.clone()).await;
        let response = shared::http::respond(result, &cid, "/events");
        assert_eq!(
            response.status().as_u16(),
            shared::testing::expected_status(EXPECTED, &file),
            "{file}: {:?}",
            response.body()
        );
    }
}
