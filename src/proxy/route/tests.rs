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

/// The sending workload (not in the state unless a test adds it).
fn src() -> Workload {
    wl("src", "10.1.0.1", TunnelProtocol::Hbone)
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
    let up = route(&st, &src(), sa("8.8.8.8:53"), 15008, &mut rng()).unwrap();
    assert_eq!(up, Upstream::Passthrough { addr: sa("8.8.8.8:53") });
    assert!(up.workload().is_none());
}

#[test]
fn hbone_workload_ip() {
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![]);
    let Upstream::Hbone { hbone_addr, target, identities, workload, service, hop } =
        route(&st, &src(), sa("10.0.0.1:8080"), 15008, &mut rng()).unwrap()
    else {
        panic!("expected HBONE")
    };
    assert_eq!(hbone_addr, sa("10.0.0.1:15008"));
    assert_eq!(target, sa("10.0.0.1:8080"));
    assert_eq!(identities, vec!["spiffe://cluster.local/ns/ns/sa/sa-a".parse::<Identity>().unwrap()]);
    assert_eq!(workload.uid, "a");
    assert!(service.is_none());
    assert_eq!(hop, Hop::Direct);
}

#[test]
fn custom_hbone_port_and_v4_mapped_destination() {
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![]);
    let up = route(&st, &src(), sa("[::ffff:10.0.0.1]:80"), 25008, &mut rng()).unwrap();
    let Upstream::Hbone { hbone_addr, target, .. } = up else { panic!() };
    assert_eq!(hbone_addr, sa("10.0.0.1:25008"));
    assert_eq!(target, sa("10.0.0.1:80"));
}

#[test]
fn tcp_workload_ip() {
    let st = state(vec![wl("b", "10.0.0.2", TunnelProtocol::Tcp)], vec![]);
    let up = route(&st, &src(), sa("10.0.0.2:9000"), 15008, &mut rng()).unwrap();
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
    let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
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
    let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    let Upstream::Tcp { addr, service, .. } = up else { panic!() };
    assert_eq!(addr, sa("10.0.0.2:8080"));
    assert!(service.is_some());
}

#[test]
fn port_mapping_rules() {
    let s = svc("10.96.0.1", &[(80, 8080), (443, 0), (90, 9090)], vec![ep("b", &[(90, 9999), (91, 9191)])]);
    let st = state(vec![wl("b", "10.0.0.2", TunnelProtocol::Tcp)], vec![s]);
    let target = |port: u16| match route(&st, &src(), SocketAddr::new(ip("10.96.0.1"), port), 15008, &mut rng()) {
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
    let Upstream::Tcp { addr, .. } = route(&st, &src(), sa("10.96.0.1:5432"), 15008, &mut rng()).unwrap() else {
        panic!()
    };
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
        let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut r).unwrap();
        assert_eq!(up.workload().unwrap().uid, "ok");
    }
}

#[test]
fn no_healthy_endpoint() {
    let mut sick = wl("sick", "10.0.0.3", TunnelProtocol::Tcp);
    sick.status = HealthStatus::Unhealthy;
    let st = state(vec![sick], vec![svc("10.96.0.1", &[(80, 80)], vec![ep("sick", &[])])]);
    assert_eq!(
        route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()),
        Err(RouteError::NoHealthyEndpoint { service: "ns/svc.ns.svc.cluster.local".into() })
    );
    let empty = state(vec![], vec![svc("10.96.0.2", &[], vec![])]);
    assert!(matches!(
        route(&empty, &src(), sa("10.96.0.2:80"), 15008, &mut rng()),
        Err(RouteError::NoHealthyEndpoint { .. })
    ));
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
    assert!(route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).is_ok());
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
        let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut r).unwrap();
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
    let Upstream::Tcp { addr, .. } = route(&st, &src(), sa("[fd00:96::1]:80"), 15008, &mut rng()).unwrap() else {
        panic!()
    };
    assert_eq!(addr, sa("[fd00::1]:80"));
    let Upstream::Tcp { addr, .. } = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap() else {
        panic!()
    };
    assert_eq!(addr, sa("10.0.0.1:80"));
}

