//! AWS SDK set-up, done once per cold start. The endpoint comes from `AWS_ENDPOINT_URL`
//! when set (the local emulator), so the code has no emulator branch.
//!
//! Init is most of a Rust function's cold start, so this builds only what Lambda needs:
//! credentials and region from the environment Lambda sets (aws-config's default chain
//! would build STS and IMDS clients and load the system's CA store, ~20 M instructions),
//! and an HTTPS client on rustls + ring that trusts only the roots AWS endpoints chain to.
//! Measured in tests/bench/NOTES.md.

pub use aws_config::SdkConfig;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::sdk_config::SharedHttpClient;

/// Amazon Root CA 1-4 and Starfield Services Root G2: every AWS service endpoint (and
/// API Gateway's execute-api) presents a chain to one of them.
pub const AMAZON_ROOTS_PEM: &str = include_str!("amazon-roots.pem");

/// The SDK config of a function: what Lambda puts in the environment, nothing else.
pub async fn sdk_config() -> SdkConfig {
    loader()
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .load()
        .await
}

/// aws-config's loader with this crate's HTTP client; callers add what differs (the local
/// runner, the bench and the tests point it at the emulator with fixed credentials).
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
