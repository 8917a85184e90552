//! TLS to the control plane (istiod's xDS and CA ports) and the gRPC channel over it.
//!
//! Owns root loading (file, inline PEM or the system store), server verification (the address
//! host, or an ALT_*_HOSTNAME override) and the connector tonic dials through. The connector is
//! ours rather than tonic's TLS feature so every byte uses the crate's crypto provider.
//! Server authentication only: ztunnel authenticates itself with a bearer token.

use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

use crate::config::RootCert;
use crate::tls::certificate::parse_certs;
use crate::tls::provider;

/// Upstream's control-plane timings.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
const TCP_KEEPALIVE: Duration = Duration::from_secs(300);

/// Why a control-plane channel could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("control plane address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("control plane roots ({source_name}): {reason}")]
    Roots { source_name: String, reason: String },
    #[error("connecting to {address}: {reason}")]
    Connect { address: String, reason: String },
}

/// Loads the roots that verify the control plane. Files are read on every call, so a rotated
/// root file takes effect on the next connection.
pub async fn load_roots(roots: &RootCert) -> Result<RootCertStore, ControlPlaneError> {
    let (source_name, certs) = match roots {
        RootCert::File(path) => {
            let name = path.display().to_string();
            let pem = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| ControlPlaneError::Roots { source_name: name.clone(), reason: e.to_string() })?;
            let certs = parse_certs(&pem, "root certificate")
                .map_err(|e| ControlPlaneError::Roots { source_name: name.clone(), reason: e.to_string() })?;
            (name, certs)
        }
        RootCert::Static(pem) => {
            let certs = parse_certs(pem, "root certificate")
                .map_err(|e| ControlPlaneError::Roots { source_name: "inline PEM".into(), reason: e.to_string() })?;
            ("inline PEM".to_string(), certs)
        }
        RootCert::System => {
            let loaded = rustls_native_certs::load_native_certs();
            if loaded.certs.is_empty() {
                return Err(ControlPlaneError::Roots {
                    source_name: "SYSTEM".into(),
                    reason: format!("no system root certificates found ({:?})", loaded.errors),
                });
            }
            ("SYSTEM".to_string(), loaded.certs)
        }
    };
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ControlPlaneError::Roots {
            source_name,
            reason: format!("none of the {ignored} certificates is a usable trust anchor"),
        });
    }
    Ok(store)
}

/// The rustls client config for the control plane: our provider, TLS 1.3, ALPN h2 (gRPC
/// servers such as istiod's require it), no client certificate.
pub fn client_config(roots: RootCertStore) -> Result<ClientConfig, ControlPlaneError> {
    let mut cfg = ClientConfig::builder_with_provider(provider::get())
        .with_protocol_versions(provider::PROTOCOL_VERSIONS)
        .map_err(|e| ControlPlaneError::Roots { source_name: "provider".into(), reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// One control-plane service to dial (istiod's xDS or CA port).
#[derive(Debug, Clone)]
pub struct ControlPlaneEndpoint {
    /// `https://host:port`.
    pub address: String,
    /// Roots that verify the server.
    pub roots: RootCert,
    /// Name to verify the server as instead of the address host (`ALT_*_HOSTNAME`).
    pub alt_hostname: Option<String>,
}

impl ControlPlaneEndpoint {
    /// Connects a gRPC channel to the address (`https://host:port`), verifying the server as
    /// the ALT hostname if given, else as the address host. The roots are re-read on every
    /// call, so a rotated root file takes effect on the next connection.
    pub async fn connect(&self) -> Result<Channel, ControlPlaneError> {
        let (address, roots, alt_hostname) = (self.address.as_str(), &self.roots, self.alt_hostname.as_deref());
        let bad = |reason: &str| ControlPlaneError::Address { address: address.into(), reason: reason.into() };
        let uri: Uri = address.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        if uri.scheme_str() != Some("https") {
            // Tokens and certificates must never cross the network in plaintext.
            return Err(bad("only https:// is supported"));
        }
        let host = uri.host().ok_or_else(|| bad("missing host"))?.trim_matches(['[', ']']).to_string();
        let port = uri.port_u16().unwrap_or(443);
        let verify_name = alt_hostname.unwrap_or(&host).to_string();
        let server_name =
            ServerName::try_from(verify_name.clone()).map_err(|_| bad("host is not a valid DNS name or IP"))?;
        let tls = TlsConnector::from(Arc::new(client_config(load_roots(roots).await?)?));

        let endpoint = Endpoint::from_shared(address.to_string())
            .map_err(|e| bad(&e.to_string()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(H2_KEEPALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let connector = tower::service_fn(move |_: Uri| {
            let tls = tls.clone();
            let server_name = server_name.clone();
            let host = host.clone();
            async move {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                let _ = tcp.set_nodelay(true);
                let sock = socket2::SockRef::from(&tcp);
                let _ = sock.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE));
                let stream = tls.connect(server_name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| ControlPlaneError::Connect { address: address.into(), reason: error_chain(&e) })
    }
}

/// Renders an error with its sources (tonic's top-level message alone says "transport error").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
