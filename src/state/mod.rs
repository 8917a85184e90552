//! What the proxy knows about the mesh: workloads, services and authorization policies.
//!
//! Owns [`ProxyState`] (an immutable, indexed snapshot; lookups only, no I/O) and
//! [`StateStore`] (the shared handle through which a new snapshot replaces the old one).
//! Snapshots are replaced whole rather than mutated so a connection that looked something up
//! keeps a consistent view, and readers never wait on a writer for longer than an `Arc` clone.

pub mod service;
pub mod workload;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::rbac::{Authorization, PolicyScope};
pub use service::{Endpoint, Service};
pub use workload::{HealthStatus, NamespacedHostname, NetworkAddress, NetworkMode, TunnelProtocol, Workload};

/// Why a workload, service or policy cannot be added to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("duplicate workload uid {0:?}")]
    DuplicateWorkloadUid(String),
    #[error("duplicate service {0:?} (namespace/hostname)")]
    DuplicateService(String),
    #[error("VIP {vip} is already used by service {existing:?}")]
    DuplicateVip { vip: IpAddr, existing: String },
    #[error("duplicate policy {0:?} (namespace/name)")]
    DuplicatePolicy(String),
}

/// How a proxy names the workload it serves: the pod the CNI announced over ZDS (with its
/// uid), or PROXY_WORKLOAD_INFO in dedicated mode (no uid).
#[derive(Debug, Clone, Copy)]
pub struct LocalWorkloadKey<'a> {
    pub uid: Option<&'a str>,
    pub namespace: &'a str,
    pub name: &'a str,
    pub service_account: &'a str,
    /// This ztunnel's node (NODE_NAME), when known: only workloads on it can be ours.
    pub node: Option<&'a str>,
}

/// An indexed snapshot of everything the proxy knows.
///
/// IP indexes ignore the network for now (single-network deployments). Several workloads may
/// claim one IP (a restarted pod's address is briefly held by two pods, a VM and a pod overlap);
/// all are kept and lookups pick one by upstream's preference. Host-network workloads are not
/// indexed by IP at all: their IPs are the node's, shared by every such pod on the node.
#[derive(Debug, Clone, Default)]
pub struct ProxyState {
    workloads: BTreeMap<String, Arc<Workload>>,
    workloads_by_ip: HashMap<IpAddr, Vec<Arc<Workload>>>,
    /// Several uids can share a name (clusters, a pod recreated under the same name).
    workloads_by_name: HashMap<(String, String), Vec<Arc<Workload>>>,
    services: BTreeMap<String, Arc<Service>>,
    services_by_vip: HashMap<IpAddr, Arc<Service>>,
    /// Several namespaces may define the same hostname (ServiceEntry); kept sorted by namespace.
    services_by_hostname: HashMap<String, Vec<Arc<Service>>>,
    policies: BTreeMap<String, Arc<Authorization>>,
    /// Policies that apply by scope alone: NAMESPACE ones under their namespace, GLOBAL ones
    /// under "" (as upstream stores them). Each list is sorted by `ns/name`. Built at insert
    /// time so finding a workload's policies costs two lookups, not a scan of every policy.
    policies_by_namespace: HashMap<String, Vec<Arc<Authorization>>>,
}

impl ProxyState {
    pub fn new() -> ProxyState {
        ProxyState::default()
    }

    /// Adds a workload; its uid must be new. On error the state is unchanged.
    pub fn insert_workload(&mut self, w: Workload) -> Result<Arc<Workload>, StateError> {
        if self.workloads.contains_key(&w.uid) {
            return Err(StateError::DuplicateWorkloadUid(w.uid));
        }
        let w = Arc::new(w);
        if w.network_mode != NetworkMode::HostNetwork {
            for ip in &w.workload_ips {
                self.workloads_by_ip.entry(*ip).or_default().push(w.clone());
            }
        }
        self.workloads_by_name.entry((w.namespace.clone(), w.name.clone())).or_default().push(w.clone());
        self.workloads.insert(w.uid.clone(), w.clone());
        Ok(w)
    }

    /// Adds a service (with its final endpoint set); its key and VIPs must be new.
    pub fn insert_service(&mut self, s: Service) -> Result<Arc<Service>, StateError> {
        let key = s.key();
        if self.services.contains_key(&key) {
            return Err(StateError::DuplicateService(key));
        }
        for vip in &s.vips {
            if let Some(existing) = self.services_by_vip.get(&vip.address) {
                return Err(StateError::DuplicateVip { vip: vip.address, existing: existing.key() });
            }
        }
        let s = Arc::new(s);
        for vip in &s.vips {
            self.services_by_vip.insert(vip.address, s.clone());
        }
        let same_host = self.services_by_hostname.entry(s.hostname.clone()).or_default();
        same_host.push(s.clone());
        same_host.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        self.services.insert(key, s.clone());
        Ok(s)
    }

