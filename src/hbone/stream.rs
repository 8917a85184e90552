//! One HBONE `CONNECT` stream as a byte pipe.
//!
//! Owns the mapping between HTTP/2 DATA frames / flow control and tokio's `AsyncRead` /
//! `AsyncWrite`. Reading releases flow-control credit only for bytes the application has
//! actually taken, so a slow reader throttles the sender. Writing waits for send capacity and
//! hands h2 chunks as large as the capacity allows. `poll_shutdown` half-closes (END_STREAM);
//! dropping a stream that is not finished resets it (RST_STREAM CANCEL, done by h2).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::metrics::memory;

/// Whatever the stream's creator needs kept alive until both halves are dropped (the client
/// connection's stream slot, whose `Drop` releases it). Type-erased so this module does not
/// depend on the client.
pub(crate) type StreamGuard = Arc<dyn Send + Sync>;

/// A bidirectional `CONNECT` tunnel. Split it with [`H2Stream::into_split`] to drive both
/// directions from different tasks without a lock.
pub struct H2Stream {
    reader: H2StreamReader,
    writer: H2StreamWriter,
    response_headers: http::HeaderMap,
}

/// A DATA payload on its way through h2: counted on `istio_proxy_hbone_queued_bytes{direction=
/// "send"}` from `send_data` until h2 has written all of it to the TLS layer and drops it (h2
/// keeps the same buffer across the DATA frames it is cut into).
pub struct SendBuf {
    bytes: Bytes,
    counted: usize,
}

impl SendBuf {
    pub(crate) fn new(bytes: Bytes) -> Self {
        let counted = bytes.len();
        memory::add_hbone_send_queued(counted as i64);
        SendBuf { bytes, counted }
    }
}

impl Buf for SendBuf {
    fn remaining(&self) -> usize {
        self.bytes.remaining()
    }

    fn chunk(&self) -> &[u8] {
        self.bytes.chunk()
    }

    fn advance(&mut self, n: usize) {
        self.bytes.advance(n)
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [io::IoSlice<'a>]) -> usize {
        self.bytes.chunks_vectored(dst)
    }
}

impl Drop for SendBuf {
    fn drop(&mut self) {
        memory::add_hbone_send_queued(-(self.counted as i64));
    }
}

/// The receiving half of an [`H2Stream`].
pub struct H2StreamReader {
    recv: RecvStream,
    // Remainder of the last DATA frame that did not fit the caller's buffer.
    pending: Bytes,
    eof: bool,
    // This stream's entry in [`RECEIVING`].
    registered: u64,
    // Keeps the client connection's active-stream count up while either half lives.
    _slot: Option<StreamGuard>,
}

/// The sending half of an [`H2Stream`].
pub struct H2StreamWriter {
    send: SendStream<SendBuf>,
    shut_down: bool,
    _slot: Option<StreamGuard>,
}

impl H2Stream {
    pub(crate) fn new(
        send: SendStream<SendBuf>,
        recv: RecvStream,
        slot: Option<StreamGuard>,
        response_headers: http::HeaderMap,
    ) -> Self {
        H2Stream {
            reader: H2StreamReader::new(recv, slot.clone()),
            writer: H2StreamWriter::new(send, slot),
            response_headers,
        }
    }

    /// Headers the peer sent with its 200 (client side; e.g. response `baggage`). Empty on the
    /// server side.
    pub fn response_headers(&self) -> &http::HeaderMap {
        &self.response_headers
    }

    /// Resets the stream (RST_STREAM CANCEL) in both directions right away.
    pub fn abort(&mut self) {
        self.writer.abort();
    }

    /// Splits into independently owned halves (no lock between them).
    pub fn into_split(self) -> (H2StreamReader, H2StreamWriter) {
        (self.reader, self.writer)
    }
}

impl H2StreamWriter {
    pub(crate) fn new(send: SendStream<SendBuf>, slot: Option<StreamGuard>) -> Self {
        H2StreamWriter { send, shut_down: false, _slot: slot }
    }

