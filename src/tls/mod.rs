//! TLS for HBONE: rustls client and server configurations for workload mTLS, and what we learn
//! about the peer afterwards.
//!
//! Owns the policy upstream ztunnel applies: TLS 1.3 only, ALPN `h2`, no SNI, no session
//! resumption, chains verified against the roots of *our own* workload certificate; the client
//! side additionally pins the peer to a list of expected SPIFFE identities and the server side
//! requires a client certificate from our trust domain (authorization is RBAC's job). The
//! crypto backend is chosen in [`provider`].

pub mod certificate;
pub mod crl;
pub mod provider;
pub mod verifier;

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ClientConfig, CommonState, RootCertStore, ServerConfig};
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use x509_parser::extensions::GeneralName;

pub use self::certificate::WorkloadCertificate;
use crate::identity::{Identity, IdentityError};

/// The only application protocol HBONE speaks over TLS.
const ALPN_H2: &[u8] = b"h2";

/// Why a certificate could not be loaded or a TLS configuration could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid PEM in {what}: {reason}")]
    Pem { what: &'static str, reason: String },
    #[error("{0} contains no certificate")]
    NoCertificate(&'static str),
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("certificate has no URI SAN holding a SPIFFE identity")]
    NoIdentity,
    #[error("certificate identity: {0}")]
    Identity(#[from] IdentityError),
    #[error("private key does not match the certificate or is unusable: {0}")]
    BadKey(String),
    #[error("no expected peer identities given; refusing to connect to an unverifiable peer")]
    NoExpectedIdentities,
    #[error("building certificate verifier: {0}")]
    Verifier(String),
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("certificate signing request rejected: {0}")]
    Csr(String),
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// Builds the root store from our workload certificate's roots. Every root is a trust anchor,
/// so a CA rotating roots (old and new bundled together) keeps working.
pub(crate) fn root_store(roots: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, Error> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).map_err(|e| Error::InvalidCertificate(format!("root certificate: {e}")))?;
    }
    if store.is_empty() {
        return Err(Error::NoCertificate("root bundle"));
    }
    Ok(Arc::new(store))
}

/// Client (outbound HBONE) configuration presenting `cert` and accepting only a server whose
/// certificate chains to `cert`'s roots and carries one of `expected` as a URI SAN.
///
/// An empty `expected` is an error: we fail closed rather than accept any mesh workload.
/// The `ServerName` given to the connector is ignored by the verifier, so callers may pass any
/// placeholder (upstream uses `0.0.0.0`).
pub fn client_config(cert: &WorkloadCertificate, expected: &[Identity]) -> Result<Arc<ClientConfig>, Error> {
    client_config_with_crls(cert, expected, Arc::default())
}

