//! The outbound routing decision: given where a connection was headed, and who is sending it,
//! where do we send it? Upstream's `build_request` is the specification.
//!
//! Pure (no I/O, randomness injected) so every branch is unit-tested. The decision:
//!
//! 1. destination IP is a service VIP (or, failing an exact one, inside a service's CIDR VIP,
//!    longest prefix first):
//!    - the service has a waypoint → HBONE to the waypoint (its own identity verified) with
//!      the original VIP:port as the CONNECT target, unless the source *is* that waypoint
//!      (its own traffic goes on to the endpoints) or the waypoint names the service itself;
//!      a waypoint that cannot be resolved fails the connection, never bypasses it;
//!    - load-balancing mode PASSTHROUGH → plain TCP to the original destination;
//!    - otherwise one endpoint is picked ([`lb`]: health, locality, capacity) and the port
//!      mapped;
//! 2. destination IP is a workload IP → that workload, same port; if it has a waypoint (and
//!    the source is not that waypoint, nor the workload one of its instances), through the
//!    waypoint as above;
//! 3. anything else → passthrough to the original destination.
//!
//! The chosen workload's protocol then selects HBONE (via its node's ztunnel) or plain TCP;
//! a waypoint is always reached over HBONE; an endpoint known only by hostname (ServiceEntry
//! `resolution: DNS`) is returned as [`Upstream::Resolve`] for the caller to resolve. A service
//! with weighted (canary) waypoints sends each connection to one of them by weight. A next hop
//! (endpoint or service waypoint) on another network than the source is reached through that
//! network's gateway as [`Upstream::DoubleHbone`] ([`network`]).

mod lb;
pub mod network;
pub mod waypoint;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rand::Rng;

use crate::identity::Identity;
use crate::state::{ProxyState, Service, TunnelProtocol, Workload};
pub use waypoint::{WaypointError, serves_as_waypoint_for};

/// Why the next hop is the one chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// Straight to the destination (its node's ztunnel, or the workload itself).
    Direct,
    /// To the destination's waypoint, which forwards it on.
    Waypoint,
}

/// Where to send an outbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Tunnel through the destination node's ztunnel, or to a waypoint.
    Hbone {
        /// Peer IP : HBONE port (the TCP/TLS connection goes here).
        hbone_addr: SocketAddr,
        /// The CONNECT authority: endpoint IP : target port, or, through a waypoint, the
        /// original destination (service VIP : service port) untranslated.
        target: SocketAddr,
        /// Identities the peer certificate may carry: the peer workload's own identity (the
        /// waypoint's, through one), then its service's subjectAltNames.
        identities: Vec<Identity>,
        /// The workload the HBONE connection terminates at (the waypoint, through one).
        workload: Arc<Workload>,
        /// The service the original destination belonged to, if any.
        service: Option<Arc<Service>>,
        hop: Hop,
    },
    /// The next hop is on another network: an outer HBONE connection to that network's gateway,
    /// and inside its CONNECT stream an inner mTLS + HTTP/2 CONNECT to the destination ztunnel
    /// (or waypoint), both naming the service (`authority`).
    DoubleHbone {
        /// Gateway IP : port the outer (pooled) connection goes to.
        gateway_addr: SocketAddr,
        /// Identities the gateway's certificate may carry.
        gateway_identities: Vec<Identity>,
        /// `service hostname : service port`, the CONNECT target of both layers.
        authority: String,
        /// Identities the inner handshake's peer (the remote endpoint or waypoint) may carry.
        inner_identities: Vec<Identity>,
        /// The gateway instance (upstream reports it as the destination workload).
        gateway: Arc<Workload>,
        /// The remote endpoint or waypoint picked (the gateway may pick another instance).
        remote: Arc<Workload>,
        service: Arc<Service>,
    },
    /// Plain TCP to a known, non-HBONE workload (or service endpoint).
    Tcp { addr: SocketAddr, workload: Arc<Workload>, service: Option<Arc<Service>> },
    /// Destination is not in the mesh (or a PASSTHROUGH service): plain TCP to the original
    /// destination.
    Passthrough { addr: SocketAddr },
    /// The endpoint picked has a hostname and no address (ServiceEntry `resolution: DNS`):
    /// resolve it, then connect as [`resolved`] says, addresses of `prefer_v4`'s family first.
    Resolve { hostname: String, port: u16, prefer_v4: bool, workload: Arc<Workload>, service: Option<Arc<Service>> },
}

