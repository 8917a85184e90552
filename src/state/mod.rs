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

use serde::Serialize;
use tokio::sync::watch;

use crate::rbac::{Authorization, PolicyScope};
pub use service::{Endpoint, Service};
pub use workload::{HealthStatus, NamespacedHostname, NetworkAddress, TunnelProtocol, Workload};

/// Why a workload, service or policy cannot be added to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("duplicate workload uid {0:?}")]
    DuplicateWorkloadUid(String),
    #[error("workload IP {ip} is already used by workload {existing:?}")]
    DuplicateWorkloadIp { ip: IpAddr, existing: String },
    #[error("duplicate service {0:?} (namespace/hostname)")]
    DuplicateService(String),
    #[error("VIP {vip} is already used by service {existing:?}")]
    DuplicateVip { vip: IpAddr, existing: String },
    #[error("duplicate policy {0:?} (namespace/name)")]
    DuplicatePolicy(String),
}

/// An indexed snapshot of everything the proxy knows.
///
/// IP indexes ignore the network for now (single-network deployments); two objects claiming
/// the same IP are rejected rather than silently shadowing each other.
#[derive(Debug, Clone, Default)]
pub struct ProxyState {
    workloads: BTreeMap<String, Arc<Workload>>,
    workloads_by_ip: HashMap<IpAddr, Arc<Workload>>,
    workloads_by_name: HashMap<(String, String), Arc<Workload>>,
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

    /// Adds a workload; its uid and IPs must be new. On error the state is unchanged.
    pub fn insert_workload(&mut self, w: Workload) -> Result<Arc<Workload>, StateError> {
        if self.workloads.contains_key(&w.uid) {
            return Err(StateError::DuplicateWorkloadUid(w.uid));
        }
        for ip in &w.workload_ips {
            if let Some(existing) = self.workloads_by_ip.get(ip) {
                return Err(StateError::DuplicateWorkloadIp {
                    ip: *ip,
                    existing: existing.uid.clone(),
                });
            }
        }
        let w = Arc::new(w);
        for ip in &w.workload_ips {
            self.workloads_by_ip.insert(*ip, w.clone());
        }
        // Name lookups are a convenience; if two uids share a name, the first one wins.
        self.workloads_by_name
            .entry((w.namespace.clone(), w.name.clone()))
            .or_insert_with(|| w.clone());
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
                return Err(StateError::DuplicateVip {
                    vip: vip.address,
                    existing: existing.key(),
                });
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
            let at = list
                .binary_search_by(|q| (&q.namespace, &q.name).cmp(&(&p.namespace, &p.name)))
                .unwrap_or_else(|i| i);
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
        let namespaced =
            if workload.namespace.is_empty() { None } else { bucket(&workload.namespace) };
        let namespaced = namespaced.unwrap_or(&[]);
        let global = bucket("").unwrap_or(&[]);
        let mut out = Vec::with_capacity(
            namespaced.len() + global.len() + workload.authorization_policies.len(),
        );
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
                PolicyScope::Namespace => {
                    !workload.namespace.is_empty() && p.namespace == workload.namespace
                }
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

    pub fn workload_by_ip(&self, ip: IpAddr) -> Option<Arc<Workload>> {
        self.workloads_by_ip.get(&canonical_ip(ip)).cloned()
    }

    pub fn workload_by_name(&self, namespace: &str, name: &str) -> Option<Arc<Workload>> {
        self.workloads_by_name.get(&(namespace.to_string(), name.to_string())).cloned()
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

    pub fn service_by_namespaced_host(
        &self,
        namespace: &str,
        hostname: &str,
    ) -> Option<Arc<Service>> {
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
        st.insert_workload(Workload::new("u1", "ns", "a", vec![ip("10.0.0.1"), ip("fd00::1")]))
            .unwrap();
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
        assert_eq!(
            st.insert_workload(Workload::new("u3", "ns", "x", vec![ip("10.0.0.2")])),
            Err(StateError::DuplicateWorkloadIp { ip: ip("10.0.0.2"), existing: "u2".into() })
        );
        assert!(st.workload_by_uid("u3").is_none(), "failed insert leaves no trace");
        let mut s = Service::new("x", "y", "z");
        s.vips.push("net/10.96.0.1".parse().unwrap());
        assert!(matches!(st.insert_service(s), Err(StateError::DuplicateVip { .. })));
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
