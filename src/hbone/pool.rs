//! The outbound HBONE connection pool.
//!
//! Owns which HTTP/2 connection an outbound `CONNECT` goes on. Per [`PoolKey`] it keeps a list
//! of live connections and at most one dial in flight:
//!
//! - a stream goes on the first live connection with a free slot (slots are reserved
//!   atomically, so concurrent callers never overfill a connection beyond
//!   `min(max_streams_per_connection, peer SETTINGS_MAX_CONCURRENT_STREAMS)`);
//! - when every connection is full, one caller starts a dial (on its own task, so cancelling
//!   that caller does not cancel the dial) and every other caller for the key waits for it
//!   instead of dialing too. When it lands, waiters take its slots; those left over start the
//!   next dial. 500 callers with 100 streams per connection therefore make exactly 5 dials;
//! - a failed dial is reported to every caller that waited for it; the next call dials again;
//! - the pool-wide lock is only held for bookkeeping, never across a handshake, so one slow
//!   destination never blocks another key;
//! - closed or GOAWAYed connections are dropped at the next lookup; connections idle for
//!   `pool_idle_timeout` are closed by a background reaper.
//!
//! Drain: the pool keeps working (streams racing the drain still get through), but every
//! connection is switched to "close as soon as the last stream ends", so the connections — and
//! the drain watchers their driver tasks hold — go away as traffic finishes.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tracing::debug;

use super::client::{H2Client, StreamSlot};
use super::early::{self, EarlyStream};
use super::stream::H2Stream;
use super::{DialError, Error, H2Settings};
use crate::drain::DrainWatcher;
use crate::identity::Identity;
use crate::util::sync::lock;

/// What makes two outbound connections interchangeable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub src: Identity,
    pub dst_identities: Vec<Identity>,
    pub dst: SocketAddr,
}

/// Dials a new connection for a key: TCP + TLS + [`super::client::connect`] are the caller's.
pub trait Connector: Send + Sync + 'static {
    fn connect(&self, key: &PoolKey) -> Pin<Box<dyn Future<Output = Result<H2Client, Error>> + Send + 'static>>;
}

/// A cheaply clonable handle; clones share the connections.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    settings: H2Settings,
    connector: Arc<dyn Connector>,
    entries: Mutex<HashMap<PoolKey, Entry>>,
    draining: AtomicBool,
}

type DialOutcome = Option<Result<(), Arc<Error>>>;

#[derive(Default)]
struct Entry {
    conns: Vec<H2Client>,
    // The dial in flight for this key, if any; resolves to Some(outcome) when it lands.
    dialing: Option<watch::Receiver<DialOutcome>>,
}

impl Pool {
    /// Creates the pool and its idle reaper. Must be called inside a tokio runtime.
    pub fn new(settings: H2Settings, connector: Arc<dyn Connector>, drain: DrainWatcher) -> Self {
        let inner = Arc::new(Inner {
            settings,
            connector,
            entries: Mutex::new(HashMap::new()),
            draining: AtomicBool::new(false),
        });
        tokio::spawn(reaper(Arc::downgrade(&inner), drain));
        Pool { inner }
    }

    /// Opens a `CONNECT` stream to `authority` over a pooled connection for `key`.
    pub async fn send_connect(
        &self,
        key: PoolKey,
        authority: &str,
        headers: http::HeaderMap,
    ) -> Result<H2Stream, Error> {
        let headers = &headers;
        self.on_a_connection(&key, |client, slot| async move { client.open(slot, authority, headers.clone()).await })
            .await
    }

    /// Opens a `CONNECT` stream to `authority` over a pooled connection for `key` without
    /// waiting for the answer ([`EarlyStream`]), and returns with it what it takes to send
    /// the same request again should the peer not process this one.
    pub async fn send_connect_early(
        &self,
        key: PoolKey,
        authority: &str,
        headers: http::HeaderMap,
    ) -> Result<(EarlyStream, Resend), Error> {
        let stream = self.open_early(&key, authority, &headers).await?;
        Ok((stream, Resend { pool: self.clone(), key, authority: authority.to_owned(), headers }))
    }

