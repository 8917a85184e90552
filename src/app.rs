//! Composition root: builds every component from [`Config`], binds listeners, and owns the
//! start-up and shutdown order.
//!
//! Start-up: state (local config file) → certificate source (built-in dev CA) → listeners →
//! readiness, admin, metrics. Shutdown (SIGTERM/SIGINT or admin `/quitquitquit`): listeners
//! stop accepting, connections get up to `CONNECTION_TERMINATION_DEADLINE` to finish, HBONE
//! servers send GOAWAY, then we exit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::admin::Admin;
use crate::certs::ca_client::{CaClient, CaClientConfig};
use crate::certs::dev_ca::DevCa;
use crate::certs::dev_ca_files::DevCaFiles;
use crate::certs::manager::{CertificateSource, SecretManager};
use crate::config::LocalXdsSource;
use crate::config::{Config, ProxyMode, ProxyWorkloadInfo, RuntimeFlavor};
use crate::control_plane::auth::Credentials;
use crate::control_plane::channel::ControlPlaneEndpoint;
use crate::dns::metrics::DnsMetrics;
use crate::dns::resolve::Resolver;
use crate::dns::server::{self as dns_server, DnsConfig, DnsServer, parse_resolv_conf, parse_resolv_conf_search};
use crate::drain::{self, DrainOutcome, DrainTrigger};
use crate::hbone::H2Settings;
use crate::inpod::{
    self,
    manager::ManagerConfig,
    starter::{DnsSettings, ProxyStarter},
};
use crate::metrics::{MetricsBuilder, TrafficMetrics};
use crate::proxy::{BoundAddrs, Proxy, ProxyConfig};
use crate::readiness::{self, Ready};
use crate::socket::{self, SocketOptions};
use crate::state::{LocalWorkloadKey, StateStore};
use crate::xds::client::{NodeInfo, XdsClient, XdsClientConfig, node};
use crate::xds::demand::{DEMAND_WAIT, DemandMetrics, Demander};
use crate::xds::metrics::XdsMetrics;
use crate::xds::{LocalFileWatcher, load_str};

/// How often the local config file is checked for changes.
const LOCAL_CONFIG_POLL: Duration = Duration::from_secs(1);
/// How often CRL_PATH is checked for a new version.
const CRL_POLL: Duration = Duration::from_secs(1);

/// A running proxy: its bound addresses and the handle that stops it.
pub struct Running {
    pub addrs: BoundAddrs,
    pub readiness: std::net::SocketAddr,
    pub admin: std::net::SocketAddr,
    pub metrics: std::net::SocketAddr,
    /// Dedicated mode: where the DNS proxy listens (empty when off, and in shared mode, where
    /// it is bound inside each pod).
    pub dns: Vec<std::net::SocketAddr>,
    drain: DrainTrigger,
    /// Shutdown requests from the admin endpoint.
    quit: tokio::sync::mpsc::Receiver<()>,
    deadline: Duration,
    tasks: tokio::task::JoinSet<()>,
    /// Installed before "listeners bound" is logged: a supervisor may signal as soon as it
    /// sees that line, and a signal before the handler exists would kill us uncleanly.
    signals: ShutdownSignals,
    /// Thread-per-core: the data-plane threads, stopped last (after the drain).
    _shards: Option<crate::runtime::ShardThreads>,
}