impl Upstream {
    /// The workload chosen, if the destination is in the mesh.
    pub fn workload(&self) -> Option<&Arc<Workload>> {
        match self {
            Upstream::Hbone { workload, .. } | Upstream::Tcp { workload, .. } | Upstream::Resolve { workload, .. } => {
                Some(workload)
            }
            Upstream::DoubleHbone { gateway, .. } => Some(gateway),
            Upstream::Passthrough { .. } => None,
        }
    }

    /// The service the destination VIP belonged to, if any.
    pub fn service(&self) -> Option<&Arc<Service>> {
        match self {
            Upstream::Hbone { service, .. } | Upstream::Tcp { service, .. } | Upstream::Resolve { service, .. } => {
                service.as_ref()
            }
            Upstream::DoubleHbone { service, .. } => Some(service),
            Upstream::Passthrough { .. } => None,
        }
    }
}

/// Why a destination that is in the mesh cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no healthy endpoint for service {service}")]
    NoHealthyEndpoint { service: String },
    #[error("port {port} is not a port of service {service}")]
    UnknownServicePort { service: String, port: u16 },
    #[error("workload {workload} has no IP address to connect to")]
    NoWorkloadAddress { workload: String },
    /// Fails closed: sending the connection past the waypoint would skip its policy.
    #[error("{target} must be reached through waypoint {waypoint}, which cannot be resolved: {reason}")]
    UnknownWaypoint { target: String, waypoint: String, reason: WaypointError },
    /// Its address means nothing on our network, and nothing else leads there.
    #[error("{workload} is on network {network:?}, which has no network gateway for it: unreachable from here")]
    NoNetworkGateway { workload: String, network: String },
    #[error("{workload} is on another network, behind gateway {gateway}, which cannot be resolved: {reason}")]
    UnknownNetworkGateway { workload: String, gateway: String, reason: network::GatewayError },
    /// Only services can be reached across networks (the gateway routes on a service name).
    #[error("{workload} is on network {network:?} and was addressed by IP: only its services can be reached from here")]
    RemoteWorkloadAddress { workload: String, network: String },
}

/// The source as routing sees it: addresses mean something on the source's network, and a
/// workload that names none is on this proxy's (`NETWORK`, `proxy_network`). A copy only
/// in that case (a workload from istiod in a multi-network mesh always names its network).
pub fn on_network<'w>(source: &'w Workload, proxy_network: &str) -> std::borrow::Cow<'w, Workload> {
    if source.network.is_empty() && !proxy_network.is_empty() {
        std::borrow::Cow::Owned(Workload { network: proxy_network.into(), ..source.clone() })
    } else {
        std::borrow::Cow::Borrowed(source)
    }
}

