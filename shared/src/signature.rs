//! The e-wallet's webhook signature: header `X-Ewallet-Signature: t=<unix seconds>,v1=<hex>`
//! where `v1` is HMAC-SHA256 over `"<t>.<raw body>"` with the shared secret. The timestamp
//! inside the signed text bounds replays to the tolerance window.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-ewallet-signature";
/// Signatures older (or further in the future) than this are refused.
pub const TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The webhook's HMAC key, shared by the e-wallet (which signs) and the payment service
/// (which verifies). Never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be at least {} bytes", WebhookSecret::MIN_LEN)]
pub struct SecretTooShort;

impl WebhookSecret {
    /// As long as the template's `WebhookSecret` parameter demands.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, SecretTooShort> {
        let secret = secret.into();
        if secret.len() < Self::MIN_LEN {
            return Err(SecretTooShort);
        }
        Ok(Self(secret))
    }

    /// From the environment variable `name`, at start-up.
    pub fn from_env(name: &'static str) -> Result<Self, crate::config::ConfigError> {
        Self::new(crate::config::required(name)?)
            .map_err(|err| crate::config::ConfigError::invalid(name, err))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The webhook's secrets as stored in Secrets Manager (`{"current": "…", "previous": "…"}`):
/// the e-wallet signs with `current`; while a rotation is under way a webhook signed with
/// `previous` is still accepted, so no delivery is refused because the two sides switched
/// at different moments.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    current: WebhookSecret,
    previous: Option<WebhookSecret>,
}

#[derive(Debug, thiserror::Error)]
pub enum BadSecrets {
    #[error("the secret is not JSON with a \"current\" string")]
    Shape(#[source] serde_json::Error),
    #[error("\"{0}\" {1}")]
    TooShort(&'static str, SecretTooShort),
}

impl WebhookSecrets {
    pub fn new(current: WebhookSecret, previous: Option<WebhookSecret>) -> Self {
        Self { current, previous }
    }

    /// One secret, no rotation under way.
    pub fn single(current: WebhookSecret) -> Self {
        Self::new(current, None)
    }

    /// The secret string Secrets Manager holds; an empty or absent `previous` is none.
    pub fn from_json(raw: &str) -> Result<Self, BadSecrets> {
        #[derive(serde::Deserialize)]
        struct Stored {
            current: String,
            #[serde(default)]
            previous: Option<String>,
        }
        let stored: Stored = serde_json::from_str(raw).map_err(BadSecrets::Shape)?;
        let current =
            WebhookSecret::new(stored.current).map_err(|e| BadSecrets::TooShort("current", e))?;
        let previous = match stored.previous.filter(|p| !p.is_empty()) {
            Some(p) => {
                Some(WebhookSecret::new(p).map_err(|e| BadSecrets::TooShort("previous", e))?)
            }
            None => None,
        };
        Ok(Self { current, previous })
    }

    /// The secret to sign with.
    pub fn current(&self) -> &WebhookSecret {
        &self.current
    }

    /// `verify` with the current secret, then the previous one: only a signature that
    /// matches neither is a mismatch.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        match (
            verify(self.current.expose(), header, body, now),
            &self.previous,
        ) {
            (Err(SignatureError::Mismatch), Some(previous)) => {
                verify(previous.expose(), header, body, now)
            }
            (result, _) => result,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature is outside the {TOLERANCE_SECS} s window")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Checks a header value against the raw body, in constant time, at time `now`.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => tag = hex::decode(value).ok(),
            _ => return Err(SignatureError::Malformed),
        }
    }
    let (Some(timestamp), Some(tag)) = (timestamp, tag) else {
        return Err(SignatureError::Malformed);
    };
    // abs_diff cannot overflow, whatever timestamp a caller sends.
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";
    const BODY: &[u8] = br#"{"paymentRequestId":"x"}"#;

    #[test]
    fn a_fresh_signature_of_the_same_body_verifies() {
        let header = sign(SECRET, 1_000, BODY);
        assert_eq!(verify(SECRET, Some(&header), BODY, 1_010), Ok(()));
    }

    #[test]
    fn a_changed_body_or_another_secret_does_not_verify() {
        let header = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, Some(&header), b"{}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&header), BODY, 1_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        for timestamp in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let header = format!("t={timestamp},v1=00");
            assert_eq!(
                verify(SECRET, Some(&header), BODY, 1_000),
                Err(SignatureError::Stale),
                "t={timestamp}"
            );
        }
        let header = "t=-9223372036854775808,v1=00";
        assert_eq!(
            verify(SECRET, Some(header), BODY, i64::MAX),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn during_a_rotation_the_previous_secret_still_verifies_and_nothing_else_does() {
        let secrets = WebhookSecrets::from_json(
            r#"{"current":"the-new-secret-value","previous":"the-old-secret-value"}"#,
        )
        .unwrap();
        for secret in [b"the-new-secret-value".as_slice(), b"the-old-secret-value"] {
            let header = sign(secret, 1_000, BODY);
            assert_eq!(secrets.verify(Some(&header), BODY, 1_000), Ok(()));
        }
        let header = sign(b"a-third-secret-value", 1_000, BODY);
        assert_eq!(
            secrets.verify(Some(&header), BODY, 1_000),
            Err(SignatureError::Mismatch)
        );
        // Staleness does not depend on the secret: an old signature is stale with either.
        let old = sign(b"the-old-secret-value", 1_000, BODY);
        assert_eq!(
            secrets.verify(Some(&old), BODY, 2_000),
            Err(SignatureError::Stale)
        );
        assert_eq!(secrets.current().expose(), b"the-new-secret-value");
    }

    #[test]
    fn without_a_rotation_only_the_current_secret_verifies() {
        let secrets =
            WebhookSecrets::from_json(r#"{"current":"the-new-secret-value","previous":""}"#)
                .unwrap();
        let header = sign(b"the-old-secret-value", 1_000, BODY);
        assert_eq!(
            secrets.verify(Some(&header), BODY, 1_000),
            Err(SignatureError::Mismatch)
        );
        for bad in [
            r#"{"previous":"the-old-secret-value"}"#,
            r#"{"current":"short"}"#,
            "plain text",
            r#"{"current":"the-new-secret-value","previous":"short"}"#,
        ] {
            assert!(WebhookSecrets::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_signature_older_than_five_minutes_is_stale() {
        let header = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 699),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn a_short_secret_is_refused_and_a_secret_never_prints() {
        assert_eq!(WebhookSecret::new("short").err(), Some(SecretTooShort));
        let secret = WebhookSecret::new("a-very-secret-value").unwrap();
        assert!(!format!("{secret:?}").contains("secret-value"));
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        assert_eq!(verify(SECRET, None, BODY, 0), Err(SignatureError::Missing));
        for bad in [
            "",
            "t=1",
            "v1=00",
            "t=x,v1=00",
            "t=1,v1=zz",
            "sig=1",
            "t=1,v1=00,extra",
        ] {
            assert!(verify(SECRET, Some(bad), BODY, 1).is_err(), "{bad}");
        }
    }
}
