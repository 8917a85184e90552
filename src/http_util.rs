//! Plumbing shared by the operations endpoints (admin 15000, metrics 15020, readiness 15021):
//! an HTTP/1 accept loop that stops on drain, bounds what clients can hold ([`Limits`]) and
//! backs off on accept errors, and small response helpers. Handlers are plain async functions
//! from request to response; they never see sockets.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::drain::DrainWatcher;

pub type Body = Full<Bytes>;

/// A response with a body and content type.
pub fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", body)
}

pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

pub fn method_not_allowed(allowed: &str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, format!("method not allowed; use {allowed}\n"));
    if let Ok(v) = http::HeaderValue::from_str(allowed) {
        r.headers_mut().insert(http::header::ALLOW, v);
    }
    r
}

/// Bounds on what clients of an operations listener can hold. These ports (metrics, readiness)
/// are reachable from the network and share the process's fd limit with the data path.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client must send a request's headers this soon after connecting or after its previous
    /// response (keep-alive idle counts); otherwise the connection is closed. hyper enforces
    /// it only with a timer, which it does not have by default.
    pub header_read_timeout: Duration,
    /// Connections served at once. Beyond it, new connections are accepted and closed at once:
    /// that frees the fd now, where leaving them in the backlog would not.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Scrapers and probes send one small request per connection or keep one connection
        // alive; neither comes near these.
        Limits { header_read_timeout: Duration::from_secs(10), max_connections: 128 }
    }
}

/// Serves `handler` on `listener` until drain, within [`Limits::default`]. Each connection
/// runs in its own task; an operator's slow client cannot hold up the data path or shutdown
/// (connections are not drain-tracked).
pub async fn serve<H, F>(listener: TcpListener, name: &'static str, drain: DrainWatcher, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    serve_with(listener, name, Limits::default(), drain, handler).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with<H, F>(
    listener: TcpListener,
    name: &'static str,
    limits: Limits,
    drain: DrainWatcher,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    // Holding a non-detached watcher here would make every drain wait for this loop.
    let detached = drain.detached();
    drop(drain);
    let drain = detached;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Logged once per episode of saturation, not once per refused connection.
    let mut saturated = false;
    loop {
        let stream = tokio::select! {
            _ = drain.signaled() => return,
            (s, _) = crate::socket::accept(&listener, name) => s,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !saturated {
                tracing::warn!(
                    listener = name,
                    limit = limits.max_connections,
                    "too many connections; closing new ones"
                );
                saturated = true;
            }
            drop(stream);
            continue;
        };
        saturated = false;
        let handler = handler.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let svc = service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::drain;

    /// Far beyond any limit: reaching it means nothing gave up.
    const NEVER: Duration = Duration::from_secs(3600);

    async fn start(limits: Limits) -> (SocketAddr, drain::DrainTrigger) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, watcher) = drain::new();
        tokio::spawn(serve_with(listener, "test", limits, watcher, |_req| async { text(StatusCode::OK, "ok\n") }));
        (addr, trigger)
    }

    /// Reads until EOF; returns what came (bounded by [`NEVER`]).
    async fn read_to_eof(conn: &mut TcpStream) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        tokio::time::timeout(NEVER, conn.read_to_end(&mut out)).await.ok().map(|r| {
            r.unwrap();
            out
        })
    }

    async fn get(addr: SocketAddr) -> Vec<u8> {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
        read_to_eof(&mut conn).await.expect("response")
    }

    #[tokio::test(start_paused = true)]
    async fn silent_client_is_closed_after_the_header_timeout() {
        let limits = Limits::default();
        let (addr, _trigger) = start(limits).await;
        assert!(String::from_utf8_lossy(&get(addr).await).starts_with("HTTP/1.1 200"), "control");
        let started = tokio::time::Instant::now();
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let got = read_to_eof(&mut idle).await.expect("a connection that never sends a request must be closed");
        assert!(got.is_empty() || String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"), "{got:?}");
        assert!(started.elapsed() >= limits.header_read_timeout, "closed early: {:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn connections_beyond_the_cap_are_closed_at_once() {
        let limits = Limits { max_connections: 2, ..Limits::default() };
        let (addr, _trigger) = start(limits).await;
        let mut held = Vec::new();
        for _ in 0..limits.max_connections {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        let started = tokio::time::Instant::now();
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert_eq!(read_to_eof(&mut extra).await.expect("closed"), b"");
        assert!(started.elapsed() < limits.header_read_timeout, "was only closed by the header timeout");
        // A freed slot serves again (its release is asynchronous: retry briefly).
        drop(held.pop());
        let mut served = false;
        for _ in 0..100 {
            if String::from_utf8_lossy(&get(addr).await).starts_with("HTTP/1.1 200") {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(served, "a freed slot must serve again");
    }
}
