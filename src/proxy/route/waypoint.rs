//! Waypoints: finding the proxy a service or workload sends its traffic through, and telling
//! whether a workload is (one of) that proxy's own instances.
//!
//! A waypoint is named by a [`GatewayAddress`]: an address (a service VIP or a workload IP)
//! or a namespaced hostname (a service, else a workload with that hostname), plus the port it
//! accepts HBONE on. istiod names stock waypoints by hostname (the waypoint Service, from the
//! Gateway's `status.addresses`), falling back to an IP. As upstream resolves it: a service is
//! load-balanced like any other (with the source's locality, on the HBONE port, which the
//! service must declare unless the endpoint runs its own application tunnel); a workload is
//! used as is, on `hbone_mtls_port`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rand::Rng;

use super::lb;
use crate::state::workload::{GatewayAddress, GatewayDestination};
use crate::state::{ProxyState, Service, Workload};

/// A waypoint instance chosen for one connection.
#[derive(Debug)]
pub(super) struct Resolved {
    pub workload: Arc<Workload>,
    /// Where to open the HBONE connection; `None` only for an instance on another network
    /// without an address of its own (reached through its network gateway instead).
    pub addr: Option<SocketAddr>,
    /// The waypoint service, when it was named through one (its SANs are also accepted).
    pub service: Option<Arc<Service>>,
}

/// Why a waypoint reference cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaypointError {
    #[error("no service or workload has address {0}")]
    UnknownAddress(IpAddr),
    #[error("no service or workload is named {0}")]
    UnknownHostname(String),
    #[error("waypoint service {service} has no healthy endpoint accepting HBONE on port {port}")]
    NoEndpoint { service: String, port: u16 },
    #[error("waypoint workload {0} has no IP address")]
    NoAddress(String),
}

/// `ns/hostname` or `network/ip`, for messages.
pub(super) fn describe(gw: &GatewayAddress) -> String {
    match &gw.destination {
        GatewayDestination::Address(a) => format!("{a}:{}", gw.hbone_mtls_port),
        GatewayDestination::Hostname(h) => format!("{h}:{}", gw.hbone_mtls_port),
    }
}

/// Picks the waypoint instance for a connection from `source` to `original` (its address
/// family is kept where the waypoint has both).
pub(super) fn resolve(
    state: &ProxyState,
    gw: &GatewayAddress,
    source: &Workload,
    original: SocketAddr,
    rng: &mut impl Rng,
) -> Result<Resolved, WaypointError> {
    let port = gw.hbone_mtls_port;
    match &gw.destination {
        GatewayDestination::Address(a) => {
            // A waypoint address names its network (`network/ip`), which is where it is.
            if let Some(svc) = state.service_by_vip(&a.network, a.address) {
                // Named by IP: that IP's family is the one to use (upstream's note: prefer
                // hostnames, which can follow the caller's family).
                return via_service(state, svc, port, source, a.address.is_ipv4(), rng);
            }
            let wl = state.workload_by_ip(&a.network, a.address).ok_or(WaypointError::UnknownAddress(a.address))?;
            let ip = wl.workload_ips.iter().copied().find(|ip| super::same_ip(*ip, a.address)).unwrap_or(a.address);
            Ok(Resolved { workload: wl, addr: Some(SocketAddr::new(ip, port)), service: None })
        }
        GatewayDestination::Hostname(h) => {
            let v4 = original.ip().is_ipv4();
            if let Some(svc) = state.service_by_namespaced_host(&h.namespace, &h.hostname) {
                return via_service(state, svc, port, source, v4, rng);
            }
            let wl = workload_by_hostname(state, &h.namespace, &h.hostname)
                .ok_or_else(|| WaypointError::UnknownHostname(h.to_string()))?;
            let ip = super::pick_ip(&wl, v4).ok_or_else(|| WaypointError::NoAddress(wl.to_string()))?;
            Ok(Resolved { workload: wl, addr: Some(SocketAddr::new(ip, port)), service: None })
        }
    }
}

