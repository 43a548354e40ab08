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
        a_send_claim_holds_until_it_lapses_and_a_sent_mail_cannot_be_claimed,
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

async fn a_send_claim_holds_until_it_lapses_and_a_sent_mail_cannot_be_claimed(
    repo: &impl EmailLogRepository,
) {
    let log = log();
    let now = Utc::now();
    let lease = chrono::Duration::seconds(30);
    assert!(
        !repo
            .claim_send(&log.email_id, now, now + lease)
            .await
            .unwrap(),
        "a mail that is not logged was claimed"
    );
    assert!(repo.insert_if_absent(&log).await.unwrap());
    assert!(
        repo.claim_send(&log.email_id, now, now + lease)
            .await
            .unwrap()
    );
    assert!(
        !repo
            .claim_send(
                &log.email_id,
                now + chrono::Duration::seconds(1),
                now + lease
            )
            .await
            .unwrap(),
        "a live claim was taken over"
    );
    let lapsed = now + lease + chrono::Duration::seconds(1);
    assert!(
        repo.claim_send(&log.email_id, lapsed, lapsed + lease)
            .await
            .unwrap(),
        "a lapsed claim was not taken over"
    );
    repo.mark_sent(&log.email_id, "m-1", lapsed).await.unwrap();
    let later = lapsed + lease + lease;
    assert!(
        !repo
            .claim_send(&log.email_id, later, later + lease)
            .await
            .unwrap(),
        "a sent mail was claimed again"
    );
}
