//! Lambda: POST /api/internal/v1/invoices (the mock invoice service)

use mocks::records::{self, RecordsConfig, startup};
use shared::fulfilment::InvoiceRequest;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = RecordsConfig::invoice_from_env()?;
    let service = startup::record_service::<InvoiceRequest>(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| {
        records::handle::<InvoiceRequest, _, _>(&service, request, correlation_id)
    })
    .await
}
