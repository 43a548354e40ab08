//! AWS SDK set-up, done once per cold start. The endpoint comes from `AWS_ENDPOINT_URL`
//! when set (the local emulator), so the code has no emulator branch.
//!
//! Init is most of a Rust function's cold start, and Lambda hands a function everything it
//! needs in environment variables, so functions build their `SdkConfig` from those alone.
//! aws-config's loader would link and build the default credential chain (STS and IMDS
//! clients, profile files) and load the system's CA store: 20 M instructions at init and
//! 0.26 MB per zip, measured in tests/bench/NOTES.md. The SDK's HTTPS client is rustls on
//! ring trusting only the roots AWS endpoints chain to.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::sdk_config::SharedHttpClient;

pub use aws_config::SdkConfig;

/// Amazon Root CA 1-4 and Starfield Services Root G2: every AWS service endpoint (and
/// API Gateway's execute-api) presents a chain to one of them.
pub const AMAZON_ROOTS_PEM: &str = include_str!("amazon-roots.pem");

/// The SDK config of a function: the region (`AWS_REGION`), the execution role's
/// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, read on
/// each refresh), `AWS_ENDPOINT_URL` if set, and `AWS_USE_FIPS_ENDPOINT` /
/// `AWS_USE_DUALSTACK_ENDPOINT`. Retries (standard, 3 attempts) and the connect timeout
/// are the SDK's defaults for this behavior version.
pub fn sdk_config() -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok())
}

fn sdk_config_from(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let flag = |name: &str| var(name).map(|value| value.eq_ignore_ascii_case("true"));
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region.map(Region::new))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(http_client());
    builder.set_endpoint_url(var("AWS_ENDPOINT_URL"));
    builder.set_use_fips(flag("AWS_USE_FIPS_ENDPOINT"));
    builder.set_use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT"));
    builder.build()
}

/// aws-config's loader with this crate's HTTP client; callers add what differs (the
/// bench and the tests point it at the emulator with fixed credentials).
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// The SDK's hyper client on rustls + ring, trusting Amazon's roots only. Certificates are
/// parsed when the first request needs a connection, not here.
pub fn http_client() -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    let trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Cannot happen with the bundled PEM (a test parses it); the default trust store
        // still verifies every certificate, it only loads the system's roots to do it.
        Err(_) => builder.build_https(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_config_comes_from_lambdas_environment() {
        let config = sdk_config_from(env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert_eq!(config.use_fips(), Some(true));
        assert_eq!(config.use_dual_stack(), None);
        assert!(config.credentials_provider().is_some());
        assert!(config.http_client().is_some());
    }

    #[test]
    fn without_aws_region_the_default_region_is_used_and_no_endpoint_is_set() {
        let config = sdk_config_from(env(&[("AWS_DEFAULT_REGION", "us-east-2")]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-2"));
        assert_eq!(config.endpoint_url(), None);
    }

    #[test]
    fn the_bundled_roots_are_amazons_five() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the bundled PEM parses");
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(certs);
        assert_eq!((added, ignored), (5, 0));
        let subjects: Vec<String> = roots
            .roots
            .iter()
            .map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned())
            .collect();
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(
                subjects.iter().any(|s| s.contains(name)),
                "{name} is missing"
            );
        }
    }

    #[test]
    fn the_tls_context_accepts_the_bundled_roots() {
        let trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
        assert!(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .is_ok()
        );
    }
}
