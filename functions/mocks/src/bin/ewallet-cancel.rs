//! Lambda: POST /api/payment/payment-requests/{paymentRequestId}/cancel (the mock e-wallet)

use mocks::ewallet::{MerchantApiConfig, cancel, startup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = MerchantApiConfig::from_env()?;
    let service = startup::cancel_service(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| cancel::handle(&service, request, correlation_id))
        .await
}
