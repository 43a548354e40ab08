//! Settings from the environment, read once per cold start (SAM sets them per function).

use shared::config::{self, ConfigError, required};
use shared::fault::Faults;

/// How often a mock fails on purpose: 0 (never, the default) to 1 (always).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureRate(f64);

#[derive(Debug, thiserror::Error)]
#[error("a failure rate is a number from 0 to 1")]
pub struct BadFailureRate;

impl FailureRate {
    pub fn new(rate: f64) -> Result<Self, BadFailureRate> {
        if (0.0..=1.0).contains(&rate) {
            Ok(Self(rate))
        } else {
            Err(BadFailureRate)
        }
    }

    pub fn fails_now(self) -> bool {
        // The emulated stack's fault injection (never simulated): unseeded on purpose.
        #[allow(clippy::disallowed_methods)]
        let draw = rand::random::<f64>();
        self.0 > 0.0 && draw < self.0
    }
}

impl Default for FailureRate {
    fn default() -> Self {
        Self(0.0)
    }
}

impl std::str::FromStr for FailureRate {
    type Err = BadFailureRate;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.parse::<f64>()
            .map_err(|_| BadFailureRate)
            .and_then(Self::new)
    }
}

/// production-mock: `PRODUCTIONS_TABLE`, `PRODUCTION_FAILURE_RATE`; invoice-mock:
/// `INVOICES_TABLE`, `INVOICE_FAILURE_RATE` (0 when unset).
#[derive(Debug)]
pub struct RecordsConfig {
    pub table: String,
    pub failure_rate: FailureRate,
    /// `FAULT_INJECTION` (see `shared::fault`).
    pub faults: Faults,
}

impl RecordsConfig {
    pub fn production_from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required("PRODUCTIONS_TABLE")?,
            failure_rate: config::parsed_or("PRODUCTION_FAILURE_RATE", FailureRate::default())?,
            faults: Faults::from_env()?,
        })
    }

    pub fn invoice_from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required("INVOICES_TABLE")?,
            failure_rate: config::parsed_or("INVOICE_FAILURE_RATE", FailureRate::default())?,
            faults: Faults::from_env()?,
        })
    }
}
