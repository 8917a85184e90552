//! What `/config_dump` shows of in-pod mode under `workloadState`: one entry per pod uid with
//! its proxy's phase (`Pending` while a start failed and is being retried, `Up` once its
//! listeners are bound) and the pod's identity, in upstream's shape. Ours: `lastError`, why a
//! pending pod has not started yet.
//!
//! [`PodStates`] is a shared handle: the pod table writes it, the admin server reads it, and so
//! does the scrape: upstream's `istio_workload_manager_*` families (active and pending proxies,
//! proxies started and stopped) are computed from it ([`WorkloadManagerMetrics`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use serde::Serialize;

use crate::proxy::connections::{ConnectionsDump, LiveConnections};
use crate::util::sync::{read, write};

/// What the CNI tells us about a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub service_account: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    Pending,
    Up,
}

/// The pod, as upstream's `info` object names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodIdentity {
    pub name: String,
    pub namespace: String,
    pub service_account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodState {
    pub state: Phase,
    /// The pod proxy's open connections (upstream's shape), filled in by
    /// [`PodStates::snapshot`] while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<ConnectionsDump>,
    pub info: PodIdentity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PodStates(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    pods: RwLock<BTreeMap<String, PodState>>,
    /// Running pod proxies' connection lists, by uid.
    live: RwLock<BTreeMap<String, LiveConnections>>,
    started: AtomicU64,
    stopped: AtomicU64,
}

impl PodStates {
    pub(super) fn set(&self, pod: &PodInfo, state: Phase, last_error: Option<String>) {
        let info = PodIdentity {
            name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            service_account: pod.service_account.clone(),
        };
        let entry = PodState { state, connections: None, info, last_error };
        write(&self.0.pods).insert(pod.uid.clone(), entry);
    }

    pub(super) fn remove(&self, uid: &str) {
        write(&self.0.pods).remove(uid);
        write(&self.0.live).remove(uid);
    }

    pub(super) fn set_connections(&self, uid: &str, live: LiveConnections) {
        write(&self.0.live).insert(uid.to_string(), live);
    }

    /// A pod's proxy started (its listeners are bound).
    pub(super) fn proxy_started(&self) {
        self.0.started.fetch_add(1, Ordering::Relaxed);
    }

    /// A running pod proxy was stopped (pod deleted, replaced, or not re-announced).
    pub(super) fn proxy_stopped(&self) {
        self.0.stopped.fetch_add(1, Ordering::Relaxed);
    }

    /// The current states, by pod uid, with each running proxy's open connections.
    pub fn snapshot(&self) -> BTreeMap<String, PodState> {
        let mut pods = read(&self.0.pods).clone();
        let live = read(&self.0.live);
        for (uid, state) in pods.iter_mut() {
            state.connections = live.get(uid).map(LiveConnections::dump);
        }
        pods
    }
}

/// Upstream's `istio_workload_manager_*` families, computed from the pod table at scrape time
/// (register it on the `istio`-prefixed registry).
#[derive(Debug)]
pub struct WorkloadManagerMetrics(pub PodStates);

impl Collector for WorkloadManagerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (active, pending) = {
            let pods = read(&self.0.0.pods);
            let up = pods.values().filter(|p| p.state == Phase::Up).count() as i64;
            (up, pods.len() as i64 - up)
        };
        let gauge = |e: &mut DescriptorEncoder, name: &str, help: &str, v: i64| {
            ConstGauge::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
        };
        gauge(&mut encoder, "workload_manager_active_proxy_count", "Pods whose proxy is running", active)?;
        gauge(
            &mut encoder,
            "workload_manager_pending_proxy_count",
            "Pods whose proxy could not start yet (retried)",
            pending,
        )?;
        for (name, help, v) in [
            ("workload_manager_proxies_started", "Pod proxies started", &self.0.0.started),
            ("workload_manager_proxies_stopped", "Pod proxies stopped", &self.0.0.stopped),
        ] {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(v.load(Ordering::Relaxed)).encode(metric)?;
        }
        Ok(())
    }
}
