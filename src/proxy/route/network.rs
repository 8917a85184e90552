//! Multi-network: reaching a next hop (a service endpoint, or a service's waypoint) that sits on
//! another network than the source. Its pods' addresses mean nothing here, so the connection
//! goes to that network's east-west gateway, named by the workload's `network_gateway`, as
//! double HBONE (upstream's `build_request_through_gateway`):
//!
//! - the outer CONNECT goes to the gateway on its `hbone_mtls_port`, with the gateway's
//!   identity (and its service's SANs) as the acceptable peers;
//! - both CONNECTs name the *service*, `hostname:service port`: the gateway routes on the outer
//!   one without terminating the inner, and the destination ztunnel maps the inner one to its
//!   local endpoint's target port;
//! - the inner mTLS is terminated by whichever endpoint (or waypoint) of the service the
//!   gateway picks, so the inner identities are the service's SANs, plus the identity of the
//!   next hop picked here (upstream accepts the SANs only, which fails every service istiod
//!   sends without SANs; a picked endpoint's own identity is no weaker).
//!
//! A remote workload without a gateway cannot be reached at all and fails the connection,
//! never falling back to its (meaningless here) address.

use std::net::SocketAddr;
use std::sync::Arc;

use rand::Rng;

use super::{RouteError, Upstream, lb, waypoint};
use crate::identity::Identity;
use crate::state::workload::{GatewayAddress, GatewayDestination};
use crate::state::{ProxyState, Service, Workload};

/// Why a network gateway reference cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("no service or workload has address {0}")]
    UnknownAddress(std::net::IpAddr),
    #[error("no service or workload is named {0}")]
    UnknownHostname(String),
    #[error("gateway service {service} has no healthy endpoint for port {port}")]
    NoEndpoint { service: String, port: u16 },
    #[error("gateway workload {0} has no IP address")]
    NoAddress(String),
}

/// The gateway instance picked for one connection.
struct Gateway {
    workload: Arc<Workload>,
    /// Where the outer HBONE connection goes.
    addr: SocketAddr,
    /// The gateway service, when it was named through one (its SANs are also accepted).
    service: Option<Arc<Service>>,
}

/// Whether `next` must be reached through a network gateway by `source`.
pub(super) fn is_remote(source: &Workload, next: &Workload) -> bool {
    next.network != source.network
}

/// Double HBONE to `next` (on another network), for a connection to `svc` at `dst`.
/// `next_service` is the service `next` was picked from (the waypoint's, through one).
pub(super) fn through_gateway(
    state: &ProxyState,
    source: &Workload,
    next: Arc<Workload>,
    next_service: Option<&Service>,
    svc: Arc<Service>,
    dst: SocketAddr,
    rng: &mut impl Rng,
) -> Result<Upstream, RouteError> {
    let Some(gw) = next.network_gateway.as_deref() else {
        return Err(RouteError::NoNetworkGateway { workload: next.to_string(), network: next.network.to_string() });
    };
    let Gateway { workload: gateway, addr, service: gateway_service } =
        resolve(state, gw, source, dst, rng).map_err(|reason| RouteError::UnknownNetworkGateway {
            workload: next.to_string(),
            gateway: waypoint::describe(gw),
            reason,
        })?;
    let gateway_identities = super::identities(&gateway, gateway_service.as_deref());
    let mut inner_identities: Vec<Identity> = super::identities(&next, next_service);
    // The service's own SANs too, when `next` came through a waypoint: the gateway may pick any
    // instance of what the service hostname leads to.
    for id in super::identities(&next, Some(&svc)) {
        if !inner_identities.contains(&id) {
            inner_identities.push(id);
        }
    }
    Ok(Upstream::DoubleHbone {
        gateway_addr: addr,
        gateway_identities,
        authority: format!("{}:{}", svc.hostname, dst.port()),
        inner_identities,
        gateway,
        remote: next,
        service: svc,
    })
}

/// The gateway instance and the address to open the outer HBONE connection to. Upstream's
/// `fetch_network_gateway`: by address, a service VIP is load-balanced on `hbone_mtls_port`
/// (its port mapping applies), a workload IP is used as is; by hostname, a service, else a
/// workload with that hostname, the address family following the original destination's.
fn resolve(
    state: &ProxyState,
    gw: &GatewayAddress,
    source: &Workload,
    dst: SocketAddr,
    rng: &mut impl Rng,
) -> Result<Gateway, GatewayError> {
    let port = gw.hbone_mtls_port;
    let (svc, v4) = match &gw.destination {
        // The gateway's address names its own network (`network/ip`).
        GatewayDestination::Address(a) => match state.service_by_vip(&a.network, a.address) {
            Some(svc) => (svc, a.address.is_ipv4()),
            None => {
                let wl = state.workload_by_ip(&a.network, a.address).ok_or(GatewayError::UnknownAddress(a.address))?;
                return Ok(Gateway { workload: wl, addr: SocketAddr::new(a.address, port), service: None });
            }
        },
        GatewayDestination::Hostname(h) => match state.service_by_namespaced_host(&h.namespace, &h.hostname) {
            Some(svc) => (svc, dst.ip().is_ipv4()),
            None => {
                let wl = waypoint::workload_by_hostname(state, &h.namespace, &h.hostname)
                    .ok_or_else(|| GatewayError::UnknownHostname(h.to_string()))?;
                let ip =
                    super::pick_ip(&wl, dst.ip().is_ipv4()).ok_or_else(|| GatewayError::NoAddress(wl.to_string()))?;
                return Ok(Gateway { workload: wl, addr: SocketAddr::new(ip, port), service: None });
            }
        },
    };
    // Standard resolution: the service must declare the port (a target of 0 needs the
    // endpoint's own mapping).
    let declared = svc.ports.get(&port).copied();
    let picked = lb::pick(state, source, &svc, rng, |ep, _| {
        ep.port.get(&port).copied().filter(|p| *p != 0).or(declared.filter(|p| *p != 0))
    });
    let Some((wl, target)) = picked else {
        return Err(GatewayError::NoEndpoint { service: svc.key(), port });
    };
    let ip = super::pick_ip(&wl, v4).ok_or_else(|| GatewayError::NoAddress(wl.to_string()))?;
    Ok(Gateway { workload: wl, addr: SocketAddr::new(ip, target), service: Some(svc) })
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
