//! Tests of the state: lookups and index rules, delta application, change events, the store.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::rbac::{PolicyAction, PolicyScope};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sample() -> ProxyState {
    let mut st = ProxyState::new();
    st.insert_workload(Workload::new("u1", "ns", "a", vec![ip("10.0.0.1"), ip("fd00::1")])).unwrap();
    st.insert_workload(Workload::new("u2", "ns", "b", vec![ip("10.0.0.2")])).unwrap();
    let mut s = Service::new("ns", "svc", "svc.ns.svc.cluster.local");
    s.vips.push("/10.96.0.1".parse().unwrap());
    st.insert_service(s).unwrap();
    let mut s2 = Service::new("other", "svc", "svc.ns.svc.cluster.local");
    s2.vips.push("/10.96.0.2".parse().unwrap());
    st.insert_service(s2).unwrap();
    st.insert_policy(Authorization {
        name: "p".into(),
        namespace: "ns".into(),
        scope: PolicyScope::Namespace,
        action: PolicyAction::Allow,
        rules: vec![],
        dry_run: false,
    })
    .unwrap();
    st
}

#[test]
fn lookups() {
    let st = sample();
    assert_eq!(st.workload_by_ip("", ip("10.0.0.1")).unwrap().uid, "u1");
    assert_eq!(st.workload_by_ip("", ip("fd00::1")).unwrap().uid, "u1");
    assert_eq!(st.workload_by_ip("", ip("::ffff:10.0.0.2")).unwrap().uid, "u2");
    assert!(st.workload_by_ip("", ip("10.0.0.3")).is_none());
    assert_eq!(st.workload_by_name("ns", "b").unwrap().uid, "u2");
    assert_eq!(st.workload_by_uid("u2").unwrap().name, "b");
    assert_eq!(st.service_by_vip("", ip("10.96.0.2")).unwrap().namespace, "other");
    assert_eq!(st.service_by_hostname("svc.ns.svc.cluster.local").unwrap().namespace, "ns");
    assert_eq!(st.services_by_hostname("svc.ns.svc.cluster.local").len(), 2);
    assert!(st.service_by_hostname("svc").is_none());
    assert!(st.service_by_namespaced_host("other", "svc.ns.svc.cluster.local").is_some());
    assert_eq!(st.workloads().count(), 2);
    assert_eq!(st.services().count(), 2);
    assert_eq!(st.policies().count(), 1);
    assert!(st.policy("ns/p").is_some());
    let dump = serde_json::to_value(&st).unwrap();
    assert_eq!(dump["workloads"][0]["uid"], "u1");
}

#[test]
fn duplicates_are_rejected() {
    let mut st = sample();
    assert_eq!(
        st.insert_workload(Workload::new("u1", "ns", "x", vec![])),
        Err(StateError::DuplicateWorkloadUid("u1".into()))
    );
    assert!(st.workload_by_uid("u1").unwrap().name == "a", "failed insert leaves no trace");
    let mut s = Service::new("x", "y", "z");
    s.vips.push("/10.96.0.1".parse().unwrap());
    assert!(matches!(st.insert_service(s), Err(StateError::DuplicateVip { .. })), "taken on the same network");
}

#[test]
fn several_workloads_share_an_ip() {
    let mut st = sample();
    // A restarted pod's IP briefly held by the old and the new pod: the newer wins among
    // equals, both stay known.
    st.insert_workload(Workload::new("Kubernetes//Pod/ns/b2", "ns", "b2", vec![ip("10.0.0.2")])).unwrap();
    assert_eq!(st.workloads_by_ip("", ip("10.0.0.2")).len(), 2);
    assert_eq!(st.workload_by_ip("", ip("10.0.0.2")).unwrap().uid, "Kubernetes//Pod/ns/b2");
    // A pod is preferred over a WorkloadEntry, and HBONE over plain TCP, whatever the order.
    let mut we = Workload::new("Kubernetes/networking.istio.io/WorkloadEntry/ns/vm", "ns", "vm", vec![ip("10.0.0.9")]);
    we.protocol = TunnelProtocol::Hbone;
    let mut pod = Workload::new("Kubernetes//Pod/ns/p", "ns", "p", vec![ip("10.0.0.9")]);
    pod.protocol = TunnelProtocol::Tcp;
    let mut mesh_pod = Workload::new("Kubernetes//Pod/ns/q", "ns", "q", vec![ip("10.0.0.9")]);
    mesh_pod.protocol = TunnelProtocol::Hbone;
    st.insert_workload(mesh_pod).unwrap();
    st.insert_workload(pod).unwrap();
    st.insert_workload(we).unwrap();
    assert_eq!(st.workload_by_ip("", ip("10.0.0.9")).unwrap().name, "q");
}

