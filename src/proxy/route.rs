//! The outbound routing decision: given where a connection was headed, where do we send it?
//!
//! Pure (no I/O, randomness injected) so every branch is unit-tested. Waypoints and network
//! gateways are stored in state but not yet honoured here; the decision is:
//!
//! 1. destination IP is a service VIP → pick a random healthy endpoint and map the port;
//! 2. destination IP is a workload IP → that workload, same port;
//! 3. anything else → passthrough to the original destination.
//!
//! The chosen workload's protocol then selects HBONE (via its node's ztunnel) or plain TCP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rand::Rng;

use crate::identity::Identity;
use crate::state::{ProxyState, Service, TunnelProtocol, Workload};

/// Where to send an outbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Tunnel through the destination node's ztunnel.
    Hbone {
        /// Endpoint IP : HBONE port (the TCP/TLS connection goes here).
        hbone_addr: SocketAddr,
        /// Endpoint IP : target port; the CONNECT authority.
        target: SocketAddr,
        /// Identities the peer certificate may carry: the workload's own identity, then the
        /// service's subjectAltNames.
        identities: Vec<Identity>,
        workload: Arc<Workload>,
        service: Option<Arc<Service>>,
    },
    /// Plain TCP to a known, non-HBONE workload (or service endpoint).
    Tcp { addr: SocketAddr, workload: Arc<Workload>, service: Option<Arc<Service>> },
    /// Destination is not in the mesh: plain passthrough to the original destination.
    Passthrough { addr: SocketAddr },
}

impl Upstream {
    /// The workload chosen, if the destination is in the mesh.
    pub fn workload(&self) -> Option<&Arc<Workload>> {
        match self {
            Upstream::Hbone { workload, .. } | Upstream::Tcp { workload, .. } => Some(workload),
            Upstream::Passthrough { .. } => None,
        }
    }

    /// The service the destination VIP belonged to, if any.
    pub fn service(&self) -> Option<&Arc<Service>> {
        match self {
            Upstream::Hbone { service, .. } | Upstream::Tcp { service, .. } => service.as_ref(),
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
}

/// Decides where a connection to `dst` goes. `hbone_port` is the port remote ztunnels accept
/// HBONE on (normally 15008).
pub fn route(state: &ProxyState, dst: SocketAddr, hbone_port: u16, rng: &mut impl Rng) -> Result<Upstream, RouteError> {
    if let Some(svc) = state.service_by_vip(dst.ip()) {
        return route_service(state, svc, dst, hbone_port, rng);
    }
    if let Some(wl) = state.workload_by_ip(dst.ip()) {
        // The caller dialed this exact workload address; keep its IP even if the workload has
        // several, and normalise a v4-mapped address to the v4 one we will actually dial.
        let ip = wl.workload_ips.iter().copied().find(|ip| same_ip(*ip, dst.ip())).unwrap_or(dst.ip());
        return Ok(upstream_for(wl, None, ip, dst.port(), hbone_port));
    }
    Ok(Upstream::Passthrough { addr: dst })
}

fn route_service(
    state: &ProxyState,
    svc: Arc<Service>,
    dst: SocketAddr,
    hbone_port: u16,
    rng: &mut impl Rng,
) -> Result<Upstream, RouteError> {
    let svc_port = dst.port();
    // A service that declares ports only accepts those (or ones an endpoint maps itself); one
    // that declares none passes every port through unchanged, which is what a bare local
    // entry without `ports` most likely means.
    let declared = svc.ports.get(&svc_port).copied();
    if declared.is_none() && !svc.ports.is_empty() && !svc.endpoints.values().any(|ep| ep.port.contains_key(&svc_port))
    {
        return Err(RouteError::UnknownServicePort { service: svc.key(), port: svc_port });
    }
    let allow_unhealthy = svc.allows_unhealthy();
    // Two passes over the endpoints (count, then walk to the chosen one) instead of
    // collecting them: a connection to a large service allocates nothing here and clones one
    // workload `Arc`, not one per endpoint. The pick is the same `random_range(..count)`
    // over the same order as choosing from the collected list.
    let candidates = || {
        svc.endpoints
            .values()
            .filter(move |ep| allow_unhealthy || ep.status == crate::state::HealthStatus::Healthy)
            .filter_map(move |ep| {
                let wl = state.workload_by_uid(&ep.workload_uid)?;
                if (!allow_unhealthy && !wl.is_healthy()) || wl.workload_ips.is_empty() {
                    return None;
                }
                // Endpoint mapping first, then the service's, 0/absent meaning "same port".
                let target = ep
                    .port
                    .get(&svc_port)
                    .copied()
                    .filter(|p| *p != 0)
                    .or(declared.filter(|p| *p != 0))
                    .unwrap_or(svc_port);
                Some((wl, target))
            })
    };
    let count = candidates().count();
    if count == 0 {
        return Err(RouteError::NoHealthyEndpoint { service: svc.key() });
    }
    let Some((wl, target_port)) = candidates().nth(rng.random_range(..count)) else {
        return Err(RouteError::NoHealthyEndpoint { service: svc.key() });
    };
    // Prefer an endpoint address of the same family as the VIP the client used.
    let ip = wl
        .workload_ips
        .iter()
        .copied()
        .find(|ip| ip.is_ipv4() == dst.ip().is_ipv4())
        .or_else(|| wl.workload_ips.first().copied())
        .ok_or_else(|| RouteError::NoWorkloadAddress { workload: wl.to_string() })?;
    Ok(upstream_for(wl, Some(svc), ip, target_port, hbone_port))
}

fn upstream_for(
    wl: Arc<Workload>,
    service: Option<Arc<Service>>,
    ip: IpAddr,
    target_port: u16,
    hbone_port: u16,
) -> Upstream {
    let target = SocketAddr::new(ip, target_port);
    match wl.protocol {
        TunnelProtocol::Hbone => {
            let mut identities = vec![wl.identity().into_owned()];
            if let Some(svc) = &service {
                for san in &svc.subject_alt_names {
                    match san.parse::<Identity>() {
                        Ok(id) if !identities.contains(&id) => identities.push(id),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(
                            service = %svc.key(),
                            "ignoring unusable subjectAltName: {e}"
                        ),
                    }
                }
            }
            Upstream::Hbone { hbone_addr: SocketAddr::new(ip, hbone_port), target, identities, workload: wl, service }
        }
        TunnelProtocol::Tcp => Upstream::Tcp { addr: target, workload: wl, service },
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    use crate::util::net::canonical_ip;
    canonical_ip(a) == canonical_ip(b)
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
