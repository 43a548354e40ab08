//! Lambda: GET /api/v1/users/{userId}/orders

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let repo = order::DynamoDbOrderRepository::from_env().await?;
    shared::http::run(|request, _| order::search::handle(&repo, request)).await
}
