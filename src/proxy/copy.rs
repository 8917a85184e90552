//! The byte pump between a client and an upstream: both directions concurrently, each
//! direction half-closed independently when its reader hits EOF, byte counts returned.
//!
//! Two shapes, with the same semantics:
//! - [`tcp_to_hbone`] / [`hbone_to_tcp`]: a TCP socket and an HBONE stream. Bytes read from
//!   the socket go to h2 as the very buffer they were read into (no copy), and DATA frames
//!   from h2 are written to the socket straight from h2's buffer (no copy); flow-control
//!   credit goes back as bytes reach the socket, so a slow reader still throttles the sender.
//! - [`tcp`]: two TCP sockets.
//!
//! Read buffers start small and grow only while reads keep filling them (1 KiB → 16 KiB →
//! 256 KiB), and shrink again when traffic gets sparse: a request/response connection stays
//! at a few KiB, a bulk transfer gets few large syscalls and large DATA frames. A connection
//! that goes quiet makes no reads that could shrink it, so a grown buffer is also given back
//! when a read has waited [`IDLE_RELEASE`] for data: the pump then waits on 1 KiB, and a
//! burst that ends leaves no 256 KiB behind per idle tunnel (issue 18). The bytes held are
//! on `istio_proxy_pump_buffer_bytes` ([`crate::metrics::memory`]).

use std::future::{Future, poll_fn};
use std::io;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hbone::{H2Stream, H2StreamReader, H2StreamWriter};
use crate::metrics::memory;

/// Bytes moved in each direction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Transferred {
    /// client → upstream
    pub sent: u64,
    /// upstream → client
    pub received: u64,
}

/// A TCP client tunnelled to an HBONE upstream (outbound, SOCKS5).
pub async fn tcp_to_hbone(client: &mut TcpStream, upstream: H2Stream) -> io::Result<Transferred> {
    let (from_tcp, to_tcp) = tcp_hbone(client, upstream).await?;
    Ok(Transferred { sent: from_tcp, received: to_tcp })
}

/// An HBONE client delivered to a TCP upstream (inbound).
pub async fn hbone_to_tcp(client: H2Stream, upstream: &mut TcpStream) -> io::Result<Transferred> {
    let (from_tcp, to_tcp) = tcp_hbone(upstream, client).await?;
    Ok(Transferred { sent: to_tcp, received: from_tcp })
}

/// Two TCP sockets (plain outbound, inbound passthrough).
pub async fn tcp(client: &mut TcpStream, upstream: &mut TcpStream) -> io::Result<Transferred> {
    abortive(client);
    abortive(upstream);
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    let (sent, received) = tokio::try_join!(
        async {
            let n = plain_one_way(&mut cr, &mut uw).await?;
            graceful(uw.as_ref());
            Ok::<_, io::Error>(n)
        },
        async {
            let n = plain_one_way(&mut ur, &mut cw).await?;
            graceful(cw.as_ref());
            Ok(n)
        }
    )?;
    Ok(Transferred { sent, received })
}

/// Returns (bytes socket → stream, bytes stream → socket).
async fn tcp_hbone(sock: &mut TcpStream, stream: H2Stream) -> io::Result<(u64, u64)> {
    abortive(sock);
    let (h2r, h2w) = stream.into_split();
    tcp_hbone_halves(sock, h2r, h2w, Head::default()).await
}

/// What an early-data pump ([`super::early`]) did before the peer answered.
#[derive(Default)]
pub(super) struct Head {
    /// Bytes read from the socket (and handed to h2) so far.
    pub read: u64,
    /// The socket has sent its FIN (and the stream its END_STREAM).
    pub eof: bool,
}

/// A TCP client and an HBONE upstream whose answer came after the client's first bytes: the
/// pump as [`tcp_to_hbone`], picking up where `head` left off. The socket must already be
/// abortive ([`abortive`]).
pub(super) async fn tcp_to_hbone_after(
    client: &mut TcpStream,
    reader: H2StreamReader,
    writer: H2StreamWriter,
    head: Head,
) -> io::Result<Transferred> {
    let (sent, received) = tcp_hbone_halves(client, reader, writer, head).await?;
    Ok(Transferred { sent, received })
}

