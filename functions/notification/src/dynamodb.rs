//! The e-mail log table: partition key `emailId`.

use chrono::{DateTime, Utc};
use shared::store::{self, Key, Read, Table};

use crate::repository::{EmailLog, EmailLogRepository, RepositoryError};

#[derive(Debug, Clone)]
pub struct DynamoDbEmailLog {
    table: Table,
}

impl DynamoDbEmailLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }

    pub fn table(&self) -> &str {
        self.table.name()
    }
}

fn key(email_id: &str) -> Key {
    Key::new("emailId", email_id)
}

impl EmailLogRepository for DynamoDbEmailLog {
    #[tracing::instrument(skip(self, log), fields(table = %self.table(), email_id = %log.email_id))]
    async fn insert_if_absent(&self, log: &EmailLog) -> Result<bool, RepositoryError> {
        self.table.insert_if_absent(&key(&log.email_id), log).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn get(&self, email_id: &str) -> Result<Option<EmailLog>, RepositoryError> {
        self.table.get(&key(email_id), Read::Latest).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn claim_send(
        &self,
        email_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        // `sendingUntil` is the store's own attribute (epoch ms), not a field of the log.
        let update = self
            .table
            .update(&key(email_id))
            .condition_expression(
                "attribute_exists(emailId) AND attribute_not_exists(messageId) \
                 AND (attribute_not_exists(sendingUntil) OR sendingUntil < :now)",
            )
            .update_expression("SET sendingUntil = :until")
            .expression_attribute_values(":now", store::epoch_millis(now))
            .expression_attribute_values(":until", store::epoch_millis(until));
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn mark_sent(
        &self,
        email_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let key = key(email_id);
        let update = self
            .table
            .update(&key)
            .condition_expression("attribute_exists(emailId)")
            .update_expression("SET messageId = :messageId, updatedAtUtc = :now")
            .expression_attribute_values(":messageId", store::value(&message_id)?)
            .expression_attribute_values(":now", store::value(&now)?);
        store::update_existing(
            update,
            &key,
            "the e-mail log record vanished before it was marked sent",
        )
        .await
    }
}
