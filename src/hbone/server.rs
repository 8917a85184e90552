//! The HBONE server: serves one inbound HTTP/2 connection.
//!
//! Owns the h2 server handshake and settings, request vetting (only classic `CONNECT` with a
//! `host:port` authority reaches the handler), one task per accepted stream, PING keepalive,
//! and graceful shutdown (GOAWAY) when the drain signal fires. What a `CONNECT` means (policy,
//! upstream dial) is the handler's business.

use std::future::Future;

use h2::RecvStream;
use h2::server::SendResponse;
use http::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, warn};

use super::stream::{H2Stream, SendBuf};
use super::{Error, H2Settings, keepalive};
use crate::drain::DrainWatcher;

const SERVER_MAX_HEADER_LIST: u32 = 64 * 1024;
const SERVER_MAX_SEND_BUFFER: usize = 400 * 1024;

/// An inbound `CONNECT` waiting for the handler's verdict. Dropping it unanswered resets the
/// stream (RST_STREAM CANCEL).
pub struct ConnectRequest {
    method: Method,
    authority: String,
    headers: HeaderMap,
    recv: RecvStream,
    respond: SendResponse<SendBuf>,
}

impl ConnectRequest {
    /// The `:authority`, "ip:port" or "hostname:port".
    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Answers 200 (with `extra_headers`, e.g. response baggage) and returns the tunnel.
    pub fn accept(mut self, extra_headers: HeaderMap) -> Result<H2Stream, Error> {
        let mut resp = http::Response::new(());
        *resp.headers_mut() = extra_headers;
        let send = self.respond.send_response(resp, false)?;
        Ok(H2Stream::new(send, self.recv, None, HeaderMap::new()))
    }

    /// Answers `status` and ends the stream.
    pub fn reject(self, status: StatusCode) {
        let mut respond = self.respond;
        respond_status(&mut respond, status);
    }
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest").field("method", &self.method).field("authority", &self.authority).finish()
    }
}

fn respond_status(respond: &mut SendResponse<SendBuf>, status: StatusCode) {
    let mut resp = http::Response::new(());
    *resp.status_mut() = status;
    if let Err(e) = respond.send_response(resp, true) {
        debug!("hbone: could not send {status}: {e}");
    }
}

/// Serves one HTTP/2 connection until it closes. Every acceptable `CONNECT` is handed to
/// `handler` on its own task. Non-`CONNECT` methods get 405 and a `CONNECT` without a
/// `host:port` authority gets 400 here, so the handler never sees them.
///
/// On drain: GOAWAY, no new streams, and this keeps driving the connection until the open
/// streams finish. The caller enforces any hard deadline by dropping this future. A PING left
/// unanswered for `keepalive_timeout` drops the connection abruptly.
pub async fn serve<IO, F, Fut>(io: IO, settings: &H2Settings, drain: DrainWatcher, handler: F) -> Result<(), Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handshake = h2::server::Builder::new()
        .initial_window_size(settings.stream_window_clamped())
        .initial_connection_window_size(settings.connection_window_clamped())
        .max_frame_size(settings.frame_size_clamped())
        .max_concurrent_streams(settings.server_max_concurrent_streams)
        .max_header_list_size(SERVER_MAX_HEADER_LIST)
        .max_send_buffer_size(SERVER_MAX_SEND_BUFFER)
        .handshake::<_, SendBuf>(io);
    // Keepalive only starts once the handshake is done, so this is the only thing that frees
    // a TLS connection whose peer never sends the HTTP/2 preface.
    let mut conn = tokio::time::timeout(settings.handshake_timeout, handshake)
        .await
        .map_err(|_| Error::HandshakeTimeout(settings.handshake_timeout))??;
    let ka = keepalive(conn.ping_pong(), settings.keepalive_interval, settings.keepalive_timeout);
    tokio::pin!(ka);
    // Created once: this loop wakes for every frame, and a fresh drain future per wake-up
    // would re-register with the drain signal each time.
    let drained = drain.signaled();
    tokio::pin!(drained);
    let mut draining = false;
    loop {
        tokio::select! {
            next = conn.accept() => match next {
                None => return Ok(()),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok((req, respond))) => dispatch(req, respond, &handler),
            },
            _ = &mut drained, if !draining => {
                draining = true;
                debug!("hbone server draining: GOAWAY sent");
                conn.graceful_shutdown();
            }
            e = &mut ka => {
                // Dropping the connection (rather than a polite GOAWAY the dead peer would
                // never read) is the point: free the socket and fail the streams now.
                warn!("hbone server dropping connection: {e}");
                return Err(e);
            }
        }
    }
}

