//! An inbound HBONE connection after TLS: raw HTTP/2 frames into the server
//! (src/hbone/server.rs `serve`: h2 handshake, request vetting, dispatch), with a handler that
//! parses what src/proxy/inbound.rs does (authority, `baggage`, `forwarded`) and then accepts
//! or rejects the stream. Input: the frames after the client preface (added here).

#![no_main]

mod common;

use http::{HeaderMap, StatusCode};
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncReadExt;
use ztunnel::hbone::{H2Settings, server};
use ztunnel::metrics::baggage;
use ztunnel::proxy::{inbound, peers};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let mut input = PREFACE.to_vec();
    input.extend_from_slice(data);
    // A runtime per input: tasks spawned for one input's streams die with it.
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let (_trigger, drain) = ztunnel::drain::new();
    let settings = H2Settings::default();
    let io = common::MemIo::new(input, 4);
    let res = rt.block_on(server::serve(io, &settings, drain, |req: server::ConnectRequest| {
        // The server only hands over CONNECTs with a host:port authority.
        assert_eq!(req.method(), http::Method::CONNECT);
        let authority = inbound::parse_authority(req.authority());
        let claims = req.headers().get("baggage").and_then(|v| v.to_str().ok()).map(baggage::parse);
        drop(claims);
        let _ = peers::forwarded_for(req.headers());
        async move {
            if authority.is_err() {
                return req.reject(StatusCode::BAD_REQUEST);
            }
            if let Ok(mut stream) = req.accept(HeaderMap::new()) {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
            }
        }
    }));
    drop(res);
});
