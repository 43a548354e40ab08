//! The API Gateway HTTP API (payload 2.0) request that order-search receives on AWS.

use lambda_http::Request;
use shared::UserId;

pub const SEARCH_ROUTE: &str = "/api/v1/users/{userId}/orders";

/// `GET /api/v1/users/{user}/orders?<query>` as lambda_http hands it to the handler.
pub fn search_request(user: UserId, query: &[(&str, &str)]) -> anyhow::Result<Request> {
    let path = format!("/api/v1/users/{user}/orders");
    let raw_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let params: serde_json::Map<String, serde_json::Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
        .collect();
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": format!("GET {SEARCH_ROUTE}"),
        "rawPath": path,
        "rawQueryString": raw_query.join("&"),
        "headers": { "accept": "application/json", "x-correlation-id": "bench" },
        "queryStringParameters": params,
        "pathParameters": { "userId": user.to_string() },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": { "method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("GET {SEARCH_ROUTE}"),
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000_i64
        },
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string())
        .map_err(|e| anyhow::anyhow!("building the search request: {e}"))
}
