//! Delta application: insert, update or remove one workload, service or policy in a
//! [`ProxyState`], keeping every index, and record what changed as [`StateChange`]s.
//!
//! This is the one builder of state: the xDS cache and the local config both feed it, so the
//! defaults ([`Workload::apply_defaults`]), the endpoint derivation (a workload lists the
//! services it belongs to; a [`Service`] holds its endpoints) and the index rules live here
//! only. Every operation is O(log n) in the size of the mesh (plus the size of what it
//! touches: the workload's IPs and services, a service's VIPs, a policy's scope bucket), and
//! either applies completely or leaves the state unchanged. A value equal to the stored one
//! changes nothing and keeps its `Arc`, so caches keyed on it survive re-sends.

use std::net::IpAddr;
use std::sync::Arc;

use imbl::OrdMap;

use super::{
    Endpoint, Key, Memberships, Name, NetworkAddress, NetworkMode, ProxyState, Service, ServiceEntry, StateChange,
    StateError, Uids, Workload, WorkloadEntry,
};
use crate::rbac::{Authorization, PolicyScope, PolicySet};
use crate::util::sync::lock;

impl ProxyState {
    /// Adds a workload; its uid must be new. On error the state is unchanged.
    pub fn insert_workload(&mut self, w: Workload) -> Result<Arc<Workload>, StateError> {
        if self.workloads.contains_key(w.uid.as_str()) {
            return Err(StateError::DuplicateWorkloadUid(w.uid.to_string()));
        }
        Ok(self.upsert_workload(w, &Memberships::new(), &mut Vec::new()))
    }

    /// Adds a service (with its declared endpoints); its key and VIPs must be new.
    pub fn insert_service(&mut self, s: Service) -> Result<Arc<Service>, StateError> {
        let key = s.key();
        if self.services.contains_key(key.as_str()) {
            return Err(StateError::DuplicateService(key));
        }
        self.upsert_service(s, &mut Vec::new())
    }

    /// Adds a policy; its `ns/name` must be new.
    pub fn insert_policy(&mut self, p: Authorization) -> Result<Arc<Authorization>, StateError> {
        let key = p.key();
        if self.policies.contains_key(key.as_str()) {
            return Err(StateError::DuplicatePolicy(key));
        }
        Ok(self.upsert_policy(p, &mut Vec::new()))
    }

    /// Adds or replaces the workload with `w.uid`, with the services it is an endpoint of.
    /// Never fails: several workloads may share an IP (lookups rank them).
    pub fn upsert_workload(
        &mut self,
        mut w: Workload,
        memberships: &Memberships,
        log: &mut Vec<StateChange>,
    ) -> Arc<Workload> {
        w.apply_defaults();
        let old = self.workloads.get_key_value(w.uid.as_str()).map(|(k, e)| (k.clone(), e.clone()));
        if let Some((_, old)) = &old
            && *old.workload == w
            && old.services.len() == memberships.len()
            && memberships.iter().all(|(k, ports)| self.endpoint_is(k, &w, ports))
        {
            return old.workload.clone();
        }
        w.share_names(&mut lock(&self.names));
        // One shared key per workload, for every index and endpoint that names it.
        let uid: Key = match &old {
            Some((k, _)) => k.clone(),
            None => w.uid.clone(),
        };
        w.uid = uid.clone();
        // The name the indexes already hold, when it did not change (else an updated
        // workload would carry a second copy of it).
        if let Some((_, old)) = &old
            && old.workload.name == w.name
        {
            w.name = old.workload.name.clone();
        }
        let w = Arc::new(w);
        let old_w = old.as_ref().map(|(_, e)| e.workload.clone());
        self.index_ips(old_w.as_deref(), Some(&w));
        self.index_name(old_w.as_deref(), Some(&w));
        self.index_node(old_w.as_deref(), Some(&w));
        let no_services: Arc<[Key]> = Arc::new([]);
        let old_services = old.as_ref().map(|(_, e)| e.services.clone()).unwrap_or(no_services);
        for key in old_services.iter().filter(|k| !memberships.contains_key(k.as_str())) {
            self.set_derived_endpoint(key.clone(), &uid, None, log);
        }
        let services: Arc<[Key]> = if memberships.keys().eq(old_services.iter().map(Name::as_str)) {
            old_services.clone()
        } else {
            memberships.keys().map(|k| self.service_key(k, &old_services)).collect()
        };
        for (key, ports) in memberships {
            if !self.endpoint_is(key, &w, ports) {
                let ep = Endpoint { workload_uid: uid.clone(), port: lock(&self.names).ports(ports), status: w.status };
                let key = services.iter().find(|s| s.as_str() == key.as_str()).expect("just built").clone();
                self.set_derived_endpoint(key, &uid, Some(ep), log);
            }
        }
        let bindings_changed = old_w
            .as_ref()
            .is_none_or(|o| o.namespace != w.namespace || o.authorization_policies != w.authorization_policies);
        self.workloads.insert(uid, WorkloadEntry { workload: w.clone(), services });
        log.push(StateChange::WorkloadChanged { uid: w.uid.to_string(), policy_bindings_changed: bindings_changed });
        w
    }

