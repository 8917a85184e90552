//! Who is on the other end of an inbound connection, for metric labels (reporter=destination).
//!
//! The verified peer identity is the anchor. The source workload is the one at the client
//! address (from the `forwarded` header, else the TCP peer) *if* its identity matches the
//! certificate; otherwise the labels come from the identity plus the peer's `baggage` claims,
//! bounded per identity ([`crate::metrics::TrafficMetrics::claimed_peer`]).
//! The destination service is guessed from the local workload's services by target port.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderMap;

use crate::identity::Identity;
use crate::metrics::baggage;
use crate::proxy::access::ConnectionLog;
use crate::state::{ProxyState, Service, Workload};

/// Fills the source and destination-service labels of an inbound HBONE stream. `network` is
/// this proxy's: the client address, when there is one, is an address on it.
#[allow(clippy::too_many_arguments)]
pub fn label_inbound(
    state: &ProxyState,
    network: &str,
    log: &mut ConnectionLog,
    headers: &HeaderMap,
    tcp_peer: Option<SocketAddr>,
    peer_identity: Option<&Identity>,
    local: &Arc<Workload>,
    target: SocketAddr,
) {
    log.destination_workload(local);
    if let Some(svc) = guess_service(state, local, target.port()) {
        log.destination_service(&svc);
    }
    let Some(id) = peer_identity else { return };
    // No TCP peer: the connection came through a network gateway, and no address of the
    // source's means anything on this network.
    let candidates = match tcp_peer {
        Some(p) => [forwarded_for(headers), Some(p.ip())],
        None => [None, None],
    };
    let by_ip = candidates
        .into_iter()
        .flatten()
        .filter_map(|ip| state.workload_by_ip(network, ip))
        .find(|w| *w.identity() == *id);
    match by_ip {
        Some(w) => log.source_workload(&w),
        None => {
            let claims = headers.get("baggage").and_then(|v| v.to_str().ok()).map(baggage::parse).unwrap_or_default();
            log.source_claims(id, &claims);
        }
    }
}

/// The client IP from `forwarded: for="ip:port"` (upstream's format; `for=ip` also accepted).
/// Public for fuzz/fuzz_targets/connect_headers.rs (peer-controlled header).
pub fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let v = headers.get("forwarded")?.to_str().ok()?;
    let f = v.split(';').flat_map(|p| p.split(',')).find_map(|p| p.trim().strip_prefix("for="))?.trim_matches('"');
    f.parse::<SocketAddr>()
        .map(|a| a.ip())
        .ok()
        .or_else(|| f.trim_start_matches('[').trim_end_matches(']').parse().ok())
}

/// The service of `w` that maps some port to `target_port` (first by the workload's order).
fn guess_service(state: &ProxyState, w: &Workload, target_port: u16) -> Option<Arc<Service>> {
    w.services.iter().find_map(|nh| {
        let svc = state.service_by_namespaced_host(&nh.namespace, &nh.hostname)?;
        let endpoint_ports = svc.endpoints.get(&w.uid).map(|e| &*e.port);
        let maps = |ports: &std::collections::BTreeMap<u16, u16>| {
            ports.iter().any(|(s, t)| if *t == 0 { *s == target_port } else { *t == target_port })
        };
        (maps(&svc.ports) || endpoint_ports.is_some_and(maps)).then_some(svc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_forms() {
        let mut h = HeaderMap::new();
        h.insert("forwarded", "for=\"10.0.0.1:4000\"".parse().unwrap());
        assert_eq!(forwarded_for(&h), Some("10.0.0.1".parse().unwrap()));
        h.insert("forwarded", "for=\"[fd00::1]:80\";host=a.b".parse().unwrap());
        assert_eq!(forwarded_for(&h), Some("fd00::1".parse().unwrap()));
        h.insert("forwarded", "for=10.0.0.2".parse().unwrap());
        assert_eq!(forwarded_for(&h), Some("10.0.0.2".parse().unwrap()));
        h.insert("forwarded", "host=x".parse().unwrap());
        assert_eq!(forwarded_for(&h), None);
    }

    #[test]
    fn service_guessed_by_target_port() {
        let mut st = ProxyState::new();
        let mut w = Workload::new("u", "ns", "w", vec!["10.0.0.1".parse().unwrap()]);
        w.services.push(crate::state::NamespacedHostname { namespace: "ns".into(), hostname: "a.ns".into() });
        let mut s = Service::new("ns", "a", "a.ns");
        s.ports.insert(80, 8080);
        st.insert_service(s).unwrap();
        assert_eq!(guess_service(&st, &w, 8080).unwrap().name, "a");
        assert!(guess_service(&st, &w, 9090).is_none());
    }
}
