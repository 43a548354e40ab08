//! Lambda: POST /api/v1/payments/webhook

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let deps = payment::WebhookDeps::from_env().await?;
    let deps = &deps;
    shared::http::run(|request, correlation_id| async move {
        payment::webhook::handle(deps, request, &correlation_id).await
    })
    .await
}