    /// The shared copy of service key `k`: the workload's own, the service's, or a new one.
    fn service_key(&self, k: &str, old_services: &[Key]) -> Key {
        old_services
            .iter()
            .find(|o| o.as_str() == k)
            .or_else(|| self.services.get_key_value(k).map(|(k, _)| k))
            .or_else(|| self.derived_endpoints.get_key_value(k).map(|(k, _)| k))
            .cloned()
            .unwrap_or_else(|| k.into())
    }

    /// Removes the workload with `uid` and the endpoints it contributed.
    pub fn remove_workload(&mut self, uid: &str, log: &mut Vec<StateChange>) -> Option<Arc<Workload>> {
        let (key, old) = self.workloads.remove_with_key(uid)?;
        let w = old.workload;
        self.index_ips(Some(&w), None);
        self.index_name(Some(&w), None);
        self.index_node(Some(&w), None);
        for svc in old.services.iter() {
            self.set_derived_endpoint(svc.clone(), &key, None, log);
        }
        log.push(StateChange::WorkloadRemoved { uid: uid.to_string() });
        Some(w)
    }

    /// Adds or replaces the service with `s.key()`. Its endpoints are the ones it declares,
    /// overridden by those workloads contributed. Fails, changing nothing, if one of its VIPs
    /// belongs to another service.
    pub fn upsert_service(&mut self, mut s: Service, log: &mut Vec<StateChange>) -> Result<Arc<Service>, StateError> {
        for vip in &s.vips {
            // Per network: the same address on two networks is two VIPs.
            if let Some(existing) = self.services_by_vip.get(vip.network.as_str()).and_then(|m| m.get(&vip.address))
                && self
                    .services
                    .get(existing)
                    .is_some_and(|e| (&e.service.namespace, &e.service.hostname) != (&s.namespace, &s.hostname))
            {
                return Err(StateError::DuplicateVip { vip: vip.clone(), existing: existing.to_string() });
            }
        }
        let key = s.key();
        let declared = std::mem::take(&mut s.endpoints);
        let derived = self.contributed(key.as_str());
        // Derived endpoints win over declared ones.
        s.endpoints = if declared.is_empty() { derived } else { derived.union(declared.clone()) };
        if let Some(old) = self.services.get(key.as_str())
            && *old.service == s
            && old.declared == declared
        {
            return Ok(old.service.clone());
        }
        {
            let mut names = lock(&self.names);
            names.share(&mut s.namespace);
            names.share(&mut s.hostname);
        }
        let s = Arc::new(s);
        let old = self.services.get_key_value(key.as_str()).map(|(k, e)| (k.clone(), e.service.clone()));
        // The key workloads already share, when they named this service first.
        let map_key = match (&old, self.derived_endpoints.remove_with_key(key.as_str())) {
            (Some((k, _)), _) => k.clone(),
            (None, Some((k, _))) => k,
            (None, None) => key.as_str().into(),
        };
        self.index_service(old.as_ref().map(|(_, s)| s.as_ref()), Some(&s), &map_key);
        self.services.insert(map_key, ServiceEntry { service: s.clone(), declared });
        log.push(StateChange::ServiceChanged { key });
        Ok(s)
    }

    /// Removes the service with `key` (`ns/hostname`). Endpoints workloads contributed stay
    /// known, for when it comes back.
    pub fn remove_service(&mut self, key: &str, log: &mut Vec<StateChange>) -> Option<Arc<Service>> {
        let derived = self.contributed(key);
        let (map_key, old) = self.services.remove_with_key(key)?;
        let old = old.service;
        self.index_service(Some(&old), None, &map_key);
        if !derived.is_empty() {
            self.derived_endpoints.insert(map_key, derived);
        }
        log.push(StateChange::ServiceRemoved { key: key.to_string() });
        Some(old)
    }

