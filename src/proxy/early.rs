//! Outbound HBONE with early data: a client's first bytes leave with the `CONNECT` instead of
//! one node-to-node round trip after it (issue 16: +15% new connections per second, -5% CPU
//! per connection in `cargo bench --bench tunnel`).
//!
//! Until the peer answers, up to [`EARLY_LIMIT`] bytes from the client go out on the stream
//! and are kept. The answer decides:
//! - 200: the pump carries on as usual ([`copy::tcp_to_hbone_after`]); the kept bytes go.
//! - The peer never processed the stream (a GOAWAY raced us, REFUSED_STREAM): once, the same
//!   `CONNECT` goes out on another connection and the kept bytes are sent again, so a peer
//!   that drains loses nothing, as when the answer is awaited first.
//! - Any other status, a reset, the deadline: the connection fails with that error, logged
//!   and counted as a refusal always is. The peer discards what it buffered; nothing reached
//!   the destination, and the client is reset as it would have been.
//!
//! A failure on the sending side before the answer is held until the answer comes: a peer
//! that refuses ends the stream, and the reset of the send side must not be reported in place
//! of the refusal that caused it.
//!
//! Used only towards a peer ztunnel's inbound (ours and upstream's buffer such data in the
//! stream window until they answer), not towards waypoints, and not where a caller must see
//! the answer first (SOCKS5 replies to its client with it; double HBONE's outer stream carries
//! a TLS handshake).

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

use super::copy::{self, Head};
use super::{Error, copy::Transferred};
use crate::hbone::early::{Answer, EarlyStream, Resend};
use crate::hbone::{self, H2StreamReader, H2StreamWriter};

/// At most this much is sent before the answer: a first request or TLS ClientHello fits, and a
/// refused connection has not streamed a window's worth to the peer. Kept until the answer.
pub const EARLY_LIMIT: usize = 64 * 1024;

/// One read's buffer before the answer.
const READ_SIZE: usize = 16 * 1024;

/// Pumps between `client` and an HBONE stream sent to `dst` whose answer is still to come.
pub async fn tcp_to_hbone(
    client: &mut TcpStream,
    stream: EarlyStream,
    resend: Resend,
    dst: SocketAddr,
) -> Result<Transferred, Error> {
    copy::abortive(client);
    let hbone_err = |source| Error::Hbone { dst, source };
    let EarlyStream { mut writer, mut answer } = stream;
    let mut head = Before::default();
    let mut resend = Some(resend);
    loop {
        let outcome = {
            let deadline = tokio::time::sleep_until(answer.deadline());
            let mut deadline = std::pin::pin!(deadline);
            poll_fn(|cx| head.poll(cx, client, &mut writer, &mut answer, deadline.as_mut())).await
        };
        match outcome {
            Outcome::Answered(Ok(reader)) => return head.resume(client, reader, writer).await,
            Outcome::Answered(Err(e)) if e.unprocessed() && resend.is_some() => {
                tracing::debug!(%dst, "early CONNECT not processed by the peer, sending it again: {e}");
                let again = resend.take().expect("checked above").send().await.map_err(hbone_err)?;
                (writer, answer) = (again.writer, again.answer);
                head.rewind();
            }
            Outcome::Answered(Err(e)) => return Err(hbone_err(e)),
            Outcome::TimedOut => return Err(hbone_err(answer.timed_out())),
            Outcome::ClientFailed(e) => return Err(Error::Io(e)),
        }
    }
}

/// How waiting for the answer ended.
enum Outcome {
    Answered(Result<H2StreamReader, hbone::Error>),
    TimedOut,
    /// Reading from the client failed (it reset the connection): nothing left to tunnel.
    ClientFailed(io::Error),
}

/// The client's bytes while the answer is outstanding.
#[derive(Default)]
struct Before {
    /// Everything read from the client so far, for a second attempt.
    kept: Vec<Bytes>,
    /// Of those, what h2 has not taken yet (the first one may be partly sent).
    queued: std::collections::VecDeque<Bytes>,
    read: usize,
    /// The client sent its FIN.
    eof: bool,
    /// END_STREAM handed to h2.
    finished: bool,
    /// Sending failed; reported only if the answer turns out to be 200.
    send_failed: Option<io::Error>,
}

impl Before {
    /// Sends what the client writes (up to [`EARLY_LIMIT`]) until the answer or the deadline.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        client: &TcpStream,
        writer: &mut H2StreamWriter,
        answer: &mut Answer,
        deadline: Pin<&mut tokio::time::Sleep>,
    ) -> Poll<Outcome> {
        if let Poll::Ready(r) = Pin::new(answer).poll(cx) {
            return Poll::Ready(Outcome::Answered(r));
        }
        if deadline.poll(cx).is_ready() {
            return Poll::Ready(Outcome::TimedOut);
        }
        loop {
            if self.send_failed.is_none()
                && let Err(e) = ready!(self.poll_flush(cx, writer))
            {
                self.send_failed = Some(e);
            }
            if self.eof || self.read >= EARLY_LIMIT || self.send_failed.is_some() {
                // Nothing more to do before the answer, which has a waker registered.
                return Poll::Pending;
            }
            if let Err(e) = ready!(client.poll_read_ready(cx)) {
                return Poll::Ready(Outcome::ClientFailed(e));
            }
            let mut buf = BytesMut::with_capacity(READ_SIZE.min(EARLY_LIMIT - self.read));
            match client.try_read_buf(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.read += n;
                    let chunk = buf.freeze();
                    self.kept.push(chunk.clone());
                    self.queued.push_back(chunk);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Outcome::ClientFailed(e)),
            }
        }
    }

    /// Hands the queued bytes (and the FIN, once they are through) to h2.
    fn poll_flush(&mut self, cx: &mut Context<'_>, writer: &mut H2StreamWriter) -> Poll<io::Result<()>> {
        while let Some(front) = self.queued.front_mut() {
            ready!(writer.poll_send_bytes(cx, front))?;
            self.queued.pop_front();
        }
        if self.eof && !self.finished {
            self.finished = true;
            writer.finish()?;
        }
        Poll::Ready(Ok(()))
    }

    /// A new stream replaces the one the peer did not process: everything read goes again.
    fn rewind(&mut self) {
        self.queued = self.kept.iter().cloned().collect();
        self.finished = false;
        self.send_failed = None;
    }

    /// The peer said 200: the usual pump takes over with what is still queued.
    async fn resume(
        self,
        client: &mut TcpStream,
        reader: H2StreamReader,
        writer: H2StreamWriter,
    ) -> Result<Transferred, Error> {
        if let Some(e) = self.send_failed {
            return Err(Error::Io(e));
        }
        let head = Head { queued: self.queued.into(), read: self.read as u64, eof: self.eof };
        Ok(copy::tcp_to_hbone_after(client, reader, writer, head).await?)
    }
}
