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

/// Has the invocation gate (localstack/gate.py) inject a fault into the next `times`
/// invocations of `function` whose payload contains `matching` (an order id, say):
/// `hold` forwards it `ms` late (refused, never run, if that is past its deadline), `fail`
/// answers 502 after `ms` without running it, `lose` runs it and answers 502.
pub async fn inject(function: &str, matching: &str, action: &str, ms: u64, times: u32) {
    let response = shared::testing::http()
        .post(format!("{}/_faults", output("GATE_URL")))
        .json(&serde_json::json!({
            "function": function, "match": matching, "action": action, "ms": ms, "times": times
        }))
        .send()
        .await
        .expect("the gate answers");
    assert_eq!(response.status(), 201, "fault rule refused");
}

/// Polls the order until its payment is decided (PaymentSuccess or PaymentFailed) or
/// `limit` passes; its last view. (A checkout the emulator timed out under load may still
/// run late, so Created is not final either.)
pub async fn final_view(order: &order::Order, limit: std::time::Duration) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let view = order_view(order).await;
        let decided = view["status"] == "PaymentSuccess" || view["status"] == "PaymentFailed";
        if decided || started.elapsed() > limit {
            return view;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The payment rows of every checkout attempt the order has had, as the payment service
/// stores them (`None` for an attempt whose payment was never recorded).
pub async fn payments_of(order: &order::Order) -> Vec<Option<serde_json::Value>> {
    use order::OrderRepository;
    let config = shared::testing::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let orders = order::DynamoDbOrderRepository::new(
        client.clone(),
        shared::testing::local_env("ORDERS_TABLE"),
    );
    let attempts = orders
        .get(order.user_id, order.id)
        .await
        .unwrap()
        .map_or(0, |o| o.checkout_attempt);
    let mut payments = Vec::new();
    for attempt in 1..=attempts {
        let id = shared::PaymentId::for_idempotency_key(&order.checkout_key(attempt));
        let item = client
            .get_item()
            .table_name(shared::testing::local_env("PAYMENTS_TABLE"))
            .key(
                "paymentId",
                aws_sdk_dynamodb::types::AttributeValue::S(id.to_string()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        payments.push(
            item.item
                .map(|item| serde_dynamo::from_item::<_, serde_json::Value>(item).unwrap()),
        );
    }
    payments
}

/// The mock e-wallet's requests for the order (a Scan with a filter: test tables are small).
pub async fn ewallet_requests_of(order: &order::Order) -> Vec<serde_json::Value> {
    let config = shared::testing::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(shared::testing::local_env("EWALLET_REQUESTS_TABLE"))
            .filter_expression("orderId = :order")
            .expression_attribute_values(
                ":order",
                aws_sdk_dynamodb::types::AttributeValue::S(order.id.to_string()),
            )
            .set_exclusive_start_key(start.take())
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        for item in page.items.unwrap_or_default() {
            found.push(serde_dynamo::from_item::<_, serde_json::Value>(item).unwrap());
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return found,
        }
    }
}

/// The successes the customer was charged for and never paid back: at most one per order.
pub fn kept_successes(payments: &[Option<serde_json::Value>]) -> usize {
    payments
        .iter()
        .flatten()
        .filter(|p| p["status"] == "Success" && p.get("refundedAt").is_none())
        .count()
}
