//! Outbound HBONE with early data: a client's first bytes leave with the `CONNECT` instead of
//! one node-to-node round trip after it (issue 16: +13-16% new connections per second and one
//! context switch less per connection in `cargo bench --bench tunnel`, benches/README.md).
//!
//! Until the peer answers, up to [`EARLY_LIMIT`] bytes from the client go out on the stream
//! and are kept. The answer decides:
//! - 200: the pump carries on as usual ([`copy::tcp_to_hbone_after`]); the kept bytes go.
//! - The peer never processed the stream (a GOAWAY raced us, REFUSED_STREAM): once, the same
//!   `CONNECT` goes out again (the pool skips a connection that sent GOAWAY) and the kept bytes
//!   with it, so a peer that drains loses nothing, as when the answer is awaited first.
//! - Any other status, a reset, the deadline: the connection fails with that error, logged
//!   and counted as a refusal always is. The peer discards what it buffered; nothing reached
//!   the destination, and the client is reset as it would have been.
//!
//! A failure on the sending side before the answer is held until the answer comes: a peer
//! that refuses ends the stream, and the reset of the send side must not be reported in place
//! of the refusal that caused it.
//!
//! Used only towards a peer ztunnel's inbound (ours and upstream's buffer such data in the
//! stream window until they answer), not towards waypoints (Envoy can be set to reject
//! early CONNECT data), and not where a caller must see the answer first (SOCKS5 replies to
//! its client with it; double HBONE's outer stream carries a TLS handshake).

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

use super::copy::{self, Head};
use super::{Error, copy::Transferred};
use crate::hbone::early::{Answer, EarlyStream};
use crate::hbone::pool::Resend;
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
                head.rewind(&mut writer);
            }
            Outcome::Answered(Err(e)) => return Err(hbone_err(e)),
            Outcome::TimedOut => return Err(hbone_err(answer.timed_out())),
            Outcome::ClientFailed(e) => return Err(Error::Io(e)),
        }
    }
}

/// Reads what the client has already sent, without waiting for the reactor: a new
/// connection's first bytes are usually queued by the time its `CONNECT` goes out, and read
/// now they leave in the same TLS write as the HEADERS (one wake-up of the peer instead of
/// two). Through tokio they would wait a turn of its reactor, which learns that a socket
/// accepted a moment ago is readable only from its first event. Empty at EOF.
fn probe(client: &TcpStream) -> io::Result<BytesMut> {
    use std::io::Read;
    let mut buf = BytesMut::zeroed(READ_SIZE);
    let n = (&*socket2::SockRef::from(client)).read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
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
    read: usize,
    /// The first read has been tried ([`probe`]).
    probed: bool,
    /// The client sent its FIN.
    eof: bool,
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
        while !self.eof && self.read < EARLY_LIMIT && self.send_failed.is_none() {
            let res = if self.probed {
                if let Err(e) = ready!(client.poll_read_ready(cx)) {
                    return Poll::Ready(Outcome::ClientFailed(e));
                }
                let mut buf = BytesMut::with_capacity(READ_SIZE.min(EARLY_LIMIT - self.read));
                client.try_read_buf(&mut buf).map(|_| buf)
            } else {
                self.probed = true;
                probe(client)
            };
            match res {
                Ok(buf) if buf.is_empty() => {
                    self.eof = true;
                    self.send(writer, None);
                }
                Ok(buf) => {
                    self.read += buf.len();
                    let chunk = buf.freeze();
                    self.kept.push(chunk.clone());
                    self.send(writer, Some(chunk));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Outcome::ClientFailed(e)),
            }
        }
        // Nothing more to do before the answer, which has a waker registered.
        Poll::Pending
    }

    /// Queues `chunk` on the stream, or its END_STREAM. h2 holds what its windows do not let
    /// out yet; [`EARLY_LIMIT`] bounds it.
    fn send(&mut self, writer: &mut H2StreamWriter, chunk: Option<Bytes>) {
        let res = match chunk {
            Some(b) => writer.send_buffered(b),
            None => writer.finish(),
        };
        if let Err(e) = res {
            self.send_failed = Some(e);
        }
    }

    /// A new stream replaces the one the peer did not process: everything read goes again.
    fn rewind(&mut self, writer: &mut H2StreamWriter) {
        let resent = self.kept.iter().try_for_each(|chunk| writer.send_buffered(chunk.clone()));
        self.send_failed = resent.and_then(|()| if self.eof { writer.finish() } else { Ok(()) }).err();
    }

    /// The peer said 200: the usual pump takes over from where this left off.
    async fn resume(
        self,
        client: &mut TcpStream,
        reader: H2StreamReader,
        writer: H2StreamWriter,
    ) -> Result<Transferred, Error> {
        if let Some(e) = self.send_failed {
            return Err(Error::Io(e));
        }
        let head = Head { read: self.read as u64, eof: self.eof };
        Ok(copy::tcp_to_hbone_after(client, reader, writer, head).await?)
    }
}
