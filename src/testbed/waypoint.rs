//! A waypoint test double: a real HBONE terminator standing where an Envoy waypoint would.
//!
//! It accepts mTLS with a waypoint certificate (peer certificate required, chained to the
//! mesh root; the same rustls server configuration our inbound uses), serves HTTP/2 CONNECT
//! with our HBONE server, records each CONNECT target and the verified peer identity, and then
//! forwards the bytes to the target as a waypoint would: through its own ztunnel (that node's
//! SOCKS5 listener), which sends the waypoint's traffic on to the service's endpoints. No L7
//! processing; the point is to observe what ztunnels send to a waypoint and that traffic
//! really passes through it.
//!
//! Runs on a runtime of its own thread, so tests drive it synchronously; stops when dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, StatusCode};

use super::terminator::Terminator;
use crate::hbone::server::ConnectRequest;
use crate::identity::Identity;
use crate::tls::WorkloadCertificate;

/// One CONNECT the double received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The `:authority` as sent.
    pub target: String,
    /// The identity the client's certificate was verified for.
    pub peer: Option<Identity>,
    /// Whether forwarding it succeeded (the CONNECT was answered 200).
    pub forwarded: bool,
}

/// A running waypoint double.
pub struct WaypointDouble {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _terminator: Terminator,
}

impl WaypointDouble {
    /// Listens on `addr` with `cert` (the waypoint's identity) and forwards every accepted
    /// CONNECT to its target through the SOCKS5 listener `socks5` (the waypoint's ztunnel).
    pub fn start(addr: SocketAddr, cert: WorkloadCertificate, socks5: SocketAddr) -> io::Result<WaypointDouble> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let terminator = Terminator::start(addr, &cert, move |req, peer| {
            let record = record.clone();
            async move { forward(req, peer, socks5, &record).await }
        })?;
        Ok(WaypointDouble { addr: terminator.addr, seen, _terminator: terminator })
    }

    /// Every CONNECT received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        crate::util::sync::lock(&self.seen).clone()
    }
}

/// Dials the CONNECT target through the waypoint's ztunnel and pumps bytes both ways.
async fn forward(req: ConnectRequest, peer: Option<Identity>, socks5: SocketAddr, record: &Mutex<Vec<Seen>>) {
    let target = req.authority().to_string();
    let upstream = match target.parse::<SocketAddr>() {
        Ok(dst) => tokio::task::spawn_blocking(move || {
            let s = super::socks::connect(socks5, super::socks::Dest::Addr(dst))?;
            s.set_nonblocking(true)?;
            tokio::net::TcpStream::from_std(s)
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e.to_string()))),
        Err(_) => Err(io::Error::other(format!("authority {target:?} is not ip:port"))),
    };
    let mut seen = Seen { target, peer, forwarded: upstream.is_ok() };
    let Ok(mut upstream) = upstream else {
        crate::util::sync::lock(record).push(seen);
        req.reject(StatusCode::SERVICE_UNAVAILABLE);
        return;
    };
    let Ok(stream) = req.accept(HeaderMap::new()) else {
        seen.forwarded = false;
        crate::util::sync::lock(record).push(seen);
        return;
    };
    crate::util::sync::lock(record).push(seen);
    let _ = crate::proxy::copy::hbone_to_tcp(stream, &mut upstream).await;
}
