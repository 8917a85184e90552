//! Outbound (15001): a workload's captured TCP connection goes to its original destination —
//! through an HBONE tunnel when the destination is in the mesh, plainly otherwise.
//!
//! [`establish`] is shared with SOCKS5, which needs the upstream before it answers its client.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderMap;
use http::header::HeaderValue;
use tokio::net::{TcpListener, TcpStream};

use super::addr::DestinationAddr;
use crate::dns::resolve::ResolveError;
use crate::drain::DrainWatcher;
use crate::hbone::early::EarlyStream;
use crate::hbone::pool::{PoolKey, Resend};
use crate::hbone::stream::H2Stream;
use crate::proxy::access::{ConnectionLog, Direction, LoggedPeer};
use crate::proxy::connections::ConnectionDump;
use crate::proxy::route::{self, Upstream};
use crate::proxy::{Error, ProxyInputs, copy, early};
use crate::state::Workload;
use crate::state::workload::GatewayDestination;
use crate::{redirect, socket};

pub async fn serve(listener: TcpListener, inputs: Arc<ProxyInputs>, drain: DrainWatcher) {
    crate::proxy::accept_loop(listener, "outbound", drain, move |stream, peer, drain| {
        let inputs = inputs.clone();
        async move {
            let mut log = ConnectionLog::new(Direction::Outbound, super::SourceAddr::new(peer), &inputs.metrics);
            let result = async {
                let dst =
                    redirect::original_dst(&stream).map(crate::util::net::canonical).map_err(Error::NoOriginalDst)?;
                proxy(&inputs, stream, dst, &mut log).await
            }
            .await;
            log.finish(result);
            drop(drain);
        }
    })
    .await
}

/// An established upstream connection.
pub enum UpstreamConn {
    Hbone(H2Stream),
    /// An HBONE stream sent, its answer still to come ([`super::early`]).
    HboneEarly {
        stream: EarlyStream,
        resend: Resend,
        dst: SocketAddr,
    },
    Tcp(TcpStream),
}

/// When a client's first bytes may go on an HBONE upstream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FirstBytes {
    /// Once the peer has answered the `CONNECT` (SOCKS5 replies to its client with it).
    AfterAnswer,
    /// With the `CONNECT`, where the configuration and the peer allow it ([`super::early`]).
    WithConnect,
}

/// Routes and proxies one outbound connection to `dst`.
async fn proxy(
    inputs: &ProxyInputs,
    mut client: TcpStream,
    dst: SocketAddr,
    log: &mut ConnectionLog,
) -> Result<copy::Transferred, Error> {
    let upstream = establish(inputs, dst, log, FirstBytes::WithConnect).await?;
    let (actual_dst, protocol) = match &upstream {
        UpstreamConn::Hbone(_) | UpstreamConn::HboneEarly { .. } => (log.dst_hbone_addr.unwrap_or(dst), "HBONE"),
        UpstreamConn::Tcp(_) => (dst, "TCP"),
    };
    let _listed = inputs.outbound_connections.track(ConnectionDump {
        src: log.src_addr,
        original_dst: dst,
        actual_dst,
        protocol,
    });
    pump(&mut client, upstream).await
}

/// Copies between the client and an established upstream.
pub async fn pump(client: &mut TcpStream, upstream: UpstreamConn) -> Result<copy::Transferred, Error> {
    Ok(match upstream {
        UpstreamConn::Hbone(s) => copy::tcp_to_hbone(client, s).await?,
        UpstreamConn::HboneEarly { stream, resend, dst } => early::tcp_to_hbone(client, stream, resend, dst).await?,
        UpstreamConn::Tcp(mut s) => copy::tcp(client, &mut s).await?,
    })
}