    pub fn insert_policy(&mut self, p: Authorization) -> Result<Arc<Authorization>, StateError> {
        let key = p.key();
        if self.policies.contains_key(&key) {
            return Err(StateError::DuplicatePolicy(key));
        }
        let p = Arc::new(p);
        let bucket = match p.scope {
            PolicyScope::Global => Some(""),
            PolicyScope::Namespace => Some(p.namespace.as_str()),
            PolicyScope::WorkloadSelector => None,
        };
        if let Some(bucket) = bucket {
            let list = self.policies_by_namespace.entry(bucket.to_string()).or_default();
            let at =
                list.binary_search_by(|q| (&q.namespace, &q.name).cmp(&(&p.namespace, &p.name))).unwrap_or_else(|i| i);
            list.insert(at, p.clone());
        }
        self.policies.insert(key, p.clone());
        Ok(p)
    }

    /// Every policy that applies to `workload`, each once: NAMESPACE-scoped policies of its
    /// namespace, then GLOBAL ones, then those it selects by `ns/name` in
    /// `authorization_policies` (upstream's order). A selected key naming no known policy is
    /// skipped with a warning: the policy may simply not have arrived yet, and failing closed
    /// on it would deny on an ordering accident rather than on anything an operator wrote.
    pub fn policies_for(&self, workload: &Workload) -> Vec<Arc<Authorization>> {
        let bucket = |ns: &str| self.policies_by_namespace.get(ns).map(Vec::as_slice);
        // An empty workload namespace would otherwise alias the GLOBAL bucket.
        let namespaced = if workload.namespace.is_empty() { None } else { bucket(&workload.namespace) };
        let namespaced = namespaced.unwrap_or(&[]);
        let global = bucket("").unwrap_or(&[]);
        let mut out = Vec::with_capacity(namespaced.len() + global.len() + workload.authorization_policies.len());
        out.extend_from_slice(namespaced);
        out.extend_from_slice(global);
        let by_scope = out.len();
        for key in &workload.authorization_policies {
            let Some(p) = self.policies.get(key.as_str()) else {
                tracing::warn!(
                    workload = %workload.uid, policy = %key,
                    "workload references an unknown authorization policy; skipping it"
                );
                continue;
            };
            // Already present by scope, or listed twice: evaluating it again changes nothing
            // but would duplicate dry-run reports.
            let in_scope = match p.scope {
                PolicyScope::Global => true,
                PolicyScope::Namespace => !workload.namespace.is_empty() && p.namespace == workload.namespace,
                PolicyScope::WorkloadSelector => false,
            };
            if !in_scope && !out[by_scope..].iter().any(|q| Arc::ptr_eq(q, p)) {
                out.push(p.clone());
            }
        }
        out
    }

    pub fn workload_by_uid(&self, uid: &str) -> Option<Arc<Workload>> {
        self.workloads.get(uid).cloned()
    }

    /// The workload at `ip`. When several claim it, upstream's preference decides: a pod over
    /// anything else (pods' IPs are assigned by the cluster, a WorkloadEntry's are written by
    /// hand), then one that speaks HBONE (it carries more of the mesh's context), then the most
    /// recently added.
    pub fn workload_by_ip(&self, ip: IpAddr) -> Option<Arc<Workload>> {
        let all = self.workloads_by_ip.get(&canonical_ip(ip))?;
        let rank = |w: &Workload| (w.uid.contains("//Pod/"), w.protocol == TunnelProtocol::Hbone);
        // `max_by_key` keeps the last of equal maxima: the most recent insert.
        all.iter().max_by_key(|w| rank(w)).cloned()
    }