    async fn open_early(
        &self,
        key: &PoolKey,
        authority: &str,
        headers: &http::HeaderMap,
    ) -> Result<EarlyStream, Error> {
        self.on_a_connection(
            key,
            |client, slot| async move { early::open(&client, slot, authority, headers.clone()).await },
        )
        .await
    }

    /// Runs `open` with a pooled connection for `key` and a stream slot on it.
    async fn on_a_connection<T, F, Fut>(&self, key: &PoolKey, open: F) -> Result<T, Error>
    where
        F: Fn(H2Client, StreamSlot) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut retried = false;
        loop {
            let (client, slot) = self.checkout(key).await?;
            match open(client, slot).await {
                // The peer never processed the request (GOAWAY raced us, or it refused the
                // stream): safe to try once more, the dead connection is skipped next time.
                Err(e) if !retried && e.unprocessed() => {
                    debug!("hbone pool: retrying CONNECT to {}: {e}", key.dst);
                    retried = true;
                }
                res => return res,
            }
        }
    }

    /// Live pooled connections across all keys.
    pub fn connection_count(&self) -> usize {
        lock(&self.inner.entries).values().map(|e| e.conns.iter().filter(|c| !c.is_closed()).count()).sum()
    }

    async fn checkout(&self, key: &PoolKey) -> Result<(H2Client, StreamSlot), Error> {
        loop {
            let mut rx = {
                let mut entries = lock(&self.inner.entries);
                if !entries.contains_key(key) {
                    entries.insert(key.clone(), Entry::default());
                }
                let entry = entries.get_mut(key).expect("inserted above");
                entry.conns.retain(|c| !c.is_closed());
                if let Some(found) = entry.conns.iter().find_map(|c| c.reserve(c.max_streams()).map(|s| (c.clone(), s)))
                {
                    if self.inner.draining.load(Ordering::Acquire) {
                        found.0.close_when_idle();
                    }
                    return Ok(found);
                }
                match &entry.dialing {
                    Some(rx) => rx.clone(),
                    None => {
                        let rx = self.start_dial(key.clone());
                        entry.dialing = Some(rx.clone());
                        rx
                    }
                }
            };
            match rx.wait_for(Option::is_some).await {
                Ok(outcome) => {
                    if let Some(Err(e)) = &*outcome {
                        return Err(Error::PoolConnect(e.clone()));
                    }
                }
                Err(_) => {
                    return Err(DialError::Abandoned { dst: key.dst }.into());
                }
            }
        }
    }

    fn start_dial(&self, key: PoolKey) -> watch::Receiver<DialOutcome> {
        let (tx, rx) = watch::channel(None);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            // Clears `dialing` even if the connector panics, so the key is not stuck forever.
            let guard = DialGuard { inner: &inner, key: &key };
            let res = inner.connector.connect(&key).await;
            let outcome = {
                let mut entries = lock(&inner.entries);
                let entry = entries.entry(key.clone()).or_default();
                entry.dialing = None;
                match res {
                    Ok(client) => {
                        entry.conns.push(client);
                        Ok(())
                    }
                    Err(e) => {
                        debug!("hbone pool: connecting to {} failed: {e}", key.dst);
                        Err(Arc::new(e))
                    }
                }
            };
            std::mem::forget(guard);
            let _ = tx.send(Some(outcome));
        });
        rx
    }
}

struct DialGuard<'a> {
    inner: &'a Inner,
    key: &'a PoolKey,
}

impl Drop for DialGuard<'_> {
    fn drop(&mut self) {
        if let Some(e) = lock(&self.inner.entries).get_mut(self.key) {
            e.dialing = None;
        }
    }
}

