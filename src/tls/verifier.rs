//! Peer certificate verifiers for HBONE.
//!
//! [`IdentityVerifier`] (client side) does full WebPKI chain verification against our own roots
//! and then pins the server to a set of expected SPIFFE identities; the DNS-style server name is
//! deliberately ignored because HBONE peers are addressed by IP and identity.
//! [`TrustDomainVerifier`] (server side) wraps rustls' WebPKI client verifier and additionally
//! requires the client to belong to our trust domain. It remembers the chains it accepted
//! ([`VerifiedChains`]): the peers of a node are a few hundred workloads presenting the same
//! certificate on every connection, so re-running chain verification (an ECDSA verify) and
//! parsing the leaf again for each handshake is repeated work; the SANs the verifier found are
//! also what the listener reads afterwards, instead of parsing the certificate once more.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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
    verified: Arc<VerifiedChains>,
}

impl TrustDomainVerifier {
    pub fn new(inner: Arc<dyn ClientCertVerifier>, trust_domain: String) -> Self {
        Self::with_memo(inner, trust_domain, Arc::default())
    }

    /// As [`TrustDomainVerifier::new`], remembering accepted chains in `verified`. The memo
    /// must belong to this verifier alone (same roots, same CRLs): a new root bundle or CRL
    /// set means a new verifier and a new memo.
    pub fn with_memo(inner: Arc<dyn ClientCertVerifier>, trust_domain: String, verified: Arc<VerifiedChains>) -> Self {
        TrustDomainVerifier { inner, trust_domain, verified }
    }
}

/// Most chains a [`VerifiedChains`] holds; past it, it starts over (it refills on demand).
/// A node's inbound peers are the workloads that call it, one chain each while certificates
/// last (a day, by default), so this covers large meshes at ~1 KiB per entry.
const VERIFIED_CHAINS_MAX: usize = 4096;

/// Client chains a [`TrustDomainVerifier`] accepted, by leaf certificate: the intermediates
/// presented with it, the window in which every one of them is valid, and the leaf's SPIFFE
/// SANs.
///
/// A hit skips WebPKI for a chain byte-for-byte equal to one that passed it against the same
/// roots and CRLs (the memo lives and dies with the verifier built from them), at a time inside
/// the chain's validity, so the outcome is the one WebPKI would give; a chain outside that
/// window is verified afresh (and then refused by WebPKI). What a memo cannot stand in for is
/// checked on every handshake anyway: rustls verifies the client's CertificateVerify signature
/// (possession of the key) separately.
#[derive(Debug, Default)]
pub struct VerifiedChains {
    chains: RwLock<HashMap<Vec<u8>, VerifiedChain>>,
}

#[derive(Debug)]
struct VerifiedChain {
    intermediates: Vec<Vec<u8>>,
    /// Seconds since the epoch: the latest notBefore and earliest notAfter of the chain.
    not_before: u64,
    not_after: u64,
    identities: Arc<[Identity]>,
}

