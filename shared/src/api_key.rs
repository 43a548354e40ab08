//! A static API key between two services (the payment service and the e-wallet provider,
//! header `X-Api-Key`): read once per cold start, never printed, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-api-key";

#[derive(Clone)]
pub struct ApiKey(Vec<u8>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be at least {} characters", ApiKey::MIN_LEN)]
pub struct KeyTooShort;

impl ApiKey {
    /// As long as the template's `EwalletApiKey` parameter demands.
    pub const MIN_LEN: usize = 16;

    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, KeyTooShort> {
        let key = key.into();
        if key.len() < Self::MIN_LEN {
            return Err(KeyTooShort);
        }
        Ok(Self(key))
    }

    /// From the environment variable `name`, at start-up.
    pub fn from_env(name: &'static str) -> Result<Self, crate::config::ConfigError> {
        Self::new(crate::config::required(name)?)
            .map_err(|err| crate::config::ConfigError::invalid(name, err))
    }

    /// The header value to send.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether `presented` is this key, in time that does not depend on where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let tag = |bytes: &[u8]| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            mac.update(bytes);
            mac
        };
        tag(presented)
            .verify_slice(&tag(&self.0).finalize().into_bytes())
            .is_ok()
    }

    /// An id derived from `input` that only a holder of this key can compute: a stranger
    /// who knows an order id cannot guess the ids made for it.
    pub fn derive(&self, input: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(input);
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_matches() {
        let key = ApiKey::new("local-ewallet-key-0001").unwrap();
        assert!(key.matches(b"local-ewallet-key-0001"));
        for other in [
            &b""[..],
            b"local-ewallet-key-0002",
            b"local-ewallet-key-000",
            b"x",
        ] {
            assert!(!key.matches(other));
        }
    }

    #[test]
    fn a_short_key_is_refused_and_a_key_is_never_printed() {
        assert_eq!(ApiKey::new("short").unwrap_err(), KeyTooShort);
        let key = ApiKey::new("local-ewallet-key-0001").unwrap();
        assert!(!format!("{key:?}").contains("0001"));
    }

    #[test]
    fn derived_ids_depend_on_the_key() {
        let a = ApiKey::new("local-ewallet-key-0001").unwrap();
        let b = ApiKey::new("local-ewallet-key-0002").unwrap();
        assert_eq!(a.derive(b"checkout-x-1"), a.derive(b"checkout-x-1"));
        assert_ne!(a.derive(b"checkout-x-1"), b.derive(b"checkout-x-1"));
    }
}