#[test]
fn service_vip_wins_over_workload_ip() {
    // Not a realistic config, but the order matters: VIP lookup comes first.
    let mut st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Tcp)], vec![]);
    st.insert_service(svc("10.0.0.9", &[], vec![ep("a", &[])])).unwrap();
    let up = route(&st, &src(), sa("10.0.0.9:80"), 15008, &mut rng()).unwrap();
    assert!(up.service().is_some());
}

// ---- load balancing ----

use crate::state::service::{LoadBalancer, LoadBalancerHealthPolicy, LoadBalancerMode, LoadBalancerScope};
use crate::state::workload::{GatewayAddress, GatewayDestination, Locality, NamespacedHostname};

fn lb(mode: LoadBalancerMode, prefs: &[LoadBalancerScope]) -> Option<LoadBalancer> {
    Some(LoadBalancer {
        routing_preferences: prefs.to_vec(),
        mode,
        health_policy: LoadBalancerHealthPolicy::OnlyHealthy,
    })
}

fn located(uid: &str, addr: &str, region: &str, zone: &str, node: &str) -> Workload {
    let mut w = wl(uid, addr, TunnelProtocol::Hbone);
    w.locality = Locality { region: region.into(), zone: zone.into(), subzone: Default::default() };
    w.node = node.into();
    w
}

/// How often each endpoint uid is picked over `n` connections from `from` to 10.96.0.1:80.
fn picks(st: &ProxyState, from: &Workload, n: usize) -> BTreeMap<String, usize> {
    let mut r = rng();
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let up = route(st, from, sa("10.96.0.1:80"), 15008, &mut r).unwrap();
        *counts.entry(up.workload().unwrap().uid.to_string()).or_default() += 1;
    }
    counts
}

use std::collections::BTreeMap;

#[test]
fn rank_counts_leading_matching_scopes() {
    use LoadBalancerScope::*;
    let mut a = located("a", "10.0.0.1", "r1", "z1", "n1");
    let mut b = located("b", "10.0.0.2", "r1", "z1", "n2");
    a.locality.subzone = "s1".into();
    b.locality.subzone = "s1".into();
    assert_eq!(lb::rank(&[Region, Zone, Subzone, Node], &a, &b), 3, "node differs last");
    assert_eq!(lb::rank(&[Node, Region], &a, &b), 0, "stops at the first mismatch");
    assert_eq!(lb::rank(&[Cluster, Network], &a, &b), 2, "same default cluster and network");
    b.network = "other".into();
    b.cluster_id = "c2".into();
    assert_eq!(lb::rank(&[Network], &a, &b), 0);
    assert_eq!(lb::rank(&[Cluster], &a, &b), 0);
    assert_eq!(lb::rank(&[], &a, &b), 0);
}

#[test]
fn failover_prefers_the_closest_locality_and_spills_over_in_order() {
    use LoadBalancerScope::*;
    let from = located("src", "10.1.0.1", "r1", "z1", "n1");
    let near = located("near", "10.0.0.1", "r1", "z1", "n2");
    let region = located("region", "10.0.0.2", "r1", "z2", "n3");
    let far = located("far", "10.0.0.3", "r2", "z3", "n4");
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![ep("near", &[]), ep("region", &[]), ep("far", &[])]);
    // What istiod sends for `trafficDistribution: PreferClose`.
    s.load_balancer = lb(LoadBalancerMode::Failover, &[Network, Region, Zone]);
    let all = state(vec![near.clone(), region.clone(), far.clone()], vec![s.clone()]);
    assert_eq!(picks(&all, &from, 200), BTreeMap::from([("near".to_string(), 200)]));
    let mut sick = near.clone();
    sick.status = HealthStatus::Unhealthy;
    let no_near = state(vec![sick, region.clone(), far.clone()], vec![s.clone()]);
    assert_eq!(picks(&no_near, &from, 200), BTreeMap::from([("region".to_string(), 200)]));
    let only_far = state(vec![far], vec![s]);
    assert_eq!(picks(&only_far, &from, 50), BTreeMap::from([("far".to_string(), 50)]), "failover never refuses");
}

