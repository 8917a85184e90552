//! What the proxy knows about the mesh: workloads, services and authorization policies.
//!
//! Owns [`ProxyState`] (an indexed snapshot; lookups here, delta application in [`apply`]) and
//! [`StateStore`] (the shared handle through which a new snapshot replaces the old one, with
//! typed [`StateChange`] events; see [`store`]). No I/O.
//!
//! Representation: every map and index is a persistent (HAMT / B-tree) map from `imbl`, so
//! cloning a snapshot is O(1) and applying one delta to the clone costs O(log n), sharing every
//! untouched node with the snapshot readers still hold. That is what lets one ztunnel hold a
//! 100k-pod mesh and still apply an xDS delta in microseconds: the writer never rebuilds or
//! deep-copies, readers keep a consistent view for as long as they hold their `Arc`, and a
//! workload that did not change keeps its `Arc` (the metrics peer cache keys on it). `imbl`
//! over `rpds`: its ordered map has `Borrow` lookups and serde, and its maps are `Send + Sync`
//! without a pointer-kind parameter. An `ArcSwap` of plain maps would have needed a full copy
//! per write.
//!
//! Two rules keep a delta cheap and the mesh small. Only B-tree maps (`OrdMap`): imbl's hash
//! map allocates fixed 32-slot nodes, most of them nearly empty at this size, which cost
//! several times the entries themselves. And every key and value is cheap to clone ([`Name`]
//! keys, `Arc<[_]>` lists): a write copies the nodes on its path, and a node copy clones every
//! entry in it, so one `String` key there would mean dozens of allocations per delta.
//!
//! Memory per workload is what a mesh-wide proxy pays 100k times over, so: names are thin
//! shared handles from one [`Interner`] (a namespace, node or revision is stored once, however
//! many workloads carry it); secondary indexes (by IP, by name, by node, services by VIP,
//! hostname and CIDR VIP) hold uids and keys, not the values, so a value's update touches its
//! own map only; each endpoint is stored once (in its service, or aside while the service is
//! unknown), and endpoints share their port maps.

pub mod apply;
mod cidr;
pub mod name;
pub mod service;
pub mod store;
pub mod workload;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use imbl::{OrdMap, OrdSet};
use serde::Serialize;

use crate::rbac::{self, Authorization, Evaluation, PolicyScope, PolicySet};
use crate::util::net::canonical_ip;
pub use name::{Interner, Name, PortMap};
pub use service::{Endpoint, NetworkCidr, Service};
pub use store::{ChangeSet, StateChange, StateStore};
pub use workload::{HealthStatus, NamespacedHostname, NetworkAddress, NetworkMode, TunnelProtocol, Workload};

/// The services a workload is an endpoint of: `ns/hostname` → service port → target port.
/// The wire shape of both xDS and the local config; the state derives [`Endpoint`]s from it.
pub type Memberships = BTreeMap<String, BTreeMap<u16, u16>>;

/// Why a workload, service or policy cannot be added to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("duplicate workload uid {0:?}")]
    DuplicateWorkloadUid(String),
    #[error("duplicate service {0:?} (namespace/hostname)")]
    DuplicateService(String),
    #[error("VIP {vip} is already used by service {existing:?}")]
    DuplicateVip { vip: NetworkAddress, existing: String },
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

/// A workload as stored: the shared value plus the service keys it contributed endpoints to
/// (what to undo when it changes or goes). Only the keys: the ports live in the endpoints.
#[derive(Debug, Clone)]
struct WorkloadEntry {
    workload: Arc<Workload>,
    services: Arc<[Key]>,
}

/// Map keys: names shared between indexes (a workload's uid key is its `uid`) and cheap to
/// clone when a node is copied.
type Key = Name;

/// The workloads (by uid) one index entry holds: usually one, inline; several in a list shared
/// with older snapshots. Uids, not `Arc<Workload>`s: a workload update that keeps its IPs and
/// name (labels, status, policies) then touches the workload map only.
#[derive(Debug, Clone)]
enum Uids {
    One(Key),
    Many(Arc<[Key]>),
}

impl Uids {
    fn as_slice(&self) -> &[Key] {
        match self {
            Uids::One(k) => std::slice::from_ref(k),
            Uids::Many(l) => l,
        }
    }
}

