//! Tests of the per-network IP indexes: in a multi-network mesh the same pod IP, VIP or CIDR
//! VIP can exist on several networks, and each lookup finds its own network's.

use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pod(uid: &str, ips: &[&str], network: &str) -> Workload {
    let mut w = Workload::new(format!("Kubernetes//Pod/ns/{uid}"), "ns", uid, ips.iter().map(|a| ip(a)).collect());
    w.network = network.into();
    w
}

fn svc(name: &str, vips: &[&str]) -> Service {
    let mut s = Service::new("ns", name, format!("{name}.ns.svc.cluster.local"));
    s.vips = vips.iter().map(|v| v.parse().unwrap()).collect();
    s
}

fn uid_at(st: &ProxyState, network: &str, addr: &str) -> Option<String> {
    st.workload_by_ip(network, ip(addr)).map(|w| w.name.to_string())
}

fn vip_at(st: &ProxyState, network: &str, addr: &str) -> Option<String> {
    st.service_by_vip(network, ip(addr)).map(|s| s.name.to_string())
}

#[test]
fn the_same_pod_ip_on_two_networks_is_two_workloads() {
    let mut st = ProxyState::new();
    st.insert_workload(pod("a", &["10.0.0.1"], "net-a")).unwrap();
    st.insert_workload(pod("b", &["10.0.0.1"], "net-b")).unwrap();
    assert_eq!(uid_at(&st, "net-a", "10.0.0.1").as_deref(), Some("a"));
    assert_eq!(uid_at(&st, "net-b", "10.0.0.1").as_deref(), Some("b"));
    assert_eq!(uid_at(&st, "net-a", "::ffff:10.0.0.1").as_deref(), Some("a"), "v4-mapped is v4");
    assert_eq!(st.workloads_by_ip("net-a", ip("10.0.0.1")).len(), 1, "no tie across networks");
    assert!(uid_at(&st, "", "10.0.0.1").is_none(), "the default network is a network too");
    assert!(uid_at(&st, "net-c", "10.0.0.1").is_none());
}

#[test]
fn removing_or_moving_a_workload_leaves_the_other_network_alone() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    st.insert_workload(pod("a", &["10.0.0.1"], "net-a")).unwrap();
    st.insert_workload(pod("b", &["10.0.0.1"], "net-b")).unwrap();
    st.remove_workload("Kubernetes//Pod/ns/b", &mut log).unwrap();
    assert!(uid_at(&st, "net-b", "10.0.0.1").is_none());
    assert_eq!(uid_at(&st, "net-a", "10.0.0.1").as_deref(), Some("a"));
    assert!(st.workloads_by_ip.get("net-b").is_none(), "an emptied network's map goes");
    // Same uid and IP, another network: the entry moves with it.
    st.upsert_workload(pod("a", &["10.0.0.1"], "net-b"), &Memberships::new(), &mut log);
    assert!(uid_at(&st, "net-a", "10.0.0.1").is_none(), "released on the old network");
    assert_eq!(uid_at(&st, "net-b", "10.0.0.1").as_deref(), Some("a"));
}

#[test]
fn the_same_vip_on_two_networks_is_two_services() {
    let mut st = ProxyState::new();
    st.insert_service(svc("on-a", &["net-a/10.96.0.1"])).unwrap();
    st.insert_service(svc("on-b", &["net-b/10.96.0.1", "net-b/10.96.0.2"])).unwrap();
    assert_eq!(vip_at(&st, "net-a", "10.96.0.1").as_deref(), Some("on-a"));
    assert_eq!(vip_at(&st, "net-b", "10.96.0.1").as_deref(), Some("on-b"));
    assert!(vip_at(&st, "net-a", "10.96.0.2").is_none(), "b's other VIP is b's network's only");
    let dst =
        |network: &str| st.service_for_destination(network, ip("10.96.0.1"), "ns", |_| true).map(|s| s.name.clone());
    assert_eq!(dst("net-a").unwrap(), "on-a");
    assert_eq!(dst("net-b").unwrap(), "on-b");
    assert!(dst("").is_none());
}

