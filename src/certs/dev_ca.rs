//! The built-in development CA (`FAKE_CA=true`): a root held in memory that issues workload
//! certificates directly, with no istiod.
//!
//! Without root files it uses one fixed development root compiled into the binary
//! ([`DevCa::built_in`], RSA 2048), so any two processes started with just `FAKE_CA=true`
//! trust each other, as upstream's do. Its private key is public: it is for development only.
//! A root can also be generated (ECDSA P-256), written to and loaded from PEM files; loaded
//! roots may be RSA (2048-4096 bits, as istiod's default self-signed root and upstream's
//! FAKE_CA root are) or ECDSA P-256/P-384, with a PKCS#8 key. A root that cannot issue is
//! refused when loaded, never on the first certificate request. Key material comes from
//! [`crate::tls::provider`], so this module is backend-neutral.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer};

use super::Error;
use super::manager::CertificateSource;
use crate::identity::Identity;
use crate::tls::certificate::{pem_encode, to_pem};
use crate::tls::provider::{self, KeyedCert, Validity};
use crate::tls::{self, WorkloadCertificate};

/// Root lifetime: long enough that a shared dev root never expires under a test setup.
const ROOT_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Certificates start this far in the past so peers with slightly slow clocks accept them.
const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Leaf lifetime used when the dev CA serves as the secret manager's source (upstream's
/// `SECRET_TTL` default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// The fixed development root used by `FAKE_CA=true` without root files.
const BUILT_IN_ROOT_CERT: &str = include_str!("dev_root/root-cert.pem");
const BUILT_IN_ROOT_KEY: &str = include_str!("dev_root/root-key.pem");

/// RSA root sizes accepted (bits): below 2048 is not acceptable anywhere; above 4096 nobody uses.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// An in-process CA. Never printed with its key.
pub struct DevCa {
    ca: KeyedCert,
    root_pem: String,
    ttl: Duration,
}

impl DevCa {
    /// A fresh self-signed root (`O=<trust_domain>`, CA:true, keyCertSign), valid 10 years.
    pub fn generate(trust_domain: &str) -> Result<Self, Error> {
        let now = SystemTime::now();
        let ca = provider::generate_ca(
            trust_domain,
            Validity { not_before: now - CLOCK_SKEW, not_after: now + ROOT_VALIDITY },
        )?;
        Ok(Self::from_keyed(ca))
    }

    /// The fixed development root compiled into the binary. Every process using it trusts
    /// every other; since its key ships with the binary, so can anyone else.
    pub fn built_in() -> Result<Self, Error> {
        Self::from_pem(BUILT_IN_ROOT_CERT, BUILT_IN_ROOT_KEY)
    }

