//! HBONE: HTTP/2 `CONNECT` tunnels, one stream per proxied TCP connection.
//!
//! This module owns the HTTP/2 layer only. It is generic over any byte stream
//! (`AsyncRead + AsyncWrite`), so it knows nothing about TLS, identities' certificates or mesh
//! state; callers hand it an already-established mTLS stream.
//!
//! - [`client`]: one outbound HTTP/2 connection and `CONNECT` requests on it.
//! - [`server`]: serves one inbound HTTP/2 connection, handing each `CONNECT` to a handler.
//! - [`stream`]: a single `CONNECT` stream exposed as a byte pipe.
//! - [`early`]: a `CONNECT` stream that can be written before its answer has come.
//! - [`pool`]: reuse of outbound connections per (source, destination) key.
//! - [`double`]: the inner tunnel of double HBONE, inside an outer CONNECT stream.
//! - [`transport`]: the socket under the TLS layer, with a read buffer for bulk connections.

use std::sync::Arc;
use std::time::Duration;

pub mod client;
pub mod connect;
pub mod double;
pub mod early;
#[cfg(test)]
mod deadline_tests;
pub mod pool;
pub mod server;
pub mod stream;
pub mod transport;

pub use client::{H2Client, connect};
pub use pool::{Connector, Pool, PoolKey};
pub use server::{ConnectRequest, serve};
pub use stream::{H2Stream, H2StreamReader, H2StreamWriter};
pub use transport::transport;

/// How much plaintext/ciphertext rustls may hold for sending on an HBONE connection (its
/// default is 64 KiB). Large DATA frames then become one batch of TLS records and one
/// `writev`, instead of several rounds of encrypt + write per frame.
pub const TLS_BUFFER_LIMIT: usize = 256 * 1024;

/// HTTP/2 tuning shared by client, server and pool. Defaults match upstream ztunnel.
#[derive(Clone, Debug)]
pub struct H2Settings {
    /// Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE).
    pub stream_window: u32,
    /// Connection-level receive window.
    pub connection_window: u32,
    /// Largest DATA frame we accept (SETTINGS_MAX_FRAME_SIZE).
    pub frame_size: u32,
    /// Pool limit of streams per connection, also the client's assumed peer limit until the
    /// peer's SETTINGS arrive.
    pub max_streams_per_connection: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised by the server side.
    pub server_max_concurrent_streams: u32,
    /// Pooled connections without streams for this long are closed.
    pub pool_idle_timeout: Duration,
    /// Time between keepalive PINGs; zero disables keepalive.
    pub keepalive_interval: Duration,
    /// A PING unanswered for this long means the peer is gone and the connection is dropped.
    pub keepalive_timeout: Duration,
    /// Deadline for the HTTP/2 steps only the peer can complete: the server waiting for the
    /// client preface and SETTINGS after TLS, and the client waiting for a CONNECT's response
    /// (including for a stream slot). PINGs keep a connection alive, so without this a peer
    /// that answers PINGs but nothing else pins the other side forever.
    pub handshake_timeout: Duration,
}

