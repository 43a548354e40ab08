//! The contract of the production and invoice mocks' `RecordRepository`: every case runs
//! against the in-memory fake and the DynamoDB adapter.

use chrono::Utc;
use mocks::records::dynamodb::DynamoDbRecords;
use mocks::records::{Received, RecordRepository};
use shared::contracts::OrderStatus;
use shared::fulfilment::ProductionRequest;
use shared::testing::local_env;
use shared::{OrderId, UserId};

shared::contract_tests! {
    fake: mocks::records::memory::InMemoryRecords::<shared::fulfilment::ProductionRequest>::default(),
    adapter: crate::records::adapter().await,
    cases: [
        a_record_is_stored_once_per_key_and_read_back_as_written,
    ]
}

async fn adapter() -> DynamoDbRecords<ProductionRequest> {
    let config = shared::testing::sdk_config().await;
    DynamoDbRecords::new(
        aws_sdk_dynamodb::Client::new(&config),
        local_env("PRODUCTIONS_TABLE"),
    )
}

async fn a_record_is_stored_once_per_key_and_read_back_as_written(
    repo: &impl RecordRepository<ProductionRequest>,
) {
    let record = Received {
        record_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: "cid".into(),
        received_at_utc: Utc::now(),
        request: ProductionRequest {
            order_id: OrderId::new_random(),
            user_id: UserId::new_random(),
            order_name: "Espresso".into(),
            order_status: OrderStatus::PaymentSuccess,
            order_details: vec![],
        },
    };
    assert!(repo.insert_if_absent(&record).await.unwrap());
    let mut other = record.clone();
    other.correlation_id = "another".into();
    assert!(!repo.insert_if_absent(&other).await.unwrap());
    assert_eq!(repo.get(&record.record_id).await.unwrap(), Some(record));
    assert_eq!(repo.get("missing").await.unwrap(), None);
}
