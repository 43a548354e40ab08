//! The one place where the production and invoice mocks' dependencies are built, once per
//! cold start.

use shared::SystemClock;
use shared::aws::SdkConfig;

use super::dynamodb::DynamoDbRecords;
use super::{RecordService, RecordsConfig};

pub fn record_service<T>(
    sdk: &SdkConfig,
    config: RecordsConfig,
) -> RecordService<DynamoDbRecords<T>> {
    RecordService {
        repo: DynamoDbRecords::new(aws_sdk_dynamodb::Client::new(sdk), config.table),
        clock: SystemClock,
        failure_rate: config.failure_rate,
        faults: config.faults,
    }
}
