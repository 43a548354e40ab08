//! Lambda: POST /api/payment/payment-requests/{paymentRequestId}/refunds (the mock e-wallet)

use mocks::ewallet::{MerchantApiConfig, refund, startup};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = MerchantApiConfig::from_env()?;
    let service = startup::refund_service(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| refund::handle(&service, request, correlation_id))
        .await
}