impl Default for H2Settings {
    fn default() -> Self {
        H2Settings {
            stream_window: 4 * 1024 * 1024,
            connection_window: 16 * 1024 * 1024,
            frame_size: 1024 * 1024,
            max_streams_per_connection: 100,
            server_max_concurrent_streams: 200,
            pool_idle_timeout: Duration::from_secs(5 * 60),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(20),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

// RFC 9113 bounds. h2 panics on out-of-range values, and these come from configuration, so
// clamp instead of trusting them.
const MIN_FRAME_SIZE: u32 = 16_384;
const MAX_FRAME_SIZE: u32 = 16_777_215;
const MAX_WINDOW: u32 = (1 << 31) - 1;

impl H2Settings {
    pub(crate) fn frame_size_clamped(&self) -> u32 {
        self.frame_size.clamp(MIN_FRAME_SIZE, MAX_FRAME_SIZE)
    }

    pub(crate) fn stream_window_clamped(&self) -> u32 {
        self.stream_window.clamp(1, MAX_WINDOW)
    }

    pub(crate) fn connection_window_clamped(&self) -> u32 {
        self.connection_window.clamp(1, MAX_WINDOW)
    }
}

/// Everything that can go wrong in the HBONE layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("hbone i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("hbone http/2 error: {0}")]
    H2(#[from] h2::Error),
    #[error("hbone peer answered CONNECT with status {0}")]
    Status(http::StatusCode),
    /// Raised by [`Connector`] implementations (TCP/TLS failures, timeouts, ...).
    #[error("hbone connect failed: {0}")]
    Dial(#[from] DialError),
    /// A pooled dial failed; every caller waiting on that dial gets the same error.
    #[error("hbone pooled connection attempt failed: {0}")]
    PoolConnect(Arc<Error>),
    /// Reserved for callers that shut a pool down; the pool itself never closes while in use.
    #[error("hbone connection pool is closed")]
    PoolClosed,
    #[error("hbone connection is closed")]
    ConnectionClosed,
    #[error("hbone invalid CONNECT request: {0}")]
    InvalidRequest(String),
    #[error("hbone keepalive: no PING answer within {0:?}")]
    KeepaliveTimeout(Duration),
    #[error("hbone peer did not answer CONNECT within {0:?}")]
    ConnectResponseTimeout(Duration),
    #[error("hbone HTTP/2 handshake not completed within {0:?}")]
    HandshakeTimeout(Duration),
}

/// Why dialling a peer ztunnel failed, before any HTTP/2 was spoken.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Our own certificate for the source identity (CA unreachable, refused, ...).
    #[error("no certificate for {identity}: {reason}")]
    Certificate { identity: String, reason: String },
    #[error("TLS config: {0}")]
    TlsConfig(crate::tls::Error),
    #[error("TCP connect to {dst}: {source}{}", if source.kind() == std::io::ErrorKind::TimedOut { ", maybe a NetworkPolicy is blocking HBONE port 15008" } else { "" })]
    Tcp { dst: std::net::SocketAddr, source: std::io::Error },
    #[error("TLS handshake with {dst} timed out")]
    HandshakeTimeout { dst: std::net::SocketAddr },
    /// The peer's certificate was refused (wrong identity, untrusted, revoked) or it refused ours.
    #[error("TLS handshake with {dst}: {source}")]
    Handshake { dst: std::net::SocketAddr, source: std::io::Error },
    /// Double HBONE: the final peer, reached through a network gateway, did not finish the
    /// inner handshake in time.
    #[error("inner TLS handshake for {authority} through the network gateway timed out")]
    InnerHandshakeTimeout { authority: String },
    /// Double HBONE: the final peer's certificate was refused, or it refused ours.
    #[error("inner TLS handshake for {authority} through the network gateway: {source}")]
    InnerHandshake { authority: String, source: std::io::Error },
    /// The shared dial this caller waited on was dropped without an outcome.
    #[error("dial to {dst} ended without a result")]
    Abandoned { dst: std::net::SocketAddr },
}

/// Who an HBONE failure is attributed to, for the proxy's error mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HboneBlame {
    /// Our side: no certificate, a bad local TLS configuration.
    Local,
    /// The peer ztunnel: unreachable, refused TLS, answered CONNECT with an error.
    Peer,
}

impl Error {
    /// True if the peer never processed the stream (a GOAWAY raced us, it refused the stream,
    /// the connection was already closed): the request is safe to send once more (the pool
    /// skips a connection that sent GOAWAY).
    pub fn unprocessed(&self) -> bool {
        match self {
            Error::ConnectionClosed => true,
            Error::H2(e) => (e.is_go_away() && e.is_remote()) || e.reason() == Some(h2::Reason::REFUSED_STREAM),
            _ => false,
        }
    }

    pub fn blame(&self) -> HboneBlame {
        match self {
            Error::Dial(DialError::Certificate { .. } | DialError::TlsConfig(_)) | Error::PoolClosed => {
                HboneBlame::Local
            }
            Error::PoolConnect(inner) => inner.blame(),
            Error::InvalidRequest(_) => HboneBlame::Local,
            Error::Dial(_)
            | Error::Io(_)
            | Error::H2(_)
            | Error::Status(_)
            | Error::ConnectionClosed
            | Error::KeepaliveTimeout(_)
            | Error::ConnectResponseTimeout(_)
            | Error::HandshakeTimeout(_) => HboneBlame::Peer,
        }
    }
}

/// Sends a PING every `interval` and resolves (with the reason) once one goes unanswered for
/// `timeout`. Never resolves when keepalive is disabled, so it can sit in a `select!`.
pub(crate) async fn keepalive(ping: Option<h2::PingPong>, interval: Duration, timeout: Duration) -> Error {
    let Some(mut ping) = ping else {
        return std::future::pending().await;
    };
    if interval.is_zero() {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(interval).await;
        match tokio::time::timeout(timeout, ping.ping(h2::Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(e)) => return Error::H2(e),
            Err(_) => return Error::KeepaliveTimeout(timeout),
        }
    }
}