/// A service as stored: the merged value and the endpoints its source declared itself (the
/// local config may list some), which workload-derived endpoints override.
#[derive(Debug, Clone)]
struct ServiceEntry {
    service: Arc<Service>,
    declared: OrdMap<Key, Endpoint>,
}

/// An indexed snapshot of everything the proxy knows.
///
/// IP indexes (workloads, exact VIPs, CIDR VIPs) are per network, as upstream keys them by
/// `network/ip`: in a multi-network mesh pod IPs overlap across networks, so an address means
/// something only together with the network it is looked up on (the caller's: the source's for
/// outbound, ours for inbound). Nested, network → IP, rather than one `(network, ip)` key: a
/// mesh has one network or a handful, so the outer map is a node or two and each entry of the
/// large inner maps stays as small as an unqualified one. Several workloads may claim one IP
/// on a network (a restarted pod's address is briefly held by two pods, a VM and a pod
/// overlap); all are kept and lookups pick one by upstream's preference. Host-network
/// workloads are not indexed by IP at all: their IPs are the node's, shared by every such pod
/// on the node.
#[derive(Debug, Clone, Default)]
pub struct ProxyState {
    workloads: OrdMap<Key, WorkloadEntry>,
    /// network → IP → workloads, each list in insertion order (an update keeps its place).
    workloads_by_ip: OrdMap<Key, OrdMap<IpAddr, Uids>>,
    /// namespace → name → workloads. Several uids can share a name (clusters, a pod recreated
    /// under the same name). Nested so a lookup by two `&str` allocates no key.
    workloads_by_name: OrdMap<Key, OrdMap<Key, Uids>>,
    /// Workloads that name a node, as `(node, uid)`: who a node's certificates are for
    /// (prefetch), without a scan of the mesh. One flat set read by prefix (a nested set per
    /// node or identity cost a whole B-tree node each); namespace and service account are
    /// checked on the workload, among the node's pods only.
    by_node: OrdSet<(Key, Key)>,
    services: OrdMap<Key, ServiceEntry>,
    /// network → VIP → service key (one service per VIP on a network).
    services_by_vip: OrdMap<Key, OrdMap<IpAddr, Key>>,
    /// network → CIDR VIP → service keys, for destinations no exact VIP claims.
    services_by_cidr: OrdMap<Key, cidr::CidrIndex>,
    /// Several namespaces may define the same hostname (ServiceEntry); kept sorted by namespace.
    services_by_hostname: OrdMap<Key, Arc<[(Key, Key)]>>,
    /// Endpoints workloads contributed to services that are not known (yet), per service key
    /// (as upstream keeps them). Those of a known service live in its `endpoints` only: each
    /// endpoint is stored once.
    derived_endpoints: OrdMap<Key, OrdMap<Key, Endpoint>>,
    policies: OrdMap<Key, Arc<Authorization>>,
    /// Policies that apply by scope alone: NAMESPACE ones under their namespace, GLOBAL ones
    /// under "" (as upstream stores them), ordered by (namespace, name).
    scoped_policies: OrdMap<Key, OrdMap<(Key, Key), Arc<Authorization>>>,
    /// The same buckets, precomputed for decisions (rebuilt when their bucket changes).
    policy_sets: OrdMap<Key, Arc<PolicySet>>,
    /// One shared copy of each low-cardinality name, for this snapshot and every later one.
    names: Arc<Mutex<Interner>>,
}

impl ProxyState {
    pub fn new() -> ProxyState {
        ProxyState::default()
    }

    /// Every policy that applies to `workload`, each once: NAMESPACE-scoped policies of its
    /// namespace, then GLOBAL ones, then those it selects by `ns/name` in
    /// `authorization_policies` (upstream's order). A selected key naming no known policy is
    /// left out here; [`ProxyState::evaluate`] (what enforcement uses) fails closed on it.
    /// Allocates a list: for the admin view and tests, not the data path.
    pub fn policies_for(&self, workload: &Workload) -> Vec<Arc<Authorization>> {
        let sets = self.scoped_sets(workload);
        let len = sets.iter().flatten().map(|s| s.len()).sum::<usize>() + workload.authorization_policies.len();
        let mut out: Vec<Arc<Authorization>> = Vec::with_capacity(len);
        for set in sets.into_iter().flatten() {
            out.extend_from_slice(set.policies());
        }
        self.for_each_selected(workload, |p| {
            if let Ok(p) = p {
                out.push(p.clone());
            }
        });
        out
    }

