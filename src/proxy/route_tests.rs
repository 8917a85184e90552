//! Tests for [`super::route`], one per branch of the decision.

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::state::{Endpoint, HealthStatus};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn wl(uid: &str, addr: &str, proto: TunnelProtocol) -> Workload {
    let mut w = Workload::new(uid, "ns", uid, vec![ip(addr)]);
    w.protocol = proto;
    w.trust_domain = "cluster.local".into();
    w.service_account = format!("sa-{uid}").into();
    w
}

fn ep(uid: &str, ports: &[(u16, u16)]) -> Endpoint {
    Endpoint {
        workload_uid: uid.into(),
        port: std::sync::Arc::new(ports.iter().copied().collect()),
        status: HealthStatus::Healthy,
    }
}

fn svc(vip: &str, ports: &[(u16, u16)], eps: Vec<Endpoint>) -> Service {
    let mut s = Service::new("ns", "svc", "svc.ns.svc.cluster.local");
    s.vips.push(format!("/{vip}").parse().unwrap());
    s.ports = ports.iter().copied().collect();
    s.endpoints = eps.into_iter().map(|e| (e.workload_uid.clone(), e)).collect();
    s
}

fn state(workloads: Vec<Workload>, services: Vec<Service>) -> ProxyState {
    let mut st = ProxyState::new();
    for w in workloads {
        st.insert_workload(w).unwrap();
    }
    for s in services {
        st.insert_service(s).unwrap();
    }
    st
}

#[test]
fn unknown_destination_passes_through() {
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![]);
    let up = route(&st, sa("8.8.8.8:53"), 15008, &mut rng()).unwrap();
    assert_eq!(up, Upstream::Passthrough { addr: sa("8.8.8.8:53") });
    assert!(up.workload().is_none());
}

#[test]
fn hbone_workload_ip() {
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![]);
    let Upstream::Hbone { hbone_addr, target, identities, workload, service } =
        route(&st, sa("10.0.0.1:8080"), 15008, &mut rng()).unwrap()
    else {
        panic!("expected HBONE")
    };
    assert_eq!(hbone_addr, sa("10.0.0.1:15008"));
    assert_eq!(target, sa("10.0.0.1:8080"));
    assert_eq!(identities, vec!["spiffe://cluster.local/ns/ns/sa/sa-a".parse::<Identity>().unwrap()]);
    assert_eq!(workload.uid, "a");
    assert!(service.is_none());
}

#[test]
fn custom_hbone_port_and_v4_mapped_destination() {
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![]);
    let up = route(&st, sa("[::ffff:10.0.0.1]:80"), 25008, &mut rng()).unwrap();
    let Upstream::Hbone { hbone_addr, target, .. } = up else { panic!() };
    assert_eq!(hbone_addr, sa("10.0.0.1:25008"));
    assert_eq!(target, sa("10.0.0.1:80"));
}

#[test]
fn tcp_workload_ip() {
    let st = state(vec![wl("b", "10.0.0.2", TunnelProtocol::Tcp)], vec![]);
    let up = route(&st, sa("10.0.0.2:9000"), 15008, &mut rng()).unwrap();
    let Upstream::Tcp { addr, workload, service } = up else { panic!("expected TCP") };
    assert_eq!(addr, sa("10.0.0.2:9000"));
    assert_eq!(workload.uid, "b");
    assert!(service.is_none());
}

#[test]
fn service_vip_maps_port_and_adds_sans() {
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![ep("a", &[])]);
    s.subject_alt_names = vec![
        "spiffe://cluster.local/ns/ns/sa/extra".into(),
        "not-a-spiffe-id".into(),
        // Duplicates of the workload identity are not repeated.
        "spiffe://cluster.local/ns/ns/sa/sa-a".into(),
    ];
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![s]);
    let up = route(&st, sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    assert_eq!(up.service().unwrap().hostname, "svc.ns.svc.cluster.local");
    let Upstream::Hbone { hbone_addr, target, identities, .. } = up else { panic!() };
    assert_eq!(hbone_addr, sa("10.0.0.1:15008"));
    assert_eq!(target, sa("10.0.0.1:8080"));
    let ids: Vec<String> = identities.iter().map(ToString::to_string).collect();
    assert_eq!(ids, ["spiffe://cluster.local/ns/ns/sa/sa-a", "spiffe://cluster.local/ns/ns/sa/extra"]);
}

