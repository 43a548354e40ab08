//! The web UI through the deployed stack: the page and its assets on the public API, and
//! the public order view it polls. The browser test (tests/browser) drives the page itself.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use shared::UserId;

async fn get(url: &str) -> reqwest::Response {
    shared::testing::http()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the local stack is not answering ({e}); run `make test`"))
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_at_the_public_api_root() {
    let page = get(&common::output("WEB_URL")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("src=\"assets/app.js\""));

    for (asset, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&common::public(&format!("/assets/{asset}"))).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(response.headers()["content-type"], content_type, "{asset}");
    }
    assert_eq!(
        get(&common::public("/assets/missing.js")).await.status(),
        404
    );
}

#[tokio::test]
async fn the_public_order_view_answers_its_owner_unsigned_and_anyone_else_404() {
    let order = common::given_order("Web view test", 10099).await;
    let path = |user: UserId| format!("/api/v1/users/{user}/orders/{}", order.id);

    let owner = get(&common::public(&path(order.user_id))).await;
    assert_eq!(owner.status(), 200);
    let body: serde_json::Value = owner.json().await.unwrap();
    assert_eq!(body["name"], "Web view test");
    assert_eq!(body["status"], "Created");

    let stranger = get(&common::public(&path(UserId::new_random()))).await;
    assert_eq!(stranger.status(), 404);
    assert_eq!(
        stranger.headers()["content-type"],
        "application/problem+json"
    );
}