#[test]
fn host_network_workloads_are_not_indexed_by_ip() {
    let mut st = ProxyState::new();
    for name in ["h1", "h2"] {
        let mut w = Workload::new(name, "kube-system", name, vec![ip("10.1.0.1")]);
        w.network_mode = NetworkMode::HostNetwork;
        st.insert_workload(w).unwrap();
    }
    assert_eq!(st.workload_count(), 2);
    assert!(st.workload_by_ip("", ip("10.1.0.1")).is_none(), "the node IP is nobody's in particular");
    assert_eq!(st.workload_by_name("kube-system", "h2").unwrap().uid, "h2");
}

#[test]
fn local_workload_is_matched_by_uid_then_identity_and_node() {
    let mut st = ProxyState::new();
    let mut other_cluster = Workload::new("remote//Pod/ns/web-0", "ns", "web-0", vec![ip("10.9.0.1")]);
    other_cluster.node = "node-x".into();
    other_cluster.service_account = "web".into();
    st.insert_workload(other_cluster).unwrap();
    let mut wrong_sa = Workload::new("Kubernetes//Pod/ns/web-0-old", "ns", "web-0", vec![]);
    wrong_sa.node = "node-a".into();
    wrong_sa.service_account = "legacy".into();
    st.insert_workload(wrong_sa).unwrap();
    let mut ours = Workload::new("Kubernetes//Pod/ns/web-0", "ns", "web-0", vec![ip("10.0.0.5")]);
    ours.node = "node-a".into();
    ours.service_account = "web".into();
    st.insert_workload(ours).unwrap();

    let key = |uid, node| LocalWorkloadKey { uid, namespace: "ns", name: "web-0", service_account: "web", node };
    let uid_of = |k| st.find_local_workload(&k).map(|w| w.uid.clone());
    // The first uid by name is another cluster's; name alone would pick it.
    assert_eq!(st.workload_by_name("ns", "web-0").unwrap().uid, "remote//Pod/ns/web-0");
    assert_eq!(uid_of(key(None, Some("node-a"))).as_deref(), Some("Kubernetes//Pod/ns/web-0"));
    assert_eq!(uid_of(key(Some("remote//Pod/ns/web-0"), Some("node-a"))).as_deref(), Some("remote//Pod/ns/web-0"));
    assert_eq!(uid_of(key(Some("unknown"), Some("node-a"))).as_deref(), Some("Kubernetes//Pod/ns/web-0"));
    assert_eq!(uid_of(key(None, Some("node-b"))), None, "nothing of that identity on our node");
    // No node known (dedicated mode): identity decides, the first one wins.
    assert_eq!(uid_of(key(None, None)).as_deref(), Some("remote//Pod/ns/web-0"));
    let wrong = LocalWorkloadKey { service_account: "other", ..key(None, None) };
    assert!(st.find_local_workload(&wrong).is_none());
}

#[tokio::test(start_paused = true)]
async fn waits_for_a_local_workload_pushed_later() {
    let store = StateStore::default();
    let key = LocalWorkloadKey { uid: None, namespace: "ns", name: "b", service_account: "", node: None };
    let late = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            store.replace(sample());
        })
    };
    let started = tokio::time::Instant::now();
    let w = store.wait_for_local_workload(&key, Duration::from_secs(5)).await.unwrap();
    assert_eq!(w.uid, "u2");
    assert_eq!(started.elapsed(), Duration::from_secs(2), "answered as soon as the push landed");
    late.await.unwrap();
    let missing = LocalWorkloadKey { name: "nobody", ..key };
    let started = tokio::time::Instant::now();
    assert!(store.wait_for_local_workload(&missing, Duration::from_secs(5)).await.is_none());
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn store_replace_notifies() {
    let store = StateStore::default();
    let mut rx = store.subscribe();
    assert_eq!(store.snapshot().workload_count(), 0);
    let old = store.snapshot();
    store.replace(sample());
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), 1);
    assert_eq!(store.version(), 1);
    assert_eq!(store.snapshot().workload_count(), 2);
    assert_eq!(old.workload_count(), 0, "old snapshots stay valid");
}

