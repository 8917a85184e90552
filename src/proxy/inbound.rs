//! Inbound HBONE (15008): mTLS as the local workload (client certificate required, same
//! trust domain), then HTTP/2; each CONNECT stream is validated and delivered to the local
//! workload.
//!
//! Status codes follow upstream: 400 for a malformed or misdirected request (authority IP is
//! not the address the connection arrived on, unless the local workload is the authority's
//! waypoint or runs an application tunnel; or a ztunnel port), 503 when the target is not
//! a workload we serve or cannot be reached, 401 when authorization policy denies it (the
//! workload is never dialled), 200 then bytes otherwise. Every accepted stream stays in the
//! connection registry while open, so a policy change can close it. A local workload with an
//! application tunnel (`applicationTunnel: {protocol: PROXY, port}`, e.g. a waypoint) is
//! reached on the tunnel port (over loopback with LOCALHOST_APP_TUNNEL) and first sent a
//! PROXY v2 header: the client, the CONNECT target and the client's identity.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use http::{HeaderMap, StatusCode};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::addr::{DestinationAddr, ServedAddr, SourceAddr};
use crate::drain::DrainWatcher;
use crate::hbone::server::{self, ConnectRequest};
use crate::identity::Identity;
use crate::proxy::access::{ConnectionLog, Direction, LoggedPeer};
use crate::proxy::authz::{self, InboundConn};
use crate::proxy::{Error, ProxyInputs, copy, route};
use crate::socket;
use crate::state::workload::{AppTunnelProtocol, Workload};
use crate::tls::crl::CrlStore;
use crate::tls::verifier::VerifiedChains;
use crate::tls::{self, WorkloadCertificate};
use crate::util::sync::lock;

pub async fn serve(listener: TcpListener, inputs: Arc<ProxyInputs>, drain: DrainWatcher) {
    let configs = Arc::new(ServerConfigCache::default());
    crate::proxy::accept_loop(listener, "inbound", drain, move |stream, peer, drain| {
        let inputs = inputs.clone();
        let configs = configs.clone();
        async move {
            if let Err(e) = handle_connection(inputs, configs, stream, peer, drain).await {
                // Handshake failures land here: wrong CA, TLS 1.2, no client certificate...
                tracing::warn!(target: "access", direction = "inbound", src.addr = %peer, error = %e, "connection failed");
            }
        }
    })
    .await
}

/// The rustls config for our current certificate; rebuilt only when the certificate rotates.
#[derive(Default)]
/// The server config for the current certificate and CRL set, rebuilt when either changes.
struct ServerConfigCache(Mutex<Option<CachedServerConfig>>);

/// (certificate, CRL set generation, the config built from them, its verifier's memo)
type CachedServerConfig = (Arc<WorkloadCertificate>, u64, Arc<ServerConfig>, Arc<VerifiedChains>);

impl ServerConfigCache {
    fn get(
        &self,
        cert: Arc<WorkloadCertificate>,
        crls: &CrlStore,
    ) -> Result<(Arc<ServerConfig>, Arc<VerifiedChains>), tls::Error> {
        let crls = crls.current();
        let mut slot = lock(&self.0);
        if let Some((c, generation, cfg, memo)) = slot.as_ref()
            && Arc::ptr_eq(c, &cert)
            && *generation == crls.generation
        {
            return Ok((cfg.clone(), memo.clone()));
        }
        // A new certificate may bring new roots, a new CRL set new revocations: the chains
        // the old verifier accepted are forgotten with it.
        let memo = Arc::new(VerifiedChains::default());
        let cfg = tls::server_config_with_memo(&cert, &crls, memo.clone())?;
        *slot = Some((cert, crls.generation, cfg.clone(), memo.clone()));
        Ok((cfg, memo))
    }
}

