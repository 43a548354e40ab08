//! JSON logs in the shape Lambda's JSON log format expects, one object per line, carrying
//! the fields of the current span (correlation id, request id) on every line.

use std::fmt;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber once per cold start. The level comes from `RUST_LOG`
/// (set from the template's LogLevel parameter: `info`, or per target as in
/// `order=debug,info`), `info` when unset or invalid. `Targets` rather than `EnvFilter`:
/// the same directives without a regex engine in every binary.
pub fn init() {
    let filter = level_filter(std::env::var("RUST_LOG").ok().as_deref());
    // A second call (tests) keeps the first subscriber.
    let _already_set = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .finish()
        .with(filter)
        .try_init();
}

fn level_filter(directives: Option<&str>) -> Targets {
    directives
        .and_then(|value| value.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
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

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn the_log_level_follows_rust_log_and_defaults_to_info() {
        let debug = level_filter(Some("debug"));
        assert!(debug.would_enable("order", &Level::DEBUG));

        let per_target = level_filter(Some("order=debug,warn"));
        assert!(per_target.would_enable("order::checkout", &Level::DEBUG));
        assert!(!per_target.would_enable("payment", &Level::INFO));
        assert!(per_target.would_enable("payment", &Level::WARN));

        for unset_or_invalid in [None, Some("loud=!!")] {
            let info = level_filter(unset_or_invalid);
            assert!(info.would_enable("order", &Level::INFO));
            assert!(!info.would_enable("order", &Level::DEBUG));
        }
    }
}
