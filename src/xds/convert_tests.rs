use prost::Message;

use super::*;
use crate::proto::ADDRESS_TYPE;
use crate::proto::discovery::Resource;
use crate::testbed::istiod::to_proto;
use crate::xds::cache::XdsCache;

const YAML: &str = include_str!("../../examples/localhost.yaml");

fn resource(name: &str, type_url: &str, body: Vec<u8>) -> Resource {
    Resource {
        name: name.into(),
        version: "1".into(),
        resource: Some(prost_types::Any { type_url: type_url.into(), value: body }),
        ..Default::default()
    }
}

/// YAML → state → istiod's wire form → our client's state gives back the same state.
#[test]
fn round_trip_through_the_wire_format() {
    let state = crate::xds::load_str(YAML, "localhost.yaml").unwrap();
    let mut cache = XdsCache::new();
    let addrs =
        to_proto::addresses(&state).into_iter().map(|(n, a)| resource(&n, ADDRESS_TYPE, a.encode_to_vec())).collect();
    assert!(cache.apply(ADDRESS_TYPE, addrs, &[]).rejected.is_empty());
    let pols = to_proto::authorizations(&state)
        .into_iter()
        .map(|(n, a)| resource(&n, crate::proto::AUTHORIZATION_TYPE, a.encode_to_vec()))
        .collect();
    assert!(cache.apply(crate::proto::AUTHORIZATION_TYPE, pols, &[]).rejected.is_empty());
    let got = cache.snapshot();
    let mut want = serde_json::to_value(&state).unwrap();
    // proto3 enums have no "unset": a workload without a type arrives as DEPLOYMENT (0).
    for w in want["workloads"].as_array_mut().unwrap() {
        w["workloadType"] = "deployment".into();
    }
    assert_eq!(serde_json::to_value(&got).unwrap(), want);
}

