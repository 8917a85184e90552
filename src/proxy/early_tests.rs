//! Early data against HTTP/2 servers that behave as the test needs: ours (`hbone::serve`)
//! and raw h2 ones that read a stream's bytes before answering, refuse it, or never answer.
//! The client side is the real pump on a real loopback socket.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};

use super::early::{self, EARLY_LIMIT};
use super::{Error, copy::Transferred};
use crate::drain;
use crate::hbone::{self, Connector, H2Client, H2Settings, Pool, PoolKey};
use crate::identity::Identity;

type Serve = Arc<dyn Fn(usize, DuplexStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Dials in-memory connections, each served by `serve` (told which dial it is, from 0).
struct Dialer {
    serve: Serve,
    settings: H2Settings,
    dials: AtomicUsize,
}

impl Connector for Arc<Dialer> {
    fn connect(
        &self,
        _key: &PoolKey,
    ) -> Pin<Box<dyn Future<Output = Result<H2Client, hbone::Error>> + Send + 'static>> {
        let this = self.clone();
        Box::pin(async move {
            let (client, server) = tokio::io::duplex(1 << 20);
            let n = this.dials.fetch_add(1, Ordering::SeqCst);
            tokio::spawn((this.serve)(n, server));
            let (trigger, watcher) = drain::new();
            std::mem::forget(trigger);
            hbone::connect(client, &this.settings, watcher).await
        })
    }
}

const DST: &str = "127.0.0.1:15008";

fn pool(settings: H2Settings, serve: Serve) -> (Pool, Arc<Dialer>) {
    let dialer = Arc::new(Dialer { serve, settings: settings.clone(), dials: AtomicUsize::new(0) });
    let (trigger, watcher) = drain::new();
    std::mem::forget(trigger);
    (Pool::new(settings, Arc::new(dialer.clone()), watcher), dialer)
}

fn key() -> PoolKey {
    PoolKey {
        src: Identity::new("cluster.local", "default", "client"),
        dst_identities: vec![Identity::new("cluster.local", "default", "server")],
        dst: DST.parse().unwrap(),
    }
}

/// A connected loopback pair: (the application's end, the end the pump owns).
async fn sockets() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (pumped, _) = l.accept().await.unwrap();
    (app, pumped)
}

/// Sends a `CONNECT` without waiting and pumps `pumped` through it.
async fn pump(pool: &Pool, mut pumped: TcpStream) -> Result<Transferred, Error> {
    let (stream, resend) = pool.send_connect_early(key(), "10.0.0.1:80", http::HeaderMap::new()).await.unwrap();
    early::tcp_to_hbone(&mut pumped, stream, resend, DST.parse::<SocketAddr>().unwrap()).await
}

/// Serves raw HTTP/2: each stream goes to `each` (with its index on this connection).
async fn raw<F, Fut>(io: DuplexStream, each: F)
where
    F: Fn(usize, http::Request<h2::RecvStream>, h2::server::SendResponse<Bytes>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conn = h2::server::handshake(io).await.unwrap();
    let mut n = 0;
    while let Some(Ok((req, respond))) = conn.accept().await {
        tokio::spawn(each(n, req, respond));
        n += 1;
    }
}

/// Reads the request body until it has `want` bytes (releasing the window as it goes).
async fn read_body(body: &mut h2::RecvStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        let Some(chunk) = body.data().await else { break };
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    got
}

/// Answers 200 and echoes the body until it ends, then ends too.
async fn answer_and_echo(mut body: h2::RecvStream, mut respond: h2::server::SendResponse<Bytes>, first: Vec<u8>) {
    let mut send = respond.send_response(http::Response::new(()), false).unwrap();
    send.send_data(first.into(), false).unwrap();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        send.send_data(chunk, false).unwrap();
    }
    send.send_data(Bytes::new(), true).unwrap();
}

fn status(status: StatusCode) -> http::Response<()> {
    let mut resp = http::Response::new(());
    *resp.status_mut() = status;
    resp
}

