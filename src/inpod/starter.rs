//! Starts a pod's proxy: the usual [`Proxy`] listeners (15001/15006/15008), bound on a thread
//! that has entered the pod's network namespace, serving with the pod's identity; every socket
//! the proxy dials is created in that namespace too (so it leaves through the pod's
//! interface, carrying PACKET_MARK so the pod's rules let it pass).

use std::sync::Arc;

use crate::config::ProxyWorkloadInfo;
use crate::identity::manager::SecretManager;
use crate::metrics::TrafficMetrics;
use crate::proxy::{Proxy, ProxyConfig};
use crate::redirect::netns::Netns;
use crate::state::StateStore;

use super::manager::{PodHandle, PodInfo, PodStarter, pod_drain};

/// Everything a pod proxy shares with the node.
pub struct ProxyStarter {
    /// Listener addresses and data-path settings; `local_workload` is replaced per pod.
    pub base: ProxyConfig,
    pub state: StateStore,
    pub certs: SecretManager,
    pub metrics: Arc<TrafficMetrics>,
}

impl PodStarter for ProxyStarter {
    fn start(&self, pod: &PodInfo, netns: &Netns) -> Result<PodHandle, String> {
        let mut cfg = self.base.clone();
        cfg.local_workload = ProxyWorkloadInfo {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            service_account: pod.service_account.clone(),
        };
        // The SOCKS5 listener is a node-level debugging aid, not bound in pods.
        cfg.socks5_addr = None;
        cfg.socket.netns = Some(netns.clone());
        let (trigger, watcher) = pod_drain();
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let (state, certs, metrics, w) = (self.state.clone(), self.certs.clone(), self.metrics.clone(), watcher.clone());
        let proxy = netns
            .run(move || {
                // Listeners register with the reactor from this thread; the sockets keep the
                // namespace they were created in.
                let _rt = handle.enter();
                Proxy::bind(cfg, state, certs, metrics, w)
            })
            .map_err(|e| format!("entering the pod's network namespace: {e}"))?
            .map_err(|e| e.to_string())?;
        tracing::info!(
            uid = %pod.uid,
            pod = %format!("{}/{}", pod.namespace, pod.name),
            outbound = %proxy.addresses().outbound,
            inbound = %proxy.addresses().inbound,
            inbound_plaintext = %proxy.addresses().inbound_plaintext,
            "pod proxy listening"
        );
        let task = tokio::spawn(proxy.run(watcher)).abort_handle();
        Ok(PodHandle { trigger, task: Some(task) })
    }
}