    /// Loads a root certificate and its PKCS#8 key from PEM text.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        Self::from_parts(parse_cert(cert_pem)?, parse_key(key_pem)?)
    }

    /// Loads a root from PEM files; every error names the offending file.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, Error> {
        let cert = parse_cert(&read(cert_path)?).map_err(|e| io_err(cert_path, e))?;
        let key = parse_key(&read(key_path)?).map_err(|e| io_err(key_path, e))?;
        Self::from_parts(cert, key).map_err(|e| io_err(cert_path, format!("with key {}: {e}", key_path.display())))
    }

    /// Writes the root certificate and key as PEM; the key file is created with mode 0600.
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), Error> {
        std::fs::write(cert_path, &self.root_pem).map_err(|e| io_err(cert_path, e))?;
        write_private(key_path, &self.key_pem()).map_err(|e| io_err(key_path, e))
    }

    /// The root certificate as PEM.
    pub fn root_pem(&self) -> String {
        self.root_pem.clone()
    }

    /// Sets the leaf lifetime used when serving as a [`CertificateSource`].
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a leaf for `id` valid from one minute ago until `now + ttl`.
    pub fn issue(&self, id: &Identity, ttl: Duration) -> Result<WorkloadCertificate, Error> {
        let now = SystemTime::now();
        self.issue_with_validity(id, now - CLOCK_SKEW, now + ttl)
    }

    /// Issues a leaf with an explicit validity window (tests use it for expired or
    /// soon-to-refresh certificates).
    pub fn issue_with_validity(
        &self,
        id: &Identity,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<WorkloadCertificate, Error> {
        let leaf = provider::issue_leaf(&self.ca, &[id.to_string()], Validity { not_before, not_after })?;
        Ok(WorkloadCertificate::new(vec![leaf.cert], PrivateKeyDer::Pkcs8(leaf.key), vec![self.ca.cert.clone()])?)
    }

    /// Issues a leaf for `id` as PEM text `(certificate, PKCS#8 private key)`, for handing a
    /// workload certificate to external tools (`openssl s_client`, `curl`) in tests and
    /// debugging sessions.
    pub fn issue_pem(&self, id: &Identity, ttl: Duration) -> Result<(String, String), Error> {
        let now = SystemTime::now();
        let leaf = provider::issue_leaf(
            &self.ca,
            &[id.to_string()],
            Validity { not_before: now - CLOCK_SKEW, not_after: now + ttl },
        )?;
        Ok((
            crate::tls::certificate::to_pem(&leaf.cert),
            crate::tls::certificate::pem_encode("PRIVATE KEY", leaf.key.secret_pkcs8_der()),
        ))
    }

    /// Issues a TLS server certificate (PEM cert, PEM PKCS#8 key) for `hosts` (DNS names or
    /// IPs), for control-plane servers such as the fake istiod.
    pub fn issue_server_pem(&self, hosts: &[String], ttl: Duration) -> Result<(String, String), Error> {
        let now = SystemTime::now();
        let leaf = provider::issue_server_leaf(
            &self.ca,
            hosts,
            Validity { not_before: now - CLOCK_SKEW, not_after: now + ttl },
        )?;
        Ok((to_pem(&leaf.cert), crate::tls::certificate::pem_encode("PRIVATE KEY", leaf.key.secret_pkcs8_der())))
    }

    /// Signs a PEM CSR (as the fake istiod does) and returns the PEM chain `[leaf, root]`.
    /// The CSR's signature is checked; only its key and URI SANs are honoured.
    pub fn sign_csr(&self, csr_pem: &str, ttl: Duration) -> Result<Vec<String>, Error> {
        let csr = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .map_err(|e| tls::Error::Pem { what: "certificate signing request", reason: e.to_string() })?;
        let now = SystemTime::now();
        let leaf = provider::sign_csr(
            &self.ca,
            csr.as_ref(),
            Validity { not_before: now - CLOCK_SKEW, not_after: now + ttl },
        )?;
        Ok(vec![to_pem(&leaf), self.root_pem.clone()])
    }

    fn from_keyed(ca: KeyedCert) -> Self {
        DevCa { root_pem: to_pem(&ca.cert), ca, ttl: DEFAULT_TTL }
    }

    fn from_parts(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> Result<Self, Error> {
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert).map_err(|e| Error::InvalidCa(e.to_string()))?;
        if !parsed.is_ca() {
            return Err(Error::InvalidCa("certificate lacks basicConstraints CA:true".into()));
        }
        check_root_key(&parsed)?;
        // A key that does not belong to the root would issue leaves nobody can verify.
        CertifiedKey::from_der(vec![cert.clone()], key.clone_key(), &provider::get())
            .map_err(|e| Error::InvalidCa(format!("key does not match certificate: {e}")))?;
        let PrivateKeyDer::Pkcs8(key) = key else {
            return Err(Error::InvalidCa("CA key must be PKCS#8 (BEGIN PRIVATE KEY)".into()));
        };
        let ca = Self::from_keyed(KeyedCert { cert, key });
        // Whatever the backend cannot sign with shows now, at start-up, not as a retry loop on
        // every certificate request.
        ca.issue(&Identity::new("cluster.local", "ns", "load-check"), Duration::from_secs(60))
            .map_err(|e| Error::InvalidCa(format!("cannot issue certificates with this root: {e}")))?;
        Ok(ca)
    }

    fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", self.ca.key.secret_pkcs8_der())
    }
}

impl fmt::Debug for DevCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCa").field("ttl", &self.ttl).field("key", &"<redacted>").finish()
    }
}

impl CertificateSource for DevCa {
    fn fetch(&self, id: &Identity) -> Pin<Box<dyn Future<Output = Result<WorkloadCertificate, Error>> + Send + '_>> {
        // Issuing is a few hundred microseconds of CPU, not worth a blocking-pool hop.
        let result = self.issue(id, self.ttl);
        Box::pin(async move { result })
    }
}

