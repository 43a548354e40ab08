//! Fault injection for tests against the deployed stack, off unless the template's
//! FaultInjection parameter is `enabled` (`FAULT_INJECTION`; `make test` enables it). Then an
//! order whose name carries a tag makes one step fail: `[fail-always:<step>]` on every
//! call, `[fail-once:<step>]` on the first call per key in each function instance (a
//! retry, served by the same warm instance, succeeds). Steps: `publish`, `production`,
//! `invoice`. Orders without a tag, and every order when disabled, never fail on purpose.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::config::{ConfigError, parsed_or};

#[derive(Debug, Default)]
pub struct Faults {
    enabled: bool,
    failed_once: Mutex<HashSet<String>>,
}

#[derive(Debug, thiserror::Error)]
#[error("FAULT_INJECTION is `enabled` or `disabled`")]
pub struct BadSwitch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Switch(bool);

impl std::str::FromStr for Switch {
    type Err = BadSwitch;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "enabled" => Ok(Self(true)),
            "disabled" => Ok(Self(false)),
            _ => Err(BadSwitch),
        }
    }
}

impl Faults {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(parsed_or("FAULT_INJECTION", Switch(false))?.0))
    }

    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            failed_once: Mutex::default(),
        }
    }

    /// Whether the call of `step` for the order named `order_name`, under `key`, fails now.
    pub fn fails(&self, step: &str, order_name: &str, key: &str) -> bool {
        if !self.enabled {
            return false;
        }
        if order_name.contains(&format!("[fail-always:{step}]")) {
            return true;
        }
        if order_name.contains(&format!("[fail-once:{step}]")) {
            return self
                .failed_once
                .lock()
                .map(|mut failed| failed.insert(format!("{step}/{key}")))
                .unwrap_or(false);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_order_fails_once_or_always_and_only_when_enabled() {
        let faults = Faults::new(true);
        assert!(faults.fails("invoice", "x [fail-once:invoice]", "k"));
        assert!(!faults.fails("invoice", "x [fail-once:invoice]", "k"));
        assert!(faults.fails("invoice", "x [fail-once:invoice]", "other key"));
        assert!(faults.fails("production", "[fail-always:production]", "k"));
        assert!(faults.fails("production", "[fail-always:production]", "k"));
        assert!(!faults.fails("production", "[fail-always:invoice]", "k"));
        assert!(!Faults::new(false).fails("production", "[fail-always:production]", "k"));
    }
}
