//! Hostile input through the deployed stack: each request gets a clear 4xx problem+json,
//! and nothing stored changes (the order, its payments, the e-wallet's requests).

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod common;

use order::Order;
use serde_json::Value;

/// What the stack holds about an order: its stored row, its payments, the e-wallet's
/// requests for it.
async fn holdings(order: &Order) -> (Value, Vec<Option<Value>>, Vec<Value>) {
    use order::OrderRepository;
    let config = shared::testing::sdk_config().await;
    let repo = order::DynamoDbOrderRepository::new(
        aws_sdk_dynamodb::Client::new(&config),
        shared::testing::local_env("ORDERS_TABLE"),
    );
    let stored = repo.get(order.user_id, order.id).await.unwrap();
    let row = serde_json::to_value(stored.map(|o| o.to_dto())).unwrap();
    (
        row,
        common::payments_of(order).await,
        common::ewallet_requests_of(order).await,
    )
}

/// Sends `request`, asserts a 4xx problem+json of `status`, and that nothing the order
/// holds changed.
async fn refused(order: &Order, what: &str, status: u16, request: reqwest::RequestBuilder) {
    let before = holdings(order).await;
    let response = request.send().await.expect("the stack answers");
    let got = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: {body}");
    assert_eq!(content_type, "application/problem+json", "{what}: {body}");
    assert_eq!(body["status"], status, "{what}: {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    assert_eq!(
        holdings(order).await,
        before,
        "{what} changed what is stored"
    );
}

fn checkout_url(order: &Order) -> String {
    common::public(&format!(
        "/api/v1/users/{}/orders/{}/checkout",
        order.user_id, order.id
    ))
}

fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    shared::testing::http()
        .post(url)
        .header("content-type", content_type)
        .body(body)
}