/// RSA 2048-4096 or ECDSA P-256/P-384: what both crypto backends sign with, and what FIPS
/// 186-5 allows.
fn check_root_key(cert: &x509_parser::certificate::X509Certificate<'_>) -> Result<(), Error> {
    use x509_parser::oid_registry::{
        OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    };
    use x509_parser::public_key::PublicKey;
    let spki = cert.public_key();
    let refuse = |what: String| {
        Err(Error::InvalidCa(format!("root key is {what}; expected RSA 2048-4096 bits or ECDSA P-256/P-384")))
    };
    let alg = &spki.algorithm;
    if alg.algorithm == OID_PKCS1_RSAENCRYPTION {
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) if RSA_BITS.contains(&rsa.key_size()) => Ok(()),
            Ok(PublicKey::RSA(rsa)) => refuse(format!("RSA {} bits", rsa.key_size())),
            _ => refuse("an unreadable RSA key".into()),
        };
    }
    if alg.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = alg.parameters.as_ref().and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == OID_EC_P256 || c == OID_NIST_EC_P384 => Ok(()),
            Some(c) => refuse(format!("ECDSA on curve {c}")),
            None => refuse("ECDSA with no named curve".into()),
        };
    }
    refuse(format!("of algorithm {}", alg.algorithm))
}

fn parse_cert(pem: &str) -> Result<CertificateDer<'static>, Error> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| tls::Error::Pem { what: "CA certificate", reason: e.to_string() }.into())
}

fn parse_key(pem: &str) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| tls::Error::Pem { what: "CA private key", reason: e.to_string() }.into())
}