#[test]
fn tcp_service_endpoint() {
    let s = svc("10.96.0.1", &[(80, 8080)], vec![ep("b", &[])]);
    let st = state(vec![wl("b", "10.0.0.2", TunnelProtocol::Tcp)], vec![s]);
    let up = route(&st, sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    let Upstream::Tcp { addr, service, .. } = up else { panic!() };
    assert_eq!(addr, sa("10.0.0.2:8080"));
    assert!(service.is_some());
}

#[test]
fn port_mapping_rules() {
    let s = svc("10.96.0.1", &[(80, 8080), (443, 0), (90, 9090)], vec![ep("b", &[(90, 9999), (91, 9191)])]);
    let st = state(vec![wl("b", "10.0.0.2", TunnelProtocol::Tcp)], vec![s]);
    let target = |port: u16| match route(&st, SocketAddr::new(ip("10.96.0.1"), port), 15008, &mut rng()) {
        Ok(Upstream::Tcp { addr, .. }) => Ok(addr.port()),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(target(80), Ok(8080), "service mapping");
    assert_eq!(target(443), Ok(443), "target 0 means same port");
    assert_eq!(target(90), Ok(9999), "endpoint mapping wins");
    assert_eq!(target(91), Ok(9191), "endpoint-only mapping is accepted");
    assert_eq!(
        target(22),
        Err(RouteError::UnknownServicePort { service: "ns/svc.ns.svc.cluster.local".into(), port: 22 })
    );
}

#[test]
fn service_without_ports_passes_port_through() {
    let s = svc("10.96.0.1", &[], vec![ep("b", &[])]);
    let st = state(vec![wl("b", "10.0.0.2", TunnelProtocol::Tcp)], vec![s]);
    let Upstream::Tcp { addr, .. } = route(&st, sa("10.96.0.1:5432"), 15008, &mut rng()).unwrap() else { panic!() };
    assert_eq!(addr, sa("10.0.0.2:5432"));
}

#[test]
fn unhealthy_endpoints_are_skipped() {
    let mut sick = wl("sick", "10.0.0.3", TunnelProtocol::Tcp);
    sick.status = HealthStatus::Unhealthy;
    let mut sick_ep = ep("ep-sick", &[]);
    sick_ep.status = HealthStatus::Unhealthy;
    let s = svc("10.96.0.1", &[(80, 80)], vec![ep("sick", &[]), sick_ep, ep("ok", &[]), ep("ghost", &[])]);
    let st = state(
        vec![sick, wl("ep-sick", "10.0.0.4", TunnelProtocol::Tcp), wl("ok", "10.0.0.5", TunnelProtocol::Tcp)],
        vec![s],
    );
    let mut r = rng();
    for _ in 0..50 {
        let up = route(&st, sa("10.96.0.1:80"), 15008, &mut r).unwrap();
        assert_eq!(up.workload().unwrap().uid, "ok");
    }
}

#[test]
fn no_healthy_endpoint() {
    let mut sick = wl("sick", "10.0.0.3", TunnelProtocol::Tcp);
    sick.status = HealthStatus::Unhealthy;
    let st = state(vec![sick], vec![svc("10.96.0.1", &[(80, 80)], vec![ep("sick", &[])])]);
    assert_eq!(
        route(&st, sa("10.96.0.1:80"), 15008, &mut rng()),
        Err(RouteError::NoHealthyEndpoint { service: "ns/svc.ns.svc.cluster.local".into() })
    );
    let empty = state(vec![], vec![svc("10.96.0.2", &[], vec![])]);
    assert!(matches!(route(&empty, sa("10.96.0.2:80"), 15008, &mut rng()), Err(RouteError::NoHealthyEndpoint { .. })));
}

#[test]
fn allow_all_health_policy_uses_unhealthy_endpoints() {
    use crate::state::service::{LoadBalancer, LoadBalancerHealthPolicy, LoadBalancerMode};
    let mut sick = wl("sick", "10.0.0.3", TunnelProtocol::Tcp);
    sick.status = HealthStatus::Unhealthy;
    let mut s = svc("10.96.0.1", &[(80, 80)], vec![ep("sick", &[])]);
    s.load_balancer = Some(LoadBalancer {
        routing_preferences: vec![],
        mode: LoadBalancerMode::Standard,
        health_policy: LoadBalancerHealthPolicy::AllowAll,
    });
    let st = state(vec![sick], vec![s]);
    assert!(route(&st, sa("10.96.0.1:80"), 15008, &mut rng()).is_ok());
}

#[test]
fn random_spread_over_endpoints() {
    let names = ["a", "b", "c", "d"];
    let workloads =
        names.iter().enumerate().map(|(i, n)| wl(n, &format!("10.0.0.{}", i + 1), TunnelProtocol::Hbone)).collect();
    let s = svc("10.96.0.1", &[(80, 8080)], names.iter().map(|n| ep(n, &[])).collect());
    let st = state(workloads, vec![s]);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut r = rng();
    for _ in 0..4000 {
        let up = route(&st, sa("10.96.0.1:80"), 15008, &mut r).unwrap();
        *counts.entry(up.workload().unwrap().uid.to_string()).or_default() += 1;
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
    for n in counts.values() {
        assert!((800..1200).contains(n), "uneven spread: {counts:?}");
    }
}

#[test]
fn dual_stack_endpoint_uses_vip_family() {
    let mut w = wl("a", "10.0.0.1", TunnelProtocol::Tcp);
    w.workload_ips.push(ip("fd00::1"));
    let mut s = svc("10.96.0.1", &[(80, 80)], vec![ep("a", &[])]);
    s.vips.push("/fd00:96::1".parse().unwrap());
    let st = state(vec![w], vec![s]);
    let Upstream::Tcp { addr, .. } = route(&st, sa("[fd00:96::1]:80"), 15008, &mut rng()).unwrap() else { panic!() };
    assert_eq!(addr, sa("[fd00::1]:80"));
    let Upstream::Tcp { addr, .. } = route(&st, sa("10.96.0.1:80"), 15008, &mut rng()).unwrap() else { panic!() };
    assert_eq!(addr, sa("10.0.0.1:80"));
}

#[test]
fn service_vip_wins_over_workload_ip() {
    // Not a realistic config, but the order matters: VIP lookup comes first.
    let mut st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Tcp)], vec![]);
    st.insert_service(svc("10.0.0.9", &[], vec![ep("a", &[])])).unwrap();
    let up = route(&st, sa("10.0.0.9:80"), 15008, &mut rng()).unwrap();
    assert!(up.service().is_some());
}
