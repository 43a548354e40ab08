//! Lambda: GET / and GET /assets/{asset}, the web UI.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let site = web::Site::embedded();
    shared::http::run(|request, correlation_id| web::serve::handle(&site, request, correlation_id))
        .await
}
