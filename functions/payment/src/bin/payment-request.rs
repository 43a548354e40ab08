//! Lambda: POST /api/internal/v1/users/{userId}/payments

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let deps = payment::RequestDeps::from_env().await?;
    let deps = &deps;
    shared::http::run(|request, correlation_id| async move {
        payment::request::handle(deps, request, &correlation_id).await
    })
    .await
}