async fn handle_connection(
    inputs: Arc<ProxyInputs>,
    configs: Arc<ServerConfigCache>,
    stream: TcpStream,
    peer: SocketAddr,
    drain: DrainWatcher,
) -> Result<(), Error> {
    let served = ServedAddr::new(stream.local_addr()?);
    let workload = inputs.local_workload().await?;
    let identity = workload.identity();
    let cert = inputs
        .certs
        .fetch_certificate(&identity)
        .await
        .map_err(|e| Error::Certificate { identity: identity.clone().into_owned(), reason: e.to_string() })?;
    let (config, verified) = configs
        .get(cert, &inputs.cfg.crls)
        .map_err(|e| Error::Certificate { identity: identity.clone().into_owned(), reason: e.to_string() })?;
    let mut tls = tokio::time::timeout(
        inputs.cfg.connect_timeout,
        TlsAcceptor::from(config).accept(crate::hbone::transport(stream)),
    )
    .await
    .map_err(|_| Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")))?
    .map_err(|e| Error::Io(std::io::Error::new(e.kind(), format!("TLS handshake from {peer} failed: {e}"))))?;
    tls.get_mut().1.set_buffer_limit(Some(crate::hbone::TLS_BUFFER_LIMIT));
    let info = tls::negotiated(tls.get_ref().1);
    // The SAN the verifier admitted the peer on, which is what RBAC must see too.
    let peer_identity = tls::inbound_peer_identity(tls.get_ref().1, identity.trust_domain(), &verified);
    tracing::info!(
        target: "hbone",
        src = %peer,
        local_identity = %identity,
        peer_identity = %peer_identity.as_ref().map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
        tls_version = %info.version,
        cipher_suite = %info.cipher_suite,
        kx_group = %info.kx_group,
        "HBONE connection accepted"
    );
    let conn = Arc::new(ConnInfo { peer: SourceAddr::new(peer), served, peer_identity });
    let h2 = inputs.cfg.h2.clone();
    let handler_drain = drain.clone();
    server::serve(tls, &h2, drain, move |req| {
        let inputs = inputs.clone();
        let conn = conn.clone();
        let drain = handler_drain.clone();
        async move {
            handle_stream(&inputs, &conn, req).await;
            drop(drain);
        }
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(format!("HTTP/2 from {peer}: {e}"))))
}

/// Facts about the TLS connection shared by all its streams.
struct ConnInfo {
    peer: SourceAddr,
    served: ServedAddr,
    peer_identity: Option<Identity>,
}

/// Why a CONNECT was refused, and the status that says so.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("authority {0:?} is not an ip:port")]
    BadAuthority(String),
    #[error("authority IP {authority} does not match the address the connection arrived on ({served})")]
    AddressMismatch { authority: DestinationAddr, served: ServedAddr },
    #[error("destination {0} is one of ztunnel's own ports (refused: it would loop back into ztunnel)")]
    SelfCall(SocketAddr),
    #[error("{0}")]
    NoWorkload(String),
    /// A `hostname:port` authority (double HBONE through a network gateway) naming no service.
    #[error("no service has hostname {0}")]
    UnknownHostname(String),
    #[error("service {service} has no target port for port {port} on the local workload")]
    NoServicePort { service: String, port: u16 },
}

