//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::config::{ConfigError, required};

/// notification-send-email: `EMAIL_LOG_TABLE`, `SENDER_EMAIL` (the SES identity).
#[derive(Debug, Clone)]
pub struct NotificationConfig {
    pub email_log_table: String,
    pub sender_email: String,
}

impl NotificationConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            email_log_table: required("EMAIL_LOG_TABLE")?,
            sender_email: required("SENDER_EMAIL")?,
        })
    }
}
