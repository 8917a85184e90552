//! The registry of live inbound connections, so authorization can be re-checked when policies
//! change and connections no longer allowed can be closed.
//!
//! Owns [`ConnectionRegistry`], [`RecheckScope`] (which connections a set of state changes can
//! affect) and the task that watches the state ([`watch_policies`]). Re-checks follow the
//! store's typed change events: a workload-only change (new pod, new IP, new endpoint)
//! re-checks nothing; a policy change re-checks only connections to workloads in its scope;
//! a removed workload or changed policy bindings re-check only connections to that workload.
//! Per connection the cost is one map insert when it is registered and one remove when its
//! [`Registration`] is dropped. A re-check copies the entries out under the lock (an `Arc`
//! clone each), evaluates without holding it, then takes the lock again only to remove and
//! signal the connections it closes; so a re-check over many connections never stalls new
//! connections for longer than a copy of the map.
//!
//! Closing is cooperative: the registry sends the [`DenyReason`] to the connection's handler,
//! which stops its byte copy (dropping both sockets) and logs the reason in its access line.
//!
//! [`LiveConnections`] lists a proxy's open connections both ways for `/config_dump`
//! (upstream's `workloadState[uid].connections`, which `istioctl ztunnel-config connections`
//! prints): inbound ones from the registry, outbound ones from [`OutboundConnections`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, oneshot};

use super::authz::{self, Denial, InboundConn};
use crate::drain::DrainWatcher;
use crate::rbac::{Decision, DenyReason, PolicyScope};
use crate::state::{ProxyState, StateChange, StateStore, Workload};
use crate::util::sync::lock;

/// Live inbound connections (HBONE streams and plaintext) and their authorization inputs.
#[derive(Debug, Default)]
pub struct ConnectionRegistry {
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    conn: Arc<InboundConn>,
    close: oneshot::Sender<DenyReason>,
}

/// A connection's place in the registry; removes it when dropped.
#[derive(Debug)]
pub struct Registration<'r> {
    registry: &'r ConnectionRegistry,
    id: u64,
    closed: oneshot::Receiver<DenyReason>,
}

impl Registration<'_> {
    /// Resolves when a re-check found the connection no longer allowed; never otherwise.
    pub async fn revoked(&mut self) -> DenyReason {
        match (&mut self.closed).await {
            Ok(reason) => reason,
            // The sender only goes away with our own entry (removed in `drop`), so this is
            // unreachable while we are alive; never resolving is the safe reading anyway.
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl ConnectionRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (single
        // insert/remove calls), so keep using it.
        lock(&self.conns)
    }

    /// Tracks `conn` until the returned registration is dropped.
    pub fn register(&self, conn: Arc<InboundConn>) -> Registration<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = oneshot::channel();
        self.lock().insert(id, Entry { conn, close });
        Registration { registry: self, id, closed }
    }

    /// Connections currently registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-evaluates every registered connection against `state` and closes the ones it no
    /// longer allows, logging each once. Returns how many were closed.
    pub fn recheck(&self, state: &ProxyState) -> usize {
        self.recheck_scoped(state, &RecheckScope::All)
    }

    /// Like [`ConnectionRegistry::recheck`], for the connections `scope` covers only.
    pub fn recheck_scoped(&self, state: &ProxyState, scope: &RecheckScope) -> usize {
        if matches!(scope, RecheckScope::Nothing) {
            return 0;
        }
        let live: Vec<(u64, Arc<InboundConn>)> = self.lock().iter().map(|(id, e)| (*id, e.conn.clone())).collect();
        let mut revoke = Vec::new();
        for (id, conn) in &live {
            let current = state.workload_by_uid(&conn.dst_workload.uid);
            if !scope.covers(&conn.dst_workload, current.as_deref()) {
                continue;
            }
            let decision = match current {
                // Decided in place over the precomputed policy sets: nothing collected.
                Some(w) => state.evaluate(&w, &conn.rbac).decision,
                // The workload is gone: nothing can authorize traffic to it (fail closed).
                None => Decision::Deny(authz::workload_gone(&conn.dst_workload)),
            };
            if let Decision::Deny(reason) = decision {
                revoke.push((*id, conn, reason));
            }
        }
        let mut closed = 0;
        for (id, conn, reason) in revoke {
            // Removed here so the connection is signalled (and logged) exactly once even if
            // another re-check runs before its handler has finished.
            let Some(entry) = self.lock().remove(&id) else { continue };
            authz::log_denial(conn, &reason, Denial::AfterUpdate);
            let _ = entry.close.send(reason);
            closed += 1;
        }
        closed
    }
}

