//! Deadlines on the HTTP/2 steps a peer controls, with paused time: a peer that completes TLS
//! (here: an in-memory pipe) and answers PINGs, but never finishes what the other side waits for.

use std::time::Duration;

use http::HeaderMap;

use super::{Error, H2Settings, connect, serve};
use crate::drain;

/// Far beyond any deadline: reaching it means nothing gave up.
const NEVER: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn connect_without_response_times_out() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    // Completes the handshake and keeps the connection driven (so PINGs are answered), but
    // holds every CONNECT without responding.
    tokio::spawn(async move {
        let mut conn = h2::server::handshake(server_io).await.unwrap();
        let mut held = Vec::new();
        while let Some(Ok(pending)) = conn.accept().await {
            held.push(pending);
        }
    });
    let (_trigger, watcher) = drain::new();
    let settings = H2Settings::default();
    let client = connect(client_io, &settings, watcher).await.unwrap();
    let res = tokio::time::timeout(NEVER, client.send_connect("10.0.0.1:80", HeaderMap::new())).await;
    match res {
        Ok(Err(Error::ConnectResponseTimeout(d))) => assert_eq!(d, settings.handshake_timeout),
        Ok(Err(e)) => panic!("expected a CONNECT response timeout, got {e}"),
        Ok(Ok(_)) => panic!("the peer never answered, yet a stream was opened"),
        Err(_) => panic!("send_connect still waiting after {NEVER:?}"),
    }
    assert!(client.is_closed(), "a connection whose peer sits on CONNECTs must get no new streams");
}

#[tokio::test(start_paused = true)]
async fn server_handshake_times_out_without_a_preface() {
    // The client end stays open but silent.
    let (_client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (_trigger, watcher) = drain::new();
    let settings = H2Settings::default();
    let res = tokio::time::timeout(NEVER, serve(server_io, &settings, watcher, |_req| async {})).await;
    match res {
        Ok(Err(Error::HandshakeTimeout(d))) => assert_eq!(d, settings.handshake_timeout),
        Ok(other) => panic!("expected a handshake timeout, got {other:?}"),
        Err(_) => panic!("server still waiting for the preface after {NEVER:?}"),
    }
}
