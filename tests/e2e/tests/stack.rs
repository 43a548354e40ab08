//! Through the deployed stack over HTTP, as a user's curl would go: the emulator's API
//! Gateway → Lambda (forwarded to `cargo lambda watch`) → function → emulator's DynamoDB.
//! `make test` deploys and starts it.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use order::demo;
use shared::UserId;

async fn get(path: &str) -> reqwest::Response {
    shared::testing::http()
        .get(common::public(path))
        .header("x-correlation-id", "e2e-test-1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("the local stack is not answering ({e}); start it with `make run` or run `make test`"))
}

#[tokio::test]
async fn the_readme_search_answers_the_contract_with_correct_totals() {
    let expected_matches =
        demo::demo_orders(UserId::parse(demo::DEMO_USER).unwrap(), chrono::Utc::now())
            .iter()
            .filter(|o| o.name.to_lowercase().contains('a'))
            .count() as u64;

    let response = get(&format!(
        "/api/v1/users/{}/orders?name=a&page=2&pageSize=5",
        demo::DEMO_USER
    ))
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-correlation-id"], "e2e-test-1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["pagination"]["totalRecords"], expected_matches);
    assert_eq!(
        body["pagination"]["totalPages"],
        expected_matches.div_ceil(5)
    );
    assert_eq!(body["pagination"]["currentPage"], 2);
    assert_eq!(body["filters"]["name"], "a");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert!(
        data.iter()
            .all(|o| o["name"].as_str().unwrap().to_lowercase().contains('a'))
    );
}

#[tokio::test]
async fn bad_paging_through_the_api_is_a_400_problem() {
    let response = get(&format!(
        "/api/v1/users/{}/orders?pageSize=0",
        demo::DEMO_USER
    ))
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "pageSize");
    assert_eq!(body["correlationId"], "e2e-test-1");
}

#[tokio::test]
async fn an_order_of_the_demo_user_is_served_by_the_internal_get() {
    let user = UserId::parse(demo::DEMO_USER).unwrap();
    let order = demo::demo_order(user, 2, chrono::Utc::now());
    let response = common::signed_get(&common::internal(&format!(
        "/api/internal/v1/users/{user}/orders/{}",
        order.id
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["name"], order.name);
    assert_eq!(body["totalAmount"].as_f64(), Some(50.11));

    let someone_else = UserId::new_random();
    let response = common::signed_get(&common::internal(&format!(
        "/api/internal/v1/users/{someone_else}/orders/{}",
        order.id
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_internal_route_refuses_an_unsigned_caller() {
    let user = UserId::parse(demo::DEMO_USER).unwrap();
    let order = demo::demo_order(user, 1, chrono::Utc::now());
    let response = shared::testing::http()
        .get(common::internal(&format!(
            "/api/internal/v1/users/{user}/orders/{}",
            order.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}
