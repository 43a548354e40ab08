//! Lambda: POST /api/payment/payment-requests (the mock e-wallet provider)

use mocks::ewallet::{PaymentRequestService, payment_request};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let service = PaymentRequestService::from_env().await?;
    shared::http::run(|request, correlation_id| {
        payment_request::handle(&service, request, correlation_id)
    })
    .await
}