fn pod(uid: &str, ns: &str, name: &str, ips: &[&str]) -> Workload {
    Workload::new(uid, ns, name, ips.iter().map(|s| ip(s)).collect())
}

fn memberships(entries: &[(&str, u16, u16)]) -> Memberships {
    let mut m = Memberships::new();
    for (svc, port, target) in entries {
        m.entry(svc.to_string()).or_default().insert(*port, *target);
    }
    m
}

#[test]
fn upsert_moves_every_index_and_remove_clears_them() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    let mut w = pod("u1", "ns", "a", &["10.0.0.1"]);
    w.node = "n1".into();
    st.upsert_workload(w.clone(), &Memberships::new(), &mut log);
    w.workload_ips = vec![ip("10.0.0.2")];
    w.name = "a2".into();
    w.service_account = "sa2".into();
    st.upsert_workload(w.clone(), &Memberships::new(), &mut log);
    assert!(st.workload_by_ip("", ip("10.0.0.1")).is_none(), "old IP released");
    assert_eq!(st.workload_by_ip("", ip("10.0.0.2")).unwrap().uid, "u1");
    assert!(st.workload_by_name("ns", "a").is_none());
    assert_eq!(st.workload_by_name("ns", "a2").unwrap().uid, "u1");
    assert!(st.node_workloads("n1", "ns", "default").is_empty());
    assert_eq!(st.node_workloads("n1", "ns", "sa2"), ["u1"]);
    // Becoming host-network drops it from the IP index.
    w.network_mode = NetworkMode::HostNetwork;
    st.upsert_workload(w, &Memberships::new(), &mut log);
    assert!(st.workload_by_ip("", ip("10.0.0.2")).is_none());
    assert!(st.remove_workload("u1", &mut log).is_some());
    assert_eq!(st.workload_count(), 0);
    assert!(st.workload_by_name("ns", "a2").is_none());
    assert!(st.node_workloads("n1", "ns", "sa2").is_empty());
    assert!(st.remove_workload("u1", &mut log).is_none(), "second removal is a no-op");
}

#[test]
fn update_keeps_its_place_among_workloads_sharing_an_ip() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    for uid in ["Kubernetes//Pod/ns/old", "Kubernetes//Pod/ns/new"] {
        st.upsert_workload(pod(uid, "ns", uid, &["10.0.0.9"]), &Memberships::new(), &mut log);
    }
    assert_eq!(st.workload_by_ip("", ip("10.0.0.9")).unwrap().uid, "Kubernetes//Pod/ns/new");
    // Re-sent with a change: still the older of the two, so the newer keeps the IP.
    let mut old = pod("Kubernetes//Pod/ns/old", "ns", "old", &["10.0.0.9"]);
    old.canonical_revision = "v2".into();
    st.upsert_workload(old, &Memberships::new(), &mut log);
    assert_eq!(st.workload_by_ip("", ip("10.0.0.9")).unwrap().uid, "Kubernetes//Pod/ns/new");
    assert_eq!(st.workloads_by_ip("", ip("10.0.0.9"))[0].canonical_revision, "v2");
}

#[test]
fn unchanged_resend_keeps_the_arc_and_logs_nothing() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    let m = memberships(&[("ns/svc", 80, 8080)]);
    let first = st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &m, &mut log);
    log.clear();
    let again = st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &m, &mut log);
    assert!(Arc::ptr_eq(&first, &again), "caches keyed on the Arc survive a re-send");
    assert!(log.is_empty(), "{log:?}");
    let p = Authorization {
        name: "p".into(),
        namespace: "ns".into(),
        scope: PolicyScope::Namespace,
        action: PolicyAction::Allow,
        rules: vec![],
        dry_run: false,
    };
    st.upsert_policy(p.clone(), &mut log);
    log.clear();
    st.upsert_policy(p, &mut log);
    assert!(log.is_empty());
}

