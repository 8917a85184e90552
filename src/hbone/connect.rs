//! Dialling the destination node for HBONE: TCP, then mTLS as the source workload with the
//! destination's identities as the only acceptable peers, then the HTTP/2 handshake.
//! Used by the HBONE connection pool whenever it needs a new connection.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rustls_pki_types::{IpAddr as PkiIpAddr, ServerName};
use tokio_rustls::TlsConnector;

use crate::certs::manager::SecretManager;
use crate::drain::DrainWatcher;
use crate::hbone::client::H2Client;
use crate::hbone::pool::{Connector, PoolKey};
use crate::hbone::{self, DialError, H2Settings};
use crate::socket::{self, SocketOptions};
use crate::tls;
use crate::tls::crl::CrlStore;

pub struct HboneConnector {
    certs: SecretManager,
    crls: CrlStore,
    socket: SocketOptions,
    timeout: Duration,
    h2: H2Settings,
    drain: DrainWatcher,
}

impl HboneConnector {
    pub fn new(
        certs: SecretManager,
        crls: CrlStore,
        socket: SocketOptions,
        timeout: Duration,
        h2: H2Settings,
        drain: DrainWatcher,
    ) -> Self {
        HboneConnector { certs, crls, socket, timeout, h2, drain }
    }
}

impl Connector for HboneConnector {
    fn connect(&self, key: &PoolKey) -> Pin<Box<dyn Future<Output = Result<H2Client, hbone::Error>> + Send + 'static>> {
        let key = key.clone();
        let certs = self.certs.clone();
        let crls = self.crls.current();
        let socket = self.socket.clone();
        let timeout = self.timeout;
        let h2 = self.h2.clone();
        let drain = self.drain.clone();
        Box::pin(async move {
            let cert = certs
                .fetch_certificate(&key.src)
                .await
                .map_err(|e| DialError::Certificate { identity: key.src.to_string(), reason: e.to_string() })?;
            let config =
                tls::client_config_with_crls(&cert, &key.dst_identities, crls).map_err(DialError::TlsConfig)?;
            let tcp = socket::connect(key.dst, &socket, timeout)
                .await
                .map_err(|source| DialError::Tcp { dst: key.dst, source })?;
            // The server name is ignored by our verifier (identities are checked instead) and
            // SNI is disabled, so any syntactically valid name works.
            let name = ServerName::IpAddress(PkiIpAddr::from(key.dst.ip()));
            let mut tls =
                tokio::time::timeout(timeout, TlsConnector::from(config).connect(name, hbone::transport(tcp)))
                    .await
                    .map_err(|_| DialError::HandshakeTimeout { dst: key.dst })?
                    .map_err(|source| DialError::Handshake { dst: key.dst, source })?;
            tls.get_mut().1.set_buffer_limit(Some(hbone::TLS_BUFFER_LIMIT));
            let info = tls::connection_info(tls.get_ref().1);
            tracing::info!(
                target: "hbone",
                dst = %key.dst,
                src_identity = %key.src,
                peer_identity = info.peer_identity.as_deref().unwrap_or("-"),
                tls_version = %info.version,
                cipher_suite = %info.cipher_suite,
                kx_group = %info.kx_group,
                "HBONE connection established"
            );
            hbone::client::connect(tls, &h2, drain).await
        })
    }
}
