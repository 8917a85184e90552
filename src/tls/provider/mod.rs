//! Crypto backend selection: the only module in the crate that looks at the `tls-*` cargo
//! features.
//!
//! It owns the rustls [`CryptoProvider`] every TLS config is built from (TLS 1.3, AES-GCM only,
//! P-256 preferred), a description of it for the admin/version output, and the backend-neutral
//! key and certificate generation the dev CA and the CA client need (ECDSA P-256 keys, SHA-256
//! signatures). Each backend lives in its own submodule and exposes the same names; the rest of
//! the crate only calls what is re-exported here.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use rustls::SupportedProtocolVersion;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde::Serialize;

#[cfg(all(feature = "tls-ring", feature = "tls-boring"))]
compile_error!("features `tls-ring` and `tls-boring` are mutually exclusive: enable exactly one");

#[cfg(not(any(feature = "tls-ring", feature = "tls-boring")))]
compile_error!("no crypto backend selected: enable `tls-ring` (default) or `tls-boring`");

cfg_if::cfg_if! {
    if #[cfg(feature = "tls-ring")] {
        mod ring;
        // `self::` because a bare `ring` would be ambiguous with the `ring` crate.
        use self::ring as backend;
    } else if #[cfg(feature = "tls-boring")] {
        #[allow(unsafe_code)] // BoringSSL's FIPS_version and FIPS service indicator
        mod boring;
        // `self::` because a bare `boring` would be ambiguous with the `boring` crate.
        use self::boring as backend;
    }
}

pub use backend::{NAME, generate_ca, generate_csr, issue_leaf, issue_server_leaf, sign_csr};

/// Only TLS 1.3: HBONE never negotiates anything older.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The process-wide provider. Built once because every connection builds configs from it and
/// the provider itself is immutable.
pub fn get() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(backend::provider())).clone()
}

/// Whether the compiled-in backend runs its crypto module in FIPS mode.
pub fn fips_mode() -> bool {
    backend::fips_mode()
}

/// Refuses to run a build whose crypto module is not in the state its build promises (the
/// FIPS build with FIPS mode off). Called before anything builds a TLS config.
pub fn startup_check() -> Result<(), StartupError> {
    backend::startup_check().map_err(StartupError)
}

/// Why [`startup_check`] refused.
#[derive(Debug, thiserror::Error)]
#[error("crypto provider {NAME}: {0}")]
pub struct StartupError(String);

/// What the compiled-in provider negotiates, for the admin server and `--version`.
#[derive(Serialize, Clone, Debug)]
pub struct ProviderInfo {
    pub name: String,
    pub fips_mode: bool,
    /// The crypto library and its version (for BoringSSL: source release, API and FIPS
    /// versions).
    pub library: String,
    pub protocol_versions: Vec<String>,
    pub cipher_suites: Vec<String>,
    pub kx_groups: Vec<String>,
    pub signature_schemes: Vec<String>,
}

/// Describes [`get`]; names are rustls' Debug spellings so they match rustls log lines.
pub fn info() -> ProviderInfo {
    let provider = get();
    ProviderInfo {
        name: NAME.to_string(),
        fips_mode: fips_mode(),
        library: backend::library(),
        protocol_versions: PROTOCOL_VERSIONS.iter().map(|v| format!("{:?}", v.version)).collect(),
        cipher_suites: provider.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect(),
        kx_groups: provider.kx_groups.iter().map(|g| format!("{:?}", g.name())).collect(),
        signature_schemes: provider
            .signature_verification_algorithms
            .supported_schemes()
            .iter()
            .map(|s| format!("{s:?}"))
            .collect(),
    }
}

/// A certificate with its private key, both DER. Used for CA material and freshly issued
/// leaves; backends exchange only DER so no backend type leaks out of this module.
pub struct KeyedCert {
    pub cert: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for KeyedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key must never reach logs.
        f.debug_struct("KeyedCert").field("cert_len", &self.cert.len()).field("key", &"<redacted>").finish()
    }
}

/// Validity window of a certificate to be issued.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_is_tls13_aes_gcm_p256_first() {
        let info = info();
        assert_eq!(info.protocol_versions, vec!["TLSv1_3"]);
        assert_eq!(info.cipher_suites, vec!["TLS13_AES_256_GCM_SHA384", "TLS13_AES_128_GCM_SHA256"]);
        let third = if cfg!(feature = "tls-boring") { "X25519MLKEM768" } else { "X25519" };
        assert_eq!(info.kx_groups, vec!["secp256r1", "secp384r1", third]);
        assert!(startup_check().is_ok());
        assert!(info.signature_schemes.contains(&"ECDSA_NISTP256_SHA256".to_string()));
        assert!(Arc::ptr_eq(&get(), &get()), "provider must be cached");
    }

    #[cfg(feature = "tls-ring")]
    #[test]
    fn ring_is_not_fips() {
        assert_eq!(NAME, "ring");
        assert!(!fips_mode());
        assert!(!info().fips_mode);
    }

    #[cfg(feature = "tls-boring")]
    #[test]
    fn boring_is_fips() {
        assert_eq!(NAME, "boringssl-fips");
        assert!(fips_mode());
        let info = info();
        assert!(info.fips_mode);
        assert!(info.library.starts_with("BoringSSL"), "{}", info.library);
        assert!(!info.signature_schemes.iter().any(|s| s == "ED25519"));
    }
}
