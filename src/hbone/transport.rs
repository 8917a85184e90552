//! The socket under an HBONE connection's TLS: reads go through a buffer that exists only once
//! the connection carries bulk data.
//!
//! rustls pulls ciphertext at most 4 KiB at a time, so a 16 KiB record would cost four or five
//! `recv` calls; with a 64 KiB buffer in between, one `recv` fetches many records and rustls's
//! reads are served from memory. But most HBONE connections never need it: a handshake, a
//! request/response exchange, an idle pooled connection all read a few hundred bytes at a time.
//! Allocated up front, the 64 KiB buffer was freed again at every short connection's close, and
//! jemalloc handed that extent back to the kernel at once (`madvise`, a TLB shootdown, then 17
//! page faults for the next connection's buffer); without it a node serves 11-13% more inbound
//! mTLS handshakes per CPU second (benches/README.md, "Sixth pass"). So reads go straight into
//! rustls's buffer until one fills it, which is the sign that more is queued; from then on, for
//! the rest of the connection, they are buffered.
//! Writes pass straight through (vectored, as rustls writes its records).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read buffer's size once a connection has shown it moves bulk data.
const READ_BUF: usize = 64 * 1024;

/// A byte stream (the TCP socket) with a read buffer that is allocated on first need.
pub struct Transport<IO> {
    io: IO,
    /// Empty until a direct read filled the caller's buffer; then [`READ_BUF`] bytes.
    buf: Vec<u8>,
    /// `buf[pos..filled]` is read from `io` and not yet handed out.
    pos: usize,
    filled: usize,
}

/// Wraps `io` for use under TLS.
pub fn transport<IO>(io: IO) -> Transport<IO> {
    Transport { io, buf: Vec::new(), pos: 0, filled: 0 }
}

#[cfg(test)]
impl<IO> Transport<IO> {
    /// Whether the read buffer has been allocated.
    fn buffered(&self) -> bool {
        !self.buf.is_empty()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Transport<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.pos == this.filled {
            if this.buf.is_empty() {
                let before = out.filled().len();
                ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
                if out.filled().len() > before && out.remaining() == 0 {
                    this.buf = vec![0; READ_BUF];
                }
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut this.buf);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
            this.pos = 0;
            this.filled = rb.filled().len();
            if this.filled == 0 {
                return Poll::Ready(Ok(())); // EOF
            }
        }
        let n = out.remaining().min(this.filled - this.pos);
        out.put_slice(&this.buf[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Transport<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_reads_never_allocate_the_buffer() {
        let (mut peer, io) = tokio::io::duplex(1 << 20);
        let mut t = transport(io);
        let mut got = [0u8; 4096];
        for i in 0..50u8 {
            peer.write_all(&[i; 300]).await.unwrap();
            let n = t.read(&mut got).await.unwrap();
            assert_eq!(&got[..n], &[i; 300][..]);
        }
        assert!(!t.buffered());
    }

    #[tokio::test]
    async fn a_full_read_switches_to_buffered_reads_and_loses_nothing() {
        let (mut peer, io) = tokio::io::duplex(1 << 20);
        let mut t = transport(io);
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                peer.write_all(&sent).await.unwrap();
                peer.shutdown().await.unwrap();
            })
        };
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = t.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..n]);
        }
        writer.await.unwrap();
        assert!(t.buffered(), "a bulk transfer reads through the buffer");
        assert_eq!(received.len(), sent.len());
        assert!(received == sent, "bytes out of order or changed");
    }

    #[tokio::test]
    async fn writes_pass_through_vectored() {
        let (mut peer, io) = tokio::io::duplex(1 << 16);
        let mut t = transport(io);
        let parts = [io::IoSlice::new(b"hello "), io::IoSlice::new(b"world")];
        let n = t.write_vectored(&parts).await.unwrap();
        t.flush().await.unwrap();
        let mut got = vec![0u8; n];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&b"hello world"[..n], &got[..]);
    }
}