/// Decides where `dst` goes and opens that upstream (HBONE stream or TCP connection).
pub async fn establish(
    inputs: &ProxyInputs,
    dst: SocketAddr,
    log: &mut ConnectionLog,
    first_bytes: FirstBytes,
) -> Result<UpstreamConn, Error> {
    log.dst_addr = Some(dst);
    if inputs.is_self_call(DestinationAddr::new(dst)) {
        return Err(Error::SelfCall(dst));
    }
    let source = inputs.local_workload().await?;
    log.src = LoggedPeer::workload(&source, true);
    log.source_workload(&source);
    // Routing only sees the copy, if one is made: logs and metrics keep the shared workload
    // (the peer cache keys on it).
    let from = route::on_network(&source, &inputs.cfg.network);
    ensure_destination(inputs, &from.network, dst).await?;

    let upstream = {
        let state = inputs.state.snapshot();
        route::route(&state, &from, dst, inputs.cfg.hbone_port, &mut rand::rng())?
    };
    if let Some(w) = upstream.workload() {
        log.destination_workload(w);
    }
    if let Some(s) = upstream.service() {
        log.destination_service(s);
    }
    match upstream {
        Upstream::Resolve { hostname, port, prefer_v4, workload, service } => {
            // A hostname-only endpoint (ServiceEntry `resolution: DNS`): its addresses, the
            // client's family first; an address that cannot be reached falls over to the next.
            let answer = inputs.cfg.resolver.resolve(&hostname).await;
            inputs.metrics.on_demand_dns(&source, &hostname, !answer.as_ref().is_ok_and(|a| a.cached));
            let addrs = answer?.addrs;
            let ordered = addrs
                .iter()
                .filter(|ip| ip.is_ipv4() == prefer_v4)
                .chain(addrs.iter().filter(|ip| ip.is_ipv4() != prefer_v4));
            let mut last = None;
            for ip in ordered {
                let up = route::resolved(workload.clone(), service.clone(), *ip, port, inputs.cfg.hbone_port);
                // Awaited: a refusal falls over to the next address.
                match open(inputs, &source, up, log, FirstBytes::AfterAnswer).await {
                    Err(e @ (Error::Connect { .. } | Error::Hbone { .. })) => {
                        tracing::debug!(%hostname, %ip, "resolved address failed, trying the next: {e}");
                        last = Some(e);
                    }
                    done => return done,
                }
            }
            Err(last.unwrap_or_else(|| {
                Error::Resolve(ResolveError::NoAddress { host: hostname, detail: "empty answer".into() })
            }))
        }
        other => open(inputs, &source, other, log, first_bytes).await,
    }
}

/// On demand (XDS_ON_DEMAND): fetches what routing `dst` needs and the state lacks, the
/// destination address and then every waypoint it names (the primary and weighted ones, any of
/// which routing may pick; routing around an unknown waypoint would skip its policy, so it
/// must be fetched, not guessed). `network` is the source's: what `dst` means there. A no-op
/// without on-demand.
async fn ensure_destination(inputs: &ProxyInputs, network: &str, dst: SocketAddr) -> Result<(), Error> {
    if inputs.cfg.on_demand.is_none() {
        return Ok(());
    }
    inputs.ensure_address(network, dst.ip()).await?;
    let waypoints: Vec<GatewayDestination> = {
        let state = inputs.state.snapshot();
        match state.service_by_vip(network, dst.ip()) {
            Some(svc) => svc
                .waypoint
                .iter()
                .chain(svc.weighted_waypoints.iter().map(|w| &w.destination))
                .map(|g| g.destination.clone())
                .collect(),
            None => state
                .workload_by_ip(network, dst.ip())
                .and_then(|w| w.waypoint.clone())
                .map(|g| g.destination)
                .into_iter()
                .collect(),
        }
    };
    // Concurrently: the waits overlap, and each name is requested once however often it
    // appears (the demand book dedups).
    let fetches = waypoints.iter().map(|w| async move {
        match w {
            GatewayDestination::Address(a) => inputs.ensure_address(&a.network, a.address).await,
            GatewayDestination::Hostname(h) => inputs.ensure_service(&h.namespace, &h.hostname).await,
        }
    });
    futures_util::future::try_join_all(fetches).await.map(drop)
}

