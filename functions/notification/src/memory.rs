//! In-memory fakes of the notification service's ports (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use shared::store::Poisoned;

use crate::repository::{EmailLog, EmailLogRepository, RepositoryError};
use crate::sender::{EmailSender, SendError};

#[derive(Debug, Default)]
pub struct InMemoryEmailLog {
    logs: Mutex<BTreeMap<String, EmailLog>>,
    /// Live send claims (the table's `sendingUntil`), by e-mail id.
    claims: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl InMemoryEmailLog {
    /// Every logged e-mail, for assertions.
    pub fn all(&self) -> Vec<EmailLog> {
        self.logs
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }

    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, EmailLog>>, RepositoryError> {
        self.logs
            .lock()
            .map_err(|_| RepositoryError::from(Poisoned))
    }
}

impl EmailLogRepository for InMemoryEmailLog {
    async fn insert_if_absent(&self, log: &EmailLog) -> Result<bool, RepositoryError> {
        let mut map = self.lock()?;
        if map.contains_key(&log.email_id) {
            return Ok(false);
        }
        map.insert(log.email_id.clone(), log.clone());
        Ok(true)
    }

    async fn get(&self, email_id: &str) -> Result<Option<EmailLog>, RepositoryError> {
        Ok(self.lock()?.get(email_id).cloned())
    }

    async fn claim_send(
        &self,
        email_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let map = self.lock()?;
        let mut claims = self
            .claims
            .lock()
            .map_err(|_| RepositoryError::from(Poisoned))?;
        let unsent = map
            .get(email_id)
            .is_some_and(|log| log.message_id.is_none());
        if !unsent || claims.get(email_id).is_some_and(|held| *held >= now) {
            return Ok(false);
        }
        claims.insert(email_id.to_owned(), until);
        Ok(true)
    }

    async fn mark_sent(
        &self,
        email_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let mut map = self.lock()?;
        let log = map
            .get_mut(email_id)
            .ok_or_else(|| RepositoryError::Corrupt {
                key: format!("emailId={email_id}"),
                reason: "the e-mail log record vanished before it was marked sent".into(),
            })?;
        log.message_id = Some(message_id.to_owned());
        log.updated_at_utc = now;
        Ok(())
    }
}

/// Records what it sends; `fail_next` makes the next send fail.
#[derive(Debug, Default)]
pub struct FakeEmailSender {
    fail: AtomicBool,
    sent: Mutex<Vec<EmailLog>>,
}

impl FakeEmailSender {
    pub fn fail_next(&self) {
        self.fail.store(true, Ordering::SeqCst);
    }

    pub fn sent(&self) -> Vec<EmailLog> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl EmailSender for FakeEmailSender {
    async fn send(&self, mail: &EmailLog) -> Result<String, SendError> {
        if self.fail.swap(false, Ordering::SeqCst) {
            return Err(SendError("SES unavailable".into()));
        }
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| SendError(Box::new(Poisoned)))?;
        sent.push(mail.clone());
        Ok(format!("fake-{}", sent.len()))
    }
}