/// Which live connections a batch of state changes can affect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RecheckScope {
    /// Nothing that decisions depend on changed.
    #[default]
    Nothing,
    /// Connections to these workloads, to workloads in these namespaces, or to workloads
    /// selecting these policies.
    Some { uids: HashSet<String>, namespaces: HashSet<String>, policies: HashSet<String> },
    /// Every connection (a GLOBAL policy changed, the whole state was replaced, or change
    /// events were missed).
    All,
}

impl RecheckScope {
    /// Widens the scope by what `change` can affect.
    pub fn add(&mut self, change: &StateChange) {
        if matches!(self, RecheckScope::All) {
            return;
        }
        let (uid, ns, policy) = match change {
            StateChange::WorkloadChanged { uid, policy_bindings_changed: true }
            | StateChange::WorkloadRemoved { uid } => (Some(uid), None, None),
            StateChange::PolicyChanged { namespace, scope: PolicyScope::Namespace, .. } => {
                (None, Some(namespace), None)
            }
            StateChange::PolicyChanged { key, scope: PolicyScope::WorkloadSelector, .. } => (None, None, Some(key)),
            StateChange::PolicyChanged { scope: PolicyScope::Global, .. } | StateChange::Replaced => {
                *self = RecheckScope::All;
                return;
            }
            StateChange::WorkloadChanged { policy_bindings_changed: false, .. }
            | StateChange::ServiceChanged { .. }
            | StateChange::ServiceRemoved { .. } => return,
        };
        if matches!(self, RecheckScope::Nothing) {
            *self = RecheckScope::Some { uids: HashSet::new(), namespaces: HashSet::new(), policies: HashSet::new() };
        }
        if let RecheckScope::Some { uids, namespaces, policies } = self {
            uids.extend(uid.cloned());
            namespaces.extend(ns.cloned());
            policies.extend(policy.cloned());
        }
    }

    /// Whether a connection to `accepted` (the workload as it was when the connection was
    /// accepted; `current`, as it is now) is in scope. Both versions count: a workload may
    /// have started or stopped selecting a policy since.
    pub fn covers(&self, accepted: &Workload, current: Option<&Workload>) -> bool {
        match self {
            RecheckScope::Nothing => false,
            RecheckScope::All => true,
            RecheckScope::Some { uids, namespaces, policies } => {
                uids.contains(accepted.uid.as_str())
                    || [Some(accepted), current].into_iter().flatten().any(|w| {
                        namespaces.contains(w.namespace.as_str())
                            || w.authorization_policies.iter().any(|k| policies.contains(k))
                    })
            }
        }
    }
}

/// One open connection as upstream's dump shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDump {
    pub src: std::net::SocketAddr,
    /// Where the client meant to go (the CONNECT target inbound, the captured destination
    /// outbound).
    pub original_dst: std::net::SocketAddr,
    /// Where we connected (the workload inbound; the HBONE peer or the destination outbound).
    pub actual_dst: std::net::SocketAddr,
    /// `HBONE` or `TCP`.
    pub protocol: &'static str,
}

/// A proxy's open connections, both ways.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionsDump {
    pub inbound: Vec<ConnectionDump>,
    pub outbound: Vec<ConnectionDump>,
}

