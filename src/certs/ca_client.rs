//! The CA client: obtains workload certificates from istiod's `IstioCertificateService`.
//!
//! Owns one `CreateCertificate` exchange per fetch: a fresh ECDSA P-256 key and CSR from the
//! crypto provider, the request (validity from SECRET_TTL), credentials (bearer token re-read
//! on every request, `clusterid`, CA_HEADER_*), and validation of the answer (the leaf must
//! carry the requested identity; the last chain element may hold several roots, all trusted).
//! Retry, caching and rotation belong to [`super::manager::SecretManager`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::Error;
use super::manager::CertificateSource;
use crate::control_plane::auth::Credentials;
use crate::control_plane::channel::ControlPlaneEndpoint;
use crate::identity::Identity;
use crate::proto::citadel::IstioCertificateRequest;
use crate::proto::citadel::istio_certificate_service_client::IstioCertificateServiceClient;
use crate::tls::WorkloadCertificate;
use crate::tls::certificate::pem_encode;
use crate::tls::provider;

/// How to reach the CA.
#[derive(Debug, Clone)]
pub struct CaClientConfig {
    pub endpoint: ControlPlaneEndpoint,
    pub credentials: Credentials,
    pub secret_ttl: Duration,
    /// Shared mode: one ztunnel asks for the certificates of every pod on its node, so each
    /// request names the pod identity in `ImpersonatedIdentity` and istiod checks that our
    /// (node) credentials may act for it. Without it istiod signs ztunnel's own identity.
    pub impersonate: bool,
}

/// A [`CertificateSource`] backed by istiod's CA. A channel is opened per fetch: fetches are
/// rare (once per identity per half-life), and a fresh connection re-reads the root file.
pub struct CaClient {
    cfg: CaClientConfig,
}

impl CaClient {
    pub fn new(cfg: CaClientConfig) -> CaClient {
        CaClient { cfg }
    }

    async fn fetch_inner(&self, id: &Identity) -> Result<WorkloadCertificate, Error> {
        let unavailable =
            |what: &str, e: String| Error::CaUnavailable(format!("{}: {what}: {e}", self.cfg.endpoint.address));
        let (csr, key) = provider::generate_csr(id)?;
        let channel = self.cfg.endpoint.connect().await.map_err(|e| Error::CaUnavailable(e.to_string()))?;
        let mut request = tonic::Request::new(IstioCertificateRequest {
            csr,
            validity_duration: self.cfg.secret_ttl.as_secs() as i64,
            metadata: self.cfg.impersonate.then(|| impersonation(id)),
        });
        request.set_timeout(Duration::from_secs(10));
        self.cfg
            .credentials
            .apply(request.metadata_mut())
            .await
            .map_err(|e| unavailable("credentials", e.to_string()))?;
        let resp = IstioCertificateServiceClient::new(channel)
            .create_certificate(request)
            .await
            .map_err(|s| unavailable("CreateCertificate", format!("{}: {}", s.code(), s.message())))?
            .into_inner();
        let chain = resp.cert_chain;
        if chain.len() < 2 {
            return Err(unavailable(
                "CreateCertificate",
                format!(
                    "response has {} certificate(s); expected leaf, optional intermediates and root(s)",
                    chain.len()
                ),
            ));
        }
        let (roots, leaf_and_intermediates) = chain.split_last().expect("len >= 2");
        let key_pem = pem_encode("PRIVATE KEY", key.secret_pkcs8_der());
        let cert = WorkloadCertificate::from_pem(&leaf_and_intermediates.concat(), &key_pem, roots)?;
        if cert.identity() != id {
            return Err(Error::WrongIdentity { requested: id.to_string(), got: cert.identity().to_string() });
        }
        tracing::info!(identity = %id, serial = cert.serial(), expires = ?cert.not_after(), "certificate issued by CA");
        Ok(cert)
    }
}

/// The request metadata istiod reads in shared mode: `{"ImpersonatedIdentity": "<spiffe id>"}`.
fn impersonation(id: &Identity) -> prost_types::Struct {
    let value = prost_types::Value { kind: Some(prost_types::value::Kind::StringValue(id.to_string())) };
    prost_types::Struct { fields: [("ImpersonatedIdentity".to_string(), value)].into() }
}

impl CertificateSource for CaClient {
    fn fetch(&self, id: &Identity) -> Pin<Box<dyn Future<Output = Result<WorkloadCertificate, Error>> + Send + '_>> {
        let id = id.clone();
        Box::pin(async move { self.fetch_inner(&id).await })
    }
}
