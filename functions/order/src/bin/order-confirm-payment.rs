//! Lambda: POST /api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let repo = order::DynamoDbOrderRepository::from_env().await?;
    shared::http::run(|request, _| order::confirm::handle(&repo, request)).await
}