impl Refusal {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Refusal::NoWorkload(_) | Refusal::UnknownHostname(_) | Refusal::NoServicePort { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

async fn handle_stream(inputs: &ProxyInputs, conn: &ConnInfo, req: ConnectRequest) {
    let mut log = ConnectionLog::new(Direction::Inbound, conn.peer, &inputs.metrics);
    if let Some(id) = &conn.peer_identity {
        log.src = LoggedPeer::Identity(id.clone());
    }
    let result = async {
        let req_authority = req.authority().to_string();
        let delivery = match validate(inputs, conn, &req_authority, &mut log).await {
            Ok(d) => d,
            Err(refusal) => {
                let e = Error::ConnectRefused { authority: req_authority, refusal };
                req.reject(e.hbone_status());
                return Err(e);
            }
        };
        let Delivery { target, workload, tunnel, by_hostname } = delivery;
        log.dst_addr = Some(target);
        log.mtls = true;
        let id = conn.peer_identity.as_ref();
        let state = inputs.state.snapshot();
        // Through a network gateway (upstream: a hostname authority; the sender's
        // `x-forwarded-network` says so too): the TCP peer is the gateway and addresses are
        // another network's, so the source is known only by its identity and baggage.
        let via_gateway = by_hostname || from_other_network(req.headers(), &inputs.cfg.network);
        if via_gateway {
            // Rare (multi-network only) and otherwise invisible in the access log.
            let network = req.headers().get(crate::proxy::outbound::FORWARDED_NETWORK);
            tracing::info!(
                target: "hbone",
                authority = %req.authority(),
                src.network = network.and_then(|v| v.to_str().ok()).unwrap_or("-"),
                src.identity = id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                "request forwarded by a network gateway"
            );
        }
        let peer = (!via_gateway).then(|| conn.peer.get());
        // On demand, the source workload is fetched for the labels; only labels depend on it
        // (authorization goes by the peer's certificate), so a failed fetch is not fatal.
        let state = match peer {
            Some(p) if inputs.cfg.on_demand.is_some() => {
                if let Err(e) = inputs.ensure_address(&inputs.cfg.network, p.ip()).await {
                    tracing::debug!(peer = %p, "source workload unknown: {e}");
                }
                inputs.state.snapshot()
            }
            _ => state,
        };
        crate::proxy::peers::label_inbound(
            &state,
            &inputs.cfg.network,
            &mut log,
            req.headers(),
            peer,
            id,
            &workload,
            target,
        );
        log.opened();
        let facts = Arc::new(InboundConn::new(conn.peer.get(), conn.peer_identity.clone(), target, workload));
        // Registered before deciding, so a policy change that lands while we decide is
        // re-checked against this stream rather than missed.
        let mut registration = inputs.connections.register(facts.clone());
        if let Err(reason) = authz::authorize(&inputs.state.snapshot(), &facts, inputs.cfg.authz_info_logging) {
            let e = Error::AuthorizationPolicyRejection(reason);
            req.reject(e.hbone_status());
            return Err(e);
        }
        let proxy_header = tunnel.filter(|t| t.protocol == AppTunnelProtocol::PROXY);
        // PROXY application tunnels go over loopback (LOCALHOST_APP_TUNNEL), from loopback: the
        // header carries the real client, and only ztunnel can reach the tunnel port.
        let (dial, opts) = match &proxy_header {
            Some(_) if inputs.cfg.localhost_app_tunnel => {
                let lo: std::net::IpAddr = if target.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                };
                (SocketAddr::new(lo, target.port()), inputs.cfg.socket.clone())
            }
            _ => (target, inbound_socket(inputs, conn)),
        };
        let mut upstream = match socket::connect(dial, &opts, inputs.cfg.connect_timeout).await {
            Ok(s) => s,
            Err(source) => {
                let e = Error::Connect { dst: dial, source };
                req.reject(e.hbone_status());
                return Err(e);
            }
        };
        if let Some(t) = proxy_header {
            use tokio::io::AsyncWriteExt;
            let header = crate::proxy::proxy_protocol::header(conn.peer.get(), t.target, conn.peer_identity.as_ref());
            if let Err(source) = upstream.write_all(&header).await {
                let e = Error::Connect { dst: dial, source };
                req.reject(e.hbone_status());
                return Err(e);
            }
        }
        let stream = req.accept(HeaderMap::new()).map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        tokio::select! {
            copied = copy::hbone_to_tcp(stream, &mut upstream) => Ok(copied?),
            reason = registration.revoked() => {
                Err(Error::AuthorizationPolicyRevoked(reason))
            }
        }
    }
    .await;
    log.finish(result);
}

/// Where an accepted CONNECT is delivered.
struct Delivery {
    /// Local workload IP : port (the application tunnel's port, if it has one).
    target: SocketAddr,
    workload: Arc<Workload>,
    /// The local workload's application tunnel, with the CONNECT target it is told about.
    tunnel: Option<Tunnel>,
    /// The authority named a service by hostname (double HBONE's inner request).
    by_hostname: bool,
}

/// Whether the request says it comes from another network than ours (`x-forwarded-network`).
fn from_other_network(headers: &HeaderMap, ours: &str) -> bool {
    headers.get(crate::proxy::outbound::FORWARDED_NETWORK).is_some_and(|v| !v.to_str().is_ok_and(|n| n == ours))
}

/// A CONNECT `:authority`: an address, or (through a network gateway) a service hostname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Addr(SocketAddr),
    Host { hostname: String, port: u16 },
}