/// Decides where a connection from `source` (the local workload) to `dst` goes. `hbone_port`
/// is the port remote ztunnels accept HBONE on (normally 15008).
pub fn route(
    state: &ProxyState,
    source: &Workload,
    dst: SocketAddr,
    hbone_port: u16,
    rng: &mut impl Rng,
) -> Result<Upstream, RouteError> {
    // A service exported to its own namespace only (`exportTo: ["."]`) does not exist for
    // other namespaces: its VIP is then whatever else it is (as upstream's VIP lookup).
    // A CIDR VIP is part of this lookup (after exact VIPs), so, as upstream's, it is matched
    // before workload IPs: a ServiceEntry's address range claims the workloads inside it.
    // Addresses are looked up on the source's network (upstream's): the same pod IP or VIP
    // may exist on another network too, where it is somebody else.
    let network = source.network.as_str();
    if let Some(svc) = state.service_for_destination(network, dst.ip(), &source.namespace, |s| visible_to(s, source)) {
        if let Some(gw) = waypoint::for_service(&svc, rng)
            && !waypoint::names_service(gw, &svc)
            && !waypoint::serves(state, &svc, source)
        {
            let routed = through_waypoint(state, gw, source, dst, || svc.key(), Some(svc.clone()), rng);
            // A canary that cannot be resolved falls back to the primary: still a waypoint,
            // never around it.
            return match (routed, &svc.waypoint) {
                (Err(RouteError::UnknownWaypoint { .. }), Some(primary)) if primary != gw => {
                    through_waypoint(state, primary, source, dst, || svc.key(), Some(svc.clone()), rng)
                }
                (routed, _) => routed,
            };
        }
        return route_service(state, source, svc, dst, hbone_port, rng);
    }
    // Only workloads on the source's network are found here: another network's pod at the
    // same address is somebody else (and reachable only through its services).
    if let Some(wl) = state.workload_by_ip(network, dst.ip()) {
        if let Some(gw) = &wl.waypoint
            && !waypoint::is_instance(state, gw, source)
            && !waypoint::is_instance(state, gw, &wl)
        {
            return through_waypoint(state, gw, source, dst, || wl.to_string(), None, rng);
        }
        // The caller dialed this exact workload address; keep its IP even if the workload has
        // several, and normalise a v4-mapped address to the v4 one we will actually dial.
        let ip = wl.workload_ips.iter().copied().find(|ip| same_ip(*ip, dst.ip())).unwrap_or(dst.ip());
        return Ok(resolved(wl, None, ip, dst.port(), hbone_port));
    }
    Ok(Upstream::Passthrough { addr: dst })
}

/// HBONE to the waypoint `gw`, CONNECT to the untranslated original destination.
fn through_waypoint(
    state: &ProxyState,
    gw: &crate::state::workload::GatewayAddress,
    source: &Workload,
    dst: SocketAddr,
    // Only formatted when it fails: the connections that succeed allocate no name.
    target_name: impl Fn() -> String,
    service: Option<Arc<Service>>,
    rng: &mut impl Rng,
) -> Result<Upstream, RouteError> {
    let wp = waypoint::resolve(state, gw, source, dst, rng).map_err(|reason| RouteError::UnknownWaypoint {
        target: target_name(),
        waypoint: waypoint::describe(gw),
        reason,
    })?;
    if network::is_remote(source, &wp.workload) {
        // A waypoint on another network (upstream: only for service traffic, which names the
        // service the gateway routes on).
        let workload = wp.workload.to_string();
        let Some(svc) = service else {
            return Err(RouteError::RemoteWorkloadAddress { workload, network: wp.workload.network.to_string() });
        };
        return network::through_gateway(state, source, wp.workload, wp.service.as_deref(), svc, dst, rng);
    }
    let identities = identities(&wp.workload, wp.service.as_deref());
    let hbone_addr = wp.addr.ok_or_else(|| RouteError::NoWorkloadAddress { workload: wp.workload.to_string() })?;
    Ok(Upstream::Hbone { hbone_addr, target: dst, identities, workload: wp.workload, service, hop: Hop::Waypoint })
}