fn io_err(path: &Path, e: impl fmt::Display) -> Error {
    Error::Io { path: PathBuf::from(path), reason: e.to_string() }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| io_err(path, e))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // `mode` only applies on creation; tighten a pre-existing file too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    {
        options.open(path)?.write_all(contents.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sa: &str) -> Identity {
        Identity::new("cluster.local", "ns1", sa)
    }

    #[test]
    fn write_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("root.pem"), dir.path().join("key.pem"));
        let ca = DevCa::generate("cluster.local").unwrap();
        ca.write(&cert_path, &key_path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = DevCa::load(&cert_path, &key_path).unwrap();
        assert_eq!(loaded.root_pem(), ca.root_pem());
        // A leaf from the loaded CA verifies against the original root.
        let cert = loaded.issue(&id("a"), Duration::from_secs(60)).unwrap();
        assert_eq!(cert.roots_pem(), vec![ca.root_pem()]);
        let text = std::fs::read_to_string(&key_path).unwrap();
        let again = DevCa::from_pem(&ca.root_pem(), &text).unwrap();
        assert_eq!(again.root_pem(), ca.root_pem());
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = DevCa::load(&missing, &missing).unwrap_err().to_string();
        assert!(err.contains("nope.pem"), "{err}");

        let ca = DevCa::generate("cluster.local").unwrap();
        let (cert_path, key_path) = (dir.path().join("root.pem"), dir.path().join("key.pem"));
        ca.write(&cert_path, &key_path).unwrap();
        std::fs::write(&key_path, "garbage").unwrap();
        let err = DevCa::load(&cert_path, &key_path).unwrap_err().to_string();
        assert!(err.contains("key.pem"), "{err}");
    }

    #[test]
    fn from_pem_rejects_mismatched_key_and_non_ca() {
        let a = DevCa::generate("cluster.local").unwrap();
        let b = DevCa::generate("cluster.local").unwrap();
        let err = DevCa::from_pem(&a.root_pem(), &b.key_pem()).unwrap_err();
        assert!(matches!(err, Error::InvalidCa(_)), "{err}");

        let leaf = a.issue(&id("a"), Duration::from_secs(60)).unwrap();
        let err = DevCa::from_pem(&leaf.chain_pem()[0], &a.key_pem()).unwrap_err();
        assert!(matches!(err, Error::InvalidCa(_)), "{err}");
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/certs/testdata").join(name)).unwrap()
    }

    /// (Handshakes under these roots: `tls::tests::mutual_tls_under_rsa_and_p384_roots`.)
    #[test]
    fn rsa_and_p384_roots_issue_and_sign() {
        for (cert, key) in [
            (BUILT_IN_ROOT_CERT.to_string(), BUILT_IN_ROOT_KEY.to_string()),
            (fixture("rsa4096-cert.pem"), fixture("rsa4096-key.pem")),
            (fixture("p384-cert.pem"), fixture("p384-key.pem")),
            (fixture("upstream-style-cert.pem"), fixture("upstream-style-key.pem")),
        ] {
            let ca = DevCa::from_pem(&cert, &key).unwrap();
            assert_eq!(ca.issue(&id("a"), Duration::from_secs(60)).unwrap().identity(), &id("a"));
            // CSR signing (what the fake istiod does) works with the same root.
            let (csr, _) = provider::generate_csr(&id("csr")).unwrap();
            assert_eq!(ca.sign_csr(&csr, Duration::from_secs(60)).unwrap().len(), 2);
        }
    }

    #[test]
    fn built_in_root_is_one_fixed_rsa_root() {
        let (a, b) = (DevCa::built_in().unwrap(), DevCa::built_in().unwrap());
        assert_eq!(a.root_pem(), b.root_pem(), "two processes share one root");
        let (_, parsed) = x509_parser::pem::parse_x509_pem(a.root_pem().as_bytes()).unwrap();
        let cert = parsed.parse_x509().unwrap();
        assert!(
            matches!(cert.public_key().parsed(), Ok(x509_parser::public_key::PublicKey::RSA(r)) if r.key_size() == 2048)
        );
    }

    #[test]
    fn unusable_roots_are_refused_with_the_reason() {
        let err = DevCa::from_pem(&fixture("rsa1024-cert.pem"), &fixture("rsa1024-key.pem")).unwrap_err().to_string();
        assert!(err.contains("RSA 1024 bits"), "{err}");
        // The right key in PKCS#1 form (BEGIN RSA PRIVATE KEY): said so, not a signing failure later.
        let err = DevCa::from_pem(&fixture("upstream-style-cert.pem"), &fixture("rsa2048-pkcs1-key.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("PKCS#8"), "{err}");
        // Another root's key.
        let err = DevCa::from_pem(BUILT_IN_ROOT_CERT, &fixture("upstream-style-key.pem")).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn sign_csr_issues_a_usable_leaf() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let (csr, key) = provider::generate_csr(&id("csr")).unwrap();
        let chain = ca.sign_csr(&csr, Duration::from_secs(3600)).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1], ca.root_pem());
        let cert =
            WorkloadCertificate::from_pem(&chain[0], &pem_encode("PRIVATE KEY", key.secret_pkcs8_der()), &chain[1])
                .unwrap();
        assert_eq!(cert.identity(), &id("csr"));
        // Upstream-style CSR: no subject, so the SAN must be critical.
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert.chain()[0]).unwrap();
        let san = parsed.subject_alternative_name().unwrap().unwrap();
        assert!(san.critical);
        assert!(parsed.subject().iter_attributes().next().is_none());
    }

    #[test]
    fn sign_csr_rejects_garbage_and_tampering() {
        let ca = DevCa::generate("cluster.local").unwrap();
        assert!(ca.sign_csr("not a csr", Duration::from_secs(60)).is_err());

        let (csr, _) = provider::generate_csr(&id("csr")).unwrap();
        let mut der = CertificateSigningRequestDer::from_pem_slice(csr.as_bytes()).unwrap().as_ref().to_vec();
        // Flip a byte inside the URI SAN ("csr" -> "csq"): the signature no longer matches.
        let pos = der.windows(6).position(|w| w == b"sa/csr").unwrap() + 5;
        der[pos] ^= 0x03;
        let tampered = pem_encode("CERTIFICATE REQUEST", &der);
        let err = ca.sign_csr(&tampered, Duration::from_secs(60)).unwrap_err();
        assert!(err.to_string().contains("signing request"), "{err}");
    }

    #[tokio::test]
    async fn serves_as_certificate_source() {
        let ca = DevCa::generate("cluster.local").unwrap().with_ttl(Duration::from_secs(120));
        let cert = ca.fetch(&id("src")).await.unwrap();
        assert_eq!(cert.identity(), &id("src"));
        let lifetime = cert.not_after().duration_since(cert.not_before()).unwrap();
        assert_eq!(lifetime, Duration::from_secs(180));
    }
}
