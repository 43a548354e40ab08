//! The time, as a port: domain code asks a `Clock`, so tests can set the time that replay
//! windows, leases and deadlines depend on.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

/// The system's clock: what every function runs with.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place the wall clock is read.
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what a test tells it to (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<DateTime<Utc>>);

#[cfg(any(test, feature = "test-util"))]
impl FixedClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(now))
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }
}
