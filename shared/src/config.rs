//! Configuration comes from the environment once per cold start (SAM sets it per function).

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set; the function's template entry must set it")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid")]
    Invalid {
        name: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ConfigError {
    pub fn invalid(
        name: &'static str,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Invalid {
            name,
            source: Box::new(err),
        }
    }
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// An optional value parsed with `FromStr`, falling back to `default` when unset.
pub fn parsed_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(raw) if !raw.trim().is_empty() => raw
            .trim()
            .parse()
            .map_err(|e| ConfigError::invalid(name, e)),
        _ => Ok(default),
    }
}