#[test]
fn endpoints_follow_memberships_in_any_arrival_order() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    // The workload arrives before its service: the endpoint waits for it.
    st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &memberships(&[("ns/svc", 80, 8080)]), &mut log);
    assert_eq!(st.unknown_services_with_endpoints().len(), 1);
    let mut s = Service::new("ns", "svc", "svc");
    s.vips.push("/10.96.0.1".parse().unwrap());
    // A declared endpoint for u1 is overridden by the workload's; one for u9 is kept.
    s.endpoints.insert(
        "u1".into(),
        Endpoint { workload_uid: "u1".into(), port: Default::default(), status: HealthStatus::Healthy },
    );
    s.endpoints.insert(
        "u9".into(),
        Endpoint { workload_uid: "u9".into(), port: Default::default(), status: HealthStatus::Healthy },
    );
    st.upsert_service(s, &mut log).unwrap();
    assert!(st.unknown_services_with_endpoints().is_empty());
    let svc = st.service_by_vip("", ip("10.96.0.1")).unwrap();
    assert_eq!(svc.endpoints["u1"].port[&80], 8080);
    assert!(svc.endpoints.contains_key("u9"));
    // Ports change: the service (in every index) follows.
    log.clear();
    st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &memberships(&[("ns/svc", 80, 9090)]), &mut log);
    assert!(log.contains(&StateChange::ServiceChanged { key: "ns/svc".into() }), "{log:?}");
    assert_eq!(st.service_by_vip("", ip("10.96.0.1")).unwrap().endpoints["u1"].port[&80], 9090);
    assert_eq!(st.service_by_hostname("svc").unwrap().endpoints["u1"].port[&80], 9090);
    // Leaving the service falls back to the declared endpoint; removal of the workload too.
    st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &Memberships::new(), &mut log);
    assert!(st.service_by_vip("", ip("10.96.0.1")).unwrap().endpoints["u1"].port.is_empty());
    st.upsert_workload(pod("u2", "ns", "b", &["10.0.0.2"]), &memberships(&[("ns/svc", 80, 80)]), &mut log);
    st.remove_workload("u2", &mut log);
    assert!(!st.service_by_vip("", ip("10.96.0.1")).unwrap().endpoints.contains_key("u2"));
}

#[test]
fn service_updates_move_vips_and_refuse_a_taken_one() {
    let mut st = sample();
    let mut log = Vec::new();
    let mut s = Service::new("ns", "svc", "svc.ns.svc.cluster.local");
    s.vips.push("/10.96.0.9".parse().unwrap());
    st.upsert_service(s, &mut log).unwrap();
    assert!(st.service_by_vip("", ip("10.96.0.1")).is_none(), "old VIP released");
    assert_eq!(st.service_by_vip("", ip("10.96.0.9")).unwrap().namespace, "ns");
    let mut thief = Service::new("x", "y", "z");
    thief.vips.push("/10.96.0.9".parse().unwrap());
    assert!(matches!(st.upsert_service(thief, &mut log), Err(StateError::DuplicateVip { .. })));
    assert!(st.service_by_hostname("z").is_none(), "a refused service leaves no trace");
    st.remove_service("other/svc.ns.svc.cluster.local", &mut log).unwrap();
    assert_eq!(st.services_by_hostname("svc.ns.svc.cluster.local").len(), 1);
    assert!(st.service_by_vip("", ip("10.96.0.2")).is_none());
}

#[test]
fn policy_buckets_follow_scope_changes() {
    let mut st = sample();
    let mut log = Vec::new();
    let w = st.workload_by_uid("u1").unwrap();
    let keys = |st: &ProxyState| st.policies_for(&w).iter().map(|p| p.key()).collect::<Vec<_>>();
    assert_eq!(keys(&st), ["ns/p"]);
    let mut p = st.policy("ns/p").unwrap().as_ref().clone();
    p.scope = PolicyScope::WorkloadSelector;
    st.upsert_policy(p, &mut log);
    assert!(keys(&st).is_empty(), "no longer applies by namespace");
    assert_eq!(log.len(), 2, "old and new scope both reported: {log:?}");
    assert!(log.contains(&StateChange::PolicyChanged {
        key: "ns/p".into(),
        namespace: "ns".into(),
        scope: PolicyScope::Namespace
    }));
    st.remove_policy("ns/p", &mut log).unwrap();
    assert_eq!(st.policy_count(), 0);
}

