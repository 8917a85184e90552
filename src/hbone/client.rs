//! The HBONE client: one outbound HTTP/2 connection and the `CONNECT` requests sent on it.
//!
//! Owns the h2 client handshake and settings, the connection driver task (with PING keepalive),
//! and the connection's stream accounting. Stream accounting is an atomic counter with a
//! "closed" bit so that reserving a stream slot and closing an idle connection can never race:
//! whichever compare-and-swap wins decides, and a closed connection never gets a new stream.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

// tokio's clock (the same monotonic clock in production) so idle eviction follows paused time
// in tests.
use tokio::time::Instant;

use h2::client::SendRequest;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

use super::stream::{H2Stream, SendBuf};
use super::{Error, H2Settings, keepalive};
use crate::drain::DrainWatcher;
use crate::util::sync::lock;

// Top bit of `Shared::state`; the rest is the number of open streams.
const CLOSED: usize = 1 << (usize::BITS - 1);

const CLIENT_MAX_HEADER_LIST: u32 = 16 * 1024;

/// A live HTTP/2 connection. Clones share the connection.
#[derive(Clone)]
pub struct H2Client {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    // Open streams | CLOSED.
    state: AtomicUsize,
    // Set by the driver task when the connection has ended (or by a request that saw GOAWAY).
    broken: AtomicBool,
    // When set, the connection closes itself as soon as its last stream ends (pool drain).
    close_when_idle: AtomicBool,
    // When the last stream ended (or the connection was made); drives idle eviction.
    last_active: Mutex<Instant>,
    // Taken out (dropped) on close: once no handle is left, h2 sends GOAWAY and the connection
    // ends by itself after its last stream.
    send: Mutex<Option<SendRequest<SendBuf>>>,
    our_max_streams: usize,
    handshake_timeout: Duration,
}

/// Counts one open stream on a client connection; released when the stream's halves drop.
pub(crate) struct StreamSlot {
    shared: Arc<Shared>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        // Stamp before decrementing, so an observer that sees zero streams also sees a fresh
        // timestamp and does not evict a connection that was busy a moment ago.
        *lock(&self.shared.last_active) = Instant::now();
        let prev = self.shared.state.fetch_sub(1, Ordering::AcqRel);
        if prev & !CLOSED == 1 && self.shared.close_when_idle.load(Ordering::Acquire) {
            self.shared.try_close_idle();
        }
    }
}

impl Shared {
    fn try_close_idle(&self) -> bool {
        if self.state.compare_exchange(0, CLOSED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            lock(&self.send).take();
            true
        } else {
            false
        }
    }

    fn reserve(self: &Arc<Self>, limit: usize) -> Option<StreamSlot> {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & CLOSED != 0 || self.broken.load(Ordering::Acquire) || cur >= limit {
                return None;
            }
            match self.state.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    return Some(StreamSlot { shared: self.clone() });
                }
                Err(actual) => cur = actual,
            }
        }
    }
}

/// Performs the HTTP/2 client handshake over `io` (already TLS-wrapped by the caller) and
/// spawns the task that drives the connection. The task holds `drain` so a drain waits for this
/// connection; it ends when the connection ends (all handles dropped and streams finished, peer
/// closed, or keepalive failed). Deciding when to stop using the connection on drain is up to
/// the owner of the handles (the [`super::Pool`] closes idle ones).
pub async fn connect<IO>(io: IO, settings: &H2Settings, drain: DrainWatcher) -> Result<H2Client, Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let window = settings.stream_window_clamped();
    let (send, mut conn) = h2::client::Builder::new()
        .initial_window_size(window)
        .initial_connection_window_size(settings.connection_window_clamped())
        .max_frame_size(settings.frame_size_clamped())
        .initial_max_send_streams(settings.max_streams_per_connection as usize)
        .max_header_list_size(CLIENT_MAX_HEADER_LIST)
        .max_send_buffer_size(window as usize)
        .enable_push(false)
        .handshake::<_, SendBuf>(io)
        .await?;
    let shared = Arc::new(Shared {
        state: AtomicUsize::new(0),
        broken: AtomicBool::new(false),
        close_when_idle: AtomicBool::new(false),
        last_active: Mutex::new(Instant::now()),
        send: Mutex::new(Some(send)),
        our_max_streams: settings.max_streams_per_connection.max(1) as usize,
        handshake_timeout: settings.handshake_timeout,
    });
    let ping = conn.ping_pong();
    let interval = settings.keepalive_interval;
    let timeout = settings.keepalive_timeout;
    // Weak: the driver must not keep the SendRequest alive, or the connection could never end.
    let weak = Arc::downgrade(&shared);
    tokio::spawn(async move {
        let _drain = drain;
        tokio::select! {
            res = conn => match res {
                Ok(()) => debug!("hbone client connection closed"),
                Err(e) => debug!("hbone client connection ended: {e}"),
            },
            e = keepalive(ping, interval, timeout) => {
                debug!("hbone client connection dropped: {e}");
            }
        }
        mark_broken(&weak);
    });
    Ok(H2Client { shared })
}

fn mark_broken(weak: &Weak<Shared>) {
    if let Some(s) = weak.upgrade() {
        s.broken.store(true, Ordering::Release);
    }
}

