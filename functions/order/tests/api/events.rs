//! Every sample event in `events/` goes through its handler: the files stay true to the code.

use std::path::Path;

use chrono::Utc;
use order::OrderRepository;
use shared::UserId;
use shared::testing::{from_event_json, workspace_root};

use crate::helpers::spawn_app;

/// The status each sample event must produce. A file missing here fails the test.
const EXPECTED: &[(&str, u16)] = &[
    ("order-search/search-by-name.json", 200),
    ("order-search/bad-page-size.json", 400),
    ("order-search/malformed-user-id.json", 400),
    ("order-get/demo-order.json", 200),
    ("order-get/unknown-order.json", 404),
    ("order-get/malformed-order-id.json", 400),
];

fn files_of(function: &str) -> Vec<String> {
    let dir = workspace_root().join("events").join(function);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| format!("{function}/{}", e.file_name().to_string_lossy()))
        .collect();
    files.sort();
    files
}

fn expected(file: &str) -> u16 {
    EXPECTED
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, status)| *status)
        .unwrap_or_else(|| panic!("events/{file} has no expected status in tests/api/events.rs"))
}

fn load(file: &str) -> lambda_http::Request {
    let path = workspace_root().join("events").join(Path::new(file));
    from_event_json(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let app = spawn_app().await;
    // The samples name the demo user and its first order.
    let demo_user = UserId::parse(order::demo::DEMO_USER).unwrap();
    app.repo
        .insert_if_absent(&order::demo::demo_order(demo_user, 1, Utc::now()))
        .await
        .unwrap();

    for file in files_of("order-search") {
        let response = app.search(load(&file)).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
    for file in files_of("order-get") {
        let response = app.get(load(&file)).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
}
