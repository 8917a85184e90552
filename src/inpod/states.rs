//! What `/config_dump` shows of in-pod mode under `workloadState`: one entry per pod uid with
//! its proxy's phase (`Pending` while a start failed and is being retried, `Up` once its
//! listeners are bound) and the pod's identity, in upstream's shape. Ours: `lastError`, why a
//! pending pod has not started yet.
//!
//! [`PodStates`] is a shared handle: the pod table writes it, the admin server reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::manager::PodInfo;

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
    pub info: PodIdentity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PodStates(Arc<RwLock<BTreeMap<String, PodState>>>);

impl PodStates {
    pub(super) fn set(&self, pod: &PodInfo, state: Phase, last_error: Option<String>) {
        let info = PodIdentity {
            name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            service_account: pod.service_account.clone(),
        };
        let entry = PodState { state, info, last_error };
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(pod.uid.clone(), entry);
    }

    pub(super) fn remove(&self, uid: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(uid);
    }

    /// The current states, by pod uid.
    pub fn snapshot(&self) -> BTreeMap<String, PodState> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
