//! The correlation id ties every log line of one user action together, across functions.

use std::fmt;

use http::HeaderMap;

pub const HEADER: &str = "x-correlation-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(String);

impl CorrelationId {
    const MAX_LEN: usize = 128;

    /// Random: a correlation id only labels logs, and nothing decides on it.
    #[allow(clippy::disallowed_methods)]
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Takes a well-formed client value; anything else (missing, too long, odd characters
    /// that could forge log lines) is replaced by a fresh id.
    pub fn from_value(raw: Option<&str>) -> Self {
        match raw.map(str::trim) {
            Some(v)
                if !v.is_empty()
                    && v.len() <= Self::MAX_LEN
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
            {
                Self(v.to_owned())
            }
            _ => Self::generate(),
        }
    }

    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::from_value(headers.get(HEADER).and_then(|v| v.to_str().ok()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_client_id_is_kept() {
        assert_eq!(
            CorrelationId::from_value(Some("ui-123.abc")).as_str(),
            "ui-123.abc"
        );
    }

    #[test]
    fn a_missing_or_hostile_id_is_replaced() {
        for raw in [
            None,
            Some(""),
            Some("a\nb"),
            Some("x y"),
            Some(&*"a".repeat(200)),
        ] {
            let id = CorrelationId::from_value(raw);
            assert_eq!(id.as_str().len(), 36, "{raw:?}");
        }
    }
}