#[test]
fn a_selected_policy_that_is_unknown_fails_closed() {
    use crate::identity::Identity;
    use crate::rbac::{Connection, RbacMatch, StringMatch};
    let mut st = ProxyState::new();
    let mut w = pod("u1", "ns", "a", &["10.0.0.1"]);
    w.authorization_policies = vec!["ns/allow-client".into()];
    let w = st.insert_workload(w).unwrap();
    let conn = Connection {
        src_identity: Some(Identity::new("cluster.local", "ns", "client")),
        src_ip: ip("10.0.0.5"),
        dst_ip: ip("10.0.0.1"),
        dst_port: 80,
    };
    // Not arrived yet (or rejected at conversion): denied, not allow-all.
    let e = st.evaluate(&w, &conn);
    assert!(!e.is_allowed(), "{e:?}");
    // Once it arrives, it decides.
    st.insert_policy(Authorization {
        name: "allow-client".into(),
        namespace: "ns".into(),
        scope: PolicyScope::WorkloadSelector,
        action: PolicyAction::Allow,
        rules: vec![vec![vec![RbacMatch {
            principals: vec![StringMatch::Exact("cluster.local/ns/ns/sa/client".into())],
            ..RbacMatch::default()
        }]]],
        dry_run: false,
    })
    .unwrap();
    assert_eq!(st.evaluate(&w, &conn).allowed_by.as_deref(), Some("ns/allow-client"));
}

#[tokio::test]
async fn store_update_publishes_typed_changes() {
    let store = StateStore::new(sample());
    let mut changes = store.subscribe_changes();
    let before = store.snapshot();
    store.update(|st, log| {
        let mut w = pod("u1", "ns", "a", &["10.0.0.7"]);
        w.canonical_revision = "v2".into();
        st.upsert_workload(w, &Memberships::new(), log);
        st.remove_workload("u2", log);
    });
    let set = changes.recv().await.unwrap();
    assert_eq!(set.version, 1);
    assert_eq!(
        set.changes,
        [
            StateChange::WorkloadChanged { uid: "u1".into(), policy_bindings_changed: false },
            StateChange::WorkloadRemoved { uid: "u2".into() },
        ]
    );
    assert_eq!(before.workload_count(), 2, "readers keep their snapshot");
    assert_eq!(store.snapshot().workload_count(), 1);
    // Untouched workloads are shared, not copied.
    assert!(Arc::ptr_eq(&before.policy("ns/p").unwrap(), &store.snapshot().policy("ns/p").unwrap()));
    store.replace(ProxyState::new());
    assert_eq!(changes.recv().await.unwrap().changes, [StateChange::Replaced]);
}

#[test]
fn contributed_endpoints_survive_service_updates_and_removal() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &memberships(&[("ns/svc", 80, 8080)]), &mut log);
    let mut s = Service::new("ns", "svc", "svc");
    s.vips.push("/10.96.0.1".parse().unwrap());
    s.endpoints.insert(
        "u9".into(),
        Endpoint { workload_uid: "u9".into(), port: Default::default(), status: HealthStatus::Healthy },
    );
    st.upsert_service(s.clone(), &mut log).unwrap();
    // Re-sent with other ports and without its declared endpoint: the workload's stays.
    let mut changed = s.clone();
    changed.ports.insert(443, 8443);
    changed.endpoints.clear();
    st.upsert_service(changed, &mut log).unwrap();
    let svc = st.service_by_vip("", ip("10.96.0.1")).unwrap();
    assert_eq!(svc.endpoints.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["u1"]);
    // Removed: the workload's endpoint waits for it again, the declared one is gone with it.
    st.remove_service("ns/svc", &mut log).unwrap();
    let pending = st.unknown_services_with_endpoints();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].0, pending[0].1.workload_uid.as_str()), ("ns/svc", "u1"));
    st.upsert_service(s, &mut log).unwrap();
    let svc = st.service_by_hostname("svc").unwrap();
    assert_eq!(svc.endpoints["u1"].port[&80], 8080);
    assert!(svc.endpoints.contains_key("u9"));
    assert!(st.unknown_services_with_endpoints().is_empty());
}

