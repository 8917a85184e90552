//! Peer certificate verifiers for HBONE.
//!
//! [`IdentityVerifier`] (client side) does full WebPKI chain verification against our own roots
//! and then pins the server to a set of expected SPIFFE identities; the DNS-style server name is
//! deliberately ignored because HBONE peers are addressed by IP and identity.
//! [`TrustDomainVerifier`] (server side) wraps rustls' WebPKI client verifier and additionally
//! requires the client to belong to our trust domain.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::crl::CrlSet;
use super::{san_identities, select_peer_identity};
use crate::identity::Identity;

/// Why a peer's (otherwise valid) certificate was refused. Carried inside
/// `rustls::CertificateError::Other` so it shows up in the handshake error.
#[derive(Clone, thiserror::Error)]
pub enum VerifyError {
    #[error("peer identities {found:?} do not match any expected identity {expected:?}")]
    IdentityMismatch { found: Vec<String>, expected: Vec<String> },
    #[error("no expected peer identities configured; refusing peer")]
    NoExpectedIdentities,
    #[error("peer identities {found:?} are not in trust domain {trust_domain:?}")]
    TrustDomainMismatch { found: Vec<String>, trust_domain: String },
}

// rustls prints certificate errors with `{:?}`; make that the readable message.
impl std::fmt::Debug for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<VerifyError> for rustls::Error {
    fn from(e: VerifyError) -> Self {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }
}

fn names(ids: &[Identity]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

/// Server certificate verifier for outbound connections.
#[derive(Debug)]
pub struct IdentityVerifier {
    roots: Arc<RootCertStore>,
    expected: Vec<Identity>,
    algorithms: WebPkiSupportedAlgorithms,
    crls: Arc<CrlSet>,
}

impl IdentityVerifier {
    pub fn new(roots: Arc<RootCertStore>, expected: Vec<Identity>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self::with_crls(roots, expected, algorithms, Arc::default())
    }

    /// Also refuses a server whose chain holds a certificate revoked by one of `crls`.
    pub fn with_crls(
        roots: Arc<RootCertStore>,
        expected: Vec<Identity>,
        algorithms: WebPkiSupportedAlgorithms,
        crls: Arc<CrlSet>,
    ) -> Self {
        IdentityVerifier { roots, expected, algorithms, crls }
    }

    /// The revocation check (the chain itself was verified already). rustls' helper takes no
    /// CRLs, so this asks WebPKI directly, with the same roots and algorithms.
    fn check_revocation(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        if self.crls.is_empty() {
            return Ok(());
        }
        let refs: Vec<&webpki::CertRevocationList<'_>> = self.crls.parsed().iter().collect();
        let other =
            |e: webpki::Error| rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))));
        let revocation = webpki::RevocationOptionsBuilder::new(&refs)
            .map_err(|_| rustls::Error::General("no CRLs".into()))?
            .with_status_policy(webpki::UnknownStatusPolicy::Allow)
            .build();
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(other)?;
        match cert.verify_for_usage(
            self.algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            Some(revocation),
            None,
        ) {
            Ok(_) => Ok(()),
            Err(webpki::Error::CertRevoked) => Err(CertificateError::Revoked.into()),
            Err(e) => Err(other(e)),
        }
    }
}

impl ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.expected.is_empty() {
            return Err(VerifyError::NoExpectedIdentities.into());
        }
        // Chain to our roots, validity period and the serverAuth EKU (when the leaf has an EKU
        // extension) are all checked by webpki here; only the name check is replaced below.
        let parsed = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(&parsed, &self.roots, intermediates, now, self.algorithms.all)?;
        self.check_revocation(end_entity, intermediates, now)?;
        let found = san_identities(end_entity);
        if found.iter().any(|id| self.expected.contains(id)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(VerifyError::IdentityMismatch { found: names(&found), expected: names(&self.expected) }.into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable with our TLS 1.3-only configs, but correct if that ever changes.
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Client certificate verifier for inbound connections: `inner` (WebPKI, client auth required)
/// plus "some URI SAN is in our trust domain".
#[derive(Debug)]
pub struct TrustDomainVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    trust_domain: String,
}

impl TrustDomainVerifier {
    pub fn new(inner: Arc<dyn ClientCertVerifier>, trust_domain: String) -> Self {
        TrustDomainVerifier { inner, trust_domain }
    }
}

impl ClientCertVerifier for TrustDomainVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        let found = san_identities(end_entity);
        // The same selection RBAC uses (`peer_identity`), so both act on one SAN.
        if select_peer_identity(&found, &self.trust_domain).is_some() {
            Ok(verified)
        } else {
            Err(VerifyError::TrustDomainMismatch { found: names(&found), trust_domain: self.trust_domain.clone() }
                .into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
