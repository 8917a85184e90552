//! The byte pump between a client and an upstream: both directions concurrently, each
//! direction half-closed independently when its reader hits EOF, byte counts returned.

use tokio::io::{AsyncRead, AsyncWrite};

/// Bytes moved in each direction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Transferred {
    /// client → upstream
    pub sent: u64,
    /// upstream → client
    pub received: u64,
}

/// Buffer per direction. Large enough to move an HTTP/2 frame or TLS record per syscall,
/// small enough that 10k idle connections stay cheap.
const BUF: usize = 64 * 1024;

/// Copies until both directions are closed (or one fails).
pub async fn bidirectional<A, B>(client: &mut A, upstream: &mut B) -> std::io::Result<Transferred>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let (sent, received) =
        tokio::io::copy_bidirectional_with_sizes(client, upstream, BUF, BUF).await?;
    Ok(Transferred { sent, received })
}
