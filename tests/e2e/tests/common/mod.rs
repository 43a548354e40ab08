// Each test binary of this crate uses a part of these helpers.
#![allow(dead_code)]

//! Where the deployed stack answers, and how a caller reaches it: `make test` deploys
//! template.yaml to the emulator and writes the stack's outputs to `.local/stack.env`,
//! which it exports. Internal routes are IAM-authorized, so those calls are SigV4-signed
//! as our functions sign them.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// A stack output, e.g. `API_URL` (the public API), `INTERNAL_API_URL`, `WEBHOOK_URL`.
pub fn output(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `make test`, or export .local/stack.env of a running stack")
    })
}

pub fn public(path: &str) -> String {
    format!("{}{path}", output("API_URL"))
}

pub fn internal(path: &str) -> String {
    format!("{}{path}", output("INTERNAL_API_URL"))
}

/// A GET signed for API Gateway's IAM authorization with the emulator's credentials.
pub fn signed_get(url: &str) -> reqwest::RequestBuilder {
    signed("GET", url, &[], b"")
}

/// A JSON POST signed like `signed_get`; `headers` are signed too.
pub fn signed_post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> reqwest::RequestBuilder {
    signed("POST", url, headers, body)
}

fn signed(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> reqwest::RequestBuilder {
    let credentials = Credentials::new(
        std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()),
        std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
        None,
        None,
        "e2e",
    );
    let identity = credentials.into();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("execute-api")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("signing").into_parts();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = shared::testing::http()
        .request(method, url)
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    request
}

/// A fresh user with one order named `name` of `cents`, stored as the order service
/// stores it.
pub async fn given_order(name: &str, cents: i64) -> order::Order {
    use order::OrderRepository;
    let detail = order::OrderDetail {
        product_id: "test-product".into(),
        product_name: "Test Product".into(),
        unit_price: shared::Money::from_cents(cents, shared::Currency::USD),
        quantity: 1,
    };
    let order = order::Order::create(
        shared::OrderId::new_random(),
        shared::UserId::new_random(),
        name,
        vec![detail],
        chrono::Utc::now(),
    )
    .unwrap();
    let config = shared::testing::sdk_config().await;
    let repo = order::DynamoDbOrderRepository::new(
        aws_sdk_dynamodb::Client::new(&config),
        shared::testing::local_env("ORDERS_TABLE"),
    );
    assert!(repo.insert_if_absent(&order).await.unwrap());
    order
}

/// The user's checkout of `order` through the public API.
pub async fn checkout(order: &order::Order, correlation_id: &str) -> reqwest::Response {
    shared::testing::http()
        .post(public(&format!(
            "/api/v1/users/{}/orders/{}/checkout",
            order.user_id, order.id
        )))
        .header("x-correlation-id", correlation_id)
        .json(&serde_json::json!({ "paymentProvider": "Ewallet" }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the stack is not answering ({e}); run `make test`"))
}

/// The order as order-get shows it (status, payment, process).
pub async fn order_view(order: &order::Order) -> serde_json::Value {
    signed_get(&internal(&format!(
        "/api/internal/v1/users/{}/orders/{}",
        order.user_id, order.id
    )))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}
