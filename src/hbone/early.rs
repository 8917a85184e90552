//! A `CONNECT` stream whose answer is still to come.
//!
//! Over HTTP/2 a client may send a tunnel's first bytes right behind the `CONNECT`, without
//! waiting for the 2xx (the CONNECT-TCP draft calls it optimistic data; the peer buffers it in
//! the stream's flow-control window and discards it if the tunnel is refused). That saves one
//! node-to-node round trip before a connection's first byte leaves. Here the two halves are
//! apart: [`EarlyStream::writer`] can be written at once, and [`Answer`] resolves to the
//! reading half once the peer says 200. How much to send before the answer, and what to do
//! with a refusal, is the caller's decision (`proxy::early`); [`super::pool::Resend`] sends
//! the same `CONNECT` again where the peer did not process it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::time::Instant;

use super::Error;
use super::client::{H2Client, StreamSlot, connect_request};
use super::stream::{H2StreamReader, H2StreamWriter, StreamGuard};

/// A `CONNECT` sent, its answer not yet seen.
pub struct EarlyStream {
    /// The sending half, usable right away.
    pub writer: H2StreamWriter,
    /// The peer's answer: the receiving half on 200.
    pub answer: Answer,
}

/// Sends a `CONNECT` on `client` and returns at once: the stream can be written before the
/// peer has answered. Waits only if the peer's concurrent-stream limit is reached, within the
/// same deadline as the answer.
pub(super) async fn open(
    client: &H2Client,
    slot: StreamSlot,
    authority: &str,
    headers: http::HeaderMap,
) -> Result<EarlyStream, Error> {
    let req = connect_request(authority, headers)?;
    let send = client.sender()?;
    let timeout = client.handshake_timeout();
    let deadline = Instant::now() + timeout;
    let mut send = match tokio::time::timeout_at(deadline, send.ready()).await {
        Ok(ready) => ready.map_err(|e| client.on_conn_error(e))?,
        Err(_) => {
            client.mark_broken();
            return Err(Error::ConnectResponseTimeout(timeout));
        }
    };
    let (response, stream) = send.send_request(req, false).map_err(|e| client.on_conn_error(e))?;
    let slot: StreamGuard = Arc::new(slot);
    Ok(EarlyStream {
        writer: H2StreamWriter::new(stream, Some(slot.clone())),
        answer: Answer { response, deadline, client: client.clone(), slot },
    })
}

/// Resolves to the stream's receiving half once the peer answers 200; to [`Error::Status`]
/// for any other status, to [`Error::H2`] if the stream or the connection fails first. Has no
/// timer of its own (the caller may wait on other things too): it holds the deadline, and
/// [`Answer::timed_out`] is what the caller reports once it has passed.
pub struct Answer {
    response: h2::client::ResponseFuture,
    deadline: Instant,
    client: H2Client,
    slot: StreamGuard,
}

impl Answer {
    /// When the answer is overdue (the connection's HTTP/2 handshake timeout after sending).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The deadline passed without an answer. As for a `CONNECT` that waits: the connection
    /// takes no new streams (a peer that sits on one `CONNECT` would sit on the next), and
    /// dropping the stream's halves resets it.
    pub fn timed_out(self) -> Error {
        self.client.mark_broken();
        Error::ConnectResponseTimeout(self.client.handshake_timeout())
    }
}

impl Future for Answer {
    type Output = Result<H2StreamReader, Error>;

    /// Not to be polled again once it has resolved.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let resp = ready!(Pin::new(&mut this.response).poll(cx)).map_err(|e| this.client.on_conn_error(e))?;
        let (parts, body) = resp.into_parts();
        if parts.status != http::StatusCode::OK {
            // Dropping `body` (and the caller its writer) resets the stream if the peer has not
            // ended it already.
            return Poll::Ready(Err(Error::Status(parts.status)));
        }
        Poll::Ready(Ok(H2StreamReader::new(body, Some(this.slot.clone()))))
    }
}