    /// The endpoints workloads contributed to service `key`: kept aside while it is unknown,
    /// merged into it (over what it declared) while it is known.
    fn contributed(&self, key: &str) -> OrdMap<Key, Endpoint> {
        let Some(entry) = self.services.get(key) else {
            return self.derived_endpoints.get(key).cloned().unwrap_or_default();
        };
        let mut eps = entry.service.endpoints.clone();
        // A declared endpoint no workload overrode is not a contribution.
        for uid in entry.declared.keys() {
            let listed = self.workloads.get(uid).is_some_and(|w| w.services.iter().any(|k| k.as_str() == key));
            if !listed {
                eps.remove(uid);
            }
        }
        eps
    }

    /// Adds or replaces the policy with `p.key()`, and rebuilds the precomputed set of the
    /// scope bucket(s) it leaves or enters: O(policies in that bucket), the price of decisions
    /// that never look at policies outside their bucket.
    pub fn upsert_policy(&mut self, p: Authorization, log: &mut Vec<StateChange>) -> Arc<Authorization> {
        let key = p.key();
        let old = self.policies.get(key.as_str()).cloned();
        if let Some(old) = &old
            && **old == p
        {
            return old.clone();
        }
        let p = Arc::new(p);
        if let Some(old) = &old {
            self.unbucket(old);
            if (old.scope, &old.namespace) != (p.scope, &p.namespace) {
                log.push(StateChange::PolicyChanged {
                    key: key.clone(),
                    namespace: old.namespace.clone(),
                    scope: old.scope,
                });
            }
        }
        self.bucket(&p);
        self.policies.insert(key.as_str().into(), p.clone());
        log.push(StateChange::PolicyChanged { key, namespace: p.namespace.clone(), scope: p.scope });
        p
    }

    /// Removes the policy with `key` (`ns/name`).
    pub fn remove_policy(&mut self, key: &str, log: &mut Vec<StateChange>) -> Option<Arc<Authorization>> {
        let old = self.policies.remove(key)?;
        self.unbucket(&old);
        log.push(StateChange::PolicyChanged {
            key: key.to_string(),
            namespace: old.namespace.clone(),
            scope: old.scope,
        });
        Some(old)
    }

    fn endpoint_is(&self, key: &str, w: &Workload, ports: &std::collections::BTreeMap<u16, u16>) -> bool {
        let eps = match self.services.get(key) {
            Some(entry) => Some(&entry.service.endpoints),
            None => self.derived_endpoints.get(key),
        };
        eps.and_then(|eps| eps.get(w.uid.as_str())).is_some_and(|ep| *ep.port == *ports && ep.status == w.status)
    }

    /// Sets (or clears) the endpoint `uid` contributed to service `key`: in the service's
    /// endpoints when it is known (clearing falls back to one the service declared itself),
    /// aside until it arrives otherwise.
    fn set_derived_endpoint(&mut self, key: Key, uid: &Key, ep: Option<Endpoint>, log: &mut Vec<StateChange>) {
        let Some(entry) = self.services.get(&key) else {
            let eps = self.derived_endpoints.entry(key.clone()).or_default();
            match ep {
                Some(ep) => eps.insert(uid.clone(), ep),
                None => eps.remove(uid),
            };
            if eps.is_empty() {
                self.derived_endpoints.remove(&key);
            }
            return;
        };
        let merged = ep.or_else(|| entry.declared.get(uid).cloned());
        let mut s = Service::clone(&entry.service);
        match merged {
            Some(ep) => s.endpoints.insert(uid.clone(), ep),
            None => s.endpoints.remove(uid),
        };
        // The VIP and hostname indexes name the key: an endpoint change touches this map only.
        let entry = ServiceEntry { service: Arc::new(s), declared: entry.declared.clone() };
        self.services.insert(key.clone(), entry);
        log.push(StateChange::ServiceChanged { key: key.to_string() });
    }