/// Builds and starts everything; returns once listeners are bound.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    crate::tls::provider::startup_check()?;
    // Dedicated: one workload, named by PROXY_WORKLOAD_INFO. Shared (in-pod): pods arrive
    // over ZDS and get their own listeners (crate::inpod).
    let workload_info = match cfg.proxy_mode {
        ProxyMode::Dedicated => Some(
            cfg.proxy_workload_info
                .clone()
                .context("PROXY_MODE=dedicated requires PROXY_WORKLOAD_INFO=<namespace>/<name>/<service-account>")?,
        ),
        ProxyMode::Shared => None,
    };
    let shard_threads = match cfg.runtime_flavor {
        RuntimeFlavor::ThreadPerCore => Some(
            crate::runtime::ShardThreads::start(cfg.num_worker_threads).context("starting the data-plane threads")?,
        ),
        RuntimeFlavor::WorkStealing => None,
    };
    let shards = shard_threads.as_ref().map(|t| t.shards()).unwrap_or_default();
    let ready = Ready::new();
    // Registered before the readiness listener exists, so it can never answer 200 while the
    // configuration is still loading or before the data-path listeners are bound.
    let state_task = ready.register("state manager");
    let proxy_task = ready.register("proxy");
    // Dedicated mode serves DNS itself (in shared mode each pod gets its own DNS proxy).
    let dns_task = (workload_info.is_some() && cfg.dns_proxy).then(|| ready.register("dns proxy"));
    let (trigger, watcher) = drain::new();
    let mut tasks = tokio::task::JoinSet::new();

    // Readiness first, so it can report what start-up is waiting for (e.g. the first xDS sync).
    // With thread-per-core it is served from the first data-plane thread, as upstream serves
    // it from its data-plane runtime: the control thread can be busy for a while (a large xDS
    // push, a config dump), and a probe the kubelet sees time out counts as a failure.
    let readiness_shard = shards.iter().next().map(|s| s.handle().clone());
    let readiness_listener = {
        let _on_shard = readiness_shard.as_ref().map(|h| h.enter());
        socket::bind(cfg.readiness_addr, &socket::ListenOptions::default())
            .with_context(|| format!("failed to bind readiness listener on {}", cfg.readiness_addr))?
    };
    let readiness_addr = readiness_listener.local_addr()?;
    // Core tasks run supervised: one that dies before drain turns readiness red (and the xDS
    // client is restarted) instead of leaving a frozen node reporting ready.
    let core = |name: &'static str, task: BoxFuture<'static, ()>| {
        readiness::supervise(name, ready.clone(), watcher.clone(), task)
    };
    let readiness_server =
        core("readiness server", readiness::serve(readiness_listener, ready.clone(), watcher.clone()).boxed());
    match &readiness_shard {
        Some(handle) => tasks.spawn_on(readiness_server, handle),
        None => tasks.spawn(readiness_server),
    };

    // Metrics families are registered by each component as it is built; served once bound.
    let mut metrics = MetricsBuilder::new(cfg.istio_version.as_deref().unwrap_or(env!("CARGO_PKG_VERSION")));
    let xds_metrics = XdsMetrics::register(metrics.registry());
    // XDS_ON_DEMAND: one handle for the data path and every incarnation of the xDS client, so
    // demands and the re-subscription set survive a client restart.
    let on_demand = match (&cfg.local_xds, &cfg.xds_address) {
        (None, Some(_)) if cfg.xds_on_demand => {
            Some(Demander::new(DEMAND_WAIT, DemandMetrics::register(metrics.registry())))
        }
        (Some(_), _) if cfg.xds_on_demand => {
            tracing::warn!("XDS_ON_DEMAND has no effect with a local config: the file is the whole state");
            None
        }
        _ => None,
    };

    // State: the local config file, or xDS.
    let store = StateStore::default();
    match &cfg.local_xds {
        Some(LocalXdsSource::File(path)) => {
            let watcher_task = LocalFileWatcher::start(path.clone(), store.clone(), LOCAL_CONFIG_POLL)
                .await
                .context("loading LOCAL_XDS_PATH")?;
            state_task.done();
            tasks.spawn(core("local config watcher", watcher_task.run(watcher.clone()).boxed()));
        }
        Some(LocalXdsSource::Inline(yaml)) => {
            store.replace(load_str(yaml, "LOCAL_XDS").context("parsing LOCAL_XDS")?);
            state_task.done();
        }
        None if cfg.xds_address.is_some() => {
            let client = xds_client(&cfg, store.clone(), state_task, &on_demand).with_metrics(xds_metrics.clone());
            let mut synced = client.synced();
            // A fresh client resubscribes to everything (on demand: everything demanded so
            // far), and the store keeps the last state until its first sync replaces it:
            // restarting loses nothing.
            let (restart_cfg, restart_store, restart_watcher) = (cfg.clone(), store.clone(), watcher.clone());
            let restart_demand = on_demand.clone();
            let restart = move |pending| {
                xds_client(&restart_cfg, restart_store.clone(), pending, &restart_demand)
                    .with_metrics(xds_metrics.clone())
                    .run(restart_watcher.clone())
                    .boxed()
            };
            tasks.spawn(readiness::supervise_restarting(
                "xDS client",
                ready.clone(),
                watcher.clone(),
                client.run(watcher.clone()).boxed(),
                restart,
            ));
            tracing::info!(address = ?cfg.xds_address, "waiting for the first xDS sync");
            synced.wait_for(|s| *s).await.context("xDS client stopped before the first sync")?;
        }
        None => bail!("no configuration source: set XDS_ADDRESS, LOCAL_XDS_PATH or LOCAL_XDS"),
    }
    let local_workload = if let Some(workload_info) = &workload_info {
        let key = LocalWorkloadKey {
            uid: None,
            namespace: &workload_info.namespace,
            name: &workload_info.name,
            service_account: &workload_info.service_account,
            node: None,
        };
        if let Some(d) = &on_demand
            && store.snapshot().find_local_workload(&key).is_none()
        {
            // Readiness did not wait for Address: ask for our own pod by istiod's uid for it
            // (istiod also sends a node's pods unasked when NODE_NAME is set).
            let uid = crate::xds::demand::pod_uid(&cfg.cluster_id, &workload_info.namespace, &workload_info.name);
            d.demand(&uid).await.with_context(|| format!("fetching PROXY_WORKLOAD_INFO's workload {uid}"))?;
        }
        let snapshot = store.snapshot();
        let local_workload = match snapshot.find_local_workload(&key) {
            Some(w) => w,
            None => match snapshot.workload_by_name(&workload_info.namespace, &workload_info.name) {
                Some(other) => bail!(
                    "PROXY_WORKLOAD_INFO says service account {:?} but workload {}/{} runs as {:?}",
                    workload_info.service_account,
                    workload_info.namespace,
                    workload_info.name,
                    other.service_account
                ),
                None => {
                    let known: Vec<String> =
                        snapshot.workloads().map(|w| format!("{}/{}", w.namespace, w.name)).collect();
                    bail!(
                        "PROXY_WORKLOAD_INFO names workload {}/{}, which is not in the configuration (known: {})",
                        workload_info.namespace,
                        workload_info.name,
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    )
                }
            },
        };
        Some(local_workload)
    } else {
        None
    };

    // Revoked peer certificates (CRL_PATH): a bad file stops start-up; later edits are
    // reloaded, a bad edit keeps the last good set.
    let crls = match &cfg.crl_path {
        Some(path) => {
            let store = crate::tls::crl::CrlStore::load(path)?;
            tracing::info!(path = %path.display(), crls = store.current().ders().len(), "peer certificates are checked against CRLs");
            tasks.spawn(core(
                "CRL watcher",
                crate::tls::crl::watch(path.clone(), store.clone(), CRL_POLL, watcher.clone()).boxed(),
            ));
            store
        }
        None => crate::tls::crl::CrlStore::default(),
    };

    // Certificates: istiod's CA, or the built-in dev CA with FAKE_CA=true.
    let certs = SecretManager::new(certificate_source(&cfg)?);
    // (In shared mode each pod's certificate is fetched on its first connection.)
    if let Some(local_workload) = local_workload {
        let cert_task = ready.register("workload certificate");
        let certs = certs.clone();
        let id = local_workload.identity().into_owned();
        tasks.spawn(async move {
            // The secret manager retries failed fetches with backoff; poll until it has one.
            loop {
                match certs.fetch_certificate(&id).await {
                    Ok(_) => {
                        tracing::info!(identity = %id, "workload certificate available");
                        cert_task.done();
                        return;
                    }
                    Err(e) => tracing::debug!(identity = %id, "workload certificate not available yet: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }

    // Listeners.
    let traffic = TrafficMetrics::register(metrics.registry());
    tasks.spawn(traffic.clone().follow_state(store.clone(), watcher.clone()));
    let dns_metrics = DnsMetrics::register(metrics.registry());
    // ztunnel's own resolvers: where the DNS proxy forwards, and what resolves hostname-only
    // endpoints (one cache for the whole process).
    let resolv_conf = std::fs::read_to_string(&cfg.resolv_conf).unwrap_or_else(|e| {
        tracing::warn!(path = %cfg.resolv_conf.display(), "no DNS resolvers: {e}");
        String::new()
    });
    let resolvers = parse_resolv_conf(&resolv_conf);
    let resolver = Arc::new(Resolver::new(resolvers.clone()));
    // Shared mode: the pod table, read by the admin dump and the workload-manager metrics.
    let pod_states = workload_info.is_none().then(inpod::states::PodStates::default);
    if let Some(states) = &pod_states {
        metrics.registry().register_collector(Box::new(inpod::states::WorkloadManagerMetrics(states.clone())));
    }
    let registry = metrics.finish();
    let mut dns_addrs = Vec::new();
    let addrs = match workload_info {
        Some(workload_info) => {
            if let Some(dns_task) = dns_task {
                // As upstream in dedicated mode: ztunnel's resolv.conf is the workload's, so its
                // search list is the one the workload's resolver appends.
                let dns = DnsConfig {
                    namespace: workload_info.namespace.clone(),
                    workload: workload_info.name.clone(),
                    search: parse_resolv_conf_search(&resolv_conf),
                    require_workload: true,
                    domain: cfg.cluster_domain.clone(),
                    network: cfg.network.clone(),
                    upstreams: resolvers.clone(),
                    socket: SocketOptions { mark: cfg.packet_mark, ..SocketOptions::default() },
                };
                let server = DnsServer::new(dns, store.clone(), dns_metrics.clone());
                dns_addrs = serve_dedicated_dns(&cfg, server, &watcher, &mut tasks)?;
                tracing::info!(addresses = ?dns_addrs, workload = %format!("{}/{}", workload_info.namespace, workload_info.name), "DNS proxy listening");
                dns_task.done();
            }
            let proxy = Proxy::bind(
                proxy_config(&cfg, workload_info, &crls, &resolver, &on_demand, &shards),
                store.clone(),
                certs.clone(),
                traffic,
                watcher.clone(),
            )?;
            let addrs = proxy.addresses();
            tasks.spawn(core("proxy", proxy.run(watcher.clone()).boxed()));
            addrs
        }
        None => {
            let placeholder =
                ProxyWorkloadInfo { namespace: String::new(), name: String::new(), service_account: String::new() };
            let (dns_v4, dns_v6) = cfg.dns_proxy_addr.bind_addrs(cfg.ipv6_enabled);
            let dns = cfg.dns_proxy.then(|| DnsSettings {
                addr: dns_v4,
                addr_v6: dns_v6,
                domain: cfg.cluster_domain.clone(),
                network: cfg.network.clone(),
                upstreams: resolvers.clone(),
                metrics: dns_metrics.clone(),
            });
            let starter = ProxyStarter {
                base: proxy_config(&cfg, placeholder, &crls, &resolver, &on_demand, &shards),
                state: store.clone(),
                certs: certs.clone(),
                metrics: traffic,
                dns,
            };
            let manager = ManagerConfig {
                uds: cfg.inpod_uds.clone(),
                drain_deadline: cfg.self_termination_deadline,
                retry_interval: Duration::from_secs(1),
            };
            tracing::info!(uds = %cfg.inpod_uds.display(), "in-pod mode: listeners are bound per pod, inside each pod's network namespace");
            let states = pod_states.clone().unwrap_or_default();
            let manager_ready = ready.register("workload proxy manager");
            tasks.spawn(core(
                "workload proxy manager (ZDS)",
                inpod::manager::run(manager, starter, states, manager_ready, watcher.clone()).boxed(),
            ));
            // Configured (per-pod) addresses: nothing is bound in the node's own namespace.
            BoundAddrs {
                outbound: cfg.outbound_addr,
                inbound: cfg.inbound_addr,
                inbound_plaintext: cfg.inbound_plaintext_addr,
                socks5: None,
            }
        }
    };
    proxy_task.done();

    let metrics_listener = socket::bind(cfg.stats_addr, &socket::ListenOptions::default())
        .with_context(|| format!("failed to bind metrics listener on {}", cfg.stats_addr))?;
    let metrics_addr = metrics_listener.local_addr()?;
    tasks.spawn(core(
        "metrics server",
        crate::metrics::server::serve(metrics_listener, registry, watcher.clone()).boxed(),
    ));

    let admin_listener = socket::bind(cfg.admin_addr, &socket::ListenOptions::default())
        .with_context(|| format!("failed to bind admin listener on {}", cfg.admin_addr))?;
    let admin_addr = admin_listener.local_addr()?;
    let (quit_tx, quit_rx) = tokio::sync::mpsc::channel(1);
    let deadline = cfg.self_termination_deadline;
    let admin = Arc::new(Admin { config: Arc::new(cfg), state: store, certs, quit: quit_tx, pods: pod_states });
    tasks.spawn(core("admin server", crate::admin::serve(admin_listener, admin, watcher.clone()).boxed()));

    // Installed before announcing the listeners, so a SIGTERM sent right after start-up
    // drains instead of killing the process.
    let signals = ShutdownSignals::install().context("installing SIGTERM/SIGINT handlers")?;
    tracing::info!(
        outbound = %addrs.outbound,
        inbound = %addrs.inbound,
        inbound_plaintext = %addrs.inbound_plaintext,
        socks5 = %addrs.socks5.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
        dns = %if dns_addrs.is_empty() { "-".to_string() } else { dns_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",") },
        readiness = %readiness_addr,
        admin = %admin_addr,
        metrics = %metrics_addr,
        crypto_provider = crate::tls::provider::NAME,
        "listeners bound"
    );
    drop(watcher);
    Ok(Running {
        addrs,
        readiness: readiness_addr,
        admin: admin_addr,
        metrics: metrics_addr,
        dns: dns_addrs,
        drain: trigger,
        quit: quit_rx,
        deadline,
        tasks,
        signals,
        _shards: shard_threads,
    })
}

/// Binds the dedicated-mode DNS proxy (UDP and TCP on each of ISTIO_META_DNS_PROXY_ADDR's
/// addresses) and serves it until drain. The IPv4 (or explicit) address must bind; `::1` is
/// skipped when loopback has no IPv6, as upstream downgrades.
fn serve_dedicated_dns(
    cfg: &Config,
    server: Arc<DnsServer>,
    watcher: &drain::DrainWatcher,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    let (primary, v6) = cfg.dns_proxy_addr.bind_addrs(cfg.ipv6_enabled);
    let mut bound = vec![dns_server::bind_pair(primary).with_context(|| {
        format!("failed to bind the DNS proxy on {primary} (ISTIO_META_DNS_PROXY_ADDR={})", cfg.dns_proxy_addr)
    })?];
    if let Some(v6) = v6 {
        match dns_server::bind_pair(v6) {
            Ok(pair) => bound.push(pair),
            // No IPv6 on loopback: serve IPv4 only. Anything else (the port taken) is an error.
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::Unsupported)
                    || e.raw_os_error() == Some(libc::EAFNOSUPPORT) =>
            {
                tracing::info!("no IPv6 DNS proxy listener on {v6}: {e}")
            }
            Err(e) => return Err(e).with_context(|| format!("failed to bind the DNS proxy on {v6}")),
        }
    }
    let mut addrs = Vec::new();
    for (udp, tcp) in bound {
        addrs.push(tcp.local_addr()?);
        tasks.spawn(dns_server::serve_udp(udp, server.clone(), watcher.clone()));
        tasks.spawn(dns_server::serve_tcp(tcp, server.clone(), watcher.clone()));
    }
    Ok(addrs)
}

/// The xDS client for `XDS_ADDRESS`, installing into `store` and completing `ready` on the
/// first full sync.
fn xds_client(
    cfg: &Config,
    store: StateStore,
    ready: crate::readiness::ReadyTask,
    on_demand: &Option<Demander>,
) -> XdsClient {
    let cp = &cfg.control_plane;
    let node = node(&NodeInfo {
        instance_ip: cfg.local_ip.map(|ip| ip.to_string()),
        pod_name: cfg.pod_name.clone().unwrap_or_default(),
        pod_namespace: cfg.pod_namespace.clone().unwrap_or_default(),
        node_name: cfg.local_node.clone(),
        metadata: cfg.proxy_metadata.clone(),
        metadata_json: cp.metadata_json.clone(),
    });
    let client = XdsClient::new(
        XdsClientConfig {
            endpoint: ControlPlaneEndpoint {
                address: cfg.xds_address.clone().expect("checked by caller"),
                roots: cp.xds_root_cert.clone(),
                alt_hostname: cp.alt_xds_hostname.clone(),
            },
            credentials: credentials(cfg, &cp.xds_headers),
            node,
        },
        store,
        ready,
    );
    match on_demand {
        Some(d) => client.with_on_demand(d.clone()),
        None => client,
    }
}

/// Where workload certificates come from: the built-in CA (FAKE_CA) or istiod (CA_ADDRESS).
fn certificate_source(cfg: &Config) -> anyhow::Result<Arc<dyn CertificateSource>> {
    if cfg.fake_ca {
        return Ok(match &cfg.fake_ca_root {
            // Not there yet (a secret mounted late): start anyway and stay not-ready until it is.
            Some(root) if !root.cert.exists() || !root.key.exists() => {
                tracing::warn!(cert = %root.cert.display(), key = %root.key.display(), "built-in CA root files do not exist yet; waiting for them");
                Arc::new(DevCaFiles::new(root.cert.clone(), root.key.clone(), cfg.secret_ttl))
            }
            Some(root) => Arc::new(
                DevCa::load(&root.cert, &root.key)
                    .context("loading FAKE_CA_ROOT_CERT/FAKE_CA_ROOT_KEY")?
                    .with_ttl(cfg.secret_ttl),
            ),
            None => {
                tracing::warn!(
                    "FAKE_CA=true without FAKE_CA_ROOT_CERT/FAKE_CA_ROOT_KEY: using the built-in development root, \
                     whose private key ships with every ztunnel binary. Any process can mint identities it trusts: \
                     development and tests only, never production"
                );
                Arc::new(
                    DevCa::built_in().context("loading the built-in development CA root")?.with_ttl(cfg.secret_ttl),
                )
            }
        });
    }
    let address =
        cfg.ca_address.clone().context("CA_ADDRESS is empty and FAKE_CA is false: no way to obtain certificates")?;
    let cp = &cfg.control_plane;
    Ok(Arc::new(CaClient::new(CaClientConfig {
        endpoint: ControlPlaneEndpoint {
            address,
            roots: cp.ca_root_cert.clone(),
            alt_hostname: cp.alt_ca_hostname.clone(),
        },
        credentials: credentials(cfg, &cp.ca_headers),
        secret_ttl: cfg.secret_ttl,
        impersonate: cfg.proxy_mode == ProxyMode::Shared,
    })))
}

/// The same token and cluster id go to xDS and the CA; the extra headers differ.
fn credentials(cfg: &Config, headers: &[(String, String)]) -> Credentials {
    Credentials {
        token: cfg.control_plane.auth_token.clone(),
        cluster_id: cfg.cluster_id.clone(),
        headers: headers.to_vec(),
    }
}

/// ENABLE_ORIG_SRC; unset means best effort, as upstream: on when we may spoof the client's
/// address (IP_TRANSPARENT), so applications see who called them. Only in shared mode, where
/// the CNI's rules route the application's replies back to us (`ztunnel redirect install`
/// has them too); a dedicated-mode node has no such rules, so there it stays off unless asked.
fn original_source(cfg: &Config) -> bool {
    let on = match cfg.enable_original_source {
        Some(on) => on,
        None => cfg.proxy_mode == ProxyMode::Shared && socket::ip_transparent_available(),
    };
    tracing::info!(
        enabled = on,
        explicit = cfg.enable_original_source.is_some(),
        "original source preservation (ENABLE_ORIG_SRC)"
    );
    on
}

/// TCP connect, TLS handshake, HTTP/2 handshake and CONNECT response: each gets this long
/// (upstream's hard-coded connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn proxy_config(
    cfg: &Config,
    local_workload: ProxyWorkloadInfo,
    crls: &crate::tls::crl::CrlStore,
    resolver: &Arc<Resolver>,
    on_demand: &Option<Demander>,
    shards: &crate::runtime::Shards,
) -> ProxyConfig {
    ProxyConfig {
        shards: shards.clone(),
        on_demand: on_demand.clone(),
        cluster_id: cfg.cluster_id.clone(),
        resolver: resolver.clone(),
        network: cfg.network.clone(),
        outbound_addr: cfg.outbound_addr,
        inbound_addr: cfg.inbound_addr,
        inbound_plaintext_addr: cfg.inbound_plaintext_addr,
        socks5_addr: cfg.enable_socks5.then_some(cfg.socks5_addr),
        hbone_port: cfg.hbone_port,
        hbone_early_data: cfg.hbone_early_data,
        local_workload,
        local_workload_uid: None,
        // Only per-pod listeners: in dedicated mode two processes sharing ports would be a
        // misconfiguration, not an upgrade.
        reuse_port: cfg.proxy_mode == ProxyMode::Shared && cfg.inpod_port_reuse,
        crls: crls.clone(),
        local_node: match cfg.proxy_mode {
            ProxyMode::Shared => cfg.local_node.clone(),
            ProxyMode::Dedicated => None,
        },
        socket: SocketOptions { mark: cfg.packet_mark, keepalive: cfg.keepalive, ..SocketOptions::default() },
        orig_src: original_source(cfg),
        connect_timeout: CONNECT_TIMEOUT,
        authz_info_logging: cfg.authz_policy_info_logging,
        localhost_app_tunnel: cfg.localhost_app_tunnel,
        h2: H2Settings {
            stream_window: cfg.window_size,
            connection_window: cfg.connection_window_size,
            frame_size: cfg.frame_size,
            max_streams_per_connection: cfg.pool_max_streams_per_conn,
            pool_idle_timeout: cfg.pool_unused_release_timeout,
            handshake_timeout: CONNECT_TIMEOUT,
            ..H2Settings::default()
        },
    }
}

impl Running {
    /// Waits for SIGTERM/SIGINT or an admin `/quitquitquit`, then drains. A second signal
    /// exits at once.
    pub async fn wait_for_signal(mut self) {
        let mut signals = std::mem::replace(&mut self.signals, ShutdownSignals::none());
        tokio::select! {
            _ = signals.recv() => tracing::info!(deadline = ?self.deadline, "shutdown signal received, draining"),
            Some(()) = self.quit.recv() => tracing::info!(deadline = ?self.deadline, "shutdown requested by admin, draining"),
        }
        let deadline = self.deadline;
        tokio::select! {
            _ = self.shutdown() => {}
            _ = signals.recv() => {
                tracing::warn!("second signal received, exiting immediately");
            }
            // Belt and braces: never outlive the deadline by much.
            _ = tokio::time::sleep(deadline + Duration::from_secs(1)) => {}
        }
    }

    /// Drains: stop accepting, let connections finish up to the deadline, then stop.
    pub async fn shutdown(mut self) {
        match self.drain.drain(self.deadline).await {
            DrainOutcome::Complete => tracing::info!("drain complete"),
            DrainOutcome::DeadlineExceeded => {
                tracing::warn!(deadline = ?self.deadline, "drain deadline exceeded, closing remaining connections")
            }
        }
        self.tasks.abort_all();
    }
}

/// SIGTERM and SIGINT listeners.
struct ShutdownSignals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl ShutdownSignals {
    fn install() -> std::io::Result<ShutdownSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignals(Some((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?))))
    }

    fn none() -> ShutdownSignals {
        ShutdownSignals(None)
    }

    /// Resolves on the next SIGTERM or SIGINT (never, for `none`).
    async fn recv(&mut self) {
        match &mut self.0 {
            Some((term, int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }
}
