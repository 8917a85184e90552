//! On-demand Address xDS (`XDS_ON_DEMAND=true`): the proxy asks istiod for one address at a
//! time, when a lookup misses, instead of holding the whole mesh.
//!
//! Protocol (as upstream): the Address type's first request subscribes *and* unsubscribes `*`
//! (delta xDS has no "subscribe to nothing"; istiod reads this pair as an empty, non-wildcard
//! subscription). A miss sends `resource_names_subscribe=[name]`, where the name is what
//! istiod's ambient index looks up: `network/IP` for an address, a workload's uid, or
//! `namespace/hostname` for a service. istiod answers every request that changes the
//! subscription (so each name is requested once), with the resources (whose `aliases` carry the
//! `network/IP` names they answer) or with the name in `removed_resources` when it knows
//! nothing there. After a reconnect every name demanded so far goes back in
//! `initial_resource_versions`, which istiod adds to the subscription and answers afresh.
//!
//! Not done, because istiod cannot serve it: unsubscribing (a spontaneous request that only
//! unsubscribes makes istiod's on-demand generator answer with every subscribed name removed),
//! and hearing about a pod that later takes an IP istiod once answered as unknown (its pushes
//! are keyed by uid); such a pod is found after the next reconnect.
//!
//! Split so the bookkeeping is testable without I/O: [`DemandBook`] (pure: which names were
//! requested, which are still unanswered, who waits on each) and [`Demander`] (the shared
//! handle: the data path waits on it with a bound, the xDS client drains its queue).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::{Notify, oneshot};

use crate::util::sync::lock;

/// How long a connection waits for istiod's answer to a demand before failing closed.
///
/// istiod answers a subscription change from the request handler itself, in milliseconds
/// (no debounce applies to requests); 5 s leaves room for a loaded istiod and one quick
/// reconnect (the first retry is 10 ms), matches how long a pod's first connection waits for
/// its own workload, and stays far below client connect timeouts (Linux gives up on a SYN
/// after ~2 min), so a lost answer fails the connection with our error rather than theirs.
/// Upstream waits without a bound of its own.
pub const DEMAND_WAIT: Duration = Duration::from_secs(5);

/// The on-demand name of an address: `network/IP`, as istiod's index keys addresses (the
/// network is empty in a single-network mesh, giving `/10.0.0.1`).
pub fn address_name(network: &str, ip: IpAddr) -> String {
    format!("{network}/{ip}")
}

/// istiod's uid of a Kubernetes pod, `<cluster>//Pod/<namespace>/<name>`, which names it for
/// on-demand requests: how a proxy fetches its own workload, known to it by name.
pub fn pod_uid(cluster_id: &str, namespace: &str, name: &str) -> String {
    format!("{cluster_id}//Pod/{namespace}/{name}")
}

/// The on-demand name of a service: `namespace/hostname` (its resource name).
pub fn service_name(namespace: &str, hostname: &str) -> String {
    format!("{namespace}/{hostname}")
}

/// Why a demand did not complete. Both are the control plane's to answer for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemandError {
    #[error("on-demand xDS: istiod did not answer the request for {name:?} within {after:?}")]
    Timeout { name: String, after: Duration },
    #[error("on-demand xDS: the request for {name:?} was dropped (xDS client stopped)")]
    Dropped { name: String },
}

/// What [`DemandBook::admit`] decided for a name.
#[derive(Debug)]
pub enum Admission {
    /// New: queued for a request; the receiver completes when istiod answers.
    Queued(oneshot::Receiver<()>),
    /// Already requested and not yet answered: shares that request.
    Joined(oneshot::Receiver<()>),
    /// Requested before and answered: the current state is istiod's answer (present, or
    /// known to be absent); no new request.
    Answered,
}

/// The pure bookkeeping of demanded names.
#[derive(Debug, Default)]
pub struct DemandBook {
    /// Every name demanded so far: the subscription to restore after a reconnect.
    requested: BTreeSet<String>,
    /// Requested, not yet answered, with everyone waiting on it.
    pending: HashMap<String, Vec<oneshot::Sender<()>>>,
    /// Admitted but not yet sent to istiod.
    queue: Vec<String>,
}

impl DemandBook {
    /// Registers a miss on `name`.
    pub fn admit(&mut self, name: &str) -> Admission {
        let (tx, rx) = oneshot::channel();
        if let Some(waiters) = self.pending.get_mut(name) {
            waiters.push(tx);
            return Admission::Joined(rx);
        }
        if self.requested.contains(name) {
            return Admission::Answered;
        }
        self.requested.insert(name.to_string());
        self.pending.insert(name.to_string(), vec![tx]);
        self.queue.push(name.to_string());
        Admission::Queued(rx)
    }

    /// Names admitted since the last call, to send as one subscription request.
    pub fn take_queue(&mut self) -> Vec<String> {
        std::mem::take(&mut self.queue)
    }

