//! The shared handle to the current [`ProxyState`], and the typed change events published
//! with each new snapshot.
//!
//! Owns [`StateStore`], [`StateChange`] and [`ChangeSet`]. Readers take an `Arc` of the
//! current snapshot (a read lock held for one pointer clone); the single writer (the xDS
//! client, or the local config loader) builds the next snapshot from an O(1) clone of the
//! current one without holding any lock, then swaps the pointer. Subscribers get both a
//! version counter (coalescing, for "something changed": readiness, local workload waits) and
//! the change sets themselves (for those that must react only to what concerns them, like the
//! re-check of live connections after a policy change).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::{LocalWorkloadKey, ProxyState, Workload};
use crate::rbac::PolicyScope;
use crate::util::sync::{lock, read, write};

/// One thing that changed in a new snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// Added or updated. `policy_bindings_changed`: its namespace or selected policies did
    /// (or it is new), so decisions for it may differ.
    WorkloadChanged {
        uid: String,
        policy_bindings_changed: bool,
    },
    WorkloadRemoved {
        uid: String,
    },
    /// Added, updated (including its endpoints) or removed.
    ServiceChanged {
        key: String,
    },
    ServiceRemoved {
        key: String,
    },
    /// A policy was added, updated or removed; `namespace` and `scope` say whom it can affect
    /// (an update that moves a policy reports both the old and the new scope).
    PolicyChanged {
        key: String,
        namespace: String,
        scope: PolicyScope,
    },
    /// The whole state was replaced: anything may have changed.
    Replaced,
}

/// The changes one snapshot made, with the version it was published as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    pub version: u64,
    pub changes: Vec<StateChange>,
}

/// How many change sets a slow subscriber may fall behind before it is told it lagged (and
/// must then assume everything changed).
const CHANGE_BACKLOG: usize = 256;

#[derive(Debug)]
struct Inner {
    current: RwLock<Arc<ProxyState>>,
    /// Serialises writers, so read-modify-publish sequences never interleave.
    writer: Mutex<()>,
    version: watch::Sender<u64>,
    changes: broadcast::Sender<Arc<ChangeSet>>,
}

/// Shared handle to the current [`ProxyState`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StateStore {
    inner: Arc<Inner>,
}

impl Default for StateStore {
    fn default() -> Self {
        StateStore::new(ProxyState::default())
    }
}

impl StateStore {
    pub fn new(initial: ProxyState) -> StateStore {
        let (version, _) = watch::channel(0);
        let (changes, _) = broadcast::channel(CHANGE_BACKLOG);
        StateStore {
            inner: Arc::new(Inner {
                current: RwLock::new(Arc::new(initial)),
                writer: Mutex::new(()),
                version,
                changes,
            }),
        }
    }

    /// The current snapshot. The lock is held only long enough to clone the `Arc`.
    pub fn snapshot(&self) -> Arc<ProxyState> {
        // A poisoned lock only means a writer panicked between two whole-Arc assignments; the
        // value inside is still a complete snapshot, so keep serving it.
        read(&self.inner.current).clone()
    }

    /// Installs a whole new snapshot (anything may have changed).
    pub fn replace(&self, state: ProxyState) {
        let _w = lock(&self.inner.writer);
        self.install(state, vec![StateChange::Replaced]);
    }

    /// Installs `state`, which `changes` describe relative to the current snapshot. For a
    /// writer that keeps its own working copy (the xDS cache).
    pub fn publish(&self, state: ProxyState, changes: Vec<StateChange>) {
        let _w = lock(&self.inner.writer);
        self.install(state, changes);
    }

    /// Applies `f` to a copy of the current snapshot (O(1): structure is shared) and installs
    /// the result with the changes `f` logged. Readers keep the old snapshot meanwhile.
    pub fn update<R>(&self, f: impl FnOnce(&mut ProxyState, &mut Vec<StateChange>) -> R) -> R {
        let _w = lock(&self.inner.writer);
        let mut next = ProxyState::clone(&self.snapshot());
        let mut changes = Vec::new();
        let out = f(&mut next, &mut changes);
        self.install(next, changes);
        out
    }

    fn install(&self, state: ProxyState, changes: Vec<StateChange>) {
        let next = Arc::new(state);
        let old = std::mem::replace(&mut *write(&self.inner.current), next);
        // Dropped outside the lock: freeing what only the old snapshot held is the writer's
        // cost, never a reader's wait.
        drop(old);
        let mut version = 0;
        self.inner.version.send_modify(|v| {
            *v += 1;
            version = *v;
        });
        // No subscriber is not an error: nobody needs these changes.
        let _ = self.inner.changes.send(Arc::new(ChangeSet { version, changes }));
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

    /// The number of snapshots installed so far.
    pub fn version(&self) -> u64 {
        *self.inner.version.borrow()
    }

    /// Notified (with the new version) after every installed snapshot; several quick ones
    /// coalesce into one notification.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    /// Every change set from now on, in order. A subscriber that falls more than a few hundred
    /// behind gets `RecvError::Lagged` and must treat it as [`StateChange::Replaced`].
    pub fn subscribe_changes(&self) -> broadcast::Receiver<Arc<ChangeSet>> {
        self.inner.changes.subscribe()
    }
}