#[tokio::test]
async fn first_bytes_reach_the_peer_before_its_answer() {
    // The peer answers only once it holds the client's request: without early data this
    // connection would never get going.
    let serve: Serve = Arc::new(|_, io| {
        Box::pin(raw(io, |_, req, respond| async move {
            let mut body = req.into_body();
            let first = read_body(&mut body, 5).await;
            answer_and_echo(body, respond, first).await;
        }))
    });
    let (pool, _) = pool(H2Settings::default(), serve);
    let (mut app, pumped) = sockets().await;
    let pumping = tokio::spawn(async move { pump(&pool, pumped).await });
    app.write_all(b"hello").await.unwrap();
    app.write_all(b", world").await.unwrap();
    app.shutdown().await.unwrap();
    let mut back = Vec::new();
    app.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"hello, world");
    let t = pumping.await.unwrap().unwrap();
    assert_eq!((t.sent, t.received), (12, 12));
}

#[tokio::test]
async fn a_refusal_is_reported_as_its_status() {
    // The peer takes some of the bytes, then refuses and drops the stream; the client keeps
    // writing, so the send side meets the reset too.
    let serve: Serve = Arc::new(|_, io| {
        Box::pin(raw(io, |_, req, mut respond| async move {
            let mut body = req.into_body();
            read_body(&mut body, 1).await;
            respond.send_response(status(StatusCode::UNAUTHORIZED), true).unwrap();
        }))
    });
    let (pool, _) = pool(H2Settings::default(), serve);
    let (mut app, pumped) = sockets().await;
    let pumping = tokio::spawn(async move { pump(&pool, pumped).await });
    let writing = tokio::spawn(async move {
        for _ in 0..64 {
            if app.write_all(&[7; 1024]).await.is_err() {
                break;
            }
        }
        app
    });
    match pumping.await.unwrap() {
        Err(Error::Hbone { source: hbone::Error::Status(s), .. }) => assert_eq!(s, StatusCode::UNAUTHORIZED),
        other => panic!("expected the refusal's status, got {other:?}"),
    }
    let mut app = writing.await.unwrap();
    let mut rest = Vec::new();
    assert!(app.read_to_end(&mut rest).await.is_err(), "a refused connection must be reset, not closed as if complete");
}

