//! Lambda: POST /api/payment/payment-requests (the mock e-wallet provider)

use mocks::ewallet::{PaymentRequestConfig, payment_request, startup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = PaymentRequestConfig::from_env()?;
    let service = startup::payment_request_service(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| {
        payment_request::handle(&service, request, correlation_id)
    })
    .await
}