impl H2Client {
    /// Opens a classic `CONNECT` stream to `authority` ("ip:port" or "host:port") and waits for
    /// the response headers. Only 200 yields a stream; other statuses are [`Error::Status`].
    pub async fn send_connect(&self, authority: &str, headers: http::HeaderMap) -> Result<H2Stream, Error> {
        let slot = self.shared.reserve(usize::MAX & !CLOSED).ok_or(Error::ConnectionClosed)?;
        self.open(slot, authority, headers).await
    }

    /// Reserves a stream slot if the connection is open and below `limit` streams.
    pub(crate) fn reserve(&self, limit: usize) -> Option<StreamSlot> {
        self.shared.reserve(limit)
    }

    pub(crate) async fn open(
        &self,
        slot: StreamSlot,
        authority: &str,
        headers: http::HeaderMap,
    ) -> Result<H2Stream, Error> {
        let req = connect_request(authority, headers)?;
        let send = self.sender()?;
        let exchange = async {
            // ready() waits if the peer's concurrent-stream limit is reached.
            let mut send = send.ready().await.map_err(|e| self.on_conn_error(e))?;
            let (resp, stream) = send.send_request(req, false).map_err(|e| self.on_conn_error(e))?;
            let resp = resp.await.map_err(|e| self.on_conn_error(e))?;
            Ok::<_, Error>((resp, stream))
        };
        let deadline = self.shared.handshake_timeout;
        let (resp, stream) = match tokio::time::timeout(deadline, exchange).await {
            Ok(r) => r?,
            Err(_) => {
                // A peer that sits on a CONNECT would sit on the next one too: stop putting new
                // streams on this connection (the pool dials a fresh one); the ones already open
                // carry on. Dropping the request future resets the stream.
                self.mark_broken();
                return Err(Error::ConnectResponseTimeout(deadline));
            }
        };
        let (parts, body) = resp.into_parts();
        if parts.status != http::StatusCode::OK {
            // Dropping `stream`/`body` resets it if the peer has not ended it already.
            return Err(Error::Status(parts.status));
        }
        Ok(H2Stream::new(stream, body, Some(Arc::new(slot)), parts.headers))
    }

    /// The connection's request handle, while it is open.
    pub(super) fn sender(&self) -> Result<SendRequest<SendBuf>, Error> {
        lock(&self.shared.send).clone().ok_or(Error::ConnectionClosed)
    }

    /// Stops new streams on this connection (the pool dials a fresh one); open ones carry on.
    pub(crate) fn mark_broken(&self) {
        self.shared.broken.store(true, Ordering::Release);
    }

    /// How long a `CONNECT` may wait for its answer.
    pub(crate) fn handshake_timeout(&self) -> Duration {
        self.shared.handshake_timeout
    }

    // GOAWAY and connection-level failures make the connection useless for new streams; mark it
    // so the pool stops picking it. A reset of a single stream says nothing about the rest.
    pub(crate) fn on_conn_error(&self, e: h2::Error) -> Error {
        if e.is_go_away() || e.is_io() {
            self.mark_broken();
        }
        Error::H2(e)
    }

    /// Streams currently open on this connection.
    pub fn active_streams(&self) -> usize {
        self.shared.state.load(Ordering::Acquire) & !CLOSED
    }

    /// How many streams the pool may put on this connection: our limit, or the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS if lower.
    pub fn max_streams(&self) -> usize {
        let peer = lock(&self.shared.send).as_ref().map(|s| s.current_max_send_streams()).unwrap_or(usize::MAX);
        self.shared.our_max_streams.min(peer).max(1)
    }

    /// True once the connection can take no new streams: closed by us, ended, or GOAWAY seen.
    pub fn is_closed(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) & CLOSED != 0 || self.shared.broken.load(Ordering::Acquire)
    }

    /// Closes the connection if it has no open stream. Returns whether it did (or already was).
    pub fn close_if_idle(&self) -> bool {
        self.shared.try_close_idle() || self.is_closed()
    }

    /// From now on, close the connection as soon as its last stream ends (now, if it has none).
    pub fn close_when_idle(&self) {
        self.shared.close_when_idle.store(true, Ordering::Release);
        self.shared.try_close_idle();
    }

    /// How long the connection has had no streams, or `None` if it has some.
    pub fn idle_for(&self) -> Option<Duration> {
        if self.active_streams() > 0 {
            return None;
        }
        Some(lock(&self.shared.last_active).elapsed())
    }

    /// True if both handles refer to the same connection.
    pub fn same_connection(&self, other: &H2Client) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// A `CONNECT` request for `authority`, which must be `host:port`.
pub(super) fn connect_request(authority: &str, headers: http::HeaderMap) -> Result<http::Request<()>, Error> {
    let uri: http::Uri =
        authority.parse().map_err(|e| Error::InvalidRequest(format!("authority {authority:?}: {e}")))?;
    if uri.authority().is_none() || uri.scheme().is_some() {
        return Err(Error::InvalidRequest(format!("authority {authority:?} is not host:port")));
    }
    let mut req = http::Request::new(());
    *req.method_mut() = http::Method::CONNECT;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok(req)
}

impl std::fmt::Debug for H2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Client")
            .field("active_streams", &self.active_streams())
            .field("closed", &self.is_closed())
            .finish()
    }
}
