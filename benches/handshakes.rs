//! mTLS handshakes per second on one node's 15008, with enough parallel clients to keep it
//! busy.
//!
//! Each client is a task on its own runtime that loops: TCP connect, TLS 1.3 handshake with a
//! mesh workload certificate (the one node A would present), the HTTP/2 client preface, wait
//! for the server's first bytes (its SETTINGS: the server sends application data only once it
//! has verified our certificate and Finished), then close_notify and close. That is one
//! complete inbound HBONE connection setup on the node, without a CONNECT stream. The node's
//! own CPU per handshake is the steady figure; the rate depends on how much of the two cores
//! the clients' side of the handshake takes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::identity::Identity;

/// HTTP/2 client preface and an empty SETTINGS frame (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A client TLS config as node A's: `client`'s certificate, expecting `server`'s identity.
pub fn client_config(ca: &DevCa, client: &str, server: &str) -> Arc<rustls::ClientConfig> {
    let id: Identity = client.parse().unwrap();
    let cert = ca.issue(&id, Duration::from_secs(3600)).unwrap();
    ztunnel::tls::client_config(&cert, &[server.parse().unwrap()]).unwrap()
}

/// Runs `clients` handshake loops against `target` for `secs`; returns how many completed and
/// the seconds it took. Panics on the first failed handshake (the node must sustain them all).
pub fn run(cfg: Arc<rustls::ClientConfig>, target: SocketAddr, clients: usize, secs: f64) -> (u64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (cfg, done, stop) = (cfg.clone(), done.clone(), stop.clone());
                tokio::spawn(async move {
                    let connector = tokio_rustls::TlsConnector::from(cfg);
                    let name = rustls::pki_types::ServerName::try_from("0.0.0.0").unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        one(&connector, name.clone(), target).await.expect("handshake");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
    });
    (done.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

async fn one(
    connector: &tokio_rustls::TlsConnector,
    name: rustls::pki_types::ServerName<'static>,
    target: SocketAddr,
) -> std::io::Result<()> {
    let tcp = tokio::net::TcpStream::connect(target).await?;
    tcp.set_nodelay(true)?;
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(PREFACE).await?;
    let mut first = [0u8; 9];
    tls.read_exact(&mut first).await?;
    // A clean close (close_notify, then EOF after our preface) ends the server's HTTP/2
    // connection without an error on its side; reading to its close keeps ours from
    // resetting the connection over bytes still in flight (its SETTINGS ack).
    tls.shutdown().await?;
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest).await;
    Ok(())
}