#[test]
fn workloads_share_one_copy_of_each_repeated_name() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    let mut a = pod("u1", "ns", "a", &["10.0.0.1"]);
    let mut b = pod("u2", "ns", "b", &["10.0.0.2"]);
    for w in [&mut a, &mut b] {
        w.node = String::from("node-1").into();
        w.canonical_revision = String::from("v1").into();
    }
    let a = st.upsert_workload(a, &Memberships::new(), &mut log);
    let b = st.upsert_workload(b, &Memberships::new(), &mut log);
    assert!(a.namespace.ptr_eq(&b.namespace));
    assert!(a.node.ptr_eq(&b.node));
    assert!(a.canonical_revision.ptr_eq(&b.canonical_revision));
    assert!(a.trust_domain.ptr_eq(&b.trust_domain));
    // A labels-only update is found through every index (they name the uid, not the value).
    let mut a2 = Workload::clone(&a);
    a2.canonical_revision = "v2".into();
    let a2 = st.upsert_workload(a2, &Memberships::new(), &mut log);
    assert!(Arc::ptr_eq(&st.workload_by_ip("", ip("10.0.0.1")).unwrap(), &a2));
    assert!(Arc::ptr_eq(&st.workload_by_name("ns", "a").unwrap(), &a2));
    assert_eq!(st.workloads_by_ip("", ip("10.0.0.1")).len(), 1);
}

#[test]
fn the_types_held_per_workload_stay_small() {
    // What the mesh pays per workload, before its strings; a field added here is paid 100k
    // times over (box it if it is rarely set).
    assert_eq!(std::mem::size_of::<Name>(), 8);
    assert!(std::mem::size_of::<Workload>() <= 256, "{}", std::mem::size_of::<Workload>());
    assert!(std::mem::size_of::<Endpoint>() <= 24, "{}", std::mem::size_of::<Endpoint>());
}

#[test]
fn an_update_shares_the_uid_and_name_the_indexes_hold() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    let a = st.upsert_workload(pod("u1", "ns", "a", &["10.0.0.1"]), &Memberships::new(), &mut log);
    let mut again = pod("u1", "ns", "a", &["10.0.0.1"]);
    again.canonical_revision = "v2".into();
    let b = st.upsert_workload(again, &Memberships::new(), &mut log);
    assert!(!Arc::ptr_eq(&a, &b));
    assert!(a.uid.ptr_eq(&b.uid) && a.name.ptr_eq(&b.name));
}

// ---- CIDR VIPs ----

fn cidr_svc(ns: &str, name: &str, cidrs: &[&str]) -> Service {
    let mut s = Service::new(ns, name, format!("{name}.{ns}.example"));
    s.cidr_vips = cidrs.iter().map(|c| c.parse().unwrap()).collect();
    s
}

fn cidr_hit(st: &ProxyState, addr: &str, ns: &str) -> Option<String> {
    st.service_for_destination("", ip(addr), ns, |_| true).map(|s| s.name.to_string())
}

#[test]
fn cidr_vip_longest_prefix_wins() {
    let mut st = ProxyState::new();
    st.insert_service(cidr_svc("ns", "wide", &["10.0.0.0/8", "fd00::/16"])).unwrap();
    st.insert_service(cidr_svc("ns", "narrow", &["10.1.0.0/16", "fd00:1::/32"])).unwrap();
    assert_eq!(cidr_hit(&st, "10.1.2.3", "x").as_deref(), Some("narrow"));
    assert_eq!(cidr_hit(&st, "10.2.0.1", "x").as_deref(), Some("wide"));
    assert_eq!(cidr_hit(&st, "fd00:1::9", "x").as_deref(), Some("narrow"));
    assert_eq!(cidr_hit(&st, "fd00:2::9", "x").as_deref(), Some("wide"));
    assert_eq!(cidr_hit(&st, "11.0.0.1", "x"), None);
    assert_eq!(cidr_hit(&st, "fd01::1", "x"), None);
    assert!(st.service_by_vip("", ip("10.1.2.3")).is_none(), "a CIDR is not an exact VIP");
}