/// Opens an upstream that has an address (HBONE stream or TCP connection).
async fn open(
    inputs: &ProxyInputs,
    source: &Workload,
    upstream: Upstream,
    log: &mut ConnectionLog,
    first_bytes: FirstBytes,
) -> Result<UpstreamConn, Error> {
    log.mtls = matches!(upstream, Upstream::Hbone { .. } | Upstream::DoubleHbone { .. });
    log.opened();
    match upstream {
        Upstream::Hbone { hbone_addr, target, identities, workload, hop, .. } => {
            if hop == route::Hop::Waypoint {
                tracing::debug!(%target, waypoint = %workload, %hbone_addr, "sending through the destination's waypoint");
            }
            log.dst_hbone_addr = Some(hbone_addr);
            log.dst = LoggedPeer::workload(&workload, true);
            let key = PoolKey { src: source.identity().into_owned(), dst_identities: identities, dst: hbone_addr };
            let mut headers = hbone_headers(log.src_addr);
            if let Ok(v) = HeaderValue::from_str(&crate::metrics::baggage::encode(source)) {
                headers.insert("baggage", v);
            }
            let hbone_err = |source| Error::Hbone { dst: hbone_addr, source };
            // Only a peer ztunnel's inbound: a waypoint is Envoy, which can be set to reject
            // data sent before its answer.
            if first_bytes == FirstBytes::WithConnect && inputs.cfg.hbone_early_data && hop != route::Hop::Waypoint {
                let (stream, resend) =
                    inputs.pool().send_connect_early(key, &target.to_string(), headers).await.map_err(hbone_err)?;
                return Ok(UpstreamConn::HboneEarly { stream, resend, dst: hbone_addr });
            }
            let stream = inputs.pool().send_connect(key, &target.to_string(), headers).await.map_err(hbone_err)?;
            Ok(UpstreamConn::Hbone(stream))
        }
        Upstream::DoubleHbone {
            gateway_addr,
            gateway_identities,
            authority,
            inner_identities,
            gateway,
            remote,
            ..
        } => {
            tracing::debug!(%authority, gateway = %gateway, remote = %remote, %gateway_addr, "double HBONE through the network gateway");
            log.dst_hbone_addr = Some(gateway_addr);
            log.dst = LoggedPeer::workload(&gateway, true);
            let src = source.identity().into_owned();
            let mut headers = hbone_headers(log.src_addr);
            if let Ok(v) = HeaderValue::from_str(&crate::metrics::baggage::encode(source)) {
                headers.insert("baggage", v);
            }
            let hbone_err = |source| Error::Hbone { dst: gateway_addr, source };
            let key = PoolKey { src: src.clone(), dst_identities: gateway_identities, dst: gateway_addr };
            let outer = inputs.pool().send_connect(key, &authority, headers.clone()).await.map_err(hbone_err)?;
            let cert = inputs
                .certs
                .fetch_certificate(&src)
                .await
                .map_err(|e| Error::Certificate { identity: src.clone(), reason: e.to_string() })?;
            // Only the inner request says where it came from: the destination ztunnel uses it to
            // tell gateway-forwarded traffic from its own network's.
            if let Ok(v) = HeaderValue::from_str(&inputs.cfg.network) {
                headers.insert(FORWARDED_NETWORK, v);
            }
            let inner = crate::hbone::double::Inner {
                cert: &cert,
                identities: &inner_identities,
                crls: inputs.cfg.crls.current(),
                authority: &authority,
                headers,
                timeout: inputs.cfg.connect_timeout,
                h2: &inputs.cfg.h2,
            };
            let stream = crate::hbone::double::connect(outer, inner, inputs.drain.clone()).await.map_err(hbone_err)?;
            Ok(UpstreamConn::Hbone(stream))
        }
        Upstream::Tcp { addr, workload, .. } => {
            log.dst = LoggedPeer::workload(&workload, false);
            dial(inputs, addr).await
        }
        Upstream::Passthrough { addr } => dial(inputs, addr).await,
        // `establish` resolves these first; a second resolution would be a bug, not a retry.
        Upstream::Resolve { hostname, .. } => {
            Err(Error::Resolve(ResolveError::Failed { host: hostname, reason: "unresolved upstream".into() }))
        }
    }
}

/// The inner double-HBONE request's header naming the sender's network (upstream's).
pub const FORWARDED_NETWORK: &str = "x-forwarded-network";

async fn dial(inputs: &ProxyInputs, addr: SocketAddr) -> Result<UpstreamConn, Error> {
    let s = socket::connect(addr, &inputs.cfg.socket, inputs.cfg.connect_timeout)
        .await
        .map_err(|source| Error::Connect { dst: addr, source })?;
    Ok(UpstreamConn::Tcp(s))
}

/// Headers upstream ztunnel sends on every CONNECT: `forwarded` (original client) and a
/// fresh W3C `traceparent`, which the peer uses as the connection's log id.
fn hbone_headers(client: SocketAddr) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(2);
    if let Ok(v) = HeaderValue::from_str(&format!("for=\"{client}\"")) {
        h.insert("forwarded", v);
    }
    let trace: u128 = rand::random();
    let span: u64 = rand::random();
    if let Ok(v) = HeaderValue::from_str(&format!("00-{trace:032x}-{span:016x}-00")) {
        h.insert("traceparent", v);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_have_upstream_shape() {
        let h = hbone_headers("10.0.0.1:4000".parse().unwrap());
        assert_eq!(h["forwarded"], "for=\"10.0.0.1:4000\"");
        let tp = h["traceparent"].to_str().unwrap();
        let parts: Vec<_> = tp.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[0], parts[1].len(), parts[2].len(), parts[3]), ("00", 32, 16, "00"));
    }
}