#[test]
fn strict_only_accepts_endpoints_matching_every_preference() {
    let from = located("src", "10.1.0.1", "r1", "z1", "n1");
    let local = located("local", "10.0.0.1", "r1", "z1", "n1");
    let remote = located("remote", "10.0.0.2", "r1", "z1", "n2");
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![ep("local", &[]), ep("remote", &[])]);
    // What istiod sends for `internalTrafficPolicy: Local`.
    s.load_balancer = lb(LoadBalancerMode::Strict, &[LoadBalancerScope::Node]);
    let both = state(vec![local, remote.clone()], vec![s.clone()]);
    assert_eq!(picks(&both, &from, 200), BTreeMap::from([("local".to_string(), 200)]));
    let remote_only = state(vec![remote], vec![s]);
    assert_eq!(
        route(&remote_only, &from, sa("10.96.0.1:80"), 15008, &mut rng()),
        Err(RouteError::NoHealthyEndpoint { service: "ns/svc.ns.svc.cluster.local".into() }),
        "no node-local endpoint: refused, not sent elsewhere"
    );
}

#[test]
fn standard_mode_ignores_locality() {
    let from = located("src", "10.1.0.1", "r1", "z1", "n1");
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![ep("a", &[]), ep("b", &[])]);
    s.load_balancer = lb(LoadBalancerMode::Standard, &[LoadBalancerScope::Zone]);
    let st =
        state(vec![located("a", "10.0.0.1", "r1", "z1", "n1"), located("b", "10.0.0.2", "r9", "z9", "n9")], vec![s]);
    let counts = picks(&st, &from, 2000);
    for n in counts.values() {
        assert!((800..1200).contains(n), "uneven: {counts:?}");
    }
}

#[test]
fn capacity_weights_the_choice() {
    let mut big = wl("big", "10.0.0.1", TunnelProtocol::Hbone);
    big.capacity = 3;
    let mut none = wl("none", "10.0.0.3", TunnelProtocol::Hbone);
    none.capacity = 0;
    let s = svc("10.96.0.1", &[(80, 8080)], vec![ep("big", &[]), ep("small", &[]), ep("none", &[])]);
    let st = state(vec![big, wl("small", "10.0.0.2", TunnelProtocol::Hbone), none], vec![s]);
    let counts = picks(&st, &src(), 4000);
    assert_eq!(counts.get("none"), None, "capacity 0 takes nothing: {counts:?}");
    assert!((2800..3200).contains(&counts["big"]), "3:1 expected: {counts:?}");
    assert!((800..1200).contains(&counts["small"]), "3:1 expected: {counts:?}");
}

#[test]
fn passthrough_mode_goes_to_the_original_destination() {
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![]);
    s.load_balancer = lb(LoadBalancerMode::Passthrough, &[]);
    let st = state(vec![], vec![s]);
    assert_eq!(
        route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()),
        Ok(Upstream::Passthrough { addr: sa("10.96.0.1:80") })
    );
}

// ---- waypoints ----

fn by_host(host: &str) -> GatewayAddress {
    GatewayAddress {
        destination: GatewayDestination::Hostname(NamespacedHostname { namespace: "ns".into(), hostname: host.into() }),
        hbone_mtls_port: 15008,
    }
}

fn by_ip(addr: &str) -> GatewayAddress {
    GatewayAddress {
        destination: GatewayDestination::Address(format!("/{addr}").parse().unwrap()),
        hbone_mtls_port: 15008,
    }
}