/// What it takes to send the same `CONNECT` again, on a pooled connection (one that sent
/// GOAWAY is skipped): for a caller whose early stream the peer never processed (see
/// [`Error::unprocessed`]).
pub struct Resend {
    pool: Pool,
    key: PoolKey,
    authority: String,
    headers: http::HeaderMap,
}

impl Resend {
    /// Opens the stream anew.
    pub async fn send(self) -> Result<EarlyStream, Error> {
        self.pool.open_early(&self.key, &self.authority, &self.headers).await
    }
}

/// Closes idle connections and forgets dead ones. Holds the drain watcher only until the drain
/// starts, then switches every connection to close-when-idle and keeps sweeping (so ones dialed
/// during the drain get the same treatment) until the pool itself is dropped.
async fn reaper(pool: Weak<Inner>, drain: DrainWatcher) {
    let mut drain = Some(drain);
    loop {
        let Some(inner) = pool.upgrade() else { return };
        let idle_timeout = inner.settings.pool_idle_timeout;
        let tick = (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(10));
        drop(inner);
        match &drain {
            Some(w) => {
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = w.signaled() => {
                        debug!("hbone pool draining: connections close once idle");
                        drain = None;
                    }
                }
            }
            None => tokio::time::sleep(tick.min(Duration::from_millis(500))).await,
        }
        let Some(inner) = pool.upgrade() else { return };
        let draining = drain.is_none();
        inner.draining.store(draining, Ordering::Release);
        let mut entries = lock(&inner.entries);
        entries.retain(|_, entry| {
            entry.conns.retain(|c| {
                if draining {
                    c.close_when_idle();
                } else if c.idle_for().is_some_and(|d| d >= idle_timeout) {
                    c.close_if_idle();
                }
                !c.is_closed()
            });
            !entry.conns.is_empty() || entry.dialing.is_some()
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::drain;
    use crate::hbone::server::ConnectRequest;
    use crate::hbone::server::tests::echo;

    /// Dials an in-memory HTTP/2 server (a duplex pipe per connection, served by the real
    /// server code), so the pool tests run on paused time: nothing waits on a real socket
    /// while the clock jumps.
    type Handler = Arc<dyn Fn(ConnectRequest) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

    fn echo_handler() -> Handler {
        Arc::new(|req| Box::pin(echo(req)))
    }

    struct TestConnector {
        addr: SocketAddr,
        settings: H2Settings,
        server_settings: H2Settings,
        server_drain: DrainWatcher,
        server_closed: Arc<AtomicUsize>,
        handler: Handler,
        drain: DrainWatcher,
        dials: AtomicUsize,
        fail: AtomicBool,
        delay: Duration,
    }

    impl Connector for Arc<TestConnector> {
        fn connect(&self, _key: &PoolKey) -> Pin<Box<dyn Future<Output = Result<H2Client, Error>> + Send + 'static>> {
            let this = self.clone();
            Box::pin(async move {
                this.dials.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(this.delay).await;
                if this.fail.load(Ordering::SeqCst) {
                    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
                    return Err(DialError::Tcp { dst: this.addr, source: refused }.into());
                }
                let (client, server) = tokio::io::duplex(1 << 20);
                let (settings, drain, closed) =
                    (this.server_settings.clone(), this.server_drain.clone(), this.server_closed.clone());
                let handler = this.handler.clone();
                tokio::spawn(async move {
                    let _ = crate::hbone::server::serve(server, &settings, drain, move |req| handler(req)).await;
                    closed.fetch_add(1, Ordering::SeqCst);
                });
                crate::hbone::client::connect(client, &this.settings, this.drain.clone()).await
            })
        }
    }

    fn key(sa: &str) -> PoolKey {
        PoolKey {
            src: Identity::new("cluster.local", "default", "client"),
            dst_identities: vec![Identity::new("cluster.local", "default", sa)],
            dst: "127.0.0.1:15008".parse().unwrap(),
        }
    }

    struct Fixture {
        pool: Pool,
        conn: Arc<TestConnector>,
        server_closed: Arc<AtomicUsize>,
        trigger: drain::DrainTrigger,
    }

    async fn fixture(settings: H2Settings, server_settings: H2Settings, delay: Duration) -> Fixture {
        let (trigger, w) = drain::new();
        // The server is not part of the drain under test.
        let (server_trigger, server_w) = drain::new();
        std::mem::forget(server_trigger);
        let server_closed = Arc::new(AtomicUsize::new(0));
        let conn = Arc::new(TestConnector {
            addr: "127.0.0.1:15008".parse().unwrap(),
            settings: settings.clone(),
            server_settings,
            server_drain: server_w,
            server_closed: server_closed.clone(),
            handler: echo_handler(),
            drain: w.clone(),
            dials: AtomicUsize::new(0),
            fail: AtomicBool::new(false),
            delay,
        });
        let pool = Pool::new(settings, Arc::new(conn.clone()), w);
        Fixture { pool, conn, server_closed, trigger }
    }

    async fn open(pool: &Pool, k: PoolKey) -> H2Stream {
        pool.send_connect(k, "127.0.0.1:80", http::HeaderMap::new()).await.unwrap()
    }

    async fn finish(mut st: H2Stream) {
        st.write_all(b"x").await.unwrap();
        st.shutdown().await.unwrap();
        let mut out = Vec::new();
        st.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"x");
    }

    fn limit(n: u32) -> H2Settings {
        H2Settings { max_streams_per_connection: n, ..Default::default() }
    }

    #[tokio::test]
    async fn sequential_streams_reuse_one_connection() {
        let f = fixture(H2Settings::default(), H2Settings::default(), Duration::ZERO).await;
        finish(open(&f.pool, key("a")).await).await;
        finish(open(&f.pool, key("a")).await).await;
        assert_eq!(f.conn.dials.load(Ordering::SeqCst), 1);
        assert_eq!(f.pool.connection_count(), 1);
    }

    #[tokio::test]
    async fn full_connections_make_new_ones() {
        let f = fixture(limit(2), H2Settings::default(), Duration::ZERO).await;
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let pool = f.pool.clone();
                tokio::spawn(async move { open(&pool, key("a")).await })
            })
            .collect();
        let mut streams = Vec::new();
        for t in tasks {
            streams.push(t.await.unwrap());
        }
        assert_eq!(f.pool.connection_count(), 3);
        assert_eq!(f.conn.dials.load(Ordering::SeqCst), 3);
        for st in streams {
            finish(st).await;
        }
    }

    #[tokio::test]
    async fn peer_stream_limit_is_respected() {
        let server = H2Settings { server_max_concurrent_streams: 3, ..Default::default() };
        let f = fixture(H2Settings::default(), server, Duration::ZERO).await;
        let mut streams = Vec::new();
        for _ in 0..5 {
            streams.push(open(&f.pool, key("a")).await);
        }
        assert_eq!(f.pool.connection_count(), 2);
        for st in streams {
            finish(st).await;
        }
    }

    async fn storm(callers: usize, per_conn: u32) -> usize {
        let f = fixture(limit(per_conn), H2Settings::default(), Duration::from_millis(50)).await;
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let pool = f.pool.clone();
                tokio::spawn(async move { open(&pool, key("a")).await })
            })
            .collect();
        let mut streams = Vec::new();
        for t in tasks {
            streams.push(t.await.unwrap());
        }
        assert_eq!(f.pool.connection_count(), f.conn.dials.load(Ordering::SeqCst));
        drop(streams);
        f.conn.dials.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_connect_storm() {
        assert_eq!(storm(100, 100).await, 1);
        assert_eq!(storm(250, 100).await, 3);
    }

    #[tokio::test]
    async fn different_keys_different_connections() {
        let f = fixture(H2Settings::default(), H2Settings::default(), Duration::ZERO).await;
        let a = open(&f.pool, key("a")).await;
        let b = open(&f.pool, key("b")).await;
        assert_eq!(f.pool.connection_count(), 2);
        finish(a).await;
        finish(b).await;
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_are_evicted() {
        let settings = H2Settings { pool_idle_timeout: Duration::from_millis(100), ..Default::default() };
        let f = fixture(settings, H2Settings::default(), Duration::ZERO).await;
        let st = open(&f.pool, key("a")).await;
        // Busy connections are never evicted, however long they live.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(f.pool.connection_count(), 1);
        finish(st).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(f.pool.connection_count(), 0);
        // Closing really ends the HTTP/2 connection: the server's serve() returned.
        assert_eq!(f.server_closed.load(Ordering::SeqCst), 1);
        finish(open(&f.pool, key("a")).await).await;
        assert_eq!(f.conn.dials.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failed_dial_reaches_every_waiter_then_retries() {
        let f = fixture(H2Settings::default(), H2Settings::default(), Duration::from_millis(50)).await;
        f.conn.fail.store(true, Ordering::SeqCst);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let pool = f.pool.clone();
                tokio::spawn(async move { pool.send_connect(key("a"), "127.0.0.1:80", http::HeaderMap::new()).await })
            })
            .collect();
        for t in tasks {
            let res = tokio::time::timeout(Duration::from_secs(5), t).await.unwrap().unwrap();
            assert!(matches!(res, Err(Error::PoolConnect(_))), "{res:?}");
        }
        assert_eq!(f.conn.dials.load(Ordering::SeqCst), 1);
        f.conn.fail.store(false, Ordering::SeqCst);
        finish(open(&f.pool, key("a")).await).await;
        assert_eq!(f.conn.dials.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn drain_closes_connections_as_they_go_idle() {
        let f = fixture(H2Settings::default(), H2Settings::default(), Duration::ZERO).await;
        let idle = open(&f.pool, key("idle")).await;
        finish(idle).await;
        let busy = open(&f.pool, key("busy")).await;
        assert_eq!(f.pool.connection_count(), 2);
        let Fixture { pool, conn, server_closed, trigger } = f;
        drop(conn);
        let drained = tokio::spawn(trigger.drain(Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pool.connection_count(), 1, "idle connection closes at once");
        // Streams still work during the drain.
        finish(busy).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pool.connection_count(), 0, "busy connection closes when its stream ends");
        // Both HTTP/2 connections really ended (their drivers dropped their drain watchers).
        assert_eq!(server_closed.load(Ordering::SeqCst), 2);
        // The test connector holds a watcher of its own; it goes with the pool.
        drop(pool);
        assert_eq!(drained.await.unwrap(), drain::DrainOutcome::Complete);
    }

    #[tokio::test]
    async fn handler_sees_authority() {
        let (_t, w) = drain::new();
        let handler: Handler = Arc::new(|req: ConnectRequest| {
            Box::pin(async move {
                let auth = req.authority().to_string();
                let mut st = req.accept(http::HeaderMap::new()).unwrap();
                st.write_all(auth.as_bytes()).await.unwrap();
                st.shutdown().await.unwrap();
            })
        });
        let conn = Arc::new(TestConnector {
            addr: "127.0.0.1:15008".parse().unwrap(),
            settings: H2Settings::default(),
            server_settings: H2Settings::default(),
            server_drain: w.clone(),
            server_closed: Arc::new(AtomicUsize::new(0)),
            handler,
            drain: w.clone(),
            dials: AtomicUsize::new(0),
            fail: AtomicBool::new(false),
            delay: Duration::ZERO,
        });
        let pool = Pool::new(H2Settings::default(), Arc::new(conn), w);
        let mut st = pool.send_connect(key("a"), "[fd00::1]:9080", http::HeaderMap::new()).await.unwrap();
        let mut out = String::new();
        st.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "[fd00::1]:9080");
    }
}