    /// Decides `conn` against the policies that apply to `workload`, visiting only the
    /// in-scope policies the precomputed sets cannot rule out, without collecting them. A
    /// selected policy that is unknown (rejected at conversion, or not arrived yet) counts as
    /// an ALLOW policy that matches nothing: the workload is denied rather than flipped to
    /// allow-all, which is what skipping it would do (upstream skips it; we fail closed).
    pub fn evaluate(&self, workload: &Workload, conn: &rbac::Connection) -> Evaluation {
        let mut ev = rbac::Evaluator::new(conn);
        for set in self.scoped_sets(workload).into_iter().flatten() {
            ev.visit_set(set);
        }
        let mut missing: Option<&str> = None;
        self.for_each_selected(workload, |p| match p {
            Ok(p) => ev.visit(p.as_ref()),
            Err(key) => {
                missing.get_or_insert(key);
            }
        });
        ev.finish(missing)
    }

    /// The namespace bucket (unless the namespace is empty, which would alias the GLOBAL
    /// bucket) and the GLOBAL bucket.
    fn scoped_sets(&self, workload: &Workload) -> [Option<&PolicySet>; 2] {
        let namespaced =
            if workload.namespace.is_empty() { None } else { self.policy_sets.get(workload.namespace.as_ref()) };
        [namespaced.map(Arc::as_ref), self.policy_sets.get("").map(Arc::as_ref)]
    }

