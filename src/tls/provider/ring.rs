//! The `tls-ring` backend: rustls' ring provider trimmed to TLS 1.3 AES-GCM, and certificate
//! generation with rcgen (ring-backed). Everything here that touches `ring` or `rcgen` stays
//! here; [`super`] re-exports the backend-neutral functions.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PKCS_RSA_SHA256, PublicKeyData, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring as rp;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivatePkcs8KeyDer};

use super::{KeyedCert, Validity};
use crate::identity::Identity;
use crate::tls::Error;

pub const NAME: &str = "ring";

/// Length of an uncompressed P-256 point (0x04 || X || Y), as found in a CSR's public key.
const P256_POINT_LEN: usize = 65;

pub(super) fn provider() -> CryptoProvider {
    CryptoProvider {
        // No ChaCha20: HBONE peers (including FIPS builds) only ever agree on AES-GCM.
        cipher_suites: vec![rp::cipher_suite::TLS13_AES_256_GCM_SHA384, rp::cipher_suite::TLS13_AES_128_GCM_SHA256],
        // P-256 first: a FIPS peer rejects X25519, and offering it first would cost every such
        // handshake a HelloRetryRequest.
        kx_groups: vec![rp::kx_group::SECP256R1, rp::kx_group::SECP384R1, rp::kx_group::X25519],
        ..rp::default_provider()
    }
}

pub(super) fn fips_mode() -> bool {
    false
}

pub(super) fn library() -> String {
    "ring 0.17 (not a FIPS module)".into()
}

pub(super) fn startup_check() -> Result<(), String> {
    Ok(())
}

fn gen_err(e: rcgen::Error) -> Error {
    Error::Generate(e.to_string())
}

fn new_key() -> Result<KeyPair, Error> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)
}

/// A CA key: ECDSA P-256 or P-384 (signing with SHA-256 / SHA-384) or RSA (PKCS#1 v1.5 with
/// SHA-256, as istiod's own RSA roots sign). The key size policy is the dev CA's.
fn load_key(key: &PrivatePkcs8KeyDer<'_>) -> Result<KeyPair, Error> {
    let pair =
        KeyPair::try_from(key).map_err(|e| Error::Generate(format!("CA key is not a usable RSA or ECDSA key: {e}")))?;
    let alg = pair.algorithm();
    if alg == &PKCS_ECDSA_P256_SHA256 || alg == &PKCS_ECDSA_P384_SHA384 || alg == &PKCS_RSA_SHA256 {
        Ok(pair)
    } else {
        Err(Error::Generate(format!("CA key algorithm {alg:?} is not supported (RSA, ECDSA P-256 or P-384)")))
    }
}

/// 16 random bytes: unpredictable serials keep issued certificates distinct even when two
/// processes share one CA key.
fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Generate("system random number generator failed".into()))?;
    // Positive and without a leading zero byte, so the DER INTEGER keeps a fixed length.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn uri_sans(uris: &[String]) -> Result<Vec<SanType>, Error> {
    uris.iter()
        .map(|u| u.clone().try_into().map(SanType::URI).map_err(|e| Error::Generate(format!("URI SAN {u:?}: {e}"))))
        .collect()
}

/// Parameters shared by every workload leaf we sign, whether from a CSR or directly.
fn leaf_params(sans: Vec<SanType>, validity: Validity) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    // Istio workload certificates carry no subject; rcgen then marks the SAN critical, as
    // RFC 5280 §4.2.1.6 requires.
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before.into();
    params.not_after = validity.not_after.into();
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

fn issuer(ca: &KeyedCert) -> Result<Issuer<'static, KeyPair>, Error> {
    // Taking the issuer name from the CA certificate itself (not from our own parameters) keeps
    // the leaf's issuer byte-identical to the root's subject even for roots made elsewhere.
    Issuer::from_ca_cert_der(&ca.cert, load_key(&ca.key)?).map_err(gen_err)
}

/// Generates a self-signed ECDSA P-256 root CA with `O=<organization>`.
pub fn generate_ca(organization: &str, validity: Validity) -> Result<KeyedCert, Error> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if !organization.is_empty() {
        dn.push(DnType::OrganizationName, organization);
    }
    dn.push(DnType::CommonName, "ztunnel dev CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = validity.not_before.into();
    params.not_after = validity.not_after.into();
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key).map_err(gen_err)?;
    Ok(KeyedCert { cert: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()) })
}

