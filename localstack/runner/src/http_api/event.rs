//! The API Gateway HTTP API payload, format 2.0: from an HTTP request to the event a
//! function receives, and from the function's response back to HTTP.

use std::collections::HashMap;
use std::net::IpAddr;

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use serde_json::Value;

/// What API Gateway knows about the API and the stage a request came through.
#[derive(Debug, Clone, Copy)]
pub struct ApiContext<'a> {
    pub account_id: &'a str,
    pub api_id: &'a str,
    /// Used when the request has no Host header.
    pub default_domain: &'a str,
}

/// The parts of an HTTP request that go into the event.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub version: Version,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    pub request_id: &'a str,
    pub time: DateTime<Utc>,
}

/// Builds the payload v2.0 event of `request` for the route `route_key`.
pub fn request_event(
    api: &ApiContext<'_>,
    route_key: &str,
    path_parameters: HashMap<String, String>,
    request: &Incoming<'_>,
) -> ApiGatewayV2httpRequest {
    let raw_path = request.uri.path().to_owned();
    let raw_query = request.uri.query().unwrap_or_default().to_owned();
    let domain_name = request
        .headers
        .get(HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        .unwrap_or_else(|| api.default_domain.to_owned());
    let cookies = cookies(request.headers);
    let (body, is_base64_encoded) = body(request.headers, request.body);

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = request.method.clone();
    http.path = Some(raw_path.clone());
    http.protocol = Some(protocol(request.version).to_owned());
    http.source_ip = Some(request.source_ip.to_string());
    http.user_agent = request
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.to_owned());
    context.account_id = Some(api.account_id.to_owned());
    context.stage = Some("$default".to_owned());
    context.request_id = Some(request.request_id.to_owned());
    context.apiid = Some(api.api_id.to_owned());
    context.domain_prefix = domain_name.split(['.', ':']).next().map(str::to_owned);
    context.domain_name = Some(domain_name);
    context.time = Some(request.time.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    context.time_epoch = request.time.timestamp_millis();
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(route_key.to_owned());
    event.raw_path = Some(raw_path);
    event.query_string_parameters = query_parameters(&raw_query);
    event.raw_query_string = Some(raw_query);
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = headers(request);
    event.path_parameters = path_parameters;
    event.request_context = context;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;
    event
}

/// The event as JSON, without the fields the type keeps for Custom Authorizer v1 payloads
/// (`type`, `methodArn`, `httpMethod`, ...), which API Gateway does not send in 2.0 events.
pub fn to_payload(event: &ApiGatewayV2httpRequest) -> serde_json::Result<Vec<u8>> {
    let mut value = serde_json::to_value(event)?;
    if let Value::Object(map) = &mut value {
        map.remove("httpMethod");
        map.retain(|_, v| !v.is_null());
        if map
            .get("stageVariables")
            .is_some_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
        {
            map.remove("stageVariables");
        }
    }
    serde_json::to_vec(&value)
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Lower-case names (as `HeaderMap` keeps them), repeated headers joined with commas,
/// cookies moved to `cookies`, and the forwarding headers API Gateway adds.
fn headers(request: &Incoming<'_>) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in request.headers.keys() {
        if name == COOKIE {
            continue;
        }
        let joined = request
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        if let Ok(value) = HeaderValue::from_str(&joined) {
            out.insert(name.clone(), value);
        }
    }
    let source_ip = request.source_ip.to_string();
    let forwarded_for = match out.get("x-forwarded-for").map(HeaderValue::to_str) {
        Some(Ok(previous)) => format!("{previous}, {source_ip}"),
        _ => source_ip,
    };
    let port = request
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map_or("80", |(_, port)| port)
        .to_owned();
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-forwarded-port", port),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(HeaderName::from_static(name), value);
        }
    }
    out
}

fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Query parameters decoded; a repeated key keeps every value (serialized comma-joined,
/// as API Gateway sends them).
fn query_parameters(raw_query: &str) -> QueryMap {
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        parameters
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    QueryMap::from(parameters)
}

/// The body as text when its content type is textual and it is UTF-8; base64 otherwise.
fn body(headers: &HeaderMap, body: &[u8]) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    let textual = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_text_content_type);
    match std::str::from_utf8(body) {
        Ok(text) if textual => (Some(text.to_owned()), false),
        _ => (Some(BASE64.encode(body)), true),
    }
}

fn is_text_content_type(content_type: &str) -> bool {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type.starts_with("text/")
        || [
            "application/json",
            "application/javascript",
            "application/xml",
            "application/yaml",
            "application/x-yaml",
            "application/x-www-form-urlencoded",
            "application/graphql",
        ]
        .contains(&media_type.as_str())
        || ["+json", "+xml", "+yaml"]
            .iter()
            .any(|suffix| media_type.ends_with(suffix))
}

/// An HTTP response to send back to the client.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BadResponse {
    #[error("the function's response is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the function's response is not an HTTP API 2.0 response: {0}")]
    Shape(#[source] serde_json::Error),
    #[error("the function's response has status code {0}")]
    Status(i64),
    #[error("the function's response body is not valid base64")]
    Base64(#[source] base64::DecodeError),
    #[error("the function's response has an invalid cookie {0:?}")]
    Cookie(String),
}

/// The HTTP response API Gateway makes of a function's payload: an object with a
/// `statusCode` is a 2.0 response; any other JSON is a 200 `application/json` body.
pub fn http_response(payload: &[u8]) -> Result<HttpResponse, BadResponse> {
    let mut value: Value = serde_json::from_slice(payload).map_err(BadResponse::NotJson)?;
    let Some(object) = value
        .as_object_mut()
        .filter(|o| o.contains_key("statusCode"))
    else {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(HttpResponse {
            status: StatusCode::OK,
            headers,
            body: payload.to_vec(),
        });
    };
    for optional in ["cookies", "headers", "multiValueHeaders"] {
        if object.get(optional).is_none_or(Value::is_null) {
            object.remove(optional);
        }
    }
    object
        .entry("cookies")
        .or_insert_with(|| Value::Array(Vec::new()));
    let response: ApiGatewayV2httpResponse =
        serde_json::from_value(value).map_err(BadResponse::Shape)?;

    let status = u16::try_from(response.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(BadResponse::Status(response.status_code))?;
    let mut headers = response.headers;
    for (name, value) in &response.multi_value_headers {
        if !headers.get_all(name).iter().any(|v| v == value) {
            headers.append(name.clone(), value.clone());
        }
    }
    for cookie in &response.cookies {
        let value =
            HeaderValue::from_str(cookie).map_err(|_| BadResponse::Cookie(cookie.clone()))?;
        headers.append(SET_COOKIE, value);
    }
    let body = match response.body {
        Some(Body::Text(text)) if response.is_base64_encoded => BASE64
            .decode(text.as_bytes())
            .map_err(BadResponse::Base64)?,
        Some(Body::Text(text)) => text.into_bytes(),
        Some(Body::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api() -> ApiContext<'static> {
        ApiContext {
            account_id: "123456789012",
            api_id: "abc123",
            default_domain: "127.0.0.1:3000",
        }
    }

    struct Request {
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    fn request(method: Method, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            match (HeaderName::try_from(*name), HeaderValue::from_str(value)) {
                (Ok(n), Ok(v)) => {
                    map.append(n, v);
                }
                _ => panic!("bad header in test: {name}: {value}"),
            }
        }
        match uri.parse() {
            Ok(uri) => Request {
                method,
                uri,
                headers: map,
                body: body.to_vec(),
            },
            Err(e) => panic!("bad uri in test: {e}"),
        }
    }

    /// The event of `r` as the JSON a function receives.
    fn event_json(r: &Request, route_key: &str, path_parameters: &[(&str, &str)]) -> Value {
        let incoming = Incoming {
            method: &r.method,
            uri: &r.uri,
            version: Version::HTTP_11,
            headers: &r.headers,
            body: &r.body,
            source_ip: IpAddr::from([192, 0, 2, 7]),
            request_id: "req-1",
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        };
        let parameters = path_parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let event = request_event(&api(), route_key, parameters, &incoming);
        match to_payload(&event).and_then(|p| serde_json::from_slice(&p)) {
            Ok(value) => value,
            Err(e) => panic!("event does not serialize: {e}"),
        }
    }

    #[test]
    fn a_get_becomes_a_2_0_event_with_route_key_path_and_context() {
        let r = request(
            Method::GET,
            "/api/v1/users/u1/orders?name=lamp",
            &[("host", "127.0.0.1:3000"), ("user-agent", "curl/8")],
            b"",
        );
        let event = event_json(&r, "GET /api/v1/users/{userId}/orders", &[("userId", "u1")]);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /api/v1/users/{userId}/orders");
        assert_eq!(event["rawPath"], "/api/v1/users/u1/orders");
        assert_eq!(event["rawQueryString"], "name=lamp");
        assert_eq!(event["pathParameters"], json!({"userId": "u1"}));
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("body").is_none());
        let context = &event["requestContext"];
        assert_eq!(context["accountId"], "123456789012");
        assert_eq!(context["apiId"], "abc123");
        assert_eq!(context["domainName"], "127.0.0.1:3000");
        assert_eq!(context["requestId"], "req-1");
        assert_eq!(context["routeKey"], "GET /api/v1/users/{userId}/orders");
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["time"], "14/Nov/2023:22:13:20 +0000");
        assert_eq!(context["timeEpoch"], 1_700_000_000_000_i64);
        assert_eq!(
            context["http"],
            json!({"method": "GET", "path": "/api/v1/users/u1/orders", "protocol": "HTTP/1.1",
                   "sourceIp": "192.0.2.7", "userAgent": "curl/8"})
        );
        for v1_only in [
            "httpMethod",
            "type",
            "methodArn",
            "resource",
            "stageVariables",
        ] {
            assert!(event.get(v1_only).is_none(), "{v1_only} should not be sent");
        }
    }

    #[test]
    fn repeated_query_keys_are_comma_joined_and_values_decoded() {
        let r = request(
            Method::GET,
            "/o?tag=a&tag=b%2Cc&name=desk+lamp&empty=",
            &[],
            b"",
        );
        let event = event_json(&r, "GET /o", &[]);
        assert_eq!(
            event["rawQueryString"],
            "tag=a&tag=b%2Cc&name=desk+lamp&empty="
        );
        assert_eq!(
            event["queryStringParameters"],
            json!({"tag": "a,b,c", "name": "desk lamp", "empty": ""})
        );
    }

    #[test]
    fn without_a_query_string_there_are_no_query_parameters() {
        let event = event_json(&request(Method::GET, "/o", &[], b""), "GET /o", &[]);
        assert_eq!(event["rawQueryString"], "");
        assert!(event.get("queryStringParameters").is_none());
        assert!(event.get("pathParameters").is_none());
    }

    #[test]
    fn repeated_headers_are_comma_joined_and_cookies_moved_to_cookies() {
        let r = request(
            Method::GET,
            "/o",
            &[
                ("Accept", "text/html"),
                ("accept", "application/json"),
                ("Cookie", "a=1; b=2"),
                ("X-Correlation-Id", "c-1"),
            ],
            b"",
        );
        let event = event_json(&r, "GET /o", &[]);
        let headers = &event["headers"];
        assert_eq!(headers["accept"], "text/html,application/json");
        assert_eq!(headers["x-correlation-id"], "c-1");
        assert_eq!(headers["x-forwarded-for"], "192.0.2.7");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert!(headers.get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    }

    #[test]
    fn a_json_body_is_sent_as_text() {
        let r = request(
            Method::POST,
            "/o",
            &[("content-type", "application/json; charset=utf-8")],
            br#"{"a":1}"#,
        );
        let event = event_json(&r, "POST /o", &[]);
        assert_eq!(event["body"], r#"{"a":1}"#);
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn a_binary_or_untyped_body_is_sent_as_base64() {
        let bytes = [0_u8, 159, 146, 150];
        for headers in [&[("content-type", "application/octet-stream")][..], &[]] {
            let event = event_json(
                &request(Method::POST, "/o", headers, &bytes),
                "POST /o",
                &[],
            );
            assert_eq!(event["body"], "AJ+Slg==");
            assert_eq!(event["isBase64Encoded"], true);
        }
        let not_utf8 = request(
            Method::POST,
            "/o",
            &[("content-type", "text/plain")],
            &bytes,
        );
        assert_eq!(
            event_json(&not_utf8, "POST /o", &[])["isBase64Encoded"],
            true
        );
    }

    #[test]
    fn the_event_reads_back_as_the_lambda_http_type() {
        let r = request(
            Method::POST,
            "/o/1?x=1",
            &[("content-type", "text/plain")],
            b"hi",
        );
        let event = event_json(&r, "POST /o/{id}", &[("id", "1")]);
        let parsed: Result<ApiGatewayV2httpRequest, _> = serde_json::from_value(event);
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => panic!("does not read back: {e}"),
        };
        assert_eq!(parsed.request_context.http.method, Method::POST);
        assert_eq!(parsed.query_string_parameters.first("x"), Some("1"));
        assert_eq!(parsed.body.as_deref(), Some("hi"));
    }

    fn response(payload: Value) -> HttpResponse {
        match http_response(payload.to_string().as_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("unexpected bad response: {e}"),
        }
    }

    #[test]
    fn a_2_0_response_becomes_status_headers_cookies_and_body() {
        let r = response(json!({
            "statusCode": 201,
            "headers": {"content-type": "application/problem+json", "x-a": "1"},
            "multiValueHeaders": {"x-a": ["1", "2"]},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": "{\"ok\":true}",
            "isBase64Encoded": false
        }));
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.headers[CONTENT_TYPE], "application/problem+json");
        let x_a: Vec<_> = r.headers.get_all("x-a").iter().collect();
        assert_eq!(x_a, ["1", "2"]);
        let set_cookie: Vec<_> = r.headers.get_all(SET_COOKIE).iter().collect();
        assert_eq!(set_cookie, ["s=1; HttpOnly", "t=2"]);
        assert_eq!(r.body, br#"{"ok":true}"#);
    }

    #[test]
    fn a_base64_response_body_is_decoded() {
        let r = response(json!({"statusCode": 200, "body": "AJ+Slg==", "isBase64Encoded": true}));
        assert_eq!(r.body, [0_u8, 159, 146, 150]);
    }

    #[test]
    fn a_response_without_cookies_or_body_is_accepted() {
        let r = response(json!({"statusCode": 204}));
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(r.body.is_empty());
    }

    #[test]
    fn json_without_a_status_code_is_a_200_json_body() {
        let r = response(json!({"hello": "world"}));
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[CONTENT_TYPE], "application/json");
        assert_eq!(r.body, br#"{"hello":"world"}"#);
    }

    #[test]
    fn malformed_responses_are_rejected() {
        assert!(matches!(
            http_response(b"not json"),
            Err(BadResponse::NotJson(_))
        ));
        assert!(matches!(
            http_response(br#"{"statusCode": 1000}"#),
            Err(BadResponse::Status(1000))
        ));
        assert!(matches!(
            http_response(br#"{"statusCode": 200, "body": "%%", "isBase64Encoded": true}"#),
            Err(BadResponse::Base64(_))
        ));
    }
}