impl ConnectionRegistry {
    /// The registered (inbound) connections, in registration order.
    fn dump(&self) -> Vec<ConnectionDump> {
        let conns = self.lock();
        let mut ids: Vec<&u64> = conns.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let c = &conns[id].conn;
                let dst = std::net::SocketAddr::new(c.rbac.dst_ip, c.rbac.dst_port);
                // Only HBONE connections carry a verified peer identity.
                let protocol = if c.rbac.src_identity.is_some() { "HBONE" } else { "TCP" };
                ConnectionDump { src: c.src, original_dst: dst, actual_dst: dst, protocol }
            })
            .collect()
    }
}

/// Open outbound connections, for the dump only (nothing re-checks them).
#[derive(Debug, Default)]
pub struct OutboundConnections {
    next_id: AtomicU64,
    conns: Mutex<std::collections::BTreeMap<u64, ConnectionDump>>,
}

/// An outbound connection's entry; removed when dropped.
pub struct Tracked<'r> {
    list: &'r OutboundConnections,
    id: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        lock(&self.list.conns).remove(&self.id);
    }
}

impl OutboundConnections {
    pub fn track(&self, conn: ConnectionDump) -> Tracked<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, conn);
        Tracked { list: self, id }
    }
}

/// Both lists of one proxy; cheap to clone, read by the admin server.
#[derive(Debug, Clone, Default)]
pub struct LiveConnections {
    pub inbound: Arc<ConnectionRegistry>,
    pub outbound: Arc<OutboundConnections>,
}

impl LiveConnections {
    pub fn dump(&self) -> ConnectionsDump {
        let outbound = lock(&self.outbound.conns).values().cloned().collect();
        ConnectionsDump { inbound: self.inbound.dump(), outbound }
    }
}

