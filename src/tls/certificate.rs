//! [`WorkloadCertificate`]: a workload's certificate chain, private key and trust roots, with the
//! facts about it the rest of the proxy needs (identity, validity, when to refresh).
//!
//! Loading validates everything up front (key matches leaf, leaf carries a SPIFFE identity,
//! at least one root) so a bad CA response fails at fetch time, not at the first handshake.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Error, provider, san_identities};
use crate::identity::Identity;

/// A workload's mTLS credentials. Cheap to clone (the key is shared); the private key is never
/// printed by `Debug` and there is deliberately no accessor that returns it as text.
#[derive(Clone)]
pub struct WorkloadCertificate {
    /// Leaf first, then intermediates; sent as-is in the TLS Certificate message.
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    roots: Vec<CertificateDer<'static>>,
    identity: Identity,
    not_before: SystemTime,
    not_after: SystemTime,
    serial: String,
}

/// Facts about one certificate, for dumps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDetails {
    /// Lower-case hex of the serial number's bytes (logs).
    pub serial: String,
    /// The serial number in decimal, as upstream's `/config_dump` writes it (istioctl parses it
    /// as base 10).
    pub serial_decimal: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// Parses `der` enough to describe it.
pub fn details(der: &CertificateDer<'_>) -> Result<CertDetails, Error> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    let validity = cert.validity();
    Ok(CertDetails {
        serial: hex(cert.raw_serial()),
        serial_decimal: cert.serial.to_str_radix(10),
        not_before: unix_to_system(validity.not_before.timestamp()),
        not_after: unix_to_system(validity.not_after.timestamp()),
    })
}

fn unix_to_system(secs: i64) -> SystemTime {
    // Pre-1970 dates only occur as "valid since forever"; clamping them to the epoch is harmless.
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes `der` as a `CERTIFICATE` PEM block (64-column base64, trailing newline).
pub fn to_pem(der: &CertificateDer<'_>) -> String {
    pem_encode("CERTIFICATE", der)
}

pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        // The alphabet is ASCII, so this never fails.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(crate) fn parse_certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem { what, reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(Error::NoCertificate(what));
    }
    Ok(certs)
}

impl WorkloadCertificate {
    /// Builds a certificate from DER. `chain` is leaf first; every element of `roots` is trusted.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, Error> {
        let leaf = chain.first().ok_or(Error::NoCertificate("certificate chain"))?;
        if roots.is_empty() {
            return Err(Error::NoCertificate("root bundle"));
        }
        for root in &roots {
            details(root)?;
        }
        let leaf_details = details(leaf)?;
        let identity = san_identities(leaf).into_iter().next().ok_or(Error::NoIdentity)?;
        // Loads the key with the active provider and checks it belongs to the leaf, so a
        // mismatched CA response is caught here instead of as an opaque handshake failure.
        CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider::get())
            .map_err(|e| Error::BadKey(e.to_string()))?;
        Ok(WorkloadCertificate {
            chain,
            key: Arc::new(key),
            roots,
            identity,
            not_before: leaf_details.not_before,
            not_after: leaf_details.not_after,
            serial: leaf_details.serial,
        })
    }

    /// Loads from PEM: `cert_chain_pem` leaf first, `private_key_pem` (PKCS#8 preferred; SEC1
    /// and PKCS#1 are accepted too), `roots_pem` one or more concatenated roots, all trusted.
    pub fn from_pem(cert_chain_pem: &str, private_key_pem: &str, roots_pem: &str) -> Result<Self, Error> {
        let chain = parse_certs(cert_chain_pem, "certificate chain")?;
        let roots = parse_certs(roots_pem, "root bundle")?;
        let key = PrivateKeyDer::from_pem_slice(private_key_pem.as_bytes())
            .map_err(|e| Error::Pem { what: "private key", reason: e.to_string() })?;
        Self::new(chain, key, roots)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Leaf first, then intermediates.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    pub fn roots(&self) -> &[CertificateDer<'static>] {
        &self.roots
    }

    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Halfway through the leaf's lifetime, as upstream: early enough to survive a CA outage
    /// of half a lifetime, late enough not to load the CA.
    pub fn refresh_at(&self) -> SystemTime {
        let lifetime = self.not_after.duration_since(self.not_before).unwrap_or_default();
        self.not_before + lifetime / 2
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.not_after
    }

    pub fn chain_pem(&self) -> Vec<String> {
        self.chain.iter().map(|c| to_pem(c)).collect()
    }

    pub fn roots_pem(&self) -> Vec<String> {
        self.roots.iter().map(|c| to_pem(c)).collect()
    }

    /// Leaf serial number, lower-case hex.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The private key, for building rustls configs only.
    pub(crate) fn private_key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }
}

