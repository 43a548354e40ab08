//! The contract of `EmailLogRepository`: every case runs against the in-memory fake and the
//! DynamoDB adapter.

use chrono::Utc;
use notification::{DynamoDbEmailLog, EmailLog, EmailLogRepository};
use shared::UserId;
use shared::testing::local_env;

shared::contract_tests! {
    fake: notification::memory::InMemoryEmailLog::default(),
    adapter: crate::contract::adapter().await,
    cases: [
        a_log_is_stored_once_and_read_back_as_written,
        a_sent_mail_records_its_message_id,
    ]
}

async fn adapter() -> DynamoDbEmailLog {
    let config = shared::testing::sdk_config().await;
    DynamoDbEmailLog::new(
        aws_sdk_dynamodb::Client::new(&config),
        local_env("EMAIL_LOG_TABLE"),
    )
}

fn log() -> EmailLog {
    let now = Utc::now();
    EmailLog {
        email_id: uuid::Uuid::new_v4().to_string(),
        user_id: UserId::new_random(),
        tracking_id: "job".into(),
        correlation_id: "cid".into(),
        subject: "s".into(),
        body: "b".into(),
        from: "orders@checkout.example".into(),
        to: vec!["a@b.example".into()],
        bcc: vec![],
        message_id: None,
        created_at_utc: now,
        updated_at_utc: now,
    }
}

async fn a_log_is_stored_once_and_read_back_as_written(repo: &impl EmailLogRepository) {
    let log = log();
    assert!(repo.insert_if_absent(&log).await.unwrap());
    let mut other = log.clone();
    other.subject = "another".into();
    assert!(!repo.insert_if_absent(&other).await.unwrap());
    assert_eq!(repo.get(&log.email_id).await.unwrap(), Some(log));
}

async fn a_sent_mail_records_its_message_id(repo: &impl EmailLogRepository) {
    let log = log();
    assert!(repo.insert_if_absent(&log).await.unwrap());
    repo.mark_sent(&log.email_id, "m-1", Utc::now())
        .await
        .unwrap();
    let stored = repo.get(&log.email_id).await.unwrap().unwrap();
    assert_eq!(stored.message_id.as_deref(), Some("m-1"));
    assert!(repo.mark_sent("missing", "m-2", Utc::now()).await.is_err());
}
