use lambda_http::{Body, Response};
use shared::testing::{ApiRequest, assert_problem};
use web::Site;

async fn get(request: lambda_http::Request) -> Response<Body> {
    let site = Site::embedded();
    let cid = shared::CorrelationId::generate();
    let result = web::serve::handle(&site, request, cid.clone()).await;
    shared::http::respond(result, &cid, "/test")
}

fn page() -> lambda_http::Request {
    ApiRequest::new("GET", "/", &[]).build()
}

fn asset(name: &str) -> lambda_http::Request {
    ApiRequest::new("GET", "/assets/{asset}", &[("asset", name)]).build()
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        _ => "",
    }
}

#[tokio::test]
async fn the_page_is_served_at_the_root_as_html_under_a_same_origin_only_policy() {
    let response = get(page()).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert!(text(&response).starts_with("<!doctype html>"));
    let csp = header(&response, "content-security-policy");
    assert!(csp.contains("default-src 'none'"));
    assert!(csp.contains("script-src 'self'"));
    assert!(csp.contains("connect-src 'self'"));
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_script_and_the_stylesheet_are_served_with_their_content_types() {
    for (name, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let response = get(asset(name)).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(header(&response, "content-type"), content_type, "{name}");
        assert!(!text(&response).is_empty(), "{name}");
    }
}

#[tokio::test]
async fn an_unknown_asset_is_a_404_problem() {
    for name in ["nope.js", "../Cargo.toml", "index.html", ""] {
        assert_problem(&get(asset(name)).await, 404);
    }
}

#[tokio::test]
async fn a_browser_revalidating_with_the_current_etag_gets_a_304_without_a_body() {
    let first = get(page()).await;
    let etag = header(&first, "etag").to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");

    let again = get(ApiRequest::new("GET", "/", &[])
        .header("if-none-match", &etag)
        .build())
    .await;
    assert_eq!(again.status(), 304);
    assert!(matches!(again.body(), Body::Empty));
    assert_eq!(header(&again, "etag"), etag);

    let stale = get(ApiRequest::new("GET", "/", &[])
        .header("if-none-match", "\"an-older-page\"")
        .build())
    .await;
    assert_eq!(stale.status(), 200);
}
