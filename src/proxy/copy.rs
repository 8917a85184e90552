//! The byte pump between a client and an upstream: both directions concurrently, each
//! direction half-closed independently when its reader hits EOF, byte counts returned.
//!
//! All shapes (TCP↔HBONE stream, TCP↔TCP) use tokio's bidirectional copy with 64 KiB
//! buffers. A zero-copy pump with adaptive buffers was tried (commit db1f3eb, −17% CPU per GB)
//! but stalled on bursty traffic with idle gaps (see the `bursty_*` tests in tests/e2e.rs),
//! so it is not used until that is understood.

use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::hbone::H2Stream;

/// Bytes moved in each direction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Transferred {
    /// client → upstream
    pub sent: u64,
    /// upstream → client
    pub received: u64,
}

/// Buffer per direction. Large enough to move an HTTP/2 frame or TLS record per syscall,
/// small enough that idle connections stay cheap.
const BUF: usize = 64 * 1024;

/// Copies until both directions are closed (or one fails).
pub async fn bidirectional<A, B>(client: &mut A, upstream: &mut B) -> io::Result<Transferred>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let (sent, received) =
        tokio::io::copy_bidirectional_with_sizes(client, upstream, BUF, BUF).await?;
    Ok(Transferred { sent, received })
}

/// A TCP client tunnelled to an HBONE upstream (outbound, SOCKS5).
pub async fn tcp_to_hbone(client: &mut TcpStream, mut upstream: H2Stream) -> io::Result<Transferred> {
    bidirectional(client, &mut upstream).await
}

/// An HBONE client delivered to a TCP upstream (inbound).
pub async fn hbone_to_tcp(mut client: H2Stream, upstream: &mut TcpStream) -> io::Result<Transferred> {
    bidirectional(&mut client, upstream).await
}

/// Two TCP sockets (plain outbound, inbound passthrough).
pub async fn tcp(client: &mut TcpStream, upstream: &mut TcpStream) -> io::Result<Transferred> {
    bidirectional(client, upstream).await
}