    /// Resets the stream (RST_STREAM CANCEL) in both directions right away.
    pub fn abort(&mut self) {
        self.send.send_reset(h2::Reason::CANCEL);
    }

    /// Sends `data` without copying it: as much as the flow-control windows and h2's send
    /// buffer allow per DATA chunk, splitting it as needed. Ready once all of it is queued
    /// (then `data` is empty); on `Pending` the part already queued has been removed from
    /// `data`. This is the zero-copy alternative to `poll_write` for callers that own their
    /// buffers (the proxy's pump).
    pub fn poll_send_bytes(&mut self, cx: &mut Context<'_>, data: &mut Bytes) -> Poll<io::Result<()>> {
        if self.shut_down {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown of hbone stream")));
        }
        while !data.is_empty() {
            let n = ready!(self.poll_send_capacity(cx, data.len()))?;
            let chunk = data.split_to(n);
            self.send.send_data(SendBuf::new(chunk), false).map_err(h2_to_io)?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues `data` whatever the stream's send capacity: h2 holds what the flow-control
    /// windows do not let out yet, and sends it as they open. Bypasses the backpressure of
    /// [`H2StreamWriter::poll_send_bytes`], so only for amounts the caller bounds itself (early
    /// data: at most 64 KiB, see `proxy::early`). Queued this way, bytes written right
    /// after the `CONNECT` leave in the same TLS write as its HEADERS: a new stream has no
    /// capacity until the connection task, which writes the HEADERS, has run.
    pub fn send_buffered(&mut self, data: Bytes) -> io::Result<()> {
        if self.shut_down {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown of hbone stream"));
        }
        self.send.send_data(SendBuf::new(data), false).map_err(h2_to_io)
    }

    /// Half-closes the sending side (empty DATA with END_STREAM); the other direction keeps
    /// flowing. Idempotent.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.shut_down {
            self.shut_down = true;
            self.send.send_data(SendBuf::new(Bytes::new()), true).map_err(h2_to_io)?;
        }
        Ok(())
    }

    /// Waits until h2 grants send capacity for up to `want` bytes and returns how much (> 0).
    fn poll_send_capacity(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        // Ask for room for the whole buffer; h2 grants what the windows and send buffer allow
        // and the caller sends exactly that much in one DATA chunk.
        self.send.reserve_capacity(want);
        loop {
            let cap = self.send.capacity();
            if cap > 0 {
                return Poll::Ready(Ok(cap.min(want)));
            }
            match self.send.poll_capacity(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(h2_to_io(e))),
                Poll::Ready(None) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "hbone stream closed for sending",
                    )));
                }
                Poll::Pending => {
                    // No capacity may also mean the peer reset us; notice that instead of
                    // waiting forever for a window that will never open.
                    if let Poll::Ready(r) = self.send.poll_reset(cx) {
                        let msg = match r {
                            Ok(reason) => format!("hbone stream reset by peer: {reason}"),
                            Err(e) => return Poll::Ready(Err(h2_to_io(e))),
                        };
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, msg)));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl H2StreamReader {
    pub(crate) fn new(mut recv: RecvStream, slot: Option<StreamGuard>) -> Self {
        H2StreamReader {
            registered: receiving::register(&mut recv),
            recv,
            pending: Bytes::new(),
            eof: false,
            _slot: slot,
        }
    }

    /// The next chunk of received data without copying it (`None` at end of stream). The
    /// caller owns the chunk and must hand back flow-control credit with
    /// [`H2StreamReader::release`] as it delivers the bytes, so a slow consumer still
    /// throttles the sender.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Ok(Some(std::mem::take(&mut self.pending))));
        }
        loop {
            if self.eof {
                return Poll::Ready(Ok(None));
            }
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) if data.is_empty() => continue,
                Some(Ok(data)) => return Poll::Ready(Ok(Some(data))),
                // A peer that has said all it wants may end with RST_STREAM(NO_ERROR); that is
                // a clean end of the read side, not a failure.
                Some(Err(e)) if e.reason() == Some(h2::Reason::NO_ERROR) => self.eof = true,
                Some(Err(e)) => return Poll::Ready(Err(h2_to_io(e))),
                None => self.eof = true,
            }
        }
    }

    /// Returns flow-control credit for `n` bytes taken through [`H2StreamReader::poll_chunk`].
    pub fn release(&mut self, n: usize) {
        // Errors mean the stream is already gone; the next poll says so.
        let _ = self.recv.flow_control().release_capacity(n);
    }
}

