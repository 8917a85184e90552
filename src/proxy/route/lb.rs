//! Choosing one endpoint of a service: health, locality and capacity, as upstream does.
//!
//! - Health: unhealthy endpoints (the endpoint's own status or its workload's) are skipped
//!   unless the service's health policy is `AllowAll`.
//! - Locality (`LoadBalancer.mode` STRICT / FAILOVER over `routing_preferences`): an
//!   endpoint's rank is how many of the preferences, in order, it shares with the *source*
//!   workload (region, zone, subzone, node, cluster, network), stopping at the first that
//!   differs. FAILOVER picks among the endpoints of the highest rank present, so traffic stays
//!   as close as it can and moves out one scope at a time as closer endpoints disappear;
//!   STRICT only accepts endpoints that match every preference and fails otherwise. This is
//!   how istiod encodes `internalTrafficPolicy: Local` (STRICT, [NODE]),
//!   `trafficDistribution: PreferClose` / `PreferSameZone` (FAILOVER, [NETWORK, REGION, ZONE])
//!   and `PreferSameNode` (FAILOVER, [NETWORK, REGION, ZONE, SUBZONE, NODE]).
//! - Capacity: among the chosen rank, an endpoint is picked with probability proportional to
//!   its workload's `capacity` (upstream's default 1, so equal by default).
//!
//! Allocation-free: three passes over the endpoints (best rank, total weight, the walk to the
//! pick) instead of collecting them, so a connection to a large service clones one workload
//! `Arc`. Randomness comes from the caller.

use std::sync::Arc;

use rand::Rng;

use crate::state::service::{LoadBalancerMode, LoadBalancerScope};
use crate::state::{Endpoint, HealthStatus, ProxyState, Service, Workload};

/// How many of `prefs`, in order, `src` and `dst` share (upstream's rank).
pub(super) fn rank(prefs: &[LoadBalancerScope], src: &Workload, dst: &Workload) -> usize {
    prefs
        .iter()
        .take_while(|scope| match scope {
            LoadBalancerScope::Region => src.locality.region == dst.locality.region,
            LoadBalancerScope::Zone => src.locality.zone == dst.locality.zone,
            LoadBalancerScope::Subzone => src.locality.subzone == dst.locality.subzone,
            LoadBalancerScope::Node => src.node == dst.node,
            LoadBalancerScope::Cluster => src.cluster_id == dst.cluster_id,
            LoadBalancerScope::Network => src.network == dst.network,
        })
        .count()
}

/// Picks an endpoint of `svc` for a connection from `source`. `target_port` decides which
/// endpoints can take the connection at all (`None` filters one out) and at which port.
/// `None` when no endpoint qualifies.
pub(super) fn pick(
    state: &ProxyState,
    source: &Workload,
    svc: &Service,
    rng: &mut impl Rng,
    target_port: impl Fn(&Endpoint, &Workload) -> Option<u16>,
) -> Option<(Arc<Workload>, u16)> {
    let allow_unhealthy = svc.allows_unhealthy();
    let (prefs, strict): (&[LoadBalancerScope], bool) = match &svc.load_balancer {
        Some(lb) if matches!(lb.mode, LoadBalancerMode::Strict | LoadBalancerMode::Failover) => {
            (&lb.routing_preferences, lb.mode == LoadBalancerMode::Strict)
        }
        _ => (&[], false),
    };
    // (workload, target port, rank) of every endpoint that may take the connection.
    let target_port = &target_port;
    let candidates = || {
        svc.endpoints.values().filter_map(move |ep| {
            if !allow_unhealthy && ep.status != HealthStatus::Healthy {
                return None;
            }
            let wl = state.workload_by_uid(&ep.workload_uid)?;
            // No address at all: unreachable, unless it is on another network and has a gateway
            // (istiod sends remote pods without addresses; the gateway is the way there). WDS is
            // the same for every client, so a gateway on our own network is never used. A
            // hostname alone is resolved when picked.
            let addressless = wl.workload_ips.is_empty() && wl.hostname.is_empty();
            if (!allow_unhealthy && !wl.is_healthy())
                || (addressless && (wl.network == source.network || wl.network_gateway.is_none()))
            {
                return None;
            }
            let port = target_port(ep, &wl)?;
            let r = rank(prefs, source, &wl);
            if strict && r != prefs.len() {
                return None;
            }
            Some((wl, port, r))
        })
    };
    let best = candidates().map(|(_, _, r)| r).max()?;
    let weight = |wl: &Workload| u64::from(wl.capacity);
    let total: u64 = candidates().filter(|(_, _, r)| *r == best).map(|(wl, _, _)| weight(&wl)).sum();
    if total == 0 {
        // Every remaining endpoint declares capacity 0: nothing can take the connection.
        return None;
    }
    let mut point = rng.random_range(..total);
    for (wl, port, _) in candidates().filter(|(_, _, r)| *r == best) {
        let w = weight(&wl);
        if point < w {
            return Some((wl, port));
        }
        point -= w;
    }
    None
}
