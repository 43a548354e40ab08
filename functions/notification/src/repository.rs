use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::UserId;

pub use shared::store::StoreError as RepositoryError;

/// One e-mail as the log keeps it (contracts.md's e-mail log plus what was sent): also the
/// table's row. `trackingId` is the caller's idempotency key (a listener's job id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailLog {
    pub email_id: String,
    pub user_id: UserId,
    pub tracking_id: String,
    pub correlation_id: String,
    pub subject: String,
    pub body: String,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
    /// SES's message id, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub created_at_utc: DateTime<Utc>,
    pub updated_at_utc: DateTime<Utc>,
}

pub trait EmailLogRepository: Send + Sync {
    /// Stores the record unless one with its id exists; `true` when stored.
    fn insert_if_absent(
        &self,
        log: &EmailLog,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    fn get(
        &self,
        email_id: &str,
    ) -> impl Future<Output = Result<Option<EmailLog>, RepositoryError>> + Send;

    /// Claims the sending of a logged mail not yet sent, until `until`: `true` for this
    /// caller; `false` when it is sent, or another caller's claim is still live. SES takes
    /// no idempotency key, so this claim is what keeps two calls from both sending.
    fn claim_send(
        &self,
        email_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Records that the mail went out as SES's `message_id`.
    fn mark_sent(
        &self,
        email_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;
}

impl<T: EmailLogRepository + ?Sized> EmailLogRepository for &T {
    fn insert_if_absent(
        &self,
        log: &EmailLog,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).insert_if_absent(log)
    }

    fn get(
        &self,
        email_id: &str,
    ) -> impl Future<Output = Result<Option<EmailLog>, RepositoryError>> + Send {
        (**self).get(email_id)
    }

    fn claim_send(
        &self,
        email_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send {
        (**self).claim_send(email_id, now, until)
    }

    fn mark_sent(
        &self,
        email_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send {
        (**self).mark_sent(email_id, message_id, now)
    }
}