impl fmt::Debug for WorkloadCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkloadCertificate")
            .field("identity", &self.identity.to_string())
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("chain_len", &self.chain.len())
            .field("roots_len", &self.roots.len())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::certs::dev_ca::DevCa;
    use crate::tls::provider::{self, Validity};

    fn id(sa: &str) -> Identity {
        Identity::new("cluster.local", "default", sa)
    }

    fn key_pem(cert: &WorkloadCertificate) -> String {
        let PrivateKeyDer::Pkcs8(k) = cert.private_key() else { panic!("dev CA keys are PKCS#8") };
        pem_encode("PRIVATE KEY", k.secret_pkcs8_der())
    }

    #[test]
    fn pem_round_trip_and_fields() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let cert = ca.issue(&id("a"), Duration::from_secs(3600)).unwrap();
        assert_eq!(cert.identity(), &id("a"));
        assert_eq!(cert.chain().len(), 1);
        assert_eq!(cert.roots_pem(), vec![ca.root_pem()]);
        let lifetime = cert.not_after().duration_since(cert.not_before()).unwrap();
        assert_eq!(lifetime, Duration::from_secs(3600 + 60));
        assert_eq!(cert.refresh_at(), cert.not_before() + lifetime / 2);
        assert!(!cert.is_expired(SystemTime::now()));
        assert!(cert.is_expired(cert.not_after()));
        assert_eq!(cert.serial().len(), 32);

        let again =
            WorkloadCertificate::from_pem(&cert.chain_pem().concat(), &key_pem(&cert), &cert.roots_pem().concat())
                .unwrap();
        assert_eq!(again.chain(), cert.chain());
        assert_eq!(again.serial(), cert.serial());
        assert_eq!(again.identity(), cert.identity());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let cert = ca.issue(&id("a"), Duration::from_secs(60)).unwrap();
        let dbg = format!("{cert:?}");
        assert!(dbg.contains("<redacted>"));
        let key_body = key_pem(&cert);
        let key_line = key_body.lines().nth(1).unwrap();
        assert!(!dbg.contains(key_line));
    }

    #[test]
    fn multiple_roots_are_all_trusted() {
        let old = DevCa::generate("cluster.local").unwrap();
        let new = DevCa::generate("cluster.local").unwrap();
        let cert = new.issue(&id("a"), Duration::from_secs(60)).unwrap();
        let bundle = format!("{}{}", old.root_pem(), new.root_pem());
        let loaded = WorkloadCertificate::from_pem(&cert.chain_pem().concat(), &key_pem(&cert), &bundle).unwrap();
        assert_eq!(loaded.roots().len(), 2);
        assert_eq!(loaded.roots_pem(), vec![old.root_pem(), new.root_pem()]);
        // Both roots end up in the verifier's store.
        assert_eq!(crate::tls::root_store(loaded.roots()).unwrap().len(), 2);
    }

    #[test]
    fn leaf_without_uri_san_is_rejected() {
        let now = SystemTime::now();
        let validity = Validity { not_before: now, not_after: now + Duration::from_secs(60) };
        let ca = provider::generate_ca("cluster.local", validity).unwrap();
        let leaf = provider::issue_leaf(&ca, &[], validity).unwrap();
        let err = WorkloadCertificate::new(vec![leaf.cert], PrivateKeyDer::Pkcs8(leaf.key), vec![ca.cert]).unwrap_err();
        assert!(matches!(err, Error::NoIdentity), "{err}");
    }

    #[test]
    fn mismatched_key_and_bad_pem_are_rejected() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let a = ca.issue(&id("a"), Duration::from_secs(60)).unwrap();
        let b = ca.issue(&id("b"), Duration::from_secs(60)).unwrap();
        let err = WorkloadCertificate::from_pem(&a.chain_pem()[0], &key_pem(&b), &ca.root_pem()).unwrap_err();
        assert!(matches!(err, Error::BadKey(_)), "{err}");
        let err = WorkloadCertificate::from_pem("", &key_pem(&a), &ca.root_pem()).unwrap_err();
        assert!(matches!(err, Error::NoCertificate(_)), "{err}");
        let err = WorkloadCertificate::from_pem(&a.chain_pem()[0], &key_pem(&a), "").unwrap_err();
        assert!(matches!(err, Error::NoCertificate(_)), "{err}");
    }

    #[test]
    fn pem_encoding_matches_known_base64() {
        // "Man" / "Ma" / "M" are the classic padding cases.
        assert_eq!(pem_encode("X", b"Man"), "-----BEGIN X-----\nTWFu\n-----END X-----\n");
        assert_eq!(pem_encode("X", b"Ma"), "-----BEGIN X-----\nTWE=\n-----END X-----\n");
        assert_eq!(pem_encode("X", b"M"), "-----BEGIN X-----\nTQ==\n-----END X-----\n");
    }
}