#[test]
fn a_vip_taken_on_the_same_network_is_still_refused() {
    let mut st = ProxyState::new();
    st.insert_service(svc("first", &["net-a/10.96.0.1"])).unwrap();
    let e = st.insert_service(svc("second", &["net-b/10.96.0.9", "net-a/10.96.0.1"])).unwrap_err();
    assert_eq!(
        e,
        StateError::DuplicateVip {
            vip: "net-a/10.96.0.1".parse().unwrap(),
            existing: "ns/first.ns.svc.cluster.local".into()
        }
    );
    assert!(vip_at(&st, "net-b", "10.96.0.9").is_none(), "a refused service indexes nothing");
    // The service itself may move its VIP to another network.
    st.upsert_service(svc("first", &["net-b/10.96.0.1"]), &mut Vec::new()).unwrap();
    assert!(vip_at(&st, "net-a", "10.96.0.1").is_none());
    assert_eq!(vip_at(&st, "net-b", "10.96.0.1").as_deref(), Some("first"));
}

#[test]
fn removing_a_service_keeps_the_other_networks_vip() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    st.insert_service(svc("on-a", &["net-a/10.96.0.1"])).unwrap();
    st.insert_service(svc("on-b", &["net-b/10.96.0.1"])).unwrap();
    st.remove_service("ns/on-a.ns.svc.cluster.local", &mut log).unwrap();
    assert!(vip_at(&st, "net-a", "10.96.0.1").is_none());
    assert_eq!(vip_at(&st, "net-b", "10.96.0.1").as_deref(), Some("on-b"));
    assert!(st.services_by_vip.get("net-a").is_none());
}

#[test]
fn cidr_vips_are_per_network() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    let mut a = svc("range-a", &[]);
    a.cidr_vips = vec!["net-a/10.200.0.0/16".parse().unwrap()];
    let mut b = svc("range-b", &[]);
    b.cidr_vips = vec!["net-b/10.200.0.0/16".parse().unwrap()];
    st.insert_service(a).unwrap();
    st.insert_service(b).unwrap();
    let hit = |st: &ProxyState, network: &str| {
        st.service_for_destination(network, ip("10.200.1.1"), "x", |_| true).map(|s| s.name.to_string())
    };
    assert_eq!(hit(&st, "net-a").as_deref(), Some("range-a"));
    assert_eq!(hit(&st, "net-b").as_deref(), Some("range-b"));
    assert!(hit(&st, "").is_none());
    st.remove_service("ns/range-a.ns.svc.cluster.local", &mut log).unwrap();
    assert!(hit(&st, "net-a").is_none());
    assert_eq!(hit(&st, "net-b").as_deref(), Some("range-b"));
    assert!(st.services_by_cidr.get("net-a").is_none(), "an emptied network's index goes");
}

#[test]
fn cidr_vip_text_forms() {
    let on = |s: &str| s.parse::<NetworkCidr>().map(|c| (c.network.to_string(), c.cidr.to_string()));
    assert_eq!(on("10.0.0.0/8").unwrap(), ("".into(), "10.0.0.0/8".into()));
    assert_eq!(on("/10.0.0.0/8").unwrap(), ("".into(), "10.0.0.0/8".into()));
    assert_eq!(on("net-a/fd00::/16").unwrap(), ("net-a".into(), "fd00::/16".into()));
    assert_eq!(on("a/b/10.0.0.0/8").unwrap(), ("a/b".into(), "10.0.0.0/8".into()), "a network may hold '/'");
    assert!(on("10.0.0.0").is_err());
    assert!(on("net/10.0.0.0/33").is_err());
    assert!(on("net/host/8").is_err());
    // Written back as read, the default network bare (the config dump's shape is unchanged).
    for s in ["10.0.0.0/8", "net-a/fd00::/16"] {
        assert_eq!(s.parse::<NetworkCidr>().unwrap().to_string(), s);
    }
}