    /// Moves `old`'s IP entries to `new` (same uid, or none). An IP both have is left alone: the
    /// entry names the uid, and an update keeps its place in each list (it must not win or lose
    /// an IP tie by being re-sent). Host-network workloads are never indexed.
    fn index_ips(&mut self, old: Option<&Workload>, new: Option<&Arc<Workload>>) {
        let new_ips = indexed_ips(new.map(Arc::as_ref));
        let old_ips = indexed_ips(old);
        // A move to another network moves every IP (the same address is another entry there).
        let same_network = matches!((old, new), (Some(o), Some(n)) if o.network == n.network);
        let kept = |ip: &IpAddr, other: &[IpAddr]| same_network && other.contains(ip);
        if let Some(old) = old {
            let gone: Vec<IpAddr> = old_ips.iter().filter(|ip| !kept(ip, new_ips)).copied().collect();
            if !gone.is_empty()
                && let Some(by_ip) = self.workloads_by_ip.get_mut(old.network.as_str())
            {
                // In place (`get_mut`): copies only what an older snapshot still shares.
                for ip in &gone {
                    match by_ip.get(ip).and_then(|l| without(l, &old.uid)) {
                        Some(rest) => by_ip.insert(*ip, rest),
                        None => by_ip.remove(ip),
                    };
                }
                if by_ip.is_empty() {
                    self.workloads_by_ip.remove(old.network.as_str());
                }
            }
        }
        if let Some(new) = new {
            let added: Vec<IpAddr> = new_ips.iter().filter(|ip| !kept(ip, old_ips)).copied().collect();
            if !added.is_empty() {
                let by_ip = self.workloads_by_ip.entry(new.network.clone()).or_default();
                for ip in added {
                    let list = with(by_ip.get(&ip), &new.uid);
                    by_ip.insert(ip, list);
                }
            }
        }
    }

    fn index_name(&mut self, old: Option<&Workload>, new: Option<&Arc<Workload>>) {
        let same = |a: &Workload, b: &Workload| (&a.namespace, &a.name) == (&b.namespace, &b.name);
        if let (Some(o), Some(n)) = (old, new)
            && same(o, n)
        {
            return;
        }
        if let Some(old) = old
            && let Some(names) = self.workloads_by_name.get_mut(old.namespace.as_str())
        {
            // In place (`get_mut`): copies only what an older snapshot still shares.
            match names.get(old.name.as_str()).and_then(|l| without(l, &old.uid)) {
                Some(rest) => names.insert(old.name.clone(), rest),
                None => names.remove(old.name.as_str()),
            };
            if names.is_empty() {
                self.workloads_by_name.remove(old.namespace.as_str());
            }
        }
        if let Some(new) = new {
            let names = self.workloads_by_name.entry(new.namespace.clone()).or_default();
            let list = with(names.get(new.name.as_str()), &new.uid);
            names.insert(new.name.clone(), list);
        }
    }

    fn index_node(&mut self, old: Option<&Workload>, new: Option<&Arc<Workload>>) {
        let key = |w: &Workload| (w.node.clone(), w.uid.clone());
        if let (Some(o), Some(n)) = (old, new)
            && o.node == n.node
        {
            return;
        }
        if let Some(old) = old.filter(|w| !w.node.is_empty()) {
            self.by_node.remove(&key(old));
        }
        if let Some(new) = new.filter(|w| !w.node.is_empty()) {
            self.by_node.insert(key(new));
        }
    }