/// [`client_config`] that also refuses servers whose chain has a certificate revoked by `crls`.
pub fn client_config_with_crls(
    cert: &WorkloadCertificate,
    expected: &[Identity],
    crls: Arc<crl::CrlSet>,
) -> Result<Arc<ClientConfig>, Error> {
    if expected.is_empty() {
        return Err(Error::NoExpectedIdentities);
    }
    let provider = provider::get();
    let verifier = verifier::IdentityVerifier::with_crls(
        root_store(cert.roots())?,
        expected.to_vec(),
        provider.signature_verification_algorithms,
        crls,
    );
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(provider::PROTOCOL_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(cert.chain().to_vec(), cert.private_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // No SNI: the destination is addressed by IP and identity, never by DNS name.
    config.enable_sni = false;
    // Resumption would skip certificate verification against possibly rotated roots.
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// Server (inbound HBONE) configuration presenting `cert`, requiring a client certificate that
/// chains to `cert`'s roots and has a URI SAN in the same trust domain as `cert`'s identity.
pub fn server_config(cert: &WorkloadCertificate) -> Result<Arc<ServerConfig>, Error> {
    server_config_with_crls(cert, &crl::CrlSet::default())
}

/// [`server_config`] that also refuses clients whose chain has a certificate revoked by `crls`
/// (a certificate whose issuer has no CRL there is not refused for that).
pub fn server_config_with_crls(cert: &WorkloadCertificate, crls: &crl::CrlSet) -> Result<Arc<ServerConfig>, Error> {
    server_config_with_memo(cert, crls, Arc::default())
}

/// [`server_config_with_crls`] whose verifier remembers the client chains it accepts in
/// `verified` (fresh for each config: see [`verifier::VerifiedChains`]), so the listener can
/// read an accepted peer's identities from there ([`inbound_peer_identity`]).
pub fn server_config_with_memo(
    cert: &WorkloadCertificate,
    crls: &crl::CrlSet,
    verified: Arc<verifier::VerifiedChains>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider::get();
    let mut builder = WebPkiClientVerifier::builder_with_provider(root_store(cert.roots())?, provider.clone());
    if !crls.is_empty() {
        builder = builder.with_crls(crls.ders().iter().cloned()).allow_unknown_revocation_status();
    }
    let inner = builder.build().map_err(|e| Error::Verifier(e.to_string()))?;
    let verifier =
        verifier::TrustDomainVerifier::with_memo(inner, cert.identity().trust_domain().to_string(), verified);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(provider::PROTOCOL_VERSIONS)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(cert.chain().to_vec(), cert.private_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The identity an inbound peer is known by: the first of its SPIFFE URI SANs in
/// `trust_domain` (ours). The inbound verifier admits a client exactly when there is one, and
/// RBAC, logs and metrics act on that one: a single rule, so a foreign-trust-domain SAN listed
/// first can never be what policy sees while another SAN got the peer in (namespace and
/// service-account matching ignore the trust domain).
pub fn select_peer_identity<'a>(sans: &'a [Identity], trust_domain: &str) -> Option<&'a Identity> {
    sans.iter().find(|id| id.trust_domain() == trust_domain)
}

/// An inbound peer's identity, chosen from its leaf certificate by [`select_peer_identity`].
pub fn peer_identity(conn: &CommonState, trust_domain: &str) -> Option<Identity> {
    let leaf = conn.peer_certificates()?.first()?;
    select_peer_identity(&san_identities(leaf), trust_domain).cloned()
}

/// [`peer_identity`] for a connection accepted by a config from [`server_config_with_memo`]:
/// the SANs come from the verifier's memo when it holds the leaf (the usual case), parsed
/// otherwise.
pub fn inbound_peer_identity(
    conn: &CommonState,
    trust_domain: &str,
    verified: &verifier::VerifiedChains,
) -> Option<Identity> {
    let leaf = conn.peer_certificates()?.first()?;
    match verified.identities(leaf) {
        Some(sans) => select_peer_identity(&sans, trust_domain).cloned(),
        None => select_peer_identity(&san_identities(leaf), trust_domain).cloned(),
    }
}

/// The first parseable SPIFFE URI SAN of the peer's leaf, for logging connections whose side
/// has no trust-domain rule (outbound: the verifier matched the expected identities).
fn first_peer_identity(conn: &CommonState) -> Option<Identity> {
    let leaf = conn.peer_certificates()?.first()?;
    san_identities(leaf).into_iter().next()
}

/// Negotiated parameters of an established connection, for logs and the admin server.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionInfo {
    pub version: String,
    pub cipher_suite: String,
    pub kx_group: String,
    pub peer_identity: Option<String>,
    pub alpn: Option<String>,
}

/// Describes `conn`; fields not yet negotiated are empty strings.
pub fn connection_info(conn: &CommonState) -> ConnectionInfo {
    ConnectionInfo { peer_identity: first_peer_identity(conn).map(|id| id.to_string()), ..negotiated(conn) }
}

/// [`connection_info`] without `peer_identity` (left `None`), for callers that already know
/// the peer: it saves parsing the peer's certificate.
pub fn negotiated(conn: &CommonState) -> ConnectionInfo {
    ConnectionInfo {
        version: conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
        cipher_suite: conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default(),
        kx_group: conn.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())).unwrap_or_default(),
        peer_identity: None,
        alpn: conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// Every URI SAN of `cert` that parses as a SPIFFE identity, in certificate order. Other URIs
/// are skipped (with a warning) rather than failing the certificate, as upstream does.
pub fn san_identities(cert: &CertificateDer<'_>) -> Vec<Identity> {
    let parsed = match x509_parser::parse_x509_certificate(cert) {
        Ok((_, parsed)) => parsed,
        Err(e) => {
            tracing::warn!(error = %e, "cannot parse certificate to read its SANs");
            return Vec::new();
        }
    };
    let san = match parsed.subject_alternative_name() {
        Ok(Some(san)) => san,
        Ok(None) => return Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "malformed subjectAltName extension");
            return Vec::new();
        }
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => match uri.parse::<Identity>() {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::warn!(uri, error = %e, "ignoring URI SAN that is not a SPIFFE identity");
                    None
                }
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
