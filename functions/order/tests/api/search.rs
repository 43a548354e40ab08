use futures::future::join_all;
use order::OrderRepository;
use shared::UserId;
use shared::paging::NameFilter;
use shared::testing::{ApiRequest, assert_problem, body_json};

use crate::helpers::spawn_app;

const ROUTE: &str = "/api/v1/users/{userId}/orders";

fn search_request(user: &str, query: &[(&str, &str)]) -> lambda_http::Request {
    ApiRequest::new("GET", ROUTE, &[("userId", user)])
        .query(query)
        .build()
}

#[tokio::test]
async fn a_search_reads_only_the_users_own_orders_among_many_others() {
    let app = spawn_app().await;
    app.given_orders(app.user, 30).await;
    // 40 other users with 25 orders each: 1,000 items that a Scan would have to read.
    let others: Vec<UserId> = (0..40).map(|_| UserId::new_random()).collect();
    join_all(others.iter().map(|u| app.given_orders(*u, 25))).await;

    let everything = app
        .repo
        .search(app.user, &NameFilter::default())
        .await
        .unwrap();
    assert_eq!(
        everything.items_read, 30,
        "the query read other users' items"
    );
    assert_eq!(everything.orders.len(), 30);
    assert!(everything.orders.iter().all(|o| o.user_id == app.user));

    let filtered = app
        .repo
        .search(app.user, &NameFilter::parse(Some("frother")).unwrap())
        .await
        .unwrap();
    assert_eq!(filtered.items_read, 30);
    assert_eq!(filtered.orders.len(), 15);
}

#[tokio::test]
async fn a_search_answers_the_contract_shape_with_correct_totals() {
    let app = spawn_app().await;
    app.given_orders(app.user, 23).await;
    let user = app.user.to_string();

    let response = app
        .search(search_request(
            &user,
            &[("name", "ESPRESSO"), ("page", "2"), ("pageSize", "5")],
        ))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(&response);
    // Orders 1, 3, …, 23 are espresso machines: 12 of them, in 3 pages of 5.
    assert_eq!(body["pagination"]["totalRecords"], 12);
    assert_eq!(body["pagination"]["totalPages"], 3);
    assert_eq!(body["pagination"]["currentPage"], 2);
    assert_eq!(body["pagination"]["pageSize"], 5);
    assert_eq!(body["filters"]["name"], "ESPRESSO");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    for order in data {
        assert_eq!(order["userId"], user.as_str());
        assert!(order["name"].as_str().unwrap().contains("Espresso"));
        assert_eq!(
            order["totalAmount"].as_f64(),
            Some(100.99),
            "amounts are decimal numbers"
        );
        assert_eq!(order["status"], "Created");
        assert_eq!(order["orderDetails"][0]["unitPrice"].as_f64(), Some(100.99));
    }
}

#[tokio::test]
async fn pages_are_ordered_by_name_and_together_hold_every_match_once() {
    let app = spawn_app().await;
    app.given_orders(app.user, 30).await;
    let user = app.user.to_string();
    let mut seen = Vec::new();
    for page in 1..=4 {
        let body = body_json(
            &app.search(search_request(
                &user,
                &[("page", &page.to_string()), ("pageSize", "8")],
            ))
            .await,
        );
        for order in body["data"].as_array().unwrap() {
            seen.push((
                order["name"].as_str().unwrap().to_lowercase(),
                order["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages are not in name order");
    sorted.dedup_by(|a, b| a.1 == b.1);
    assert_eq!(sorted.len(), 30);
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_not_an_error() {
    let app = spawn_app().await;
    app.given_orders(app.user, 3).await;
    let body = body_json(
        &app.search(search_request(&app.user.to_string(), &[("page", "9")]))
            .await,
    );
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    assert_eq!(body["pagination"]["totalRecords"], 3);
}

#[tokio::test]
async fn a_user_without_orders_gets_an_empty_first_page() {
    let app = spawn_app().await;
    let body = body_json(&app.search(search_request(&app.user.to_string(), &[])).await);
    assert_eq!(body["data"], serde_json::json!([]));
    assert_eq!(body["pagination"]["totalPages"], 0);
    assert_eq!(body["pagination"]["pageSize"], 10);
}

#[tokio::test]
async fn bad_search_input_is_a_400_problem_naming_the_field() {
    let app = spawn_app().await;
    let user = app.user.to_string();
    let long_name = "n".repeat(10 * 1024);
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("not-a-uuid", vec![], "userId"),
        ("5a2fb4b2f2814c648bbcec3500b40c76", vec![], "userId"),
        (&user, vec![("pageSize", "0")], "pageSize"),
        (&user, vec![("pageSize", "1000")], "pageSize"),
        (&user, vec![("pageSize", "ten")], "pageSize"),
        (&user, vec![("page", "-1")], "page"),
        (&user, vec![("page", "0")], "page"),
        (&user, vec![("page", "two")], "page"),
        (&user, vec![("page", "1,2")], "page"),
        (&user, vec![("name", &long_name)], "name"),
    ];
    for (user, query, field) in cases {
        let response = app.search(search_request(user, &query)).await;
        let body = assert_problem(&response, 400);
        assert_eq!(body["errors"][0]["field"], field, "{query:?}");
    }
}