    /// Moves `old`'s VIP and hostname entries to `new` (same `key`, or none). Both name the
    /// key, so only a change of VIPs (or an add or removal) touches them.
    fn index_service(&mut self, old: Option<&Service>, new: Option<&Arc<Service>>, key: &Key) {
        if let Some(old) = old {
            for vip in &old.vips {
                if new.is_none_or(|n| !n.vips.contains(vip)) {
                    self.unindex_vip(vip, key);
                }
            }
            for cidr in &old.cidr_vips {
                if new.is_none_or(|n| !n.cidr_vips.contains(cidr))
                    && let Some(index) = self.services_by_cidr.get_mut(cidr.network.as_str())
                {
                    index.remove(&cidr.cidr, key);
                    if index.is_empty() {
                        self.services_by_cidr.remove(cidr.network.as_str());
                    }
                }
            }
            if new.is_none()
                && let Some(list) = self.services_by_hostname.get(old.hostname.as_str())
            {
                let rest: Vec<(Key, Key)> = list.iter().filter(|(_, k)| k != key).cloned().collect();
                if rest.is_empty() {
                    self.services_by_hostname.remove(old.hostname.as_str());
                } else {
                    self.services_by_hostname.insert(old.hostname.clone(), rest.into());
                }
            }
        }
        if let Some(new) = new {
            for vip in &new.vips {
                let by_vip = self.services_by_vip.entry(vip.network.clone()).or_default();
                if by_vip.get(&vip.address) != Some(key) {
                    by_vip.insert(vip.address, key.clone());
                }
            }
            // Already claimed ones keep their place (and their tie-break rank).
            for cidr in &new.cidr_vips {
                self.services_by_cidr.entry(cidr.network.clone()).or_default().insert(&cidr.cidr, key);
            }
            let list = self.services_by_hostname.get(new.hostname.as_str());
            if list.is_none_or(|l| !l.iter().any(|(_, k)| k == key)) {
                let mut list: Vec<(Key, Key)> = list.map(|l| l.to_vec()).unwrap_or_default();
                let at = list.binary_search_by(|(ns, _)| ns.cmp(&new.namespace)).unwrap_or_else(|i| i);
                list.insert(at, (new.namespace.clone(), key.clone()));
                self.services_by_hostname.insert(new.hostname.clone(), list.into());
            }
        }
    }

    /// Drops `vip` from the VIP index if `key` holds it (a rejected claimant never did).
    fn unindex_vip(&mut self, vip: &NetworkAddress, key: &Key) {
        let Some(by_vip) = self.services_by_vip.get_mut(vip.network.as_str()) else { return };
        if by_vip.get(&vip.address) == Some(key) {
            by_vip.remove(&vip.address);
        }
        if by_vip.is_empty() {
            self.services_by_vip.remove(vip.network.as_str());
        }
    }

    fn bucket(&mut self, p: &Arc<Authorization>) {
        if let Some(b) = bucket_of(p) {
            let mut members = self.scoped_policies.get(b).cloned().unwrap_or_default();
            members.insert((p.namespace.as_str().into(), p.name.as_str().into()), p.clone());
            self.install_bucket(b, members);
        }
    }

    fn unbucket(&mut self, p: &Authorization) {
        if let Some(b) = bucket_of(p) {
            let mut members = self.scoped_policies.get(b).cloned().unwrap_or_default();
            members.remove(&(p.namespace.as_str().into(), p.name.as_str().into()));
            self.install_bucket(b, members);
        }
    }

    fn install_bucket(&mut self, bucket: &str, members: OrdMap<(Key, Key), Arc<Authorization>>) {
        if members.is_empty() {
            self.scoped_policies.remove(bucket);
            self.policy_sets.remove(bucket);
            return;
        }
        let set = PolicySet::new(members.values().cloned().collect());
        self.scoped_policies.insert(bucket.into(), members);
        self.policy_sets.insert(bucket.into(), Arc::new(set));
    }
}

/// NAMESPACE policies apply under their namespace, GLOBAL ones under "" (as upstream stores
/// them); selector-scoped ones are found through the workloads that list them.
fn bucket_of(p: &Authorization) -> Option<&str> {
    match p.scope {
        PolicyScope::Global => Some(""),
        PolicyScope::Namespace => Some(p.namespace.as_str()),
        PolicyScope::WorkloadSelector => None,
    }
}

/// The IPs a workload is indexed under: none for host-network ones (the node's IPs).
fn indexed_ips(w: Option<&Workload>) -> &[IpAddr] {
    match w {
        Some(w) if w.network_mode != NetworkMode::HostNetwork => w.workload_ips.as_slice(),
        _ => &[],
    }
}

/// `list` with `uid` appended unless it is there already (a new list: lists are shared with
/// older snapshots).
fn with(list: Option<&Uids>, uid: &Key) -> Uids {
    match list {
        None => Uids::One(uid.clone()),
        Some(l) if l.as_slice().contains(uid) => l.clone(),
        Some(l) => Uids::Many(l.as_slice().iter().chain([uid]).cloned().collect()),
    }
}

/// `list` without `uid`; `None` if nothing is left.
fn without(list: &Uids, uid: &str) -> Option<Uids> {
    let rest: Vec<Key> = list.as_slice().iter().filter(|u| u.as_str() != uid).cloned().collect();
    match rest.len() {
        0 => None,
        1 => rest.into_iter().next().map(Uids::One),
        _ => Some(Uids::Many(rest.into())),
    }
}
