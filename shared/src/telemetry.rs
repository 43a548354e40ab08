//! JSON logs in the shape Lambda's JSON log format expects, one object per line, carrying
//! the fields of the current span (correlation id, request id) on every line.

use std::fmt;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once per cold start. The level comes from `RUST_LOG`
/// (set from the template's LogLevel parameter), `info` when unset or invalid.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _already_set = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// Displays an error with its whole `source()` chain, for logs only.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}