/// [`parse_authority`], or `hostname:port` with a DNS-shaped hostname. The port is decimal
/// digits only (`u16`'s parser would take `+80`), and an IP literal is never a hostname: an
/// address whose port was refused above is a bad authority, not a service name (each accepted
/// value prints back as an authority that parses to it; fuzz/fuzz_targets/inbound_target.rs).
pub fn parse_target(authority: &str) -> Result<Target, Refusal> {
    if let Ok(addr) = parse_authority(authority) {
        return Ok(Target::Addr(addr));
    }
    let bad = || Refusal::BadAuthority(authority.to_string());
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || host.parse::<IpAddr>().is_ok() {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    let dns_shaped = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !dns_shaped || port == 0 {
        return Err(bad());
    }
    Ok(Target::Host { hostname: host.to_ascii_lowercase(), port })
}

/// A `hostname:port` CONNECT for the local workload: the service with that hostname (the local
/// workload's namespace first, as upstream), and the target port its endpoint (else the
/// service) maps `port` to. Delivered to the address the connection arrived on.
fn validate_hostname(
    inputs: &ProxyInputs,
    conn: &ConnInfo,
    workload: Arc<Workload>,
    hostname: &str,
    port: u16,
) -> Result<Delivery, Refusal> {
    let state = inputs.state.snapshot();
    let services = state.services_by_hostname(hostname);
    let svc = services
        .iter()
        .find(|s| s.namespace == workload.namespace)
        .or(services.first())
        .ok_or_else(|| Refusal::UnknownHostname(hostname.to_string()))?;
    let target_port = svc
        .endpoints
        .get(workload.uid.as_str())
        .and_then(|ep| ep.port.get(&port).copied())
        .filter(|p| *p != 0)
        .or(svc.ports.get(&port).copied().filter(|p| *p != 0))
        .ok_or_else(|| Refusal::NoServicePort { service: svc.key(), port })?;
    let dst = SocketAddr::new(conn.served.ip(), target_port);
    if inputs.is_inbound_self_call(DestinationAddr::new(dst)) {
        return Err(Refusal::SelfCall(dst));
    }
    owns_address(&workload, dst.ip())?;
    let (target, tunnel) = match &workload.application_tunnel {
        Some(t) => {
            // PROXY carries addresses, not names: one of the service's VIPs, one on our network
            // first (what the address means here), then IPv4 first.
            let ours = |v: &crate::state::NetworkAddress| v.network == inputs.cfg.network;
            let vip = svc.vips.iter().max_by_key(|v| (ours(v), v.address.is_ipv4())).map(|v| v.address);
            let vip = vip.ok_or_else(|| Refusal::UnknownHostname(format!("{hostname} (it has no VIP)")))?;
            (
                SocketAddr::new(dst.ip(), t.port.unwrap_or(dst.port())),
                Some(Tunnel { protocol: t.protocol, target: SocketAddr::new(vip, port) }),
            )
        }
        None => (dst, None),
    };
    Ok(Delivery { target, workload, tunnel, by_hostname: true })
}

struct Tunnel {
    protocol: AppTunnelProtocol,
    /// The CONNECT authority as sent (the original destination, e.g. a service VIP).
    target: SocketAddr,
}

/// Checks the CONNECT authority and names the local workload it targets.
async fn validate(
    inputs: &ProxyInputs,
    conn: &ConnInfo,
    authority: &str,
    log: &mut ConnectionLog,
) -> Result<Delivery, Refusal> {
    log.dst_hbone_addr = Some(conn.served.get());
    let requested = match parse_target(authority)? {
        Target::Addr(a) => DestinationAddr::new(a),
        Target::Host { hostname, port } => {
            let workload = inputs.local_workload().await.map_err(|e| Refusal::NoWorkload(e.to_string()))?;
            let d = validate_hostname(inputs, conn, workload, &hostname, port)?;
            log.dst = LoggedPeer::workload(&d.workload, true);
            return Ok(d);
        }
    };
    // The sender must address the workload whose IP it dialled; anything else would let a
    // peer use us as a relay to arbitrary local addresses. As upstream, two exceptions: the
    // local workload runs its own application tunnel (it is told the target and decides), or
    // the target (a service VIP or workload IP) has the local workload as its waypoint (the
    // "waypoint sandwich"). Either way the connection is delivered to the local workload, on
    // the target's port.
    let mut local = None;
    let dst = if requested.ip() == conn.served.ip() {
        requested
    } else {
        let workload = inputs.local_workload().await.map_err(|e| Refusal::NoWorkload(e.to_string()))?;
        if workload.application_tunnel.is_none() {
            // On demand, the target must be fetched before it can name us as its waypoint; if
            // that fails the check below refuses (fails closed).
            if let Err(e) = inputs.ensure_address(&inputs.cfg.network, requested.ip()).await {
                tracing::debug!(target = %requested, "waypoint target unknown: {e}");
            }
        }
        if workload.application_tunnel.is_none()
            && !route::serves_as_waypoint_for(&inputs.state.snapshot(), &inputs.cfg.network, requested.ip(), &workload)
        {
            return Err(Refusal::AddressMismatch { authority: requested, served: conn.served });
        }
        local = Some(workload);
        DestinationAddr::new(SocketAddr::new(conn.served.ip(), requested.port()))
    };
    if inputs.is_inbound_self_call(dst) {
        return Err(Refusal::SelfCall(dst.get()));
    }
    let workload = match local {
        Some(w) => w,
        None => inputs.local_workload().await.map_err(|e| Refusal::NoWorkload(e.to_string()))?,
    };
    owns_address(&workload, dst.ip())?;
    log.dst = LoggedPeer::workload(&workload, true);
    let (target, tunnel) = match &workload.application_tunnel {
        Some(t) => (
            SocketAddr::new(dst.ip(), t.port.unwrap_or(dst.port())),
            Some(Tunnel { protocol: t.protocol, target: requested.get() }),
        ),
        None => (dst.get(), None),
    };
    Ok(Delivery { target, workload, tunnel, by_hostname: false })
}

/// Refuses a delivery address that is not one of the local workload's own.
fn owns_address(workload: &Workload, ip: std::net::IpAddr) -> Result<(), Refusal> {
    if workload.workload_ips.contains(&ip) {
        return Ok(());
    }
    Err(Refusal::NoWorkload(format!(
        "{ip} is not an address of local workload {}/{}",
        workload.namespace, workload.name
    )))
}

/// The `ip:port` a CONNECT `:authority` names, canonical (IPv4-mapped IPv6 as IPv4). The pure
/// first step of [`validate`], public so fuzz/fuzz_targets/connect_headers.rs can reach it.
pub fn parse_authority(authority: &str) -> Result<SocketAddr, Refusal> {
    let target: SocketAddr = authority.parse().map_err(|_| Refusal::BadAuthority(authority.to_string()))?;
    Ok(crate::util::net::canonical(target))
}

/// Socket options for the hop to the local workload: original source when enabled.
fn inbound_socket(inputs: &ProxyInputs, conn: &ConnInfo) -> socket::SocketOptions {
    let mut opts = inputs.cfg.socket.clone();
    if inputs.cfg.orig_src {
        opts.transparent_source = Some(conn.peer.ip());
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_is_an_ip_and_port_made_canonical() {
        assert_eq!(parse_authority("10.0.0.7:8080").unwrap(), "10.0.0.7:8080".parse().unwrap());
        assert_eq!(parse_authority("[::ffff:10.0.0.7]:80").unwrap(), "10.0.0.7:80".parse().unwrap());
        assert_eq!(parse_authority("[fd00::1]:80").unwrap(), "[fd00::1]:80".parse().unwrap());
        for bad in ["echo.default.svc:80", "10.0.0.7", "10.0.0.7:99999", ""] {
            assert!(matches!(parse_authority(bad), Err(Refusal::BadAuthority(_))), "{bad}");
        }
    }

    #[test]
    fn targets_are_addresses_or_service_hostnames() {
        assert_eq!(parse_target("10.0.0.7:80").unwrap(), Target::Addr("10.0.0.7:80".parse().unwrap()));
        assert_eq!(
            parse_target("Echo.default.svc.cluster.local:80").unwrap(),
            Target::Host { hostname: "echo.default.svc.cluster.local".into(), port: 80 }
        );
        for bad in ["echo:0", "echo", ":80", "a..b:80", "a b:80", "echo:http", "a/b:80", "[::1]:99999", ""] {
            assert!(matches!(parse_target(bad), Err(Refusal::BadAuthority(_))), "{bad}");
        }
        // Found by the fuzz target: an IP with a port SocketAddr refuses is not a hostname,
        // and a signed port is not a port.
        for bad in ["1.2.3.4:+80", "echo:+80", "echo:-1", "1.2.3.4: 80"] {
            assert!(matches!(parse_target(bad), Err(Refusal::BadAuthority(_))), "{bad}");
        }
    }

    #[test]
    fn accepted_targets_print_back_to_themselves() {
        for s in ["10.0.0.7:80", "[::ffff:10.0.0.7]:80", "[fd00::1]:15008", "Echo.NS.svc:080", "01.2.3.4:80", "_a-b:1"]
        {
            let t = parse_target(s).unwrap();
            let printed = match &t {
                Target::Addr(a) => a.to_string(),
                Target::Host { hostname, port } => format!("{hostname}:{port}"),
            };
            assert_eq!(parse_target(&printed).unwrap(), t, "{s} printed as {printed}");
        }
    }

    #[test]
    fn only_another_networks_name_marks_a_gateway_hop() {
        let mut h = HeaderMap::new();
        assert!(!from_other_network(&h, "net-a"), "no header: our own network");
        h.insert("x-forwarded-network", "net-a".parse().unwrap());
        assert!(!from_other_network(&h, "net-a"));
        assert!(from_other_network(&h, "net-b"));
        h.insert("x-forwarded-network", http::HeaderValue::from_bytes(b"\xff").unwrap());
        assert!(from_other_network(&h, "net-a"), "an unreadable network is not ours");
    }
}