#[tokio::test]
async fn hostile_checkout_bodies_are_refused_and_change_nothing() {
    let order = common::given_order("Hostile checkout", 10099).await;
    let url = checkout_url(&order);
    let json = "application/json";
    let valid = r#"{"paymentProvider":"Ewallet"}"#;
    let padded = format!(
        r#"{{"paymentProvider":"Ewallet","pad":"{}"}}"#,
        "x".repeat(70_000)
    );
    refused(&order, "a body over 64 KiB", 413, post(&url, json, padded)).await;
    refused(
        &order,
        "a valid body sent as text/plain",
        415,
        post(&url, "text/plain", valid),
    )
    .await;
    let no_type = shared::testing::http().post(&url).body(valid);
    refused(&order, "a body without a content type", 415, no_type).await;
    let deep = format!(
        r#"{{"paymentProvider":{}"Ewallet"{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    refused(&order, "JSON nested 200 deep", 400, post(&url, json, deep)).await;
    let twice = r#"{"paymentProvider":"Ewallet","paymentProvider":"Ewallet"}"#;
    refused(&order, "a duplicate key", 400, post(&url, json, twice)).await;
    let control = "{\"paymentProvider\":\"Ewal\\u0000let\"}";
    refused(
        &order,
        "a control character",
        400,
        post(&url, json, control),
    )
    .await;
    let not_utf8 = b"{\"paymentProvider\":\"Ewal\xfflet\"}".to_vec();
    refused(&order, "invalid UTF-8", 400, post(&url, json, not_utf8)).await;
    refused(
        &order,
        "a number where a name goes",
        400,
        post(&url, json, r#"{"paymentProvider":1e400}"#),
    )
    .await;

    // The same order pays with a plain checkout: the refusals left it payable.
    assert_eq!(common::checkout(&order, "e2e-hostile").await.status(), 202);
}

#[tokio::test]
async fn hostile_ids_and_search_terms_are_refused_and_change_nothing() {
    let order = common::given_order("Hostile ids", 10099).await;
    let user = order.user_id;
    let get = |path: String| shared::testing::http().get(common::public(&path));
    for (what, path) in [
        (
            "a user id that is not a UUID",
            format!("/api/v1/users/not-a-uuid/orders/{}", order.id),
        ),
        (
            "an order id with a traversal",
            format!("/api/v1/users/{user}/orders/%2E%2E%5C%2E%2E%5Cetc%5Cpasswd"),
        ),
        (
            "an order id with an injection",
            format!("/api/v1/users/{user}/orders/%27%20OR%20%271%27%3D%271"),
        ),
        (
            "a search with a NUL",
            format!("/api/v1/users/{user}/orders?name=a%00b"),
        ),
        (
            "a search with a newline",
            format!("/api/v1/users/{user}/orders?name=a%0Ab"),
        ),
        (
            "a negative page",
            format!("/api/v1/users/{user}/orders?page=-1"),
        ),
        (
            "a page as an exponent",
            format!("/api/v1/users/{user}/orders?page=1e3"),
        ),
        (
            "a page of NaN",
            format!("/api/v1/users/{user}/orders?page=NaN"),
        ),
        (
            "an overflowing page",
            format!("/api/v1/users/{user}/orders?page=99999999999999999999"),
        ),
        (
            "an overflowing page size",
            format!("/api/v1/users/{user}/orders?pageSize=4294967297"),
        ),
    ] {
        refused(&order, what, 400, get(path)).await;
    }
    // With an encoded slash, a traversal does not match the route: API Gateway's own 404,
    // and no function runs.
    let before = holdings(&order).await;
    let traversal = get(format!(
        "/api/v1/users/{user}/orders/..%2F..%2Fetc%2Fpasswd"
    ));
    assert_eq!(traversal.send().await.unwrap().status(), 404);
    assert_eq!(holdings(&order).await, before);

    let bad_user = common::public(&format!(
        "/api/v1/users/{}%00/orders/{}/checkout",
        order.user_id, order.id
    ));
    let body = r#"{"paymentProvider":"Ewallet"}"#;
    refused(
        &order,
        "a checkout for a user id with a NUL",
        400,
        post(&bad_user, "application/json", body),
    )
    .await;

    // A search term is text, searched as it is: injection strings find nothing and change nothing.
    let before = holdings(&order).await;
    for term in [
        "' OR '1'='1",
        "\"; DROP TABLE orders; --",
        "../../etc/passwd",
        "${jndi:ldap://x}",
    ] {
        let encoded: String = term
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let response = shared::testing::http()
            .get(common::public(&format!(
                "/api/v1/users/{user}/orders?name={encoded}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{term}");
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["data"], serde_json::json!([]), "{term}: {page}");
    }
    assert_eq!(holdings(&order).await, before);
}

#[tokio::test]
async fn hostile_amounts_are_refused_and_change_nothing() {
    let order = common::given_order("Hostile amounts", 10099).await;
    let ewallet = format!(
        "{}/api/payment/payment-requests",
        common::output("EWALLET_API_URL")
    );
    let key = common::output("EWALLET_API_KEY");
    let webhook = common::output("WEBHOOK_URL");
    let merchant = |amount: &str, extra: &str| {
        format!(
            r#"{{"amount":{amount},"currency":"USD","notificationUri":"{webhook}","merchantData":{{"orderId":"{}"}}{extra}}}"#,
            order.id
        )
    };
    let to_ewallet = |body: String| {
        shared::testing::http()
            .post(&ewallet)
            .header("content-type", "application/json")
            .header("x-api-key", &key)
            .header("idempotency-key", format!("e2e-hostile-{}", order.id))
            .body(body)
    };
    for (what, amount) in [
        ("a negative amount", "-100.99"),
        ("a zero amount", "0"),
        ("NaN", "NaN"),
        ("an amount with an exponent", "1.0099e2"),
        ("an amount with three decimals", "100.999"),
        ("an overflowing amount", "92233720368547758.08"),
        ("an amount past the limit", "1000000000000.01"),
        ("an amount in a string", "\"100.99\""),
    ] {
        refused(&order, what, 400, to_ewallet(merchant(amount, ""))).await;
    }
    // An extra field is allowed here, so the parser goes into it: past its depth limit.
    let deep = format!(r#","extra":{}{}"#, "[".repeat(200), "]".repeat(200));
    refused(
        &order,
        "JSON nested 200 deep",
        400,
        to_ewallet(merchant("100.99", &deep)),
    )
    .await;

    let payments = common::internal(&format!(
        "/api/internal/v1/users/{}/payments",
        order.user_id
    ));
    let body = format!(
        r#"{{"userId":"{}","orderId":"{}","amount":-5,"currency":"USD","paymentMethod":"Ewallet"}}"#,
        order.user_id, order.id
    );
    let signed = common::signed_post(
        &payments,
        &[
            ("content-type", "application/json"),
            ("idempotency-key", &order.checkout_key(1)),
        ],
        body.as_bytes(),
    );
    refused(&order, "a negative payment", 400, signed).await;
}