/// A waypoint deployment as istiod describes it: pod `wp` (10.0.0.100, not captured, so TCP)
/// behind Service `waypoint` (10.96.0.100, port 15008), and service `svc` (endpoint `a`)
/// using it. Workloads `[a, wp]`, services `[waypoint, svc]`.
fn waypoint_parts(gw: GatewayAddress) -> (Vec<Workload>, Vec<Service>) {
    let mut wp = wl("wp", "10.0.0.100", TunnelProtocol::Tcp);
    wp.service_account = "waypoint".into();
    let mut wp_svc = Service::new("ns", "waypoint", "waypoint.ns.svc.cluster.local");
    wp_svc.vips.push("/10.96.0.100".parse().unwrap());
    wp_svc.ports = [(15021, 15021), (15008, 15008)].into_iter().collect();
    wp_svc.endpoints = [("wp".to_string(), ep("wp", &[]))].into_iter().collect();
    wp_svc.subject_alt_names = vec!["spiffe://cluster.local/ns/ns/sa/waypoint-canary".into()];
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![ep("a", &[])]);
    s.waypoint = Some(gw);
    (vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone), wp], vec![wp_svc, s])
}

fn waypoint_mesh(gw: GatewayAddress) -> ProxyState {
    let (w, s) = waypoint_parts(gw);
    state(w, s)
}

