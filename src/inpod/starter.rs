//! Starts a pod's proxy: the usual [`Proxy`] listeners (15001/15006/15008), bound on a thread
//! that has entered the pod's network namespace, serving with the pod's identity; every socket
//! the proxy dials is created in that namespace too (so it leaves through the pod's
//! interface, carrying PACKET_MARK so the pod's rules let it pass).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::dns::metrics::DnsMetrics;
use crate::dns::server::{self as dns, DnsConfig, DnsServer};

use crate::certs::manager::SecretManager;
use crate::config::ProxyWorkloadInfo;
use crate::metrics::TrafficMetrics;
use crate::proxy::{Proxy, ProxyConfig};
use crate::socket::netns::Netns;
use crate::state::StateStore;

use super::manager::{PodHandle, PodStarter, pod_drain};
use super::states::PodInfo;

/// The per-pod DNS proxy's shared settings (`None` when ISTIO_META_DNS_CAPTURE=false).
pub struct DnsSettings {
    /// Inside the pod; the rules REDIRECT locally generated DNS to loopback:15053.
    pub addr: SocketAddr,
    /// Also [::1]:15053 for the IPv6 rules (IPV6_ENABLED); best effort, as a pod may have no
    /// IPv6 loopback.
    pub addr_v6: Option<SocketAddr>,
    pub domain: String,
    /// NETWORK: the clients' network when their workload names none.
    pub network: String,
    pub upstreams: Vec<SocketAddr>,
    pub metrics: Arc<DnsMetrics>,
}

/// Everything a pod proxy shares with the node.
pub struct ProxyStarter {
    pub dns: Option<DnsSettings>,
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
        cfg.local_workload_uid = Some(pod.uid.clone());
        // The SOCKS5 listener is a node-level debugging aid, not bound in pods.
        cfg.socks5_addr = None;
        cfg.socket.netns = Some(netns.clone());
        let (trigger, watcher) = pod_drain();
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let (state, certs, metrics, w) =
            (self.state.clone(), self.certs.clone(), self.metrics.clone(), watcher.clone());
        let dns_addr = self.dns.as_ref().map(|d| (d.addr, d.addr_v6));
        let socket = cfg.socket.clone();
        let prefetch_cfg = cfg.clone();
        let (proxy, dns_sockets) = netns
            .run(move || -> Result<_, String> {
                // Listeners register with the reactor from this thread; the sockets keep the
                // namespace they were created in.
                let _rt = handle.enter();
                let reuse_port = cfg.reuse_port;
                let listen =
                    crate::socket::ListenOptions { reuse_port, keepalive: cfg.socket.keepalive, ..Default::default() };
                if reuse_port && let Err(e) = crate::socket::migrate_requests_on_close() {
                    tracing::debug!(
                        "cannot enable tcp_migrate_req in the pod (a hand-over may reset queued connections): {e}"
                    );
                }
                let proxy = Proxy::bind(cfg, state, certs, metrics, w).map_err(|e| e.to_string())?;
                let bind_dns = |addr: SocketAddr| -> Result<_, String> {
                    let what = |e: std::io::Error| format!("failed to bind DNS proxy on {addr}: {e}");
                    let udp = crate::socket::bind_udp(addr, reuse_port).map_err(what)?;
                    let tcp = crate::socket::bind(addr, &listen).map_err(what)?;
                    Ok((udp, tcp))
                };
                let mut dns = Vec::new();
                if let Some((v4, v6)) = dns_addr {
                    dns.push(bind_dns(v4)?);
                    if let Some(v6) = v6 {
                        match bind_dns(v6) {
                            Ok(s) => dns.push(s),
                            Err(e) => tracing::debug!("no IPv6 DNS listener in this pod: {e}"),
                        }
                    }
                }
                Ok((proxy, dns))
            })
            .map_err(|e| format!("entering the pod's network namespace: {e}"))??;
        if let Some(settings) = &self.dns {
            let server = DnsServer::new(
                DnsConfig {
                    namespace: pod.namespace.clone(),
                    workload: pod.name.clone(),
                    search: crate::dns::lookup::search_domains(&pod.namespace, &settings.domain).to_vec(),
                    require_workload: false,
                    domain: settings.domain.clone(),
                    network: settings.network.clone(),
                    upstreams: settings.upstreams.clone(),
                    socket,
                },
                self.state.clone(),
                settings.metrics.clone(),
            );
            for (udp, tcp) in dns_sockets {
                tokio::spawn(dns::serve_udp(udp, server.clone(), watcher.clone()));
                tokio::spawn(dns::serve_tcp(tcp, server.clone(), watcher.clone()));
            }
        }
        tracing::info!(
            uid = %pod.uid,
            pod = %format!("{}/{}", pod.namespace, pod.name),
            outbound = %proxy.addresses().outbound,
            inbound = %proxy.addresses().inbound,
            inbound_plaintext = %proxy.addresses().inbound_plaintext,
            "pod proxy listening"
        );
        // Warm the pod's certificate so its first connection does not wait for the CA. Through
        // the proxy, so the certificate is leased by the pod's proxy and forgotten with it.
        let (inputs, info) = (proxy.inputs(), prefetch_cfg);
        tokio::spawn(async move {
            let pod = format!("{}/{}", info.local_workload.namespace, info.local_workload.name);
            match inputs.warm_certificate().await {
                Ok(()) => {}
                Err(e @ crate::proxy::Error::UnknownLocalWorkload(_)) => {
                    tracing::warn!(pod = %pod, "pod is not (yet) known to the control plane; its certificate is fetched on first use: {e}");
                }
                Err(e) => {
                    tracing::warn!(pod = %pod, "prefetching the pod's certificate failed (retried on first use): {e}")
                }
            }
        });
        let connections = proxy.live_connections();
        let task = tokio::spawn(proxy.run(watcher)).abort_handle();
        Ok(PodHandle { trigger, task: Some(task), connections })
    }
}