fn route_service(
    state: &ProxyState,
    source: &Workload,
    svc: Arc<Service>,
    dst: SocketAddr,
    hbone_port: u16,
    rng: &mut impl Rng,
) -> Result<Upstream, RouteError> {
    use crate::state::service::LoadBalancerMode;
    if svc.load_balancer.as_ref().is_some_and(|lb| lb.mode == LoadBalancerMode::Passthrough) {
        // Upstream: the original destination, as is (ServiceEntry `resolution: NONE`).
        return Ok(Upstream::Passthrough { addr: dst });
    }
    let svc_port = dst.port();
    // A service that declares ports only accepts those (or ones an endpoint maps itself); one
    // that declares none passes every port through unchanged, which is what a bare local
    // entry without `ports` most likely means.
    let declared = svc.ports.get(&svc_port).copied();
    if declared.is_none() && !svc.ports.is_empty() && !svc.endpoints.values().any(|ep| ep.port.contains_key(&svc_port))
    {
        return Err(RouteError::UnknownServicePort { service: svc.key(), port: svc_port });
    }
    // Endpoint mapping first, then the service's, 0/absent meaning "same port".
    let target_port = |ep: &crate::state::Endpoint, _: &Workload| {
        Some(ep.port.get(&svc_port).copied().filter(|p| *p != 0).or(declared.filter(|p| *p != 0)).unwrap_or(svc_port))
    };
    let Some((wl, target_port)) = lb::pick(state, source, &svc, rng, target_port) else {
        return Err(RouteError::NoHealthyEndpoint { service: svc.key() });
    };
    if network::is_remote(source, &wl) {
        return network::through_gateway(state, source, wl, None, svc, dst, rng);
    }
    if wl.workload_ips.is_empty() {
        // Only a hostname (the endpoint filter let nothing else through): resolved on use.
        let (hostname, prefer_v4) = (wl.hostname.clone(), dst.ip().is_ipv4());
        return Ok(Upstream::Resolve {
            hostname: hostname.to_string(),
            port: target_port,
            prefer_v4,
            workload: wl,
            service: Some(svc),
        });
    }
    // Within the service's IP families (upstream's restriction), prefer an endpoint address of
    // the family of the VIP the client used.
    let ip = pick_ip_within(&wl, dst.ip().is_ipv4(), svc.ip_families)
        .ok_or_else(|| RouteError::NoWorkloadAddress { workload: wl.to_string() })?;
    Ok(resolved(wl, Some(svc), ip, target_port, hbone_port))
}

/// [`pick_ip`] among the addresses `families` allows (`IPv4`/`IPv6` only one family; `Dual`
/// or unset both).
fn pick_ip_within(wl: &Workload, v4: bool, families: Option<crate::state::service::IpFamily>) -> Option<IpAddr> {
    use crate::state::service::IpFamily;
    let allowed = |ip: &IpAddr| match families {
        Some(IpFamily::IPv4) => ip.is_ipv4(),
        Some(IpFamily::IPv6) => ip.is_ipv6(),
        Some(IpFamily::Dual) | None => true,
    };
    let mut ips = wl.workload_ips.iter().copied().filter(allowed);
    let first = ips.clone().next();
    ips.find(|ip| ip.is_ipv4() == v4).or(first)
}

/// An address of `wl`, of the requested family if it has one.
fn pick_ip(wl: &Workload, v4: bool) -> Option<IpAddr> {
    wl.workload_ips.iter().copied().find(|ip| ip.is_ipv4() == v4).or_else(|| wl.workload_ips.first().copied())
}

/// The workload's identity, then the service's parseable subjectAltNames not already listed.
fn identities(wl: &Workload, service: Option<&Service>) -> Vec<Identity> {
    let mut identities = vec![wl.identity().into_owned()];
    if let Some(svc) = service {
        for san in &svc.subject_alt_names {
            match san.parse::<Identity>() {
                Ok(id) if !identities.contains(&id) => identities.push(id),
                Ok(_) => {}
                Err(e) => tracing::warn!(service = %svc.key(), "ignoring unusable subjectAltName: {e}"),
            }
        }
    }
    identities
}

/// How to reach `wl` (picked for `service`) at `ip`:`target_port`: HBONE or plain TCP, as its
/// protocol says. What an [`Upstream::Resolve`] becomes once its hostname has an address.
pub fn resolved(
    wl: Arc<Workload>,
    service: Option<Arc<Service>>,
    ip: IpAddr,
    target_port: u16,
    hbone_port: u16,
) -> Upstream {
    let target = SocketAddr::new(ip, target_port);
    match wl.protocol {
        TunnelProtocol::Hbone => {
            let identities = identities(&wl, service.as_deref());
            Upstream::Hbone {
                hbone_addr: SocketAddr::new(ip, hbone_port),
                target,
                identities,
                workload: wl,
                service,
                hop: Hop::Direct,
            }
        }
        TunnelProtocol::Tcp => Upstream::Tcp { addr: target, workload: wl, service },
    }
}

/// Whether `source` may see `svc` (`visibility: NAMESPACE` limits it to its own namespace).
pub fn visible_to(svc: &Service, source: &Workload) -> bool {
    svc.visible_in(&source.namespace)
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    use crate::util::net::canonical_ip;
    canonical_ip(a) == canonical_ip(b)
}

#[cfg(test)]
mod tests;