async fn tcp_hbone_halves(
    sock: &mut TcpStream,
    mut h2r: H2StreamReader,
    mut h2w: H2StreamWriter,
    head: Head,
) -> io::Result<(u64, u64)> {
    let (mut sr, mut sw) = sock.split();
    // Dropping the stream halves on error resets the stream (RST_STREAM CANCEL).
    tokio::try_join!(
        async {
            if head.eof {
                return Ok(head.read);
            }
            Ok(head.read + socket_to_stream(&mut sr, &mut h2w).await?)
        },
        async {
            let n = stream_to_socket(&mut h2r, &mut sw).await?;
            graceful(sw.as_ref());
            Ok(n)
        }
    )
}

/// Until everything meant for a socket has been written and half-closed, closing it must
/// reset it (RST): a FIN tells the peer "this is all", so a tunnel that failed, or was cut
/// at the drain deadline (its task dropped mid-copy), would pass a truncated transfer off as
/// a complete one. SO_LINGER 0 makes any close abortive, whatever path drops the socket.
pub(super) fn abortive(sock: &TcpStream) {
    // Best effort: a socket that cannot take the option is already broken.
    let _ = sock.set_zero_linger();
}

/// The direction into `sock` finished (FIN queued after the last byte): a later close is an
/// ordinary one again, so bytes still queued for a slow reader are delivered.
fn graceful(sock: &TcpStream) {
    let _ = socket2::SockRef::from(sock).set_linger(None);
}

async fn socket_to_stream<R: AsyncRead + Unpin>(r: &mut R, w: &mut H2StreamWriter) -> io::Result<u64> {
    let mut buf = ReadBuffer::default();
    let mut total = 0u64;
    while let Some(mut chunk) = buf.read_from(r).await? {
        total += chunk.len() as u64;
        poll_fn(|cx| w.poll_send_bytes(cx, &mut chunk)).await?;
    }
    w.finish()?;
    Ok(total)
}

