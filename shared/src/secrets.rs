//! Secrets read from Secrets Manager at each cold start (and again when they no longer
//! fit, see `LiveSecrets`), never from function configuration, where anyone allowed to
//! read the function's settings would see them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use aws_types::SdkConfig;

use crate::config::ConfigError;
use crate::signature::{SignatureError, WebhookSecret, WebhookSecrets};
use crate::transport::BoxFuture;

/// The webhook's secrets from the secret named by the environment variable `name` (its
/// ARN). Logs how long the read took: it is part of the function's cold start.
pub async fn webhook_secrets(
    sdk: &SdkConfig,
    name: &'static str,
) -> Result<WebhookSecrets, ConfigError> {
    SecretsManager::new(sdk, name)?.read().await
}

/// Where the webhook's secrets are read: Secrets Manager, or a fixed value in tests. A
/// simulation plays a rotating one.
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    fn read(&self) -> BoxFuture<'_, Result<WebhookSecrets, ConfigError>>;
}

/// The secret named by an environment variable (its ARN), in Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
    name: &'static str,
    secret_id: String,
}

impl SecretsManager {
    pub fn new(sdk: &SdkConfig, name: &'static str) -> Result<Self, ConfigError> {
        Ok(Self {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            name,
            secret_id: crate::config::required(name)?,
        })
    }
}

impl SecretSource for SecretsManager {
    fn read(&self) -> BoxFuture<'_, Result<WebhookSecrets, ConfigError>> {
        Box::pin(async move {
            let name = self.name;
            let started = Instant::now();
            let output = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_id)
                .send()
                .await
                .map_err(|err| {
                    ConfigError::invalid(name, aws_sdk_secretsmanager::Error::from(err))
                })?;
            let raw = output
                .secret_string()
                .ok_or_else(|| ConfigError::invalid(name, NotAString))?;
            let secrets =
                WebhookSecrets::from_json(raw).map_err(|err| ConfigError::invalid(name, err))?;
            tracing::info!(
                read_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "webhook secret read from Secrets Manager"
            );
            Ok(secrets)
        })
    }
}

/// Secrets that never change (unit tests).
#[derive(Debug, Clone)]
pub struct Fixed(pub WebhookSecrets);

impl SecretSource for Fixed {
    fn read(&self) -> BoxFuture<'_, Result<WebhookSecrets, ConfigError>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

/// The webhook's secrets as an instance holds them: read at its cold start, and read again
/// when a signature matches none of them, because the secret may have been rotated since
/// (a warm instance would otherwise refuse every webhook signed with the new one). At most
/// one read per `REREAD_AFTER_SECS`, so a flood of forged signatures costs one read per
/// interval, not one per request.
#[derive(Debug, Clone)]
pub struct LiveSecrets {
    source: Arc<dyn SecretSource>,
    held: Arc<Mutex<Held>>,
}

#[derive(Debug)]
struct Held {
    secrets: WebhookSecrets,
    /// When the last read started (unix seconds).
    read_at: i64,
}

impl LiveSecrets {
    /// The shortest time between two reads.
    pub const REREAD_AFTER_SECS: i64 = 10;
    /// The most a read again may take: it runs inside a request, whose later calls budget
    /// what is left of the invocation.
    pub const REREAD_CAP: std::time::Duration = std::time::Duration::from_secs(1);

    /// Reads the secrets once, at `now` (unix seconds).
    pub async fn load(source: Arc<dyn SecretSource>, now: i64) -> Result<Self, ConfigError> {
        let secrets = source.read().await?;
        Ok(Self {
            source,
            held: Arc::new(Mutex::new(Held {
                secrets,
                read_at: now,
            })),
        })
    }