#[test]
fn exact_vip_wins_over_cidr_vip() {
    let mut st = ProxyState::new();
    st.insert_service(cidr_svc("ns", "range", &["10.96.0.0/16", "fd00::/64"])).unwrap();
    let mut exact = Service::new("ns", "exact", "exact.ns.example");
    exact.vips.push("/10.96.0.5".parse().unwrap());
    exact.vips.push("/fd00::5".parse().unwrap());
    st.insert_service(exact).unwrap();
    assert_eq!(cidr_hit(&st, "10.96.0.5", "ns").as_deref(), Some("exact"));
    assert_eq!(cidr_hit(&st, "fd00::5", "ns").as_deref(), Some("exact"));
    assert_eq!(cidr_hit(&st, "10.96.0.6", "ns").as_deref(), Some("range"));
    // An exact VIP the client cannot see leaves the CIDR one.
    assert_eq!(
        st.service_for_destination("", ip("10.96.0.5"), "ns", |s| s.name != "exact").map(|s| s.name.to_string()),
        Some("range".to_string())
    );
}

#[test]
fn cidr_vip_ties_prefer_client_namespace_then_canonical_then_first() {
    let mut st = ProxyState::new();
    st.insert_service(cidr_svc("b", "svc", &["10.0.0.0/24"])).unwrap();
    st.insert_service(cidr_svc("a", "svc", &["10.0.0.0/24"])).unwrap();
    assert_eq!(st.service_for_destination("", ip("10.0.0.1"), "x", |_| true).unwrap().namespace, "b", "first indexed");
    assert_eq!(st.service_for_destination("", ip("10.0.0.1"), "a", |_| true).unwrap().namespace, "a");
    let mut c = cidr_svc("c", "svc", &["10.0.0.0/24"]);
    c.canonical = true;
    st.insert_service(c).unwrap();
    assert_eq!(st.service_for_destination("", ip("10.0.0.1"), "x", |_| true).unwrap().namespace, "c");
    assert_eq!(st.service_for_destination("", ip("10.0.0.1"), "b", |_| true).unwrap().namespace, "b");
    // Invisible services at the longest prefix give way to a shorter one.
    st.insert_service(cidr_svc("d", "wide", &["10.0.0.0/8"])).unwrap();
    let hit = st.service_for_destination("", ip("10.0.0.1"), "x", |s| s.name == "wide");
    assert_eq!(hit.unwrap().namespace, "d");
}

#[test]
fn cidr_vip_index_follows_updates_and_removals() {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    st.upsert_service(cidr_svc("ns", "svc", &["10.0.0.0/24", "10.1.0.0/24"]), &mut log).unwrap();
    assert_eq!(cidr_hit(&st, "10.0.0.1", "ns").as_deref(), Some("svc"));
    // An update that moves one range releases the old one and keeps the other.
    st.upsert_service(cidr_svc("ns", "svc", &["10.1.0.0/24", "10.2.0.0/24"]), &mut log).unwrap();
    assert_eq!(cidr_hit(&st, "10.0.0.1", "ns"), None);
    assert_eq!(cidr_hit(&st, "10.1.0.1", "ns").as_deref(), Some("svc"));
    assert_eq!(cidr_hit(&st, "10.2.0.1", "ns").as_deref(), Some("svc"));
    assert_eq!(st.services_by_cidr[""].len(), 2);
    // A snapshot taken before the removal keeps its view.
    let before = st.clone();
    st.remove_service("ns/svc.ns.example", &mut log).unwrap();
    assert_eq!(cidr_hit(&st, "10.1.0.1", "ns"), None);
    assert_eq!(cidr_hit(&st, "10.2.0.1", "ns"), None);
    assert!(st.services_by_cidr.is_empty());
    assert_eq!(cidr_hit(&before, "10.2.0.1", "ns").as_deref(), Some("svc"));
}
