//! Tests for [`super`]: which next hops go through a network gateway, and what the two HBONE
//! layers are told. Cases follow upstream's `build_request_double_hbone`,
//! `build_request_wrong_network` and `build_request_failover_to_remote`.

use std::net::{IpAddr, SocketAddr};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::identity::Identity;
use crate::proxy::route::{RouteError, Upstream, route};
use crate::state::service::{LoadBalancer, LoadBalancerMode, LoadBalancerScope};
use crate::state::workload::GatewayAddress;
use crate::state::{Endpoint, HealthStatus, ProxyState, Service, TunnelProtocol, Workload};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn wl(uid: &str, addrs: &[&str], network: &str) -> Workload {
    let ips: Vec<IpAddr> = addrs.iter().map(|a| a.parse().unwrap()).collect();
    let mut w = Workload::new(uid, "ns", uid, ips);
    w.protocol = TunnelProtocol::Hbone;
    w.trust_domain = "cluster.local".into();
    w.service_account = format!("sa-{uid}").into();
    w.network = network.into();
    w
}

fn gw(yaml: &str) -> Option<Box<GatewayAddress>> {
    Some(Box::new(serde_yaml::from_str(yaml).unwrap()))
}

fn svc(host: &str, vip: &str, ports: &[(u16, u16)], eps: &[&str]) -> Service {
    let mut s = Service::new("ns", host, host);
    // On the source's network: that is where it looks the address up.
    s.vips.push(format!("net-a/{vip}").parse().unwrap());
    s.ports = ports.iter().copied().collect();
    s.endpoints = eps
        .iter()
        .map(|uid| {
            let e = Endpoint {
                workload_uid: (*uid).into(),
                port: std::sync::Arc::new(ports.iter().copied().collect()),
                status: HealthStatus::Healthy,
            };
            (e.workload_uid.clone(), e)
        })
        .collect();
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

fn src() -> Workload {
    wl("src", &["10.1.0.1"], "net-a")
}

fn id(uid: &str) -> Identity {
    Identity::new("cluster.local", "ns", format!("sa-{uid}"))
}

fn route_to(st: &ProxyState, dst: &str) -> Result<Upstream, RouteError> {
    route(st, &src(), sa(dst), 15008, &mut StdRng::seed_from_u64(1))
}

fn remote_pod(gateway: &str) -> Workload {
    let mut w = wl("remote", &[], "net-b");
    w.network_gateway = gw(gateway);
    w
}

#[test]
fn remote_endpoint_goes_through_a_gateway_named_by_address() {
    let ew = wl("ew", &["10.22.1.1"], "net-b");
    let st = state(
        vec![remote_pod("destination: net-b/10.22.1.1\nhboneMtlsPort: 15009"), ew],
        vec![svc("example.com", "127.0.0.3", &[(80, 8080)], &["remote"])],
    );
    let Upstream::DoubleHbone {
        gateway_addr,
        gateway_identities,
        authority,
        inner_identities,
        gateway,
        remote,
        service,
    } = route_to(&st, "127.0.0.3:80").unwrap()
    else {
        panic!("expected double HBONE")
    };
    assert_eq!(gateway_addr, sa("10.22.1.1:15009"), "the gateway IP on its hbone_mtls_port");
    assert_eq!(authority, "example.com:80", "the service hostname and the *service* port");
    assert_eq!(gateway_identities, vec![id("ew")]);
    assert_eq!(inner_identities, vec![id("remote")]);
    assert_eq!((gateway.uid.as_str(), remote.uid.as_str(), service.hostname.as_str()), ("ew", "remote", "example.com"));
}

#[test]
fn gateway_named_by_hostname_is_load_balanced_with_its_port_mapping() {
    let mut ew = wl("ew", &["127.0.0.5"], "net-b");
    ew.services.push(crate::state::workload::NamespacedHostname { namespace: "ns".into(), hostname: "ew-gtw".into() });
    let mut gw_svc = svc("ew-gtw", "127.0.0.4", &[(15009, 15008)], &["ew"]);
    gw_svc.subject_alt_names = vec!["spiffe://cluster.local/ns/ns/sa/gateway-san".into()];
    let mut target = svc("example.com", "127.0.0.3", &[(80, 8080)], &["remote"]);
    target.subject_alt_names = vec!["spiffe://cluster.local/ns/ns/sa/example-san".into()];
    let st = state(
        vec![remote_pod("destination: {namespace: ns, hostname: ew-gtw}\nhboneMtlsPort: 15009"), ew],
        vec![target, gw_svc],
    );
    let Upstream::DoubleHbone { gateway_addr, gateway_identities, authority, inner_identities, .. } =
        route_to(&st, "127.0.0.3:80").unwrap()
    else {
        panic!("expected double HBONE")
    };
    assert_eq!(gateway_addr, sa("127.0.0.5:15008"), "service port 15009 maps to the pod's 15008");
    assert_eq!(authority, "example.com:80");
    let san = |sa: &str| Identity::new("cluster.local", "ns", sa);
    assert_eq!(gateway_identities, vec![id("ew"), san("gateway-san")], "the gateway's, never the service's");
    assert_eq!(inner_identities, vec![id("remote"), san("example-san")], "the final hop's and the service's SANs");
}

#[test]
fn remote_waypoint_is_reached_through_the_gateway_with_the_service_authority() {
    let mut target = svc("example.com", "127.0.0.3", &[(80, 8080)], &[]);
    target.waypoint = gw("destination: {namespace: ns, hostname: waypoint.com}\nhboneMtlsPort: 15008").map(|b| *b);
    let mut wp = wl("remote-waypoint", &[], "net-b");
    wp.network_gateway = gw("destination: net-b/10.22.1.1\nhboneMtlsPort: 15009");
    let st = state(
        vec![wp, wl("ew", &["10.22.1.1"], "net-b")],
        vec![target, svc("waypoint.com", "127.0.0.4", &[(15008, 15008)], &["remote-waypoint"])],
    );
    let Upstream::DoubleHbone { gateway_addr, authority, inner_identities, remote, .. } =
        route_to(&st, "127.0.0.3:80").unwrap()
    else {
        panic!("expected double HBONE")
    };
    assert_eq!((gateway_addr, authority.as_str()), (sa("10.22.1.1:15009"), "example.com:80"));
    assert_eq!(remote.uid.as_str(), "remote-waypoint");
    assert_eq!(inner_identities, vec![id("remote-waypoint")], "the inner handshake ends at the waypoint");
}

#[test]
fn remote_endpoint_without_a_gateway_fails_closed() {
    // With an address: it means nothing here, so it is never dialled.
    let st = state(
        vec![wl("remote", &["10.0.0.2"], "net-b")],
        vec![svc("example.com", "127.0.0.3", &[(80, 8080)], &["remote"])],
    );
    let err = route_to(&st, "127.0.0.3:80").unwrap_err();
    assert_eq!(
        err,
        RouteError::NoNetworkGateway { workload: "ns/remote (uid remote)".into(), network: "net-b".into() },
        "{err}"
    );
    assert!(err.to_string().contains("unreachable from here"), "{err}");
    // Without an address nor a gateway: not even a candidate.
    let st = state(vec![wl("remote", &[], "net-b")], vec![svc("example.com", "127.0.0.3", &[(80, 8080)], &["remote"])]);
    assert!(matches!(route_to(&st, "127.0.0.3:80"), Err(RouteError::NoHealthyEndpoint { .. })));
}

#[test]
fn unknown_gateway_fails_closed_and_says_which() {
    let st = state(
        vec![remote_pod("destination: {namespace: ns, hostname: missing-gw}\nhboneMtlsPort: 15009")],
        vec![svc("example.com", "127.0.0.3", &[(80, 8080)], &["remote"])],
    );
    let err = route_to(&st, "127.0.0.3:80").unwrap_err().to_string();
    assert!(
        err.contains("behind gateway ns/missing-gw:15009") && err.contains("no service or workload is named"),
        "{err}"
    );
}

#[test]
fn a_remote_pods_ip_means_nothing_on_the_source_network() {
    // Upstream's network-qualified lookup: net-b's 10.0.0.2 is not net-a's, so a source on
    // net-a dialing it reaches whatever 10.0.0.2 is on its own network (here: nothing known).
    let mut w = wl("remote", &["10.0.0.2"], "net-b");
    w.network_gateway = gw("destination: net-b/10.22.1.1\nhboneMtlsPort: 15009");
    let st = state(vec![w], vec![]);
    assert_eq!(route_to(&st, "10.0.0.2:80").unwrap(), Upstream::Passthrough { addr: sa("10.0.0.2:80") });
}

#[test]
fn a_source_naming_no_network_is_on_the_proxys() {
    let mut here = svc("a.example.com", "10.96.0.1", &[(80, 8080)], &["here"]);
    here.vips = vec!["net-a/10.96.0.1".parse().unwrap()];
    let st = state(vec![wl("here", &["10.0.0.5"], "net-a")], vec![here]);
    let bare = wl("src", &["10.1.0.1"], "");
    let from = crate::proxy::route::on_network(&bare, "net-a");
    assert_eq!(from.network, "net-a");
    let up = route(&st, &from, sa("10.96.0.1:80"), 15008, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(up.workload().map(|w| w.uid.as_str()), Some("here"), "found on NETWORK, and local there");
    assert!(matches!(up, Upstream::Hbone { .. }), "{up:?}");
    // A workload's own network wins; no NETWORK leaves it on the default one.
    let own = wl("src", &["10.1.0.1"], "net-b");
    assert_eq!(crate::proxy::route::on_network(&own, "net-a").network, "net-b");
    assert!(matches!(crate::proxy::route::on_network(&bare, ""), std::borrow::Cow::Borrowed(_)));
}

#[test]
fn an_ip_on_both_networks_is_the_source_networks_pod() {
    let here = wl("here", &["10.0.0.5"], "net-a");
    let mut there = wl("there", &["10.0.0.5"], "net-b");
    there.network_gateway = gw("destination: net-b/10.22.1.1\nhboneMtlsPort: 15009");
    let st = state(vec![there, here, wl("ew", &["10.22.1.1"], "net-b")], vec![]);
    let Upstream::Hbone { hbone_addr, workload, .. } = route_to(&st, "10.0.0.5:80").unwrap() else {
        panic!("expected direct HBONE")
    };
    assert_eq!((workload.uid.as_str(), hbone_addr), ("here", sa("10.0.0.5:15008")), "directly, no gateway");
}

#[test]
fn a_vip_on_both_networks_is_the_source_networks_service() {
    let mut on_b = svc("b.example.com", "10.96.0.1", &[(80, 8080)], &["there"]);
    on_b.vips = vec!["net-b/10.96.0.1".parse().unwrap()];
    let on_a = svc("a.example.com", "10.96.0.1", &[(80, 8080)], &["here"]);
    let here = wl("here", &["10.0.0.5"], "net-a");
    let there = wl("there", &["10.0.0.5"], "net-b");
    let st = state(vec![here, there], vec![on_a, on_b]);
    let up = route_to(&st, "10.96.0.1:80").unwrap();
    assert_eq!(up.service().map(|s| s.hostname.as_str()), Some("a.example.com"));
    assert_eq!(up.workload().map(|w| w.uid.as_str()), Some("here"));
    // From net-b, the same address is b's service, and b's pod is local there.
    let from_b = wl("src-b", &["10.1.0.1"], "net-b");
    let up = route(&st, &from_b, sa("10.96.0.1:80"), 15008, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(up.service().map(|s| s.hostname.as_str()), Some("b.example.com"));
    let Upstream::Hbone { hbone_addr, workload, .. } = up else { panic!("expected direct HBONE") };
    assert_eq!((workload.uid.as_str(), hbone_addr), ("there", sa("10.0.0.5:15008")));
    // A source on the default network knows neither.
    let nowhere = wl("src-0", &["10.1.0.1"], "");
    let up = route(&st, &nowhere, sa("10.96.0.1:80"), 15008, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(up, Upstream::Passthrough { addr: sa("10.96.0.1:80") });
}

#[test]
fn failover_goes_remote_only_when_nothing_local_is_healthy() {
    let mut local = wl("local", &["127.0.0.2"], "net-a");
    let mut target = svc("example.com", "127.0.0.3", &[(80, 8080)], &["remote", "local"]);
    target.load_balancer = Some(LoadBalancer {
        mode: LoadBalancerMode::Failover,
        routing_preferences: vec![LoadBalancerScope::Network],
        health_policy: Default::default(),
    });
    let workloads = |local: &Workload| {
        vec![
            remote_pod("destination: net-b/10.22.1.1\nhboneMtlsPort: 15009"),
            wl("ew", &["10.22.1.1"], "net-b"),
            local.clone(),
        ]
    };
    let st = state(workloads(&local), vec![target.clone()]);
    for _ in 0..20 {
        assert!(matches!(route_to(&st, "127.0.0.3:80").unwrap(), Upstream::Hbone { .. }), "local first");
    }
    local.status = HealthStatus::Unhealthy;
    let st = state(workloads(&local), vec![target]);
    assert!(matches!(route_to(&st, "127.0.0.3:80").unwrap(), Upstream::DoubleHbone { .. }), "then the remote");
}