    /// Secrets that are never read again (unit tests).
    pub fn fixed(secrets: WebhookSecrets) -> Self {
        Self {
            source: Arc::new(Fixed(secrets.clone())),
            held: Arc::new(Mutex::new(Held {
                secrets,
                read_at: i64::MAX,
            })),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        // A panic while holding the lock cannot leave `Held` half-written.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The secret to sign with.
    pub fn current(&self) -> WebhookSecret {
        self.held().secrets.current().clone()
    }

    /// Reads the secrets again, unless a read started less than `REREAD_AFTER_SECS` ago.
    /// Whether a read happened and succeeded; a failed read keeps what is held.
    pub async fn refresh(&self, now: i64) -> bool {
        {
            let mut held = self.held();
            if now.saturating_sub(held.read_at) < Self::REREAD_AFTER_SECS {
                return false;
            }
            held.read_at = now;
        }
        let read = crate::client::within(Self::REREAD_CAP, self.source.read()).await;
        match read.unwrap_or_else(|_| Err(ConfigError::invalid("webhook secret", TooSlow))) {
            Ok(secrets) => {
                self.held().secrets = secrets;
                tracing::info!("webhook secrets read again");
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "the webhook secrets could not be read again; keeping the ones held");
                false
            }
        }
    }

    /// `WebhookSecrets::verify`; on a mismatch, reads the secrets again (see `refresh`)
    /// and tries once more.
    pub async fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let first = self.held().secrets.verify(header, body, now);
        if first != Err(SignatureError::Mismatch) || !self.refresh(now).await {
            return first;
        }
        let again = self.held().secrets.verify(header, body, now);
        if again.is_ok() {
            tracing::info!(
                "a webhook signed with a secret this instance did not hold yet was accepted after reading the secrets again"
            );
        }
        again
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the secret has no string value")]
struct NotAString;

#[derive(Debug, thiserror::Error)]
#[error("no answer within {:?}", LiveSecrets::REREAD_CAP)]
struct TooSlow;

#[cfg(test)]
mod tests {
    use super::*;

    /// A secret whose value an operator changes (a rotation), counting reads.
    #[derive(Debug, Default)]
    struct Rotating {
        value: Mutex<Option<WebhookSecrets>>,
        reads: std::sync::atomic::AtomicU32,
    }

    impl SecretSource for Rotating {
        fn read(&self) -> BoxFuture<'_, Result<WebhookSecrets, ConfigError>> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let value = self.value.lock().unwrap().clone();
            Box::pin(std::future::ready(
                value.ok_or_else(|| ConfigError::invalid("SECRET", NotAString)),
            ))
        }
    }

    fn secret(raw: &str) -> WebhookSecret {
        WebhookSecret::new(raw).unwrap()
    }

    const OLD: &str = "the-old-webhook-secret";
    const NEW: &str = "the-new-webhook-secret";
    const BODY: &[u8] = b"{}";

    #[tokio::test]
    async fn a_webhook_signed_with_a_secret_rotated_in_after_the_cold_start_is_accepted() {
        let source = Arc::new(Rotating::default());
        *source.value.lock().unwrap() = Some(WebhookSecrets::single(secret(OLD)));
        let live = LiveSecrets::load(source.clone(), 1_000).await.unwrap();
        // The rotation: the new secret is current, the old one still accepted.
        *source.value.lock().unwrap() = Some(WebhookSecrets::new(secret(NEW), Some(secret(OLD))));
        let signed = crate::signature::sign(NEW.as_bytes(), 1_020, BODY);
        assert_eq!(live.verify(Some(&signed), BODY, 1_020).await, Ok(()));
        assert_eq!(live.current().expose(), NEW.as_bytes());
    }

    #[tokio::test]
    async fn forged_signatures_cost_one_read_per_interval() {
        let source = Arc::new(Rotating::default());
        *source.value.lock().unwrap() = Some(WebhookSecrets::single(secret(OLD)));
        let live = LiveSecrets::load(source.clone(), 1_000).await.unwrap();
        let forged = crate::signature::sign(b"not-the-webhook-secret", 1_020, BODY);
        for now in 1_020..1_025 {
            assert_eq!(
                live.verify(Some(&forged), BODY, now).await,
                Err(SignatureError::Mismatch)
            );
        }
        // The cold start's read, and one more.
        assert_eq!(source.reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// A Secrets Manager that never answers a read again.
    #[derive(Debug)]
    struct Hangs(WebhookSecrets, std::sync::atomic::AtomicBool);

    impl SecretSource for Hangs {
        fn read(&self) -> BoxFuture<'_, Result<WebhookSecrets, ConfigError>> {
            if self.1.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Box::pin(std::future::pending());
            }
            Box::pin(std::future::ready(Ok(self.0.clone())))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_again_that_hangs_ends_at_its_cap_and_keeps_the_secrets_held() {
        let source = Hangs(
            WebhookSecrets::single(secret(OLD)),
            std::sync::atomic::AtomicBool::new(false),
        );
        let live = LiveSecrets::load(Arc::new(source), 1_000).await.unwrap();
        let began = tokio::time::Instant::now();
        assert!(!live.refresh(1_100).await);
        assert_eq!(began.elapsed(), LiveSecrets::REREAD_CAP);
        assert_eq!(live.current().expose(), OLD.as_bytes());
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_secrets_held() {
        let source = Arc::new(Rotating::default());
        *source.value.lock().unwrap() = Some(WebhookSecrets::single(secret(OLD)));
        let live = LiveSecrets::load(source.clone(), 1_000).await.unwrap();
        *source.value.lock().unwrap() = None;
        assert!(!live.refresh(1_100).await);
        let signed = crate::signature::sign(OLD.as_bytes(), 1_100, BODY);
        assert_eq!(live.verify(Some(&signed), BODY, 1_100).await, Ok(()));
    }
}