async fn stream_to_socket<W: AsyncWrite + Unpin>(r: &mut H2StreamReader, w: &mut W) -> io::Result<u64> {
    let mut total = 0u64;
    while let Some(mut chunk) = poll_fn(|cx| r.poll_chunk(cx)).await? {
        while chunk.has_remaining() {
            let n = w.write(&chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            chunk.advance(n);
            r.release(n);
            total += n as u64;
        }
    }
    w.shutdown().await?;
    Ok(total)
}

async fn plain_one_way<R, W>(r: &mut R, w: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = ReadBuffer::default();
    let mut total = 0u64;
    while let Some(chunk) = buf.read_from(r).await? {
        w.write_all(&chunk).await?;
        total += chunk.len() as u64;
    }
    w.shutdown().await?;
    Ok(total)
}

/// Read sizes the buffer moves between.
const SIZES: [usize; 3] = [1024, 16 * 1024, 256 * 1024];
/// Consecutive full reads before growing to the next size.
const GROW_AFTER: u8 = 2;
/// Consecutive reads using under a quarter of the size before shrinking.
const SHRINK_AFTER: u8 = 8;
/// How long a read waits for data holding a grown buffer before giving it back. Long enough
/// that a bulk transfer (whose reads wait microseconds) never pays for it, short enough that
/// a tunnel gone quiet is down to [`SIZES`]`[0]` well before anyone looks at its memory.
const IDLE_RELEASE: Duration = Duration::from_secs(1);
/// Up to how many bytes a read that filled [`SIZES`]`[0]` may take of what is already queued.
const MERGE_READ: usize = 16 * 1024;

/// A read buffer whose chunks are handed out as `Bytes` without copying. Once every chunk
/// handed out has been dropped, the allocation is reused for the next reads.
#[derive(Default)]
struct ReadBuffer {
    buf: BytesMut,
    level: usize,
    full: u8,
    sparse: u8,
    /// The capacity last reported to the pump buffer gauge.
    counted: usize,
    /// An error met by [`ReadBuffer::take_queued`], returned by the next read.
    deferred: Option<io::Error>,
}

impl ReadBuffer {
    /// Reads what is available (at least one byte); `None` at EOF.
    async fn read_from<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<Option<Bytes>> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let size = SIZES[self.level];
        self.buf.reserve(size);
        self.count();
        let n = if self.buf.capacity() <= SIZES[0] {
            // Nothing worth giving back: no timer on small request/response connections.
            r.read_buf(&mut self.buf).await?
        } else {
            // `timeout` polls the read first, so a read that finds data costs no timer; the
            // read is cancel-safe (bytes are only taken when it completes).
            match tokio::time::timeout(IDLE_RELEASE, r.read_buf(&mut self.buf)).await {
                Ok(n) => n?,
                Err(_) => {
                    self.release();
                    r.read_buf(&mut self.buf).await?
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let mut n = n;
        let mut merged = false;
        if n == SIZES[0] && self.level == 0 {
            let more = self.take_queued(r).await;
            n += more;
            merged = more > 0;
        }
        // Take the bytes before adapting: shrinking replaces the buffer, and must not throw
        // away what was just read (it did once: bursty transfers lost data at each shrink).
        let chunk = self.buf.split().freeze();
        if self.level == 0 && self.buf.capacity() > SIZES[0] {
            // What is left of a merged read's allocation: start the next read on a small one
            // again, so a request/response connection keeps holding only SIZES[0].
            self.buf = BytesMut::new();
        }
        if merged && n < MERGE_READ {
            // The message fit once merged: neither a sign that the buffer is too small (which
            // would grow a request/response connection's buffer) nor a sparse read.
            (self.full, self.sparse) = (0, 0);
        } else {
            self.adapt(n.min(size), size);
        }
        self.count();
        Ok(Some(chunk))
    }

    /// A read that filled the smallest buffer was most likely cut short by it (a 1.1 KiB HTTP
    /// response arrives in one segment): take whatever else is already queued on the socket,
    /// without waiting, so the message leaves as one chunk — one DATA frame, one TLS record and
    /// one `writev` on each node instead of two (issue 16). Returns the bytes added. Only a
    /// merge that filled [`MERGE_READ`] counts towards growing the buffer; an error is
    /// kept for the next read, so the bytes already read are delivered first and the error
    /// (e.g. a reset, which the kernel reports only once) is not lost.
    async fn take_queued<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> usize {
        self.buf.reserve(MERGE_READ - self.buf.len());
        let before = self.buf.len();
        let res = poll_fn(|cx| match std::pin::pin!(r.read_buf(&mut self.buf)).poll(cx) {
            Poll::Ready(res) => Poll::Ready(res),
            Poll::Pending => Poll::Ready(Ok(0)),
        })
        .await;
        if let Err(e) = res {
            self.deferred = Some(e);
        }
        self.buf.len() - before
    }

    /// The connection went quiet: drop the grown allocation (freed once the chunks still in
    /// flight are dropped) and start again from the smallest size.
    fn release(&mut self) {
        self.buf = BytesMut::with_capacity(SIZES[0]);
        self.level = 0;
        self.full = 0;
        self.sparse = 0;
        self.count();
    }

    /// Brings the pump buffer gauge up to date with this buffer's capacity.
    fn count(&mut self) {
        let now = self.buf.capacity();
        if now != self.counted {
            memory::add_pump_buffer_bytes(now as i64 - self.counted as i64);
            self.counted = now;
        }
    }

    fn adapt(&mut self, n: usize, size: usize) {
        if n >= size {
            self.sparse = 0;
            self.full += 1;
            if self.full >= GROW_AFTER && self.level + 1 < SIZES.len() {
                self.level += 1;
                self.full = 0;
            }
        } else if n < size / 4 {
            self.full = 0;
            self.sparse += 1;
            if self.sparse >= SHRINK_AFTER && self.level > 0 {
                self.level -= 1;
                self.sparse = 0;
                // Let a sparse connection give back the big allocation instead of pinning it.
                if self.buf.capacity() > 2 * SIZES[self.level] {
                    self.buf = BytesMut::new();
                }
            }
        } else {
            self.full = 0;
            self.sparse = 0;
        }
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        memory::add_pump_buffer_bytes(-(self.counted as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_grows_on_full_reads_and_shrinks_when_sparse() {
        let mut b = ReadBuffer::default();
        for _ in 0..GROW_AFTER {
            b.adapt(SIZES[0], SIZES[0]);
        }
        assert_eq!(b.level, 1);
        for _ in 0..GROW_AFTER {
            b.adapt(SIZES[1], SIZES[1]);
        }
        assert_eq!(b.level, 2);
        b.adapt(SIZES[2], SIZES[2]);
        assert_eq!(b.level, 2, "never beyond the largest size");
        for _ in 0..SHRINK_AFTER {
            b.adapt(10, SIZES[2]);
        }
        assert_eq!(b.level, 1);
    }

    /// Hands out scripted reads: each element is what one `read` returns (or less, if the
    /// caller's buffer is smaller).
    struct Script(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Script {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if let Some(mut next) = self.0.pop_front() {
                let n = next.len().min(buf.remaining());
                buf.put_slice(&next[..n]);
                if n < next.len() {
                    self.0.push_front(next.split_off(n));
                }
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// What one `poll_read` of [`Steps`] does.
    enum Step {
        Data(Vec<u8>),
        Fail(io::ErrorKind),
        Wait,
    }

    /// A reader that plays `Step`s in order, one per poll; EOF once they run out.
    struct Steps(std::collections::VecDeque<Step>);

    impl AsyncRead for Steps {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match self.0.pop_front() {
                Some(Step::Data(d)) => {
                    assert!(d.len() <= buf.remaining(), "test reads fit the buffer");
                    buf.put_slice(&d);
                    Poll::Ready(Ok(()))
                }
                Some(Step::Fail(kind)) => Poll::Ready(Err(kind.into())),
                Some(Step::Wait) => Poll::Pending,
                None => Poll::Ready(Ok(())),
            }
        }
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_add(seed)).collect()
    }

    /// Issue 16: a message just over the smallest buffer leaves as one chunk (one DATA frame),
    /// and a request/response connection still holds only the smallest buffer afterwards.
    #[tokio::test]
    async fn full_small_read_takes_what_is_already_queued() {
        let (head, tail) = (bytes(SIZES[0], 1), bytes(100, 7));
        let mut steps = Vec::new();
        for _ in 0..2 * GROW_AFTER {
            steps.extend([Step::Data(head.clone()), Step::Data(tail.clone())]);
        }
        let mut r = Steps(steps.into());
        let mut b = ReadBuffer::default();
        for _ in 0..2 * GROW_AFTER {
            let chunk = b.read_from(&mut r).await.unwrap().unwrap();
            assert!(chunk[..SIZES[0]] == head[..] && chunk[SIZES[0]..] == tail[..], "{} bytes", chunk.len());
            assert_eq!(b.level, 0, "merged messages that fit do not grow the buffer");
            assert!(b.buf.capacity() <= SIZES[0], "holds {} bytes", b.buf.capacity());
            assert_eq!(b.counted, b.buf.capacity(), "the gauge follows the buffer");
        }
        assert!(b.read_from(&mut r).await.unwrap().is_none());

        // Nothing queued behind the full read: it is delivered at once, not held back.
        let mut r = Steps(vec![Step::Data(head.clone()), Step::Wait].into());
        assert_eq!(b.read_from(&mut r).await.unwrap().unwrap(), head);
    }

    /// The merging read fails (a reset, which the kernel reports only once): the bytes read
    /// before it are delivered, then the error, not an EOF.
    #[tokio::test]
    async fn error_while_merging_comes_after_the_bytes() {
        let head = bytes(SIZES[0], 3);
        let mut r = Steps(vec![Step::Data(head.clone()), Step::Fail(io::ErrorKind::ConnectionReset)].into());
        let mut b = ReadBuffer::default();
        assert_eq!(b.read_from(&mut r).await.unwrap().unwrap(), head);
        let err = b.read_from(&mut r).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    /// Regression: the buffer used to shrink after a read had filled it, dropping the bytes
    /// just read (bursty transfers lost data at each shrink).
    #[tokio::test]
    async fn shrinking_keeps_the_bytes_just_read() {
        let mut reads = Vec::new();
        let mut byte = 0u8;
        let mut chunk = |len: usize| {
            reads.push(
                (0..len)
                    .map(|_| {
                        byte = byte.wrapping_add(1);
                        byte
                    })
                    .collect::<Vec<u8>>(),
            );
        };
        for size in [SIZES[0], SIZES[0], SIZES[1], SIZES[1], SIZES[2], SIZES[2]] {
            chunk(size);
        }
        for _ in 0..3 * SHRINK_AFTER {
            chunk(10);
        }
        let expect: Vec<u8> = reads.concat();
        let mut r = Script(reads.into());
        let mut b = ReadBuffer::default();
        let mut got = Vec::new();
        while let Some(c) = b.read_from(&mut r).await.unwrap() {
            got.extend_from_slice(&c);
        }
        assert_eq!(b.level, 0, "sparse reads shrank the buffer back down");
        assert!(got == expect, "{} of {} bytes came out intact", got.len(), expect.len());
    }

    /// Issue 18: a buffer that grew for a burst is given back once the connection has been
    /// quiet for IDLE_RELEASE, and the next burst still arrives intact.
    #[tokio::test(start_paused = true)]
    async fn quiet_connection_gives_its_big_buffer_back() {
        let (mut w, mut r) = tokio::io::duplex(2 * SIZES[2]);
        let mut b = ReadBuffer::default();
        let block: Vec<u8> = (0..4 * SIZES[2]).map(|i| (i % 253) as u8).collect();
        let writer = {
            let block = block.clone();
            let mut w2 = w;
            tokio::spawn(async move {
                w2.write_all(&block).await.unwrap();
                w2
            })
        };
        let mut got = Vec::new();
        while got.len() < block.len() {
            got.extend_from_slice(&b.read_from(&mut r).await.unwrap().unwrap());
        }
        assert!(got == block, "burst intact");
        w = writer.await.unwrap();
        assert_eq!(b.level, SIZES.len() - 1, "the burst grew the buffer");

        // Quiet for less than IDLE_RELEASE: still the big buffer (a pause in a transfer).
        tokio::select! {
            _ = b.read_from(&mut r) => panic!("nothing was written"),
            _ = tokio::time::sleep(IDLE_RELEASE / 2) => {}
        }
        assert!(b.buf.capacity() >= SIZES[2], "a short pause keeps the buffer: {}", b.buf.capacity());
        assert_eq!(b.counted, b.buf.capacity(), "the gauge follows the buffer");

        // Quiet for longer: back to the smallest buffer while waiting.
        tokio::select! {
            _ = b.read_from(&mut r) => panic!("nothing was written"),
            _ = tokio::time::sleep(IDLE_RELEASE * 3) => {}
        }
        assert!(b.buf.capacity() <= SIZES[0], "idle holds {} bytes", b.buf.capacity());
        assert_eq!((b.level, b.counted), (0, b.buf.capacity()));

        // Data arriving while it waits on the small buffer comes out whole and in order.
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = b.read_from(&mut r).await.unwrap() {
                got.extend_from_slice(&c);
            }
            got
        });
        tokio::time::sleep(IDLE_RELEASE * 5).await;
        w.write_all(&block).await.unwrap();
        drop(w);
        assert!(reader.await.unwrap() == block, "second burst intact");
    }

    #[tokio::test]
    async fn tcp_pump_half_closes_and_counts() {
        let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(l1.local_addr().unwrap()).await.unwrap();
        let (mut proxy_in, _) = l1.accept().await.unwrap();
        let mut proxy_out = TcpStream::connect(l2.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = l2.accept().await.unwrap();
        let pump = tokio::spawn(async move { tcp(&mut proxy_in, &mut proxy_out).await });

        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let expect = big.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&big).await.unwrap();
            client.shutdown().await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert!(got == expect, "payload must arrive intact and in order");
        server.write_all(b"bye").await.unwrap();
        server.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"bye");
        let t = pump.await.unwrap().unwrap();
        assert_eq!((t.sent, t.received), (3_000_000, 3));
    }

    /// A connected loopback pair: (our end, the peer's end).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (s, c)
    }

    /// A pump dropped mid-transfer (as at the drain deadline) resets both peers; one that
    /// finished closes them gracefully, every byte delivered first.
    #[tokio::test]
    async fn cut_pump_resets_finished_pump_closes() {
        let ((mut client, mut client_peer), (mut upstream, mut upstream_peer)) = (pair().await, pair().await);
        let pump = tokio::spawn(async move { tcp(&mut client, &mut upstream).await });
        upstream_peer.write_all(b"partial").await.unwrap();
        let mut buf = [0u8; 7];
        client_peer.read_exact(&mut buf).await.unwrap();
        pump.abort();
        let _ = pump.await;
        let mut rest = Vec::new();
        let err = client_peer.read_to_end(&mut rest).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "a cut transfer must not end in EOF");
        assert!(upstream_peer.read_to_end(&mut rest).await.is_err());

        let ((mut client, mut client_peer), (mut upstream, mut upstream_peer)) = (pair().await, pair().await);
        let pump = tokio::spawn(async move { tcp(&mut client, &mut upstream).await });
        upstream_peer.write_all(b"all of it").await.unwrap();
        upstream_peer.shutdown().await.unwrap();
        client_peer.shutdown().await.unwrap();
        let mut got = Vec::new();
        client_peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"all of it");
        assert_eq!(upstream_peer.read_to_end(&mut got).await.unwrap(), 0);
        pump.await.unwrap().unwrap();
    }
}