#[test]
fn malformed_resources_are_rejected_precisely_and_the_rest_applies() {
    let mut cache = XdsCache::new();
    let mut w = pw::Workload { uid: "u1".into(), namespace: "ns".into(), name: "a".into(), ..Default::default() };
    w.addresses = vec![vec![10, 0, 0, 1]];
    let good = pw::Address { r#type: Some(pw::address::Type::Workload(w.clone())) };
    w.uid = "u2".into();
    w.addresses = vec![vec![10, 0, 0]];
    let bad_ip = pw::Address { r#type: Some(pw::address::Type::Workload(w.clone())) };
    w.addresses = vec![];
    w.tunnel_protocol = 2;
    let legacy = pw::Address { r#type: Some(pw::address::Type::Workload(w)) };
    let out = cache.apply(
        ADDRESS_TYPE,
        vec![
            resource("u1", ADDRESS_TYPE, good.encode_to_vec()),
            resource("u2", ADDRESS_TYPE, bad_ip.encode_to_vec()),
            resource("u3", ADDRESS_TYPE, legacy.encode_to_vec()),
            resource("u4", ADDRESS_TYPE, vec![0x0a, 0xff]),
        ],
        &[],
    );
    assert_eq!(out.applied, 1);
    let reasons: Vec<String> = out.rejected.iter().map(|r| format!("{}: {}", r.name, r.reason)).collect();
    assert_eq!(reasons[0], "u2: workload.addresses[0]: an IP address must be 4 or 16 bytes, got 3");
    assert_eq!(reasons[1], "u3: workload.tunnelProtocol: LEGACY_ISTIO_MTLS is not supported");
    assert!(reasons[2].starts_with("u4: cannot decode type.googleapis.com/istio.workload.Address"), "{}", reasons[2]);
    assert_eq!(cache.snapshot().workload_count(), 1);
    assert_eq!(cache.versions(ADDRESS_TYPE).len(), 1);
    // Removal.
    let out = cache.apply(ADDRESS_TYPE, vec![], &["u1".into()]);
    assert_eq!(out.removed, 1);
    assert_eq!(cache.snapshot().workload_count(), 0);
}

/// A service claiming another's VIP is rejected by name and changes nothing; the previous
/// version of the resource stays in force (no rebuild, no `forget`).
#[test]
fn conflicting_update_is_rejected_and_the_previous_version_stays() {
    let svc = |ns: &str, vip: [u8; 4]| {
        let s = pw::Service {
            name: "s".into(),
            namespace: ns.into(),
            hostname: format!("s.{ns}"),
            addresses: vec![pw::NetworkAddress { network: String::new(), address: vip.to_vec(), length: None }],
            ..Default::default()
        };
        pw::Address { r#type: Some(pw::address::Type::Service(s)) }.encode_to_vec()
    };
    let mut cache = XdsCache::new();
    let out = cache.apply(
        ADDRESS_TYPE,
        vec![
            resource("a/s.a", ADDRESS_TYPE, svc("a", [10, 96, 0, 1])),
            resource("b/s.b", ADDRESS_TYPE, svc("b", [10, 96, 0, 2])),
        ],
        &[],
    );
    assert!(out.rejected.is_empty(), "{out:?}");
    cache.take_changes();
    let out = cache.apply(ADDRESS_TYPE, vec![resource("b/s.b", ADDRESS_TYPE, svc("b", [10, 96, 0, 1]))], &[]);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].name, "b/s.b");
    assert!(cache.take_changes().is_empty(), "nothing changed");
    let st = cache.snapshot();
    assert_eq!(st.service_by_vip("", "10.96.0.2".parse().unwrap()).unwrap().namespace, "b", "old version in force");
    assert_eq!(st.service_by_vip("", "10.96.0.1".parse().unwrap()).unwrap().namespace, "a");
    assert_eq!(cache.versions(ADDRESS_TYPE).len(), 2);
}

/// The versions map keeps one entry per resource with the latest version, keyed by the
/// workload's own copy of its uid (no second copy of every name in the mesh).
#[test]
fn versions_share_the_workload_uid_and_follow_updates() {
    let mut cache = XdsCache::new();
    let mut w = pw::Workload { uid: "u1".into(), namespace: "ns".into(), name: "a".into(), ..Default::default() };
    w.addresses = vec![vec![10, 0, 0, 1]];
    let body = |w: &pw::Workload| pw::Address { r#type: Some(pw::address::Type::Workload(w.clone())) }.encode_to_vec();
    let mut first = resource("u1", ADDRESS_TYPE, body(&w));
    first.version = "v1".into();
    assert_eq!(cache.apply(ADDRESS_TYPE, vec![first], &[]).applied, 1);
    w.addresses = vec![vec![10, 0, 0, 2]];
    let mut second = resource("u1", ADDRESS_TYPE, body(&w));
    second.version = "v2".into();
    assert_eq!(cache.apply(ADDRESS_TYPE, vec![second], &[]).applied, 1);
    let versions = cache.versions(ADDRESS_TYPE);
    assert_eq!(versions.len(), 1);
    assert_eq!(versions["u1"], "v2");
    assert!(cache.version_key_shared(ADDRESS_TYPE, "u1"), "the key is the current workload's uid");
    cache.apply(ADDRESS_TYPE, vec![], &["u1".into()]);
    assert!(cache.versions(ADDRESS_TYPE).is_empty());
}

/// A ServiceEntry address with a prefix length is a CIDR VIP: indexed for routing as pushes
/// add, move and remove it.
#[test]
fn cidr_vips_from_xds_follow_deltas() {
    let svc = |addr: Vec<u8>, length: u32| {
        let s = pw::Service {
            name: "range".into(),
            namespace: "ns".into(),
            hostname: "range.example".into(),
            addresses: vec![pw::NetworkAddress { network: String::new(), address: addr, length: Some(length) }],
            ..Default::default()
        };
        pw::Address { r#type: Some(pw::address::Type::Service(s)) }.encode_to_vec()
    };
    let hit = |cache: &XdsCache, ip: &str| {
        cache.snapshot().service_for_destination("", ip.parse().unwrap(), "ns", |_| true).map(|s| s.key())
    };
    let mut cache = XdsCache::new();
    let out =
        cache.apply(ADDRESS_TYPE, vec![resource("ns/range.example", ADDRESS_TYPE, svc(vec![10, 50, 0, 0], 16))], &[]);
    assert!(out.rejected.is_empty(), "{out:?}");
    assert_eq!(hit(&cache, "10.50.7.7").as_deref(), Some("ns/range.example"));
    assert!(cache.snapshot().service_by_vip("", "10.50.0.0".parse().unwrap()).is_none(), "not an exact VIP");
    let v6 = "fd00:50::".parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec();
    cache.apply(ADDRESS_TYPE, vec![resource("ns/range.example", ADDRESS_TYPE, svc(v6, 64))], &[]);
    assert_eq!(hit(&cache, "10.50.7.7"), None, "the old range is released");
    assert_eq!(hit(&cache, "fd00:50::1").as_deref(), Some("ns/range.example"));
    cache.apply(ADDRESS_TYPE, vec![], &["ns/range.example".to_string()]);
    assert_eq!(hit(&cache, "fd00:50::1"), None);
}

/// As istiod sends a multi-network mesh: addresses carry their network (field 1 of
/// `NetworkAddress`; a workload's `network`), and the same pod IP, VIP or CIDR VIP on two
/// networks is two entries, each found on its own network.
#[test]
fn addresses_from_xds_are_qualified_by_their_network() {
    let svc = |ns: &str, network: &str, addr: [u8; 4], length: Option<u32>| {
        let s = pw::Service {
            name: "s".into(),
            namespace: ns.into(),
            hostname: format!("s.{ns}"),
            addresses: vec![pw::NetworkAddress { network: network.into(), address: addr.to_vec(), length }],
            ..Default::default()
        };
        resource(
            &format!("{ns}/s.{ns}"),
            ADDRESS_TYPE,
            pw::Address { r#type: Some(pw::address::Type::Service(s)) }.encode_to_vec(),
        )
    };
    let wl = |uid: &str, network: &str| {
        let w = pw::Workload {
            uid: uid.into(),
            namespace: "ns".into(),
            name: uid.into(),
            network: network.into(),
            addresses: vec![vec![10, 0, 0, 1]],
            ..Default::default()
        };
        resource(uid, ADDRESS_TYPE, pw::Address { r#type: Some(pw::address::Type::Workload(w)) }.encode_to_vec())
    };
    let mut cache = XdsCache::new();
    let out = cache.apply(
        ADDRESS_TYPE,
        vec![
            svc("a", "net-a", [10, 96, 0, 1], None),
            svc("b", "net-b", [10, 96, 0, 1], None),
            svc("ra", "net-a", [10, 50, 0, 0], Some(16)),
            svc("rb", "net-b", [10, 50, 0, 0], Some(16)),
            wl("pa", "net-a"),
            wl("pb", "net-b"),
        ],
        &[],
    );
    assert!(out.rejected.is_empty(), "{out:?}");
    let st = cache.snapshot();
    let vip = |network: &str| st.service_by_vip(network, "10.96.0.1".parse().unwrap()).map(|s| s.key());
    assert_eq!((vip("net-a").unwrap(), vip("net-b").unwrap()), ("a/s.a".into(), "b/s.b".into()));
    assert_eq!(vip(""), None);
    let range = |network: &str| {
        st.service_for_destination(network, "10.50.1.1".parse().unwrap(), "x", |_| true).map(|s| s.key())
    };
    assert_eq!((range("net-a").unwrap(), range("net-b").unwrap()), ("ra/s.ra".into(), "rb/s.rb".into()));
    let pod = |network: &str| st.workload_by_ip(network, "10.0.0.1".parse().unwrap()).map(|w| w.uid.to_string());
    assert_eq!((pod("net-a").unwrap(), pod("net-b").unwrap()), ("pa".into(), "pb".into()));
    // The CIDR VIP's network survives the round trip into the config dump's text form.
    assert_eq!(st.service_by_key("rb/s.rb").unwrap().cidr_vips[0].to_string(), "net-b/10.50.0.0/16");
}