fn ids(v: &[&str]) -> Vec<Identity> {
    v.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn service_waypoint_by_hostname_gets_the_untranslated_destination() {
    let st = waypoint_mesh(by_host("waypoint.ns.svc.cluster.local"));
    let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    let Upstream::Hbone { hbone_addr, target, identities, workload, service, hop } = up else { panic!("{up:?}") };
    assert_eq!(hop, Hop::Waypoint);
    assert_eq!(hbone_addr, sa("10.0.0.100:15008"), "the waypoint pod, on its HBONE port");
    assert_eq!(target, sa("10.96.0.1:80"), "VIP:port, not the endpoint");
    assert_eq!(workload.uid, "wp");
    assert_eq!(service.unwrap().name, "svc", "the intended service, for telemetry");
    assert_eq!(
        identities,
        ids(&["spiffe://cluster.local/ns/ns/sa/waypoint", "spiffe://cluster.local/ns/ns/sa/waypoint-canary"]),
        "the waypoint's identity (and its service's SANs), never the backend's"
    );
}

#[test]
fn service_waypoint_by_vip_or_workload_address() {
    for gw in [by_ip("10.96.0.100"), by_ip("10.0.0.100")] {
        let st = waypoint_mesh(gw.clone());
        let Upstream::Hbone { hbone_addr, target, workload, hop, .. } =
            route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap()
        else {
            panic!("{gw:?}")
        };
        assert_eq!(
            (hbone_addr, target, workload.uid.as_str(), hop),
            (sa("10.0.0.100:15008"), sa("10.96.0.1:80"), "wp", Hop::Waypoint)
        );
    }
}

#[test]
fn the_waypoints_own_traffic_goes_to_the_endpoint() {
    let st = waypoint_mesh(by_host("waypoint.ns.svc.cluster.local"));
    let wp = st.workload_by_uid("wp").unwrap();
    let up = route(&st, &wp, sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    let Upstream::Hbone { hbone_addr, target, hop, workload, .. } = up else { panic!("{up:?}") };
    assert_eq!(
        (hbone_addr, target, hop, workload.uid.as_str()),
        (sa("10.0.0.1:15008"), sa("10.0.0.1:8080"), Hop::Direct, "a")
    );
}

#[test]
fn an_unresolvable_waypoint_fails_closed() {
    // Named service missing, waypoint service without an HBONE port, without endpoints, and
    // an address nobody has.
    let wp_host = || by_host("waypoint.ns.svc.cluster.local");
    let (w, mut sv) = waypoint_parts(wp_host());
    sv[0].ports = [(15021, 15021)].into_iter().collect();
    let no_port = state(w, sv);
    let (mut w, mut sv) = waypoint_parts(wp_host());
    sv[0].endpoints = imbl::OrdMap::new();
    w.truncate(1);
    let no_endpoints = state(w, sv);
    let cases = [
        (
            waypoint_mesh(by_host("missing.ns.svc.cluster.local")),
            "no service or workload is named ns/missing.ns.svc.cluster.local",
        ),
        (no_port, "no healthy endpoint accepting HBONE on port 15008"),
        (no_endpoints, "no healthy endpoint accepting HBONE on port 15008"),
        (waypoint_mesh(by_ip("10.99.0.1")), "no service or workload has address 10.99.0.1"),
    ];
    for (st, why) in cases {
        let e = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap_err();
        assert!(matches!(e, RouteError::UnknownWaypoint { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("ns/svc.ns.svc.cluster.local must be reached through waypoint") && msg.contains(why),
            "{msg}"
        );
    }
}

#[test]
fn workload_waypoint_applies_to_workload_addressed_traffic_only() {
    let (mut w, sv) = waypoint_parts(by_host("waypoint.ns.svc.cluster.local"));
    w[0].waypoint = Some(Box::new(by_host("waypoint.ns.svc.cluster.local")));
    let st = state(w, sv);
    // Pod IP: through the waypoint, CONNECT to the pod address as dialled.
    let Upstream::Hbone { hbone_addr, target, hop, .. } =
        route(&st, &src(), sa("10.0.0.1:8080"), 15008, &mut rng()).unwrap()
    else {
        panic!()
    };
    assert_eq!((hbone_addr, target, hop), (sa("10.0.0.100:15008"), sa("10.0.0.1:8080"), Hop::Waypoint));
    // From the waypoint itself: straight to the pod.
    let wp = st.workload_by_uid("wp").unwrap();
    let Upstream::Hbone { hbone_addr, hop, .. } = route(&st, &wp, sa("10.0.0.1:8080"), 15008, &mut rng()).unwrap()
    else {
        panic!()
    };
    assert_eq!((hbone_addr, hop), (sa("10.0.0.1:15008"), Hop::Direct));
    // The waypoint's own address is never sent to a waypoint.
    let up = route(&st, &src(), sa("10.0.0.100:15008"), 15008, &mut rng()).unwrap();
    assert!(matches!(up, Upstream::Tcp { .. }), "{up:?}");
}

#[test]
fn a_waypoint_naming_its_own_service_is_not_followed() {
    let (w, mut sv) = waypoint_parts(by_host("waypoint.ns.svc.cluster.local"));
    sv[0].waypoint = Some(by_host("waypoint.ns.svc.cluster.local"));
    let st = state(w, sv);
    let up = route(&st, &src(), sa("10.96.0.100:15008"), 15008, &mut rng()).unwrap();
    assert!(matches!(up, Upstream::Tcp { addr, .. } if addr == sa("10.0.0.100:15008")), "{up:?}");
}

#[test]
fn inbound_sandwich_accepts_targets_that_use_us_as_their_waypoint() {
    let st = waypoint_mesh(by_host("waypoint.ns.svc.cluster.local"));
    let wp = st.workload_by_uid("wp").unwrap();
    let a = st.workload_by_uid("a").unwrap();
    assert!(serves_as_waypoint_for(&st, "", ip("10.96.0.1"), &wp), "svc's waypoint is wp");
    assert!(!serves_as_waypoint_for(&st, "", ip("10.96.0.1"), &a), "a is not svc's waypoint");
    assert!(!serves_as_waypoint_for(&st, "", ip("10.0.0.1"), &wp), "the pod itself has no waypoint");
    assert!(!serves_as_waypoint_for(&st, "", ip("10.99.9.9"), &wp), "unknown target");
}

#[test]
fn hostname_only_endpoint_is_resolved_by_the_caller() {
    // A ServiceEntry with `resolution: DNS`, as istiod sends it: the endpoint workload has a
    // hostname and no address.
    let mut se = Workload::new("se", "ns", "api", vec![]);
    se.hostname = "api.example.com".into();
    let st = state(vec![se], vec![svc("10.96.0.7", &[(443, 443)], vec![ep("se", &[])])]);
    let up = route(&st, &src(), sa("10.96.0.7:443"), 15008, &mut rng()).unwrap();
    let Upstream::Resolve { hostname, port, prefer_v4, workload, service } = up else { panic!("{up:?}") };
    assert_eq!((hostname.as_str(), port, prefer_v4, workload.uid.as_str()), ("api.example.com", 443, true, "se"));
    let up = resolved(workload, service, ip("203.0.113.9"), port, 15008);
    assert!(matches!(up, Upstream::Tcp { addr, .. } if addr == sa("203.0.113.9:443")), "{up:?}");
    // Neither address nor hostname: still unreachable.
    let nothing = state(vec![Workload::new("x", "ns", "x", vec![])], vec![svc("10.96.0.8", &[], vec![ep("x", &[])])]);
    assert!(matches!(
        route(&nothing, &src(), sa("10.96.0.8:443"), 15008, &mut rng()),
        Err(RouteError::NoHealthyEndpoint { .. })
    ));
}

#[test]
fn weighted_waypoints_split_connections_and_a_broken_canary_falls_back_to_the_primary() {
    use crate::state::service::WeightedWaypoint;
    let primary = by_host("waypoint.ns.svc.cluster.local");
    let (mut w, mut sv) = waypoint_parts(primary.clone());
    let mut canary = wl("wp-canary", "10.0.0.101", TunnelProtocol::Tcp);
    canary.service_account = "waypoint-canary".into();
    w.push(canary);
    sv[1].weighted_waypoints = vec![
        WeightedWaypoint { destination: primary.clone(), weight: 80 },
        WeightedWaypoint { destination: by_ip("10.0.0.101"), weight: 20 },
    ];
    let st = state(w.clone(), sv.clone());
    let mut r = rng();
    let mut counts = BTreeMap::<String, usize>::new();
    for _ in 0..2000 {
        let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut r).unwrap();
        let Upstream::Hbone { hop: Hop::Waypoint, workload, target, .. } = up else { panic!("{up:?}") };
        assert_eq!(target, sa("10.96.0.1:80"));
        *counts.entry(workload.uid.to_string()).or_default() += 1;
    }
    assert!((1500..1700).contains(&counts["wp"]) && (300..500).contains(&counts["wp-canary"]), "80/20: {counts:?}");
    // Either waypoint's own traffic goes on to the endpoints.
    for uid in ["wp", "wp-canary"] {
        let me = st.workload_by_uid(uid).unwrap();
        let up = route(&st, &me, sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
        assert!(matches!(up, Upstream::Hbone { hop: Hop::Direct, .. }), "{uid}: {up:?}");
    }
    // The canary names an address nobody has: every connection still goes through the primary.
    sv[1].weighted_waypoints[1].destination = by_ip("10.99.9.9");
    let st = state(w, sv);
    let mut r = rng();
    for _ in 0..200 {
        let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut r).unwrap();
        assert!(matches!(&up, Upstream::Hbone { hop: Hop::Waypoint, workload, .. } if workload.uid == "wp"), "{up:?}");
    }
}

#[test]
fn service_ip_families_restrict_the_endpoint_address() {
    use crate::state::service::IpFamily;
    let mut w = wl("a", "10.0.0.1", TunnelProtocol::Tcp);
    w.workload_ips.push(ip("fd00::1"));
    let v6_only = Workload::new("b", "ns", "b", vec![ip("fd00::2")]);
    let mut s = svc("10.96.0.1", &[(80, 80)], vec![ep("a", &[])]);
    s.ip_families = Some(IpFamily::IPv6);
    let mut s4 = svc("10.96.0.2", &[(80, 80)], vec![ep("b", &[])]);
    s4.name = "svc4".into();
    s4.hostname = "svc4.ns.svc.cluster.local".into();
    s4.ip_families = Some(IpFamily::IPv4);
    let st = state(vec![w, v6_only], vec![s, s4]);
    // An IPv4 VIP of an IPv6-only service still gets the endpoint's IPv6 address.
    let Upstream::Tcp { addr, .. } = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap() else {
        panic!()
    };
    assert_eq!(addr, sa("[fd00::1]:80"));
    // No address of the allowed family: refused, not sent on the other family.
    assert!(matches!(
        route(&st, &src(), sa("10.96.0.2:80"), 15008, &mut rng()),
        Err(RouteError::NoWorkloadAddress { .. })
    ));
}

#[test]
fn namespace_visible_service_is_invisible_to_other_namespaces() {
    let mut s = svc("10.96.0.1", &[(80, 8080)], vec![ep("a", &[])]);
    s.visibility = Some(crate::state::service::Visibility::Namespace);
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![s]);
    // Same namespace ("ns"): the service, its endpoint and port mapping.
    let up = route(&st, &src(), sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    assert!(matches!(up, Upstream::Hbone { target, .. } if target == sa("10.0.0.1:8080")), "{up:?}");
    // Another namespace: the VIP is not a service for it.
    let mut other = src();
    other.namespace = "elsewhere".into();
    let up = route(&st, &other, sa("10.96.0.1:80"), 15008, &mut rng()).unwrap();
    assert_eq!(up, Upstream::Passthrough { addr: sa("10.96.0.1:80") });
}

#[test]
fn cidr_vip_routes_to_its_service() {
    let mut range = svc("10.96.0.1", &[(80, 8080)], vec![ep("a", &[])]);
    range.vips.clear();
    range.cidr_vips.push("10.200.0.0/16".parse().unwrap());
    range.cidr_vips.push("fd00:200::/64".parse().unwrap());
    let st = state(
        vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone), wl("inside", "10.200.0.7", TunnelProtocol::Tcp)],
        vec![range],
    );
    for dst in ["10.200.3.4:80", "[fd00:200::9]:80"] {
        let up = route(&st, &src(), sa(dst), 15008, &mut rng()).unwrap();
        assert!(matches!(&up, Upstream::Hbone { target, .. } if *target == sa("10.0.0.1:8080")), "{dst}: {up:?}");
        assert_eq!(up.service().unwrap().name, "svc");
    }
    // As upstream's (the CIDR is part of the VIP lookup), the range claims a workload inside it.
    let up = route(&st, &src(), sa("10.200.0.7:80"), 15008, &mut rng()).unwrap();
    assert!(up.service().is_some(), "{up:?}");
    // Outside the range: passthrough.
    let up = route(&st, &src(), sa("10.201.0.1:80"), 15008, &mut rng()).unwrap();
    assert_eq!(up, Upstream::Passthrough { addr: sa("10.201.0.1:80") });
}

#[test]
fn namespace_visible_cidr_vip_is_invisible_to_other_namespaces() {
    let mut range = svc("10.96.0.1", &[(80, 8080)], vec![ep("a", &[])]);
    range.vips.clear();
    range.cidr_vips.push("10.200.0.0/16".parse().unwrap());
    range.visibility = Some(crate::state::service::Visibility::Namespace);
    let st = state(vec![wl("a", "10.0.0.1", TunnelProtocol::Hbone)], vec![range]);
    assert!(route(&st, &src(), sa("10.200.0.1:80"), 15008, &mut rng()).unwrap().service().is_some());
    let mut other = src();
    other.namespace = "elsewhere".into();
    let up = route(&st, &other, sa("10.200.0.1:80"), 15008, &mut rng()).unwrap();
    assert_eq!(up, Upstream::Passthrough { addr: sa("10.200.0.1:80") });
}