/// Upstream's "waypoint" resolution mode: the service must declare `port` (any target) unless
/// the endpoint has an application tunnel; the endpoint's own mapping wins, then the
/// service's non-zero target, then (application tunnel only) the port itself.
fn via_service(
    state: &ProxyState,
    svc: Arc<Service>,
    port: u16,
    source: &Workload,
    v4: bool,
    rng: &mut impl Rng,
) -> Result<Resolved, WaypointError> {
    let declared = svc.ports.get(&port).copied();
    let picked = lb::pick(state, source, &svc, rng, |ep, wl| {
        if let Some(p) = ep.port.get(&port).copied().filter(|p| *p != 0) {
            return Some(p);
        }
        match declared {
            Some(t) if t != 0 => Some(t),
            _ if wl.application_tunnel.is_some() => Some(port),
            // Declared with target 0 ("same port"): the HBONE port itself.
            Some(_) => Some(port),
            None => None,
        }
    });
    let Some((wl, target)) = picked else {
        return Err(WaypointError::NoEndpoint { service: svc.key(), port });
    };
    let addr = match super::pick_ip(&wl, v4) {
        Some(ip) => Some(SocketAddr::new(ip, target)),
        None if super::network::is_remote(source, &wl) => None,
        None => return Err(WaypointError::NoAddress(wl.to_string())),
    };
    Ok(Resolved { workload: wl, addr, service: Some(svc) })
}

/// The workload with this namespace and hostname (a scan, as upstream's: hostname-addressed
/// workloads are rare and not worth an index).
pub(super) fn workload_by_hostname(state: &ProxyState, namespace: &str, hostname: &str) -> Option<Arc<Workload>> {
    state.workloads().find(|w| w.hostname == hostname && w.namespace == namespace).cloned()
}

/// Whether `wl` is one of the instances `gw` names: an endpoint of the waypoint service, or
/// the waypoint workload itself. Its own traffic must not be sent back to it.
pub(super) fn is_instance(state: &ProxyState, gw: &GatewayAddress, wl: &Workload) -> bool {
    let in_service = |svc: &Service| svc.endpoints.contains_key(wl.uid.as_str());
    match &gw.destination {
        GatewayDestination::Address(a) => match state.service_by_vip(&a.network, a.address) {
            Some(svc) => in_service(&svc),
            None => wl.network == a.network && wl.workload_ips.iter().any(|ip| super::same_ip(*ip, a.address)),
        },
        GatewayDestination::Hostname(h) => match state.service_by_namespaced_host(&h.namespace, &h.hostname) {
            Some(svc) => in_service(&svc),
            None => wl.namespace == h.namespace && wl.hostname == h.hostname,
        },
    }
}

/// The waypoint a connection to `svc` goes through: one of the weighted (canary) waypoints,
/// picked by weight, when istiod sends them (`[{primary, 100-w}, {canary, w}]`), else the
/// service's waypoint.
pub(super) fn for_service<'s>(svc: &'s Service, rng: &mut impl Rng) -> Option<&'s GatewayAddress> {
    let total: u64 = svc.weighted_waypoints.iter().map(|w| u64::from(w.weight)).sum();
    if total > 0 {
        let mut point = rng.random_range(..total);
        for w in &svc.weighted_waypoints {
            if point < u64::from(w.weight) {
                return Some(&w.destination);
            }
            point -= u64::from(w.weight);
        }
    }
    svc.waypoint.as_ref()
}

/// Whether `wl` is an instance of any of `svc`'s waypoints (primary or canary): its own
/// traffic to the service goes on to the endpoints.
pub(super) fn serves(state: &ProxyState, svc: &Service, wl: &Workload) -> bool {
    svc.waypoint
        .iter()
        .chain(svc.weighted_waypoints.iter().map(|w| &w.destination))
        .any(|gw| is_instance(state, gw, wl))
}

/// Whether `gw` names `svc` itself (a misconfiguration that would loop).
pub(super) fn names_service(gw: &GatewayAddress, svc: &Service) -> bool {
    match &gw.destination {
        GatewayDestination::Address(a) => {
            svc.vips.iter().any(|v| v.network == a.network && super::same_ip(v.address, a.address))
        }
        GatewayDestination::Hostname(h) => h.namespace == svc.namespace && h.hostname == svc.hostname,
    }
}

/// Upstream's inbound "waypoint sandwich" rule: a CONNECT whose target IP is not the address
/// the connection arrived on is still ours when the target (a workload, else a service VIP)
/// on `network` (this proxy's: inbound addresses are ours) uses `local` as its waypoint. The
/// connection is then delivered to `local` itself.
pub fn serves_as_waypoint_for(state: &ProxyState, network: &str, target: IpAddr, local: &Workload) -> bool {
    let gw = match state.workload_by_ip(network, target) {
        Some(wl) => wl.waypoint.as_deref().cloned(),
        // A destination inside a CIDR VIP is that service's too, as routing treats it.
        None => {
            state.service_for_destination(network, target, &local.namespace, |_| true).and_then(|s| s.waypoint.clone())
        }
    };
    gw.is_some_and(|gw| is_instance(state, &gw, local))
}