#[tokio::test]
async fn a_stream_the_peer_did_not_process_goes_again_with_its_bytes() {
    // The first stream is refused (REFUSED_STREAM: never processed) after its bytes arrived;
    // the second carries them again and is served.
    let serve: Serve = Arc::new(|_, io| {
        Box::pin(raw(io, |n, req, mut respond| async move {
            let mut body = req.into_body();
            let first = read_body(&mut body, 5).await;
            if n == 0 {
                respond.send_reset(h2::Reason::REFUSED_STREAM);
                return;
            }
            answer_and_echo(body, respond, first).await;
        }))
    });
    let (pool, _) = pool(H2Settings::default(), serve);
    let (mut app, pumped) = sockets().await;
    let pumping = tokio::spawn(async move { pump(&pool, pumped).await });
    app.write_all(b"hello").await.unwrap();
    app.shutdown().await.unwrap();
    let mut back = Vec::new();
    app.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"hello", "the bytes sent on the refused stream are sent again, once");
    let t = pumping.await.unwrap().unwrap();
    assert_eq!((t.sent, t.received), (5, 5));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_times_out_and_its_connection_takes_no_more() {
    let serve: Serve = Arc::new(|_, io| {
        Box::pin(raw(io, |_, req, respond| async move {
            let mut body = req.into_body();
            read_body(&mut body, 5).await;
            // Holds the stream unanswered.
            std::future::pending::<()>().await;
            drop(respond);
        }))
    });
    let settings = H2Settings::default();
    let (pool, dialer) = pool(settings.clone(), serve);
    let (mut app, pumped) = sockets().await;
    app.write_all(b"hello").await.unwrap();
    match pump(&pool, pumped).await {
        Err(Error::Hbone { source: hbone::Error::ConnectResponseTimeout(d), .. }) => {
            assert_eq!(d, settings.handshake_timeout)
        }
        other => panic!("expected a CONNECT response timeout, got {other:?}"),
    }
    // The next connection gets a fresh HTTP/2 connection.
    let (_app, pumped) = sockets().await;
    let next = tokio::spawn(async move { pump(&pool, pumped).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(dialer.dials.load(Ordering::SeqCst), 2);
    next.abort();
}

#[tokio::test(start_paused = true)]
async fn no_more_than_the_limit_goes_before_the_answer() {
    let total = 4 * EARLY_LIMIT;
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let seen_tx = Arc::new(std::sync::Mutex::new(Some(seen_tx)));
    let serve: Serve = Arc::new(move |_, io| {
        let seen_tx = seen_tx.clone();
        Box::pin(raw(io, move |_, req, respond| {
            let seen_tx = seen_tx.clone();
            async move {
                let mut body = req.into_body();
                // Everything the client sends before an answer, until it stops.
                let mut first = Vec::new();
                while let Ok(Some(Ok(chunk))) = tokio::time::timeout(Duration::from_secs(1), body.data()).await {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    first.extend_from_slice(&chunk);
                }
                let _ = seen_tx.lock().unwrap().take().unwrap().send(first.len());
                answer_and_echo(body, respond, first).await;
            }
        }))
    });
    let (pool, _) = pool(H2Settings::default(), serve);
    let (app, pumped) = sockets().await;
    let pumping = tokio::spawn(async move { pump(&pool, pumped).await });
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = app.into_split();
    let sent = data.clone();
    let writing = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writing.await.unwrap();
    assert_eq!(seen_rx.await.unwrap(), EARLY_LIMIT, "before the answer: exactly the limit");
    assert!(back == data, "after the answer everything follows, in order");
    let t = pumping.await.unwrap().unwrap();
    assert_eq!((t.sent, t.received), (total as u64, total as u64));
}

#[tokio::test]
async fn refused_early_bytes_do_not_use_up_the_connection_window() {
    // Our own server, refusing one authority. Each refused stream carried a full early
    // window's worth; if the server kept that credit, the connection window (4 of them) would
    // be gone after four and the served stream would stall.
    let server = H2Settings {
        stream_window: EARLY_LIMIT as u32,
        connection_window: 4 * EARLY_LIMIT as u32,
        ..Default::default()
    };
    let serve: Serve = Arc::new(move |_, io| {
        let settings = server.clone();
        Box::pin(async move {
            let (trigger, watcher) = drain::new();
            std::mem::forget(trigger);
            let _ = hbone::serve(io, &settings, watcher, |req| async move {
                if req.authority() == "10.0.0.2:80" {
                    crate::hbone::server::tests::echo(req).await;
                } else {
                    // Answer only once the early bytes are in, as a slow RBAC check would.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    req.reject(StatusCode::FORBIDDEN);
                }
            })
            .await;
        })
    });
    let (pool, dialer) = pool(H2Settings::default(), serve);
    for _ in 0..12 {
        let (mut app, pumped) = sockets().await;
        let p = pool.clone();
        let pumping = tokio::spawn(async move { pump(&p, pumped).await });
        let _ = app.write_all(&vec![1; EARLY_LIMIT]).await;
        assert!(matches!(
            pumping.await.unwrap(),
            Err(Error::Hbone { source: hbone::Error::Status(StatusCode::FORBIDDEN), .. })
        ));
    }
    let (mut app, mut pumped) = sockets().await;
    let (stream, resend) = pool.send_connect_early(key(), "10.0.0.2:80", http::HeaderMap::new()).await.unwrap();
    let pumping =
        tokio::spawn(async move { early::tcp_to_hbone(&mut pumped, stream, resend, DST.parse().unwrap()).await });
    let data = vec![9; 3 * EARLY_LIMIT];
    app.write_all(&data).await.unwrap();
    app.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), app.read_to_end(&mut back)).await.expect("stalled").unwrap();
    assert_eq!(back.len(), data.len());
    pumping.await.unwrap().unwrap();
    assert_eq!(dialer.dials.load(Ordering::SeqCst), 1, "all on one connection");
}
