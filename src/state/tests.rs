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
    assert_eq!(st.workload_by_ip(ip("10.0.0.1")).unwrap().uid, "u1");
    assert_eq!(st.workload_by_ip(ip("fd00::1")).unwrap().uid, "u1");
    assert_eq!(st.workload_by_ip(ip("::ffff:10.0.0.2")).unwrap().uid, "u2");
    assert!(st.workload_by_ip(ip("10.0.0.3")).is_none());
    assert_eq!(st.workload_by_name("ns", "b").unwrap().uid, "u2");
    assert_eq!(st.workload_by_uid("u2").unwrap().name, "b");
    assert_eq!(st.service_by_vip(ip("10.96.0.2")).unwrap().namespace, "other");
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
    s.vips.push("net/10.96.0.1".parse().unwrap());
    assert!(matches!(st.insert_service(s), Err(StateError::DuplicateVip { .. })));
}

#[test]
fn several_workloads_share_an_ip() {
    let mut st = sample();
    // A restarted pod's IP briefly held by the old and the new pod: the newer wins among
    // equals, both stay known.
    st.insert_workload(Workload::new("Kubernetes//Pod/ns/b2", "ns", "b2", vec![ip("10.0.0.2")])).unwrap();
    assert_eq!(st.workloads_by_ip(ip("10.0.0.2")).len(), 2);
    assert_eq!(st.workload_by_ip(ip("10.0.0.2")).unwrap().uid, "Kubernetes//Pod/ns/b2");
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
    assert_eq!(st.workload_by_ip(ip("10.0.0.9")).unwrap().name, "q");
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
    assert!(st.workload_by_ip(ip("10.1.0.1")).is_none(), "the node IP is nobody's in particular");
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
