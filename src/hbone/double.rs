//! Double HBONE, the inner half: over an already-open outer CONNECT stream to a network
//! gateway, a second mTLS handshake (as the source workload, with the final destination's
//! identities as the only acceptable peers) and a second HTTP/2 connection carrying one CONNECT.
//!
//! The gateway forwards the outer stream's bytes untouched to the destination ztunnel, so this
//! handshake is end to end: the gateway sees only ciphertext. The inner connection is never
//! pooled (upstream's choice, istio/ztunnel#1672): the gateway picks the remote endpoint per
//! outer stream, so a pooled inner connection would pin every later connection to one remote
//! pod. It lives exactly as long as its one stream: the stream holds the connection's last
//! handle, and dropping it closes the connection.

use std::time::Duration;

use rustls_pki_types::{IpAddr as PkiIpAddr, ServerName};
use tokio_rustls::TlsConnector;

use super::stream::H2Stream;
use super::{DialError, Error, H2Settings};
use crate::drain::DrainWatcher;
use crate::identity::Identity;
use crate::tls::{self, WorkloadCertificate, crl::CrlSet};

/// What the inner handshake and request need.
pub struct Inner<'a> {
    pub cert: &'a WorkloadCertificate,
    /// Acceptable identities of the final peer (the remote ztunnel's workload, or waypoint).
    pub identities: &'a [Identity],
    pub crls: std::sync::Arc<CrlSet>,
    /// `service hostname : port`.
    pub authority: &'a str,
    pub headers: http::HeaderMap,
    pub timeout: Duration,
    pub h2: &'a H2Settings,
}

/// Runs the inner mTLS + HTTP/2 + CONNECT over `outer`; returns the inner CONNECT stream.
pub async fn connect(outer: H2Stream, inner: Inner<'_>, drain: DrainWatcher) -> Result<H2Stream, Error> {
    let config =
        tls::client_config_with_crls(inner.cert, inner.identities, inner.crls).map_err(DialError::TlsConfig)?;
    // As for the outer connection: our verifier checks identities, not names, and SNI is off.
    let name = ServerName::IpAddress(PkiIpAddr::from(std::net::Ipv4Addr::UNSPECIFIED));
    let authority = inner.authority.to_string();
    let tls = tokio::time::timeout(inner.timeout, TlsConnector::from(config).connect(name, outer))
        .await
        .map_err(|_| DialError::InnerHandshakeTimeout { authority: authority.clone() })?
        .map_err(|source| DialError::InnerHandshake { authority: authority.clone(), source })?;
    let info = tls::connection_info(tls.get_ref().1);
    tracing::debug!(
        target: "hbone",
        %authority,
        peer_identity = info.peer_identity.as_deref().unwrap_or("-"),
        "inner HBONE connection established through the network gateway"
    );
    let client = super::client::connect(tls, inner.h2, drain).await?;
    client.send_connect(inner.authority, inner.headers).await
}