    /// Calls `f` with each policy `workload` selects that its scope did not already bring in,
    /// once each, in order; `Err(key)` for a key naming no known policy.
    fn for_each_selected<'s>(
        &'s self,
        workload: &'s Workload,
        mut f: impl FnMut(Result<&'s Arc<Authorization>, &'s str>),
    ) {
        for (i, key) in workload.authorization_policies.iter().enumerate() {
            // Listed twice: evaluating it again changes nothing but would duplicate dry-run
            // reports. Lists are short; a scan beats allocating a set.
            if workload.authorization_policies[..i].contains(key) {
                continue;
            }
            let Some(p) = self.policies.get(key.as_str()) else {
                tracing::warn!(
                    workload = %workload.uid, policy = %key,
                    "workload references an unknown authorization policy; failing closed"
                );
                f(Err(key));
                continue;
            };
            let in_scope = match p.scope {
                PolicyScope::Global => true,
                PolicyScope::Namespace => !workload.namespace.is_empty() && p.namespace == workload.namespace,
                PolicyScope::WorkloadSelector => false,
            };
            if !in_scope {
                f(Ok(p));
            }
        }
    }

    pub fn workload_by_uid(&self, uid: &str) -> Option<Arc<Workload>> {
        self.workloads.get(uid).map(|e| e.workload.clone())
    }

    /// The workload at `ip` on `network`. When several claim it, upstream's preference
    /// decides: a pod over anything else (pods' IPs are assigned by the cluster, a
    /// WorkloadEntry's are written by hand), then one that speaks HBONE (it carries more of the
    /// mesh's context), then the most recently added.
    pub fn workload_by_ip(&self, network: &str, ip: IpAddr) -> Option<Arc<Workload>> {
        let rank = |w: &Workload| (w.uid.contains("//Pod/"), w.protocol == TunnelProtocol::Hbone);
        // `max_by_key` keeps the last of equal maxima: the most recent insert.
        self.at_ip(network, ip).max_by_key(|w| rank(w)).cloned()
    }

    /// Every workload claiming `ip` on `network`, in insertion order.
    pub fn workloads_by_ip(&self, network: &str, ip: IpAddr) -> Vec<Arc<Workload>> {
        self.at_ip(network, ip).cloned().collect()
    }

    fn at_ip(&self, network: &str, ip: IpAddr) -> impl Iterator<Item = &Arc<Workload>> {
        self.resolve(self.workloads_by_ip.get(network).and_then(|m| m.get(&canonical_ip(ip))))
    }

    /// The workloads an index entry names (every uid in an index is in `workloads`).
    fn resolve<'s>(&'s self, uids: Option<&'s Uids>) -> impl Iterator<Item = &'s Arc<Workload>> + 's {
        uids.map(Uids::as_slice).unwrap_or(&[]).iter().filter_map(|u| self.workloads.get(u).map(|e| &e.workload))
    }

    /// The first (by insertion) workload with this namespace and name. A proxy looking for the
    /// workload it serves uses [`ProxyState::find_local_workload`], which is stricter.
    pub fn workload_by_name(&self, namespace: &str, name: &str) -> Option<Arc<Workload>> {
        self.named(namespace, name).next().cloned()
    }

    fn named(&self, namespace: &str, name: &str) -> impl Iterator<Item = &Arc<Workload>> {
        self.resolve(self.workloads_by_name.get(namespace).and_then(|m| m.get(name)))
    }

    /// Uids of the workloads on `node` running as `namespace`/`service_account`, in uid order.
    pub fn node_workloads(&self, node: &str, namespace: &str, service_account: &str) -> Vec<String> {
        let node = Name::from(node);
        // The empty uid sorts first: the range starts at the node's first entry.
        self.by_node
            .range((node.clone(), Name::default())..)
            .take_while(|(n, _)| *n == node)
            .filter_map(|(_, uid)| self.workloads.get(uid))
            .filter(|e| e.workload.namespace == namespace && e.workload.service_account == service_account)
            .map(|e| e.workload.uid.to_string())
            .collect()
    }

    /// The workload a proxy serves. The uid, when given and known, decides. Otherwise the
    /// candidates are the workloads with that namespace and name whose service account
    /// matches (the identity the pod runs as is what the CNI reported, never a guess) and,
    /// when our node is known, that run on it (a name can repeat across clusters); one that
    /// names our node is preferred over one that names no node.
    pub fn find_local_workload(&self, key: &LocalWorkloadKey<'_>) -> Option<Arc<Workload>> {
        if let Some(e) = key.uid.and_then(|uid| self.workloads.get(uid))
            && e.workload.namespace == key.namespace
            && e.workload.name == key.name
        {
            return Some(e.workload.clone());
        }
        let sa_matches = |w: &Workload| key.service_account.is_empty() || w.service_account == key.service_account;
        let node_rank = |w: &Workload| match key.node {
            None => Some(0),
            Some(_) if w.node.is_empty() => Some(0),
            Some(node) if w.node == node => Some(1),
            Some(_) => None,
        };
        self.named(key.namespace, key.name)
            .filter(|w| sa_matches(w))
            .filter_map(|w| node_rank(w).map(|r| (r, w)))
            // Highest rank; among equals the first inserted (stable across pushes).
            .fold(None::<(u8, &Arc<Workload>)>, |best, (r, w)| match best {
                Some((b, _)) if b >= r => best,
                _ => Some((r, w)),
            })
            .map(|(_, w)| w.clone())
    }

    /// The service with exact VIP `ip` on `network`.
    pub fn service_by_vip(&self, network: &str, ip: IpAddr) -> Option<Arc<Service>> {
        let key = self.services_by_vip.get(network)?.get(&canonical_ip(ip))?;
        self.service_by_key(key)
    }

    /// The service a connection from a client in `namespace`, on `network`, to `ip` is
    /// addressed to: the one with that exact VIP, else the one whose CIDR VIP contains it
    /// (upstream's `get_best_by_vip`), both on that network. Services `visible` rejects do not
    /// exist for this client.
    pub fn service_for_destination(
        &self,
        network: &str,
        ip: IpAddr,
        namespace: &str,
        visible: impl Fn(&Service) -> bool,
    ) -> Option<Arc<Service>> {
        if let Some(svc) = self.service_by_vip(network, ip).filter(|s| visible(s)) {
            return Some(svc);
        }
        self.service_by_cidr_vip(network, ip, namespace, visible)
    }

    /// The service whose CIDR VIP on `network` contains `ip`: the longest matching prefix wins; among the
    /// services sharing it (several namespaces may), the client's namespace, then a canonical
    /// one, then the first indexed (upstream's tie-breaks). A prefix whose services are all
    /// invisible to the client is skipped for the next shorter one.
    pub fn service_by_cidr_vip(
        &self,
        network: &str,
        ip: IpAddr,
        namespace: &str,
        visible: impl Fn(&Service) -> bool,
    ) -> Option<Arc<Service>> {
        let index = self.services_by_cidr.get(network)?;
        for keys in index.matches(ip) {
            let mut best: Option<(u8, &Arc<Service>)> = None;
            for svc in keys.iter().filter_map(|k| self.services.get(k).map(|e| &e.service)) {
                if !visible(svc) {
                    continue;
                }
                let rank = if svc.namespace == namespace { 2 } else { u8::from(svc.canonical) };
                if best.is_none_or(|(b, _)| rank > b) {
                    best = Some((rank, svc));
                }
                if rank == 2 {
                    break;
                }
            }
            if let Some((_, svc)) = best {
                return Some(svc.clone());
            }
        }
        None
    }

    /// The service with exactly this hostname. If several namespaces define it, the first by
    /// namespace order is returned; use [`ProxyState::services_by_hostname`] to choose.
    pub fn service_by_hostname(&self, hostname: &str) -> Option<Arc<Service>> {
        self.hostname_keys(hostname).first().and_then(|(_, k)| self.service_by_key(k))
    }

    /// Every service with this hostname, by namespace.
    pub fn services_by_hostname(&self, hostname: &str) -> Vec<Arc<Service>> {
        self.hostname_keys(hostname).iter().filter_map(|(_, k)| self.service_by_key(k)).collect()
    }

    /// `(namespace, key)` of the services with this hostname, by namespace.
    fn hostname_keys(&self, hostname: &str) -> &[(Key, Key)] {
        self.services_by_hostname.get(hostname).map(|l| &l[..]).unwrap_or(&[])
    }

    /// The service with this `ns/hostname` key.
    pub fn service_by_key(&self, key: &str) -> Option<Arc<Service>> {
        self.services.get(key).map(|e| e.service.clone())
    }

    pub fn service_by_namespaced_host(&self, namespace: &str, hostname: &str) -> Option<Arc<Service>> {
        // Through the hostname index: no `ns/hostname` key to format.
        let (_, key) = self.hostname_keys(hostname).iter().find(|(ns, _)| *ns == namespace)?;
        self.service_by_key(key)
    }

    /// All workloads, ordered by uid.
    pub fn workloads(&self) -> impl Iterator<Item = &Arc<Workload>> {
        self.workloads.values().map(|e| &e.workload)
    }

    /// All services, ordered by `ns/hostname`.
    pub fn services(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.services.values().map(|e| &e.service)
    }

    /// All policies, ordered by `ns/name`.
    pub fn policies(&self) -> impl Iterator<Item = &Arc<Authorization>> {
        self.policies.values()
    }

    /// A policy by its `ns/name` key (as listed in `Workload::authorization_policies`).
    pub fn policy(&self, key: &str) -> Option<Arc<Authorization>> {
        self.policies.get(key).cloned()
    }

    /// Service keys that workloads list but no service defines (yet).
    pub fn unknown_services_with_endpoints(&self) -> Vec<(&str, &Endpoint)> {
        let mut out: Vec<(&str, &Endpoint)> =
            self.derived_endpoints.iter().flat_map(|(k, eps)| eps.values().map(move |e| (k.as_str(), e))).collect();
        out.sort_by(|a, b| (a.0, &a.1.workload_uid).cmp(&(b.0, &b.1.workload_uid)));
        out
    }

    /// Distinct names the shared interner holds (within twice what is live, plus a floor).
    pub fn interned_names(&self) -> usize {
        crate::util::sync::lock(&self.names).len()
    }

    /// Drops interned names nothing uses any more now, rather than at the interner's next
    /// sweep (which runs when its table has doubled).
    pub fn sweep_names(&self) {
        crate::util::sync::lock(&self.names).sweep();
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
            workloads: self.workloads().map(Arc::as_ref).collect(),
            services: self.services().map(Arc::as_ref).collect(),
            policies: self.policies.values().map(Arc::as_ref).collect(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "network_tests.rs"]
mod network_tests;