/// Generates a fresh P-256 key and a leaf for `uris` signed by `ca`.
pub fn issue_leaf(ca: &KeyedCert, uris: &[String], validity: Validity) -> Result<KeyedCert, Error> {
    let issuer = issuer(ca)?;
    let key = new_key()?;
    let cert = leaf_params(uri_sans(uris)?, validity)?.signed_by(&key, &issuer).map_err(gen_err)?;
    Ok(KeyedCert { cert: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()) })
}

/// Issues a TLS server certificate for `hosts` (IP addresses become IP SANs, anything else a
/// DNS SAN). Used for control-plane servers (the fake istiod), never for workloads.
pub fn issue_server_leaf(ca: &KeyedCert, hosts: &[String], validity: Validity) -> Result<KeyedCert, Error> {
    let issuer = issuer(ca)?;
    let key = new_key()?;
    let sans = hosts
        .iter()
        .map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => {
                h.clone().try_into().map(SanType::DnsName).map_err(|e| Error::Generate(format!("DNS SAN {h:?}: {e}")))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cert = leaf_params(sans, validity)?.signed_by(&key, &issuer).map_err(gen_err)?;
    Ok(KeyedCert { cert: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()) })
}

/// Signs a PKCS#10 request (DER) with `ca`. The request's signature is verified; only its key
/// and URI SANs are used, everything else (usages, validity, subject) is our policy.
pub fn sign_csr(ca: &KeyedCert, csr_der: &[u8], validity: Validity) -> Result<CertificateDer<'static>, Error> {
    let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
        .map_err(|e| Error::Csr(e.to_string()))?;
    if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 || csr.public_key.der_bytes().len() != P256_POINT_LEN {
        return Err(Error::Csr("only ECDSA P-256 keys are accepted".into()));
    }
    let sans: Vec<SanType> =
        csr.params.subject_alt_names.iter().filter(|s| matches!(s, SanType::URI(_))).cloned().collect();
    if sans.is_empty() {
        return Err(Error::Csr("request has no URI SAN".into()));
    }
    let issuer = issuer(ca)?;
    let cert = leaf_params(sans, validity)?.signed_by(&csr.public_key, &issuer).map_err(gen_err)?;
    Ok(cert.der().clone())
}

/// Generates a P-256 key and a CSR for `id` the way upstream does: empty subject, one
/// (critical) URI SAN. Returns the CSR as PEM and the key as PKCS#8 DER.
pub fn generate_csr(id: &Identity) -> Result<(String, PrivatePkcs8KeyDer<'static>), Error> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = uri_sans(&[id.to_string()])?;
    let csr = params.serialize_request(&key).map_err(gen_err)?;
    let pem = csr.pem().map_err(gen_err)?;
    Ok((pem, PrivatePkcs8KeyDer::from(key.serialize_der())))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::ClientConfig;
    use rustls_pki_types::ServerName;
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use crate::certs::dev_ca::DevCa;
    use crate::identity::Identity;
    use crate::tls::verifier::IdentityVerifier;
    use crate::tls::{root_store, server_config};

    /// Lives here because it needs ring's full (TLS 1.2-capable) provider for the peer.
    #[tokio::test]
    async fn tls12_only_client_is_refused() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let b = Identity::new("cluster.local", "default", "b");
        let client_cert = ca.issue(&Identity::new("cluster.local", "default", "a"), Duration::from_secs(60)).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = IdentityVerifier::new(
            root_store(client_cert.roots()).unwrap(),
            vec![b.clone()],
            provider.signature_verification_algorithms,
        );
        let client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(client_cert.chain().to_vec(), client_cert.private_key())
            .unwrap();
        let server = server_config(&ca.issue(&b, Duration::from_secs(60)).unwrap()).unwrap();

        let (c, s) = tokio::io::duplex(64 * 1024);
        let name = ServerName::try_from("0.0.0.0").unwrap();
        let (client, server) =
            tokio::join!(TlsConnector::from(Arc::new(client)).connect(name, c), TlsAcceptor::from(server).accept(s));
        let server_err = server.expect_err("server must refuse TLS 1.2").to_string();
        assert!(server_err.contains("peer is incompatible"), "{server_err}");
        assert!(client.is_err());
    }
}