/// Re-checks the live connections each state update can affect, until drain.
pub async fn watch_policies(state: StateStore, registry: Arc<ConnectionRegistry>, drain: DrainWatcher) {
    let mut changes = state.subscribe_changes();
    loop {
        let mut scope = RecheckScope::Nothing;
        tokio::select! {
            _ = drain.signaled() => return,
            first = changes.recv() => match first {
                Ok(set) => set.changes.iter().for_each(|c| scope.add(c)),
                Err(broadcast::error::RecvError::Lagged(_)) => scope = RecheckScope::All,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
        // Several quick updates coalesce into one re-check against the newest state.
        loop {
            match changes.try_recv() {
                Ok(set) => set.changes.iter().for_each(|c| scope.add(c)),
                Err(broadcast::error::TryRecvError::Lagged(_)) => scope = RecheckScope::All,
                Err(_) => break,
            }
        }
        if scope == RecheckScope::Nothing {
            continue;
        }
        let snapshot = state.snapshot();
        let closed = registry.recheck_scoped(&snapshot, &scope);
        tracing::debug!(target: "rbac", closed, "re-checked live connections after a state update");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::rbac::{Authorization, PolicyAction, PolicyScope, RbacMatch, StringMatch};
    use crate::state::workload::Workload;

    fn workload() -> Workload {
        Workload::new("cluster1//v1/Pod/default/httpbin", "default", "httpbin", vec!["10.0.0.2".parse().unwrap()])
    }

    fn state(policies: Vec<Authorization>) -> ProxyState {
        let mut st = ProxyState::new();
        st.insert_workload(workload()).unwrap();
        for p in policies {
            st.insert_policy(p).unwrap();
        }
        st
    }

    fn deny_ns(ns: &str) -> Authorization {
        Authorization {
            name: "httpbin".into(),
            namespace: "default".into(),
            scope: PolicyScope::Namespace,
            action: PolicyAction::Deny,
            rules: vec![vec![vec![RbacMatch {
                namespaces: vec![StringMatch::Exact(ns.into())],
                ..Default::default()
            }]]],
            dry_run: false,
        }
    }

    fn conn(st: &ProxyState, ns: &str) -> Arc<InboundConn> {
        let w = st.workload_by_uid("cluster1//v1/Pod/default/httpbin").unwrap();
        Arc::new(InboundConn::new(
            "10.0.0.1:40000".parse().unwrap(),
            Some(Identity::new("cluster.local", ns, "sleep")),
            "10.0.0.2:80".parse().unwrap(),
            w,
        ))
    }

    #[tokio::test]
    async fn recheck_closes_only_connections_no_longer_allowed() {
        let st = state(vec![]);
        let reg = ConnectionRegistry::default();
        let mut foo = reg.register(conn(&st, "foo"));
        let mut bar = reg.register(conn(&st, "bar"));
        assert_eq!(reg.len(), 2);
        assert_eq!(reg.recheck(&st), 0);

        let st2 = state(vec![deny_ns("foo")]);
        assert_eq!(reg.recheck(&st2), 1);
        let reason = foo.revoked().await;
        assert_eq!(reason.policy.as_deref(), Some("default/httpbin"));
        // Signalled once: a second pass finds nothing more to close.
        assert_eq!(reg.recheck(&st2), 0);
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), bar.revoked()).await;
        assert!(pending.is_err(), "allowed connection must stay open");
        drop(foo);
        drop(bar);
        assert!(reg.is_empty());
    }

    #[tokio::test]
    async fn recheck_closes_connections_to_a_removed_workload() {
        let st = state(vec![]);
        let reg = ConnectionRegistry::default();
        let mut r = reg.register(conn(&st, "foo"));
        assert_eq!(reg.recheck(&ProxyState::new()), 1);
        assert!(r.revoked().await.message.contains("no longer exists"));
    }

    #[test]
    fn scope_follows_typed_changes() {
        let mut scope = RecheckScope::Nothing;
        // Workload-only and service changes re-check nothing.
        scope.add(&StateChange::WorkloadChanged { uid: "u".into(), policy_bindings_changed: false });
        scope.add(&StateChange::ServiceChanged { key: "ns/s".into() });
        assert_eq!(scope, RecheckScope::Nothing);
        scope.add(&StateChange::PolicyChanged {
            key: "other/p".into(),
            namespace: "other".into(),
            scope: PolicyScope::Namespace,
        });
        scope.add(&StateChange::PolicyChanged {
            key: "x/sel".into(),
            namespace: "x".into(),
            scope: PolicyScope::WorkloadSelector,
        });
        let w = workload();
        assert!(!scope.covers(&w, Some(&w)), "a policy of another namespace cannot affect it");
        let mut selecting = workload();
        selecting.authorization_policies = vec!["x/sel".into()];
        assert!(scope.covers(&w, Some(&selecting)), "it selects the changed policy now");
        scope.add(&StateChange::PolicyChanged {
            key: "default/p".into(),
            namespace: "default".into(),
            scope: PolicyScope::Namespace,
        });
        assert!(scope.covers(&w, None));
        scope.add(&StateChange::PolicyChanged { key: "/g".into(), namespace: "".into(), scope: PolicyScope::Global });
        assert_eq!(scope, RecheckScope::All);
    }

    #[tokio::test]
    async fn scoped_recheck_skips_connections_out_of_scope() {
        let st = state(vec![]);
        let reg = ConnectionRegistry::default();
        let _foo = reg.register(conn(&st, "foo"));
        let st2 = state(vec![deny_ns("foo")]);
        let mut other_ns = RecheckScope::Nothing;
        other_ns.add(&StateChange::PolicyChanged {
            key: "x/p".into(),
            namespace: "x".into(),
            scope: PolicyScope::Namespace,
        });
        assert_eq!(reg.recheck_scoped(&st2, &other_ns), 0, "not in scope: not evaluated");
        let mut ours = RecheckScope::Nothing;
        ours.add(&StateChange::PolicyChanged {
            key: "default/httpbin".into(),
            namespace: "default".into(),
            scope: PolicyScope::Namespace,
        });
        assert_eq!(reg.recheck_scoped(&st2, &ours), 1);
    }
}