    /// For a new stream: every name requested so far (for `initial_resource_versions`). The
    /// queue is covered by it, so it is cleared; unanswered names stay pending and are
    /// answered by the new stream's first response.
    pub fn resubscribe(&mut self) -> Vec<String> {
        self.queue.clear();
        self.requested.iter().cloned().collect()
    }

    /// istiod's response named these (resource names, their aliases, removed names): wakes
    /// whoever waits on them. Returns the names that were pending.
    pub fn answered<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut done = Vec::new();
        for name in names {
            if let Some(waiters) = self.pending.remove(name) {
                // A waiter that gave up (timed out) has dropped its receiver; nothing to do.
                for w in waiters {
                    let _ = w.send(());
                }
                done.push(name.to_string());
            }
        }
        done
    }

    pub fn is_pending(&self, name: &str) -> bool {
        self.pending.contains_key(name)
    }

    pub fn requested_count(&self) -> usize {
        self.requested.len()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Ours (upstream only logs): `istio_xds_on_demand_total{outcome}`, outcome one of `requested`
/// (a name sent to istiod), `found` / `not_found` (istiod's answer), `timeout`.
#[derive(Debug, Default)]
pub struct DemandMetrics {
    outcomes: Family<OutcomeLabel, Counter>,
}

impl DemandMetrics {
    pub fn register(registry: &mut Registry) -> Arc<DemandMetrics> {
        let m = DemandMetrics::default();
        registry.register("xds_on_demand", "On-demand Address requests, by outcome", m.outcomes.clone());
        Arc::new(m)
    }

    pub fn count(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.outcomes.get_or_create(&OutcomeLabel { outcome }).inc_by(n);
        }
    }

    pub fn get(&self, outcome: &'static str) -> u64 {
        self.outcomes.get_or_create(&OutcomeLabel { outcome }).get()
    }
}

#[derive(Debug)]
struct Shared {
    book: Mutex<DemandBook>,
    /// Wakes the xDS client when the queue gains a name (a permit is stored if it is not
    /// waiting, so no wake-up is lost).
    wake: Notify,
    wait: Duration,
    metrics: Arc<DemandMetrics>,
}

/// The handle shared by the data path (which demands) and the xDS client (which sends and
/// answers). Outlives client restarts, so demands and the re-subscription set survive them.
#[derive(Debug, Clone)]
pub struct Demander {
    shared: Arc<Shared>,
}

impl Demander {
    pub fn new(wait: Duration, metrics: Arc<DemandMetrics>) -> Demander {
        Demander { shared: Arc::new(Shared { book: Mutex::default(), wake: Notify::new(), wait, metrics }) }
    }

    pub fn metrics(&self) -> &DemandMetrics {
        &self.shared.metrics
    }

    /// Asks istiod for `name` and waits (at most the configured bound) until its answer has
    /// been applied to the state. `Ok` says only that the state is now istiod's answer; the
    /// caller looks again and may still find nothing.
    pub async fn demand(&self, name: &str) -> Result<(), DemandError> {
        let admission = lock(&self.shared.book).admit(name);
        let rx = match admission {
            Admission::Answered => return Ok(()),
            Admission::Joined(rx) => rx,
            Admission::Queued(rx) => {
                tracing::debug!(%name, "on-demand xDS request queued");
                self.shared.wake.notify_one();
                rx
            }
        };
        match tokio::time::timeout(self.shared.wait, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(DemandError::Dropped { name: name.to_string() }),
            Err(_) => {
                self.shared.metrics.count("timeout", 1);
                Err(DemandError::Timeout { name: name.to_string(), after: self.shared.wait })
            }
        }
    }

    /// Resolves when names are queued (for the xDS client's loop).
    pub async fn queued(&self) {
        self.shared.wake.notified().await
    }

    /// The names to send now (see [`DemandBook::take_queue`]).
    pub fn take_queue(&self) -> Vec<String> {
        lock(&self.shared.book).take_queue()
    }

    /// See [`DemandBook::resubscribe`].
    pub fn resubscribe(&self) -> Vec<String> {
        lock(&self.shared.book).resubscribe()
    }

    /// A response was applied: `present` names (resources and their aliases) and `removed`
    /// ones. Wakes their waiters and counts the answers.
    pub fn answered(&self, present: &[String], removed: &[String]) {
        let mut book = lock(&self.shared.book);
        let found = book.answered(present.iter().map(String::as_str)).len();
        let not_found = book.answered(removed.iter().map(String::as_str));
        drop(book);
        for name in &not_found {
            tracing::info!(%name, "on-demand xDS: istiod knows nothing by this name");
        }
        self.shared.metrics.count("found", found as u64);
        self.shared.metrics.count("not_found", not_found.len() as u64);
    }

    pub fn is_pending(&self, name: &str) -> bool {
        lock(&self.shared.book).is_pending(name)
    }
}

#[cfg(test)]
#[path = "demand_tests.rs"]
mod tests;
