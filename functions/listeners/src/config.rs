//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::config::{self, ConfigError, required};

/// Every listener: `INTERNAL_API_URL` (the services and order-process-status),
/// `JOB_API_URL` (where its job's provider answers: the mocks on the internal API in dev,
/// the real production or invoice system in prod; the internal API when unset) and
/// `MAX_RECEIVE_COUNT` (the queues' redrive maxReceiveCount: the delivery after which a
/// failing job is reported in Error, as its message goes to the DLQ). The notification
/// listener also reads `RECIPIENT_DOMAIN` (each user's demo address is
/// `<userId>@<RECIPIENT_DOMAIN>`).
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub internal_api_url: String,
    pub job_api_url: String,
    pub max_receive_count: u32,
}

impl ListenerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let internal_api_url = required("INTERNAL_API_URL")?;
        Ok(Self {
            job_api_url: required("JOB_API_URL").unwrap_or_else(|_| internal_api_url.clone()),
            internal_api_url,
            max_receive_count: config::parsed_or("MAX_RECEIVE_COUNT", 3_u32)?,
        })
    }
}

pub fn recipient_domain() -> Result<String, ConfigError> {
    required("RECIPIENT_DOMAIN")
}
