//! Lambda: POST /api/internal/v1/productions (the mock production service)

use mocks::records::{self, RecordsConfig, startup};
use shared::fulfilment::ProductionRequest;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = RecordsConfig::production_from_env()?;
    let service = startup::record_service::<ProductionRequest>(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| {
        records::handle::<ProductionRequest, _, _>(&service, request, correlation_id)
    })
    .await
}