    /// Every workload claiming `ip`, in insertion order.
    pub fn workloads_by_ip(&self, ip: IpAddr) -> &[Arc<Workload>] {
        self.workloads_by_ip.get(&canonical_ip(ip)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first (by insertion) workload with this namespace and name. A proxy looking for the
    /// workload it serves uses [`ProxyState::find_local_workload`], which is stricter.
    pub fn workload_by_name(&self, namespace: &str, name: &str) -> Option<Arc<Workload>> {
        self.named(namespace, name).first().cloned()
    }

    fn named(&self, namespace: &str, name: &str) -> &[Arc<Workload>] {
        self.workloads_by_name.get(&(namespace.to_string(), name.to_string())).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The workload a proxy serves. The uid, when given and known, decides. Otherwise the
    /// candidates are the workloads with that namespace and name whose service account
    /// matches (the identity the pod runs as is what the CNI reported, never a guess) and,
    /// when our node is known, that run on it (a name can repeat across clusters); one that
    /// names our node is preferred over one that names no node.
    pub fn find_local_workload(&self, key: &LocalWorkloadKey<'_>) -> Option<Arc<Workload>> {
        if let Some(w) = key.uid.and_then(|uid| self.workloads.get(uid))
            && w.namespace == key.namespace
            && w.name == key.name
        {
            return Some(w.clone());
        }
        let sa_matches = |w: &Workload| key.service_account.is_empty() || w.service_account == key.service_account;
        let node_rank = |w: &Workload| match key.node {
            None => Some(0),
            Some(_) if w.node.is_empty() => Some(0),
            Some(node) if w.node == node => Some(1),
            Some(_) => None,
        };
        self.named(key.namespace, key.name)
            .iter()
            .filter(|w| sa_matches(w))
            .filter_map(|w| node_rank(w).map(|r| (r, w)))
            // Highest rank; among equals the first inserted (stable across pushes).
            .fold(None::<(u8, &Arc<Workload>)>, |best, (r, w)| match best {
                Some((b, _)) if b >= r => best,
                _ => Some((r, w)),
            })
            .map(|(_, w)| w.clone())
    }

    pub fn service_by_vip(&self, ip: IpAddr) -> Option<Arc<Service>> {
        self.services_by_vip.get(&canonical_ip(ip)).cloned()
    }

    /// The service with exactly this hostname. If several namespaces define it, the first by
    /// namespace order is returned; use [`ProxyState::services_by_hostname`] to choose.
    pub fn service_by_hostname(&self, hostname: &str) -> Option<Arc<Service>> {
        self.services_by_hostname.get(hostname).and_then(|v| v.first().cloned())
    }

    pub fn services_by_hostname(&self, hostname: &str) -> &[Arc<Service>] {
        self.services_by_hostname.get(hostname).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn service_by_namespaced_host(&self, namespace: &str, hostname: &str) -> Option<Arc<Service>> {
        self.services.get(&format!("{namespace}/{hostname}")).cloned()
    }

    /// All workloads, ordered by uid.
    pub fn workloads(&self) -> impl Iterator<Item = &Arc<Workload>> {
        self.workloads.values()
    }

    /// All services, ordered by `ns/hostname`.
    pub fn services(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.services.values()
    }

    /// All policies, ordered by `ns/name`.
    pub fn policies(&self) -> impl Iterator<Item = &Arc<Authorization>> {
        self.policies.values()
    }

    /// A policy by its `ns/name` key (as listed in `Workload::authorization_policies`).
    pub fn policy(&self, key: &str) -> Option<Arc<Authorization>> {
        self.policies.get(key).cloned()
    }

    pub fn workload_count(&self) -> usize {
        self.workloads.len()
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }
}

/// Sockets bound to `[::]` report IPv4 peers as `::ffff:a.b.c.d`; look those up as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The admin config dump shape: three lists, each in key order.
impl Serialize for ProxyState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Dump<'a> {
            workloads: Vec<&'a Workload>,
            services: Vec<&'a Service>,
            policies: Vec<&'a Authorization>,
        }
        Dump {
            workloads: self.workloads.values().map(Arc::as_ref).collect(),
            services: self.services.values().map(Arc::as_ref).collect(),
            policies: self.policies.values().map(Arc::as_ref).collect(),
        }
        .serialize(s)
    }
}

/// Shared handle to the current [`ProxyState`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StateStore {
    current: Arc<RwLock<Arc<ProxyState>>>,
    version: Arc<watch::Sender<u64>>,
}

impl Default for StateStore {
    fn default() -> Self {
        StateStore::new(ProxyState::default())
    }
}

impl StateStore {
    pub fn new(initial: ProxyState) -> StateStore {
        let (tx, _rx) = watch::channel(0);
        StateStore { current: Arc::new(RwLock::new(Arc::new(initial))), version: Arc::new(tx) }
    }

    /// The current snapshot. The lock is held only long enough to clone the `Arc`.
    pub fn snapshot(&self) -> Arc<ProxyState> {
        // A poisoned lock only means a writer panicked between two whole-Arc assignments; the
        // value inside is still a complete snapshot, so keep serving it.
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs a new snapshot and bumps the version seen by subscribers.
    pub fn replace(&self, state: ProxyState) {
        let next = Arc::new(state);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
        self.version.send_modify(|v| *v += 1);
    }

    /// The workload `key` names, waiting up to `wait` for a snapshot that has it (a pod can
    /// be announced by the CNI before istiod's push about it arrives). `None` after `wait`.
    pub async fn wait_for_local_workload(&self, key: &LocalWorkloadKey<'_>, wait: Duration) -> Option<Arc<Workload>> {
        // The common case (already known) costs one lookup and no subscription.
        if let Some(w) = self.snapshot().find_local_workload(key) {
            return Some(w);
        }
        // Subscribed before looking again, so a push landing in between is not missed.
        let mut updates = self.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(w) = self.snapshot().find_local_workload(key) {
                return Some(w);
            }
            // Timed out, or the sender is gone (the store is being dropped).
            tokio::time::timeout_at(deadline, updates.changed()).await.ok()?.ok()?;
        }
    }

    /// The number of replacements so far.
    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    /// Notified (with the new version) after every [`StateStore::replace`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

#[cfg(test)]
mod tests {
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
        let mut we =
            Workload::new("Kubernetes/networking.istio.io/WorkloadEntry/ns/vm", "ns", "vm", vec![ip("10.0.0.9")]);
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
}
