//! A network-gateway test double: a real HBONE terminator standing where an Istio east-west
//! gateway would, between two networks.
//!
//! It accepts mTLS with a gateway certificate (peer certificate required, chained to the mesh
//! root; our inbound's rustls configuration), serves HTTP/2 CONNECT with our HBONE server, and
//! records each CONNECT's authority (`service hostname:port`), the verified peer identity and
//! the headers. It then does what an E/W gateway does with double HBONE: looks the service up
//! among the endpoints of its own network (a table the test gives it), opens TCP to that
//! endpoint's ztunnel HBONE port, and relays the stream's bytes — the
//! inner TLS, which it cannot read — untouched in both directions.
//!
//! Runs on a runtime of its own thread, so tests drive it synchronously; stops when dropped.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, StatusCode};

use super::terminator::Terminator;
use crate::hbone::server::ConnectRequest;
use crate::identity::Identity;
use crate::tls::WorkloadCertificate;

/// One CONNECT the gateway received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The `:authority` as sent.
    pub authority: String,
    /// The identity the client's certificate was verified for.
    pub peer: Option<Identity>,
    /// Where it was relayed to, if the service is known here and the endpoint answered.
    pub relayed_to: Option<SocketAddr>,
    /// Request headers (the outer request's: the inner ones travel encrypted).
    pub headers: Vec<(String, String)>,
}

/// A running gateway double.
pub struct GatewayDouble {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _terminator: Terminator,
}

impl GatewayDouble {
    /// Listens on `addr` with `cert` (the gateway's identity). `routes` maps a CONNECT
    /// authority (`hostname:port`) to the HBONE address of that service's endpoint on this
    /// network.
    pub fn start(
        addr: SocketAddr,
        cert: WorkloadCertificate,
        routes: HashMap<String, SocketAddr>,
    ) -> io::Result<GatewayDouble> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let routes = Arc::new(routes);
        let terminator = Terminator::start(addr, &cert, move |req, peer| {
            let (record, routes) = (record.clone(), routes.clone());
            async move { relay(req, peer, &routes, &record).await }
        })?;
        Ok(GatewayDouble { addr: terminator.addr, seen, _terminator: terminator })
    }

    /// Every CONNECT received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        crate::util::sync::lock(&self.seen).clone()
    }
}

async fn relay(
    req: ConnectRequest,
    peer: Option<Identity>,
    routes: &HashMap<String, SocketAddr>,
    record: &Mutex<Vec<Seen>>,
) {
    let authority = req.authority().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut seen = Seen { authority: authority.clone(), peer, relayed_to: None, headers };
    let upstream = match routes.get(&authority) {
        Some(dst) => tokio::net::TcpStream::connect(*dst).await.map(|s| (s, *dst)),
        None => Err(io::Error::other(format!("no endpoint for {authority} on this network"))),
    };
    let Ok((mut upstream, dst)) = upstream else {
        crate::util::sync::lock(record).push(seen);
        req.reject(StatusCode::SERVICE_UNAVAILABLE);
        return;
    };
    let Ok(stream) = req.accept(HeaderMap::new()) else {
        crate::util::sync::lock(record).push(seen);
        return;
    };
    seen.relayed_to = Some(dst);
    crate::util::sync::lock(record).push(seen);
    let _ = crate::proxy::copy::hbone_to_tcp(stream, &mut upstream).await;
}