impl Drop for H2StreamReader {
    fn drop(&mut self) {
        receiving::unregister(self.registered);
    }
}

/// Every live stream's receive side, so `istio_proxy_hbone_queued_bytes{direction="receive"}`
/// can sum what h2 holds for them at scrape time. Read then, not tracked as a running count:
/// the case that matters (a slow consumer, its pump blocked writing while h2 keeps receiving
/// up to the stream window) is exactly the one where the stream is not being polled.
mod receiving {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{LazyLock, Mutex, Once};

    use h2::{FlowControl, RecvStream};

    use crate::metrics::memory;
    use crate::util::sync::lock;

    static NEXT: AtomicU64 = AtomicU64::new(0);
    static STREAMS: LazyLock<Mutex<HashMap<u64, FlowControl>>> = LazyLock::new(Default::default);
    static INSTALL: Once = Once::new();

    pub(super) fn register(recv: &mut RecvStream) -> u64 {
        INSTALL.call_once(|| memory::set_hbone_recv_queued(queued));
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        lock(&STREAMS).insert(id, recv.flow_control().clone());
        id
    }

    pub(super) fn unregister(id: u64) {
        lock(&STREAMS).remove(&id);
    }

    /// Bytes received on live streams and not yet credited back (h2's `used_capacity`).
    fn queued() -> u64 {
        // Clone the handles out so h2's per-connection locks are not taken under ours.
        let streams: Vec<FlowControl> = lock(&STREAMS).values().cloned().collect();
        streams.iter().map(|f| f.used_capacity() as u64).sum()
    }
}

/// Maps an h2 error to the closest `io::ErrorKind` so copy loops can tell reset from failure.
pub(crate) fn h2_to_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        return e.into_io().unwrap_or_else(|| io::Error::other("h2 i/o error"));
    }
    let kind = if e.is_reset() {
        io::ErrorKind::ConnectionReset
    } else if e.is_go_away() {
        io::ErrorKind::ConnectionAborted
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, e)
}

impl AsyncRead for H2StreamReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !this.pending.is_empty() {
                let n = buf.remaining().min(this.pending.len());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                // Credit goes back only for what the application took: this is the
                // backpressure. Errors mean the stream is already gone; the next poll says so.
                let _ = this.recv.flow_control().release_capacity(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.pending = data,
                // A peer that has said all it wants may end with RST_STREAM(NO_ERROR); that is
                // a clean end of the read side, not a failure.
                Some(Err(e)) if e.reason() == Some(h2::Reason::NO_ERROR) => this.eof = true,
                Some(Err(e)) => return Poll::Ready(Err(h2_to_io(e))),
                None => this.eof = true,
            }
        }
    }
}

impl AsyncWrite for H2StreamWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.shut_down {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown of hbone stream")));
        }
        let n = ready!(this.poll_send_capacity(cx, buf.len()))?;
        this.send.send_data(SendBuf::new(Bytes::copy_from_slice(&buf[..n])), false).map_err(h2_to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // h2's connection task flushes queued frames on its own; nothing is held here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().finish())
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_shutdown(cx)
    }
}

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Stream")
            .field("stream_id", &self.writer.send.stream_id().as_u32())
            .field("read_eof", &self.reader.eof)
            .field("write_shut_down", &self.writer.shut_down)
            .finish()
    }
}