fn dispatch<F, Fut>(req: http::Request<RecvStream>, mut respond: SendResponse<SendBuf>, handler: &F)
where
    F: Fn(ConnectRequest) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (parts, recv) = req.into_parts();
    if parts.method != Method::CONNECT {
        respond_status(&mut respond, StatusCode::METHOD_NOT_ALLOWED);
        return;
    }
    // Classic CONNECT carries only :authority, which must name a port (RFC 9113 §8.5).
    let authority = match parts.uri.authority() {
        Some(a) if a.port_u16().is_some() && !a.host().is_empty() => a.as_str().to_string(),
        _ => {
            respond_status(&mut respond, StatusCode::BAD_REQUEST);
            return;
        }
    };
    let req = ConnectRequest { method: parts.method, authority, headers: parts.headers, recv, respond };
    tokio::spawn(handler(req));
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use bytes::Bytes;

    use super::*;
    use crate::drain;
    use crate::hbone::client::{H2Client, connect};

    /// Listens on loopback and serves every connection with `handler`. The returned counter
    /// counts connections whose `serve` has returned.
    pub(crate) async fn start_server<F, Fut>(
        settings: H2Settings,
        drain: DrainWatcher,
        handler: F,
    ) -> (SocketAddr, Arc<AtomicUsize>)
    where
        F: Fn(ConnectRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = Arc::new(AtomicUsize::new(0));
        let closed2 = closed.clone();
        tokio::spawn(async move {
            loop {
                let (sock, _) = listener.accept().await.unwrap();
                sock.set_nodelay(true).unwrap();
                let (handler, drain, settings) = (handler.clone(), drain.clone(), settings.clone());
                let closed = closed2.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, &settings, drain, handler).await;
                    closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        (addr, closed)
    }

    /// Accepts and echoes until the client half-closes, then half-closes back.
    /// A client connected over an in-memory pipe to `serve(handler)`, for tests on paused
    /// time (nothing waits on a real socket while the clock jumps). `serve`'s result arrives
    /// on the returned handle.
    fn in_memory<F, Fut>(
        client: &H2Settings,
        server: &H2Settings,
        drain: DrainWatcher,
        handler: F,
    ) -> (impl Future<Output = H2Client>, tokio::task::JoinHandle<Result<(), Error>>)
    where
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let server = server.clone();
        let served = tokio::spawn(async move { serve(s, &server, drain, handler).await });
        let (client, (_t, client_w)) = (client.clone(), drain::new());
        let dialled = async move {
            // The client's driver is not part of any drain under test.
            std::mem::forget(_t);
            connect(c, &client, client_w).await.unwrap()
        };
        (dialled, served)
    }

    pub(crate) async fn echo(req: ConnectRequest) {
        let stream = req.accept(HeaderMap::new()).unwrap();
        let (mut r, mut w) = stream.into_split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    }

    pub(crate) async fn dial(addr: SocketAddr, settings: &H2Settings, drain: DrainWatcher) -> H2Client {
        let sock = TcpStream::connect(addr).await.unwrap();
        sock.set_nodelay(true).unwrap();
        connect(sock, settings, drain).await.unwrap()
    }

    fn pattern(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    /// Sends `data` through an echo stream, reading concurrently; returns what came back.
    async fn echo_round_trip(client: &H2Client, data: Arc<Vec<u8>>) -> Vec<u8> {
        let stream = client.send_connect("127.0.0.1:80", HeaderMap::new()).await.unwrap();
        let (mut r, mut w) = stream.into_split();
        let writer = tokio::spawn(async move {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        got
    }

    #[tokio::test]
    async fn connect_headers_and_echo() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (addr, _) = start_server(s.clone(), w.clone(), |req: ConnectRequest| async move {
            assert_eq!(req.method(), Method::CONNECT);
            assert_eq!(req.authority(), "10.0.0.1:8080");
            assert_eq!(req.headers()["baggage"], "k8s.cluster.name=c1");
            let mut h = HeaderMap::new();
            h.insert("baggage", "service.name=srv".parse().unwrap());
            let mut s = req.accept(h).unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.shutdown().await.unwrap();
        })
        .await;
        let client = dial(addr, &s, w).await;
        let mut h = HeaderMap::new();
        h.insert("baggage", "k8s.cluster.name=c1".parse().unwrap());
        let mut st = client.send_connect("10.0.0.1:8080", h).await.unwrap();
        assert_eq!(st.response_headers()["baggage"], "service.name=srv");
        assert_eq!(client.active_streams(), 1);
        st.write_all(b"hello hbone").await.unwrap();
        st.shutdown().await.unwrap();
        let mut out = Vec::new();
        st.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello hbone");
        drop(st);
        assert_eq!(client.active_streams(), 0);
        assert_eq!(client.max_streams(), 100);
        assert!(!client.is_closed());
    }

    #[tokio::test]
    async fn half_close_client_first() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let (addr, _) = start_server(s.clone(), w.clone(), move |req: ConnectRequest| {
            let tx = tx.clone();
            async move {
                let mut st = req.accept(HeaderMap::new()).unwrap();
                st.write_all(b"early;").await.unwrap();
                let mut got = Vec::new();
                st.read_to_end(&mut got).await.unwrap();
                // The client's write side is closed; ours still works.
                st.write_all(b"after-your-eof").await.unwrap();
                st.shutdown().await.unwrap();
                tx.lock().unwrap().take().unwrap().send(got).unwrap();
            }
        })
        .await;
        let client = dial(addr, &s, w).await;
        let mut st = client.send_connect("127.0.0.1:1", HeaderMap::new()).await.unwrap();
        st.write_all(b"ping").await.unwrap();
        st.shutdown().await.unwrap();
        let mut out = Vec::new();
        st.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"early;after-your-eof");
        assert_eq!(rx.await.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn half_close_server_first() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let (addr, _) = start_server(s.clone(), w.clone(), move |req: ConnectRequest| {
            let tx = tx.clone();
            async move {
                let mut st = req.accept(HeaderMap::new()).unwrap();
                st.write_all(b"bye").await.unwrap();
                st.shutdown().await.unwrap();
                let mut got = Vec::new();
                st.read_to_end(&mut got).await.unwrap();
                tx.lock().unwrap().take().unwrap().send(got).unwrap();
            }
        })
        .await;
        let client = dial(addr, &s, w).await;
        let mut st = client.send_connect("127.0.0.1:1", HeaderMap::new()).await.unwrap();
        let mut out = Vec::new();
        st.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"bye");
        // Server's side is done; ours still flows.
        st.write_all(b"late data").await.unwrap();
        st.shutdown().await.unwrap();
        assert_eq!(rx.await.unwrap(), b"late data");
    }

    #[tokio::test]
    async fn several_megabytes_exact() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (addr, _) = start_server(s.clone(), w.clone(), echo).await;
        let client = dial(addr, &s, w).await;
        let data = Arc::new(pattern(8 * 1024 * 1024 + 123, 7));
        let got = echo_round_trip(&client, data.clone()).await;
        assert!(got == *data, "echoed bytes differ");
    }

    fn small_windows() -> H2Settings {
        H2Settings { stream_window: 65_535, connection_window: 65_535, frame_size: 16_384, ..Default::default() }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_transfer_small_window_no_deadlock() {
        let (_t, w) = drain::new();
        let s = small_windows();
        let (addr, _) = start_server(s.clone(), w.clone(), echo).await;
        let client = dial(addr, &s, w).await;
        let data = Arc::new(pattern(64 * 1024 * 1024, 3));
        let got = tokio::time::timeout(Duration::from_secs(120), echo_round_trip(&client, data.clone()))
            .await
            .expect("transfer stalled");
        assert_eq!(got.len(), data.len());
        assert!(got == *data, "echoed bytes differ");
    }

    #[tokio::test(start_paused = true)]
    async fn slow_reader_pushes_back() {
        let (_t, w) = drain::new();
        let s = small_windows();
        let written = Arc::new(AtomicUsize::new(0));
        let written2 = written.clone();
        let (client, _served) = in_memory(&s, &s, w, move |req: ConnectRequest| {
            let written = written2.clone();
            async move {
                let mut st = req.accept(HeaderMap::new()).unwrap();
                let chunk = vec![1u8; 16 * 1024];
                for _ in 0..1024 {
                    if st.write_all(&chunk).await.is_err() {
                        return;
                    }
                    written.fetch_add(chunk.len(), Ordering::SeqCst);
                }
                let _ = st.shutdown().await;
            }
        });
        let client = client.await;
        let mut st = client.send_connect("127.0.0.1:1", HeaderMap::new()).await.unwrap();
        // Paused time: the clock only moves once every task is blocked, so after this the
        // server has written all that flow control lets it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // 64 KiB window + the server's 400 KiB send buffer + one chunk, not 16 MiB.
        let stalled = written.load(Ordering::SeqCst);
        assert!(stalled < 1024 * 1024, "server wrote {stalled} bytes to a reader that reads nothing");
        let mut sink = Vec::new();
        st.read_to_end(&mut sink).await.unwrap();
        assert_eq!(sink.len(), 16 * 1024 * 1024);
    }

    async fn raw_h2(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
        let sock = TcpStream::connect(addr).await.unwrap();
        let (send, conn) = h2::client::handshake(sock).await.unwrap();
        tokio::spawn(conn);
        send
    }

    #[tokio::test]
    async fn non_connect_is_405_and_bad_authority_is_400() {
        let (_t, w) = drain::new();
        let (addr, _) = start_server(H2Settings::default(), w, |_req: ConnectRequest| async {
            panic!("handler must not see invalid requests");
        })
        .await;
        let send = raw_h2(addr).await;
        let mut send = send.ready().await.unwrap();
        let req = http::Request::get("http://127.0.0.1/").body(()).unwrap();
        let (resp, _) = send.send_request(req, true).unwrap();
        assert_eq!(resp.await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);

        let mut req = http::Request::new(());
        *req.method_mut() = Method::CONNECT;
        *req.uri_mut() = "example.com".parse().unwrap();
        let mut send = send.ready().await.unwrap();
        let (resp, _) = send.send_request(req, false).unwrap();
        assert_eq!(resp.await.unwrap().status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn rejection_is_a_status_error() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (addr, _) = start_server(s.clone(), w.clone(), |req: ConnectRequest| async move {
            req.reject(StatusCode::UNAUTHORIZED);
        })
        .await;
        let client = dial(addr, &s, w).await;
        match client.send_connect("127.0.0.1:1", HeaderMap::new()).await {
            Err(Error::Status(code)) => assert_eq!(code, StatusCode::UNAUTHORIZED),
            other => panic!("expected 401, got {other:?}"),
        }
        assert_eq!(client.active_streams(), 0);
        // The connection is still good for the next stream.
        assert!(!client.is_closed());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_streams_one_connection() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (addr, _) = start_server(s.clone(), w.clone(), echo).await;
        let client = dial(addr, &s, w).await;
        let tasks: Vec<_> = (0..80u32)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let data = Arc::new(pattern(64 * 1024 + i as usize, i));
                    let got = echo_round_trip(&client, data.clone()).await;
                    assert!(got == *data);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(client.active_streams(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn drain_finishes_open_streams_and_refuses_new_ones() {
        let (trigger, w) = drain::new();
        let s = H2Settings::default();
        let (client, server) = in_memory(&s, &s, w.clone(), echo);
        let client = client.await;
        let mut st = client.send_connect("127.0.0.1:1", HeaderMap::new()).await.unwrap();
        st.write_all(b"before ").await.unwrap();
        drop(w);
        trigger.signal();
        // Paused time: by the time the clock moves, the GOAWAY has been sent and read.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(client.send_connect("127.0.0.1:1", HeaderMap::new()).await.is_err());
        assert!(client.is_closed(), "GOAWAY must mark the client closed");
        st.write_all(b"after").await.unwrap();
        st.shutdown().await.unwrap();
        let mut out = Vec::new();
        st.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"before after");
        drop(st);
        drop(client);
        let res = tokio::time::timeout(Duration::from_secs(5), server).await;
        res.expect("serve must return once streams are done").unwrap().unwrap();
        assert_eq!(trigger.drain(Duration::from_secs(5)).await, drain::DrainOutcome::Complete);
    }

    #[tokio::test(start_paused = true)]
    async fn drop_without_shutdown_resets_the_stream() {
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let (client, _served) = in_memory(&s, &s, w, move |req: ConnectRequest| {
            let tx = tx.clone();
            async move {
                let mut st = req.accept(HeaderMap::new()).unwrap();
                let mut got = Vec::new();
                let res = st.read_to_end(&mut got).await;
                tx.lock().unwrap().take().unwrap().send((got, res.map_err(|e| e.kind()))).unwrap();
            }
        });
        let client = client.await;
        let mut st = client.send_connect("127.0.0.1:1", HeaderMap::new()).await.unwrap();
        st.write_all(b"partial").await.unwrap();
        // Let the data go out before the reset, so the reader sees bytes then the error (paused
        // time: the clock moves only once both sides are idle).
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(st);
        let (got, res) = rx.await.unwrap();
        assert_eq!(got, b"partial");
        assert_eq!(res, Err(std::io::ErrorKind::ConnectionReset));
        assert_eq!(client.active_streams(), 0);
    }

    fn fast_keepalive() -> H2Settings {
        H2Settings {
            keepalive_interval: Duration::from_millis(100),
            keepalive_timeout: Duration::from_millis(200),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn client_keepalive_detects_silent_peer() {
        // A peer that completes the HTTP/2 handshake and then never reads or writes again:
        // answer the preface by hand, then hold the pipe.
        let (c, mut peer) = tokio::io::duplex(64 * 1024);
        let _hold = tokio::spawn(async move {
            let mut preface = [0u8; 24];
            peer.read_exact(&mut preface).await.unwrap();
            peer.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
            std::future::pending::<()>().await;
            drop(peer);
        });
        let (_t, w) = drain::new();
        let client = connect(c, &fast_keepalive(), w).await.unwrap();
        let start = tokio::time::Instant::now();
        while !client.is_closed() {
            assert!(start.elapsed() < Duration::from_secs(3), "keepalive never fired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // interval 100 ms + timeout 200 ms, checked every 20 ms.
        assert!(start.elapsed() <= Duration::from_millis(400), "closed after {:?}", start.elapsed());
    }

    #[tokio::test]
    async fn server_keepalive_detects_silent_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_t, w) = drain::new();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            serve(sock, &fast_keepalive(), w, echo).await
        });
        let mut sock = TcpStream::connect(addr).await.unwrap();
        // Client preface and an empty SETTINGS frame, then silence.
        sock.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        sock.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
        let res = tokio::time::timeout(Duration::from_secs(3), server).await;
        match res.expect("keepalive never fired").unwrap() {
            Err(Error::KeepaliveTimeout(_)) => {}
            other => panic!("expected keepalive timeout, got {other:?}"),
        }
    }

    /// `cargo test --release --lib hbone::server::tests::throughput -- --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore]
    async fn throughput() {
        const TOTAL: usize = 256 * 1024 * 1024;
        let (_t, w) = drain::new();
        let s = H2Settings::default();
        let (addr, _) = start_server(s.clone(), w.clone(), |req: ConnectRequest| async move {
            let mut st = req.accept(HeaderMap::new()).unwrap();
            let n = tokio::io::copy(&mut st, &mut tokio::io::sink()).await.unwrap();
            st.write_all(&n.to_be_bytes()).await.unwrap();
            st.shutdown().await.unwrap();
        })
        .await;
        let client = dial(addr, &s, w).await;
        let mut st = client.send_connect("127.0.0.1:1", HeaderMap::new()).await.unwrap();
        let chunk = vec![0xabu8; 256 * 1024];
        let start = Instant::now();
        for _ in 0..TOTAL / chunk.len() {
            st.write_all(&chunk).await.unwrap();
        }
        st.shutdown().await.unwrap();
        let mut n = [0u8; 8];
        st.read_exact(&mut n).await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(u64::from_be_bytes(n) as usize, TOTAL);
        println!("hbone throughput: {} MiB in {secs:.3}s = {:.0} MiB/s", TOTAL >> 20, (TOTAL >> 20) as f64 / secs);
    }
}
