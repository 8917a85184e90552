//! The `tls-boring` (FIPS) backend: rustls on BoringSSL built in FIPS mode.
//!
//! What runs where: hashing, HKDF, ECDH/ML-KEM key exchange, ECDSA/RSA signing and
//! verification and the random generator come from `boring-rustls-provider` (all BoringSSL
//! calls); record encryption is our own AEAD on BoringSSL's TLS 1.3 AES-GCM ([`aead`]), and
//! certificates/CSRs are built with BoringSSL's X.509 API ([`x509`]). rustls itself only runs
//! the protocol state machine and record framing.
//!
//! Policy: TLS 1.3, AES-256-GCM / AES-128-GCM, groups P-256, P-384 and X25519MLKEM768 (never
//! plain X25519), FIPS-approved signature schemes only (ECDSA P-256/P-384, RSA PKCS#1/PSS with
//! SHA-2). The process refuses to start when the module is not in FIPS mode.

mod aead;
mod x509;

use std::sync::Arc;

use rustls::crypto::{CryptoProvider, KeyProvider};
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme, SupportedCipherSuite};
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

pub use self::x509::{generate_ca, generate_csr, issue_leaf, issue_server_leaf, sign_csr};

pub const NAME: &str = "boringssl-fips";

/// The BoringSSL source the vendored libraries were built from (see
/// vendor/boringssl-fips/linux_*/BUILDINFO); the library itself only reports "BoringSSL".
const SOURCE: &str = "BoringSSL 0.20261020.0 as shipped by boring-sys 5.4.0";

pub(super) fn provider() -> CryptoProvider {
    // boring-rustls-provider's own constructor panics when FIPS mode is off; callers go
    // through `startup_check` first, which turns that into an error.
    let base = boring_rustls_provider::provider();
    let kx_groups = {
        // P-256 first: it is what every peer (ring builds included) supports, so the
        // ClientHello's key share never costs a HelloRetryRequest. The hybrid post-quantum
        // group is still chosen as a server whenever a client sends a share for it.
        let mut groups = base.kx_groups.clone();
        groups.sort_by_key(|g| match g.name() {
            rustls::NamedGroup::secp256r1 => 0,
            rustls::NamedGroup::secp384r1 => 1,
            _ => 2,
        });
        groups.retain(|g| g.name() != rustls::NamedGroup::X25519);
        groups
    };
    let suites = aead::suites();
    CryptoProvider {
        cipher_suites: vec![SupportedCipherSuite::Tls13(&suites[0]), SupportedCipherSuite::Tls13(&suites[1])],
        kx_groups,
        key_provider: &KeysWithSpki,
        ..base
    }
}

/// boring-rustls-provider's key loader, plus the key's public half. rustls compares that with
/// the certificate's to catch a key that does not belong to its certificate
/// (`CertifiedKey::from_der`); without it the check is silently skipped.
#[derive(Debug)]
struct KeysWithSpki;

impl KeyProvider for KeysWithSpki {
    fn load_private_key(&self, der: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        let spki = ::boring::pkey::PKey::private_key_from_der(der.secret_der())
            .or_else(|_| ::boring::pkey::PKey::private_key_from_pkcs8(der.secret_der()))
            .and_then(|k| k.public_key_to_der())
            .map_err(|e| rustls::Error::General(format!("unusable private key: {e}")))?;
        let inner = boring_rustls_provider::provider().key_provider.load_private_key(der)?;
        Ok(Arc::new(WithSpki { inner, spki }))
    }

    fn fips(&self) -> bool {
        fips_mode()
    }
}

#[derive(Debug)]
struct WithSpki {
    inner: Arc<dyn SigningKey>,
    spki: Vec<u8>,
}

impl SigningKey for WithSpki {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        self.inner.choose_scheme(offered)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm()
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.spki.as_slice()))
    }
}

pub(super) fn fips_mode() -> bool {
    ::boring::fips::enabled()
}

pub(super) fn library() -> String {
    // SAFETY: FIPS_version takes no arguments and only returns a constant.
    let fips_version = unsafe { boring_sys::FIPS_version() };
    format!(
        "{} (source: {SOURCE}; BORINGSSL_API_VERSION {}; FIPS_version {fips_version})",
        ::boring::version::version(),
        boring_sys::BORINGSSL_API_VERSION,
    )
}

pub(super) fn startup_check() -> Result<(), String> {
    check_fips_mode(fips_mode())
}

fn check_fips_mode(enabled: bool) -> Result<(), String> {
    if enabled {
        Ok(())
    } else {
        Err("this is a FIPS build (tls-boring) but BoringSSL reports FIPS_mode() == 0: the \
             linked library is not a FIPS-mode BoringSSL (check BORING_BSSL_FIPS_PATH and \
             vendor/boringssl-fips); refusing to run"
            .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_fips_mode_and_refuses_otherwise() {
        assert!(fips_mode());
        assert!(startup_check().is_ok());
        let err = check_fips_mode(false).unwrap_err();
        assert!(err.contains("FIPS_mode() == 0") && err.contains("refusing"), "{err}");
    }

    #[test]
    fn provider_is_fips_only() {
        let p = provider();
        assert!(p.fips(), "rustls must consider the whole provider FIPS");
        let groups: Vec<_> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert!(!groups.contains(&rustls::NamedGroup::X25519));
        for scheme in p.signature_verification_algorithms.supported_schemes() {
            assert!(
                !matches!(
                    scheme,
                    rustls::SignatureScheme::ED25519
                        | rustls::SignatureScheme::ED448
                        | rustls::SignatureScheme::ECDSA_NISTP521_SHA512
                        | rustls::SignatureScheme::RSA_PKCS1_SHA1
                        | rustls::SignatureScheme::ECDSA_SHA1_Legacy
                ),
                "{scheme:?} is not FIPS-approved for TLS"
            );
        }
        assert!(library().contains("BoringSSL"), "{}", library());
    }

    #[test]
    fn certificates_are_generated_by_boringssl_and_parse() {
        use std::time::{Duration, SystemTime};
        let now = SystemTime::now();
        let validity = super::super::Validity {
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(3600),
        };
        let ca = generate_ca("cluster.local", validity).unwrap();
        let leaf = issue_leaf(&ca, &["spiffe://cluster.local/ns/a/sa/b".into()], validity).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&leaf.cert).unwrap();
        let (_, root) = x509_parser::parse_x509_certificate(&ca.cert).unwrap();
        assert_eq!(parsed.issuer(), root.subject());
        assert!(parsed.subject_alternative_name().unwrap().unwrap().critical);
        assert_eq!(parsed.raw_serial().len(), 16);
        assert!(root.is_ca());
        // ECDSA with SHA-256 (1.2.840.10045.4.3.2).
        assert_eq!(parsed.signature_algorithm.algorithm.to_id_string(), "1.2.840.10045.4.3.2");
        assert!(!leaf.key.secret_pkcs8_der().is_empty());
    }
}