impl VerifiedChains {
    /// The SANs of `leaf` if it was accepted with `intermediates` and `now` is inside the
    /// chain's validity.
    fn accepted(&self, leaf: &[u8], intermediates: &[CertificateDer<'_>], now: UnixTime) -> Option<Arc<[Identity]>> {
        let chains = self.chains.read().unwrap_or_else(|p| p.into_inner());
        let c = chains.get(leaf)?;
        let same = c.intermediates.len() == intermediates.len()
            && c.intermediates.iter().zip(intermediates).all(|(a, b)| a.as_slice() == b.as_ref());
        let secs = now.as_secs();
        (same && c.not_before <= secs && secs <= c.not_after).then(|| c.identities.clone())
    }

    /// Remembers a chain that passed, with the leaf's SANs. Chains whose validity cannot be
    /// read are not remembered (they are simply verified every time).
    fn remember(&self, leaf: &[u8], intermediates: &[CertificateDer<'_>], identities: Arc<[Identity]>) {
        let Some((not_before, not_after)) = validity_window(leaf, intermediates) else { return };
        let chain = VerifiedChain {
            intermediates: intermediates.iter().map(|c| c.as_ref().to_vec()).collect(),
            not_before,
            not_after,
            identities,
        };
        let mut chains = self.chains.write().unwrap_or_else(|p| p.into_inner());
        if chains.len() >= VERIFIED_CHAINS_MAX {
            chains.clear();
        }
        chains.insert(leaf.to_vec(), chain);
    }

    /// The SANs of an accepted peer's leaf (what [`super::san_identities`] would return), if
    /// this memo holds it; the listener asks after the handshake instead of parsing again.
    pub fn identities(&self, leaf: &[u8]) -> Option<Arc<[Identity]>> {
        let chains = self.chains.read().unwrap_or_else(|p| p.into_inner());
        chains.get(leaf).map(|c| c.identities.clone())
    }
}

/// The latest notBefore and earliest notAfter over `leaf` and `intermediates`, in seconds.
fn validity_window(leaf: &[u8], intermediates: &[CertificateDer<'_>]) -> Option<(u64, u64)> {
    let mut window = (0u64, u64::MAX);
    for der in std::iter::once(leaf).chain(intermediates.iter().map(|c| c.as_ref())) {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let v = cert.validity();
        window.0 = window.0.max(u64::try_from(v.not_before.timestamp()).ok()?);
        window.1 = window.1.min(u64::try_from(v.not_after.timestamp()).ok()?);
    }
    Some(window)
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
        if let Some(found) = self.verified.accepted(end_entity, intermediates, now)
            && select_peer_identity(&found, &self.trust_domain).is_some()
        {
            return Ok(ClientCertVerified::assertion());
        }
        let verified = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        let found = san_identities(end_entity);
        // The same selection RBAC uses (`peer_identity`), so both act on one SAN.
        if select_peer_identity(&found, &self.trust_domain).is_some() {
            self.verified.remember(end_entity, intermediates, found.into());
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::certs::dev_ca::DevCa;

    fn at(t: SystemTime) -> UnixTime {
        UnixTime::since_unix_epoch(t.duration_since(SystemTime::UNIX_EPOCH).unwrap())
    }

    #[test]
    fn memo_answers_only_for_the_same_chain_inside_its_validity() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let id = Identity::new("cluster.local", "default", "a");
        let cert = ca.issue(&id, Duration::from_secs(3600)).unwrap();
        let leaf = cert.chain()[0].as_ref();
        let memo = VerifiedChains::default();
        let now = SystemTime::now();
        assert!(memo.accepted(leaf, &[], at(now)).is_none(), "nothing remembered yet");

        memo.remember(leaf, &[], vec![id.clone()].into());
        assert_eq!(memo.accepted(leaf, &[], at(now)).as_deref(), Some(&[id.clone()][..]));
        assert_eq!(memo.identities(leaf).as_deref(), Some(&[id.clone()][..]));
        // After notAfter (and before notBefore) the chain must go through WebPKI again, which
        // refuses it.
        assert!(memo.accepted(leaf, &[], at(now + Duration::from_secs(7200))).is_none());
        assert!(memo.accepted(leaf, &[], at(now - Duration::from_secs(3600))).is_none());
        // The same leaf with other intermediates is another chain.
        let other = CertificateDer::from(ca.issue(&id, Duration::from_secs(60)).unwrap().chain()[0].to_vec());
        assert!(memo.accepted(leaf, std::slice::from_ref(&other), at(now)).is_none());
        // A leaf it never saw.
        assert!(memo.accepted(other.as_ref(), &[], at(now)).is_none());
    }

    #[test]
    fn memo_starts_over_when_full() {
        let ca = DevCa::generate("cluster.local").unwrap();
        let id = Identity::new("cluster.local", "default", "a");
        let cert = ca.issue(&id, Duration::from_secs(3600)).unwrap();
        let leaf = cert.chain()[0].as_ref();
        let memo = VerifiedChains::default();
        memo.remember(leaf, &[], vec![id.clone()].into());
        {
            // Fill it with other keys (their content does not matter to the bound).
            let mut chains = memo.chains.write().unwrap();
            for i in 0..VERIFIED_CHAINS_MAX {
                let entry = VerifiedChain { intermediates: vec![], not_before: 0, not_after: 0, identities: [].into() };
                chains.insert(i.to_be_bytes().to_vec(), entry);
            }
        }
        let other = ca.issue(&id, Duration::from_secs(60)).unwrap();
        memo.remember(other.chain()[0].as_ref(), &[], vec![id].into());
        assert_eq!(memo.chains.read().unwrap().len(), 1);
        assert!(memo.identities(leaf).is_none());
    }
}
