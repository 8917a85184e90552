//! Composition root: builds every component from [`Config`], binds listeners, and owns the
//! start-up and shutdown order.
//!
//! Start-up: state (local config file) → certificate source (built-in dev CA) → listeners →
//! readiness. Shutdown (SIGTERM/SIGINT): listeners stop accepting, connections get up to
//! `CONNECTION_TERMINATION_DEADLINE` to finish, HBONE servers send GOAWAY, then we exit.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::{Config, ProxyMode, ProxyWorkloadInfo};
use crate::drain::{self, DrainOutcome, DrainTrigger};
use crate::hbone::H2Settings;
use crate::identity::dev_ca::DevCa;
use crate::identity::manager::SecretManager;
use crate::proxy::{BoundAddrs, Proxy, ProxyConfig};
use crate::readiness::{self, Ready};
use crate::redirect::{self, SocketOptions};
use crate::state::StateStore;
use crate::config::LocalXdsSource;
use crate::xds::{LocalFileWatcher, load_str};

/// How often the local config file is checked for changes.
const LOCAL_CONFIG_POLL: Duration = Duration::from_secs(1);

/// A running proxy: its bound addresses and the handle that stops it.
pub struct Running {
    pub addrs: BoundAddrs,
    pub readiness: std::net::SocketAddr,
    drain: DrainTrigger,
    deadline: Duration,
    tasks: tokio::task::JoinSet<()>,
}

/// Builds and starts everything; returns once listeners are bound.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    crate::tls::provider::startup_check()?;
    if cfg.proxy_mode != ProxyMode::Dedicated {
        bail!("PROXY_MODE=shared (in-pod mode) is not supported yet; set PROXY_MODE=dedicated and PROXY_WORKLOAD_INFO=<namespace>/<name>/<service-account>");
    }
    let workload_info = cfg
        .proxy_workload_info
        .clone()
        .context("PROXY_MODE=dedicated requires PROXY_WORKLOAD_INFO=<namespace>/<name>/<service-account>")?;
    let ready = Ready::new();
    let (trigger, watcher) = drain::new();
    let mut tasks = tokio::task::JoinSet::new();

    // State: the local config file (xDS comes later).
    let state_task = ready.register("state manager");
    let store = StateStore::default();
    match &cfg.local_xds {
        Some(LocalXdsSource::File(path)) => {
            let watcher_task = LocalFileWatcher::start(path.clone(), store.clone(), LOCAL_CONFIG_POLL)
                .await
                .context("loading LOCAL_XDS_PATH")?;
            tasks.spawn(watcher_task.run(watcher.clone()));
        }
        Some(LocalXdsSource::Inline(yaml)) => {
            store.replace(load_str(yaml, "LOCAL_XDS").context("parsing LOCAL_XDS")?);
        }
        None if cfg.xds_address.is_some() => {
            bail!("the xDS client is not implemented yet: set LOCAL_XDS_PATH (or LOCAL_XDS) and XDS_ADDRESS=\"\"");
        }
        None => bail!("no configuration source: set LOCAL_XDS_PATH or LOCAL_XDS"),
    }
    state_task.done();
    let snapshot = store.snapshot();
    let local_workload = snapshot
        .workload_by_name(&workload_info.namespace, &workload_info.name)
        .with_context(|| {
            let known: Vec<String> = snapshot.workloads().map(|w| format!("{}/{}", w.namespace, w.name)).collect();
            format!(
                "PROXY_WORKLOAD_INFO names workload {}/{}, which is not in the configuration (known: {})",
                workload_info.namespace,
                workload_info.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })?;
    if local_workload.service_account != workload_info.service_account {
        bail!(
            "PROXY_WORKLOAD_INFO says service account {:?} but workload {}/{} runs as {:?}",
            workload_info.service_account,
            workload_info.namespace,
            workload_info.name,
            local_workload.service_account
        );
    }

    // Certificates: the built-in dev CA (the CA client comes later).
    if !cfg.fake_ca {
        bail!("the CA client is not implemented yet: set FAKE_CA=true to use the built-in CA");
    }
    let ca = match &cfg.fake_ca_root {
        Some(root) => DevCa::load(&root.cert, &root.key).context("loading FAKE_CA_ROOT_CERT/FAKE_CA_ROOT_KEY")?,
        None => DevCa::generate(&cfg.trust_domain).context("generating the built-in CA root")?,
    };
    let certs = SecretManager::new(Arc::new(ca.with_ttl(cfg.secret_ttl)));
    let cert_task = ready.register("workload certificate");
    {
        let certs = certs.clone();
        let id = local_workload.identity();
        tasks.spawn(async move {
            match certs.fetch_certificate(&id).await {
                Ok(_) => cert_task.done(),
                Err(e) => tracing::error!(identity = %id, "failed to obtain workload certificate: {e}"),
            }
        });
    }

    // Listeners.
    let proxy_task = ready.register("proxy");
    let proxy = Proxy::bind(proxy_config(&cfg, workload_info), store, certs, watcher.clone())?;
    let addrs = proxy.addresses();
    tasks.spawn(proxy.run(watcher.clone()));
    proxy_task.done();

    let readiness_listener = redirect::bind(cfg.readiness_addr, false)
        .with_context(|| format!("failed to bind readiness listener on {}", cfg.readiness_addr))?;
    let readiness_addr = readiness_listener.local_addr()?;
    tasks.spawn(readiness::serve(readiness_listener, ready, watcher.clone()));

    tracing::info!(
        outbound = %addrs.outbound,
        inbound = %addrs.inbound,
        inbound_plaintext = %addrs.inbound_plaintext,
        socks5 = %addrs.socks5.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
        readiness = %readiness_addr,
        crypto_provider = crate::tls::provider::NAME,
        "listeners bound"
    );
    drop(watcher);
    Ok(Running {
        addrs,
        readiness: readiness_addr,
        drain: trigger,
        deadline: cfg.self_termination_deadline,
        tasks,
    })
}

fn proxy_config(cfg: &Config, local_workload: ProxyWorkloadInfo) -> ProxyConfig {
    ProxyConfig {
        outbound_addr: cfg.outbound_addr,
        inbound_addr: cfg.inbound_addr,
        inbound_plaintext_addr: cfg.inbound_plaintext_addr,
        socks5_addr: cfg.enable_socks5.then_some(cfg.socks5_addr),
        hbone_port: cfg.hbone_port,
        local_workload,
        socket: SocketOptions { mark: cfg.packet_mark, transparent_source: None },
        orig_src: cfg.enable_original_source.unwrap_or(false),
        connect_timeout: Duration::from_secs(10),
        h2: H2Settings {
            stream_window: cfg.window_size,
            connection_window: cfg.connection_window_size,
            frame_size: cfg.frame_size,
            max_streams_per_connection: cfg.pool_max_streams_per_conn,
            pool_idle_timeout: cfg.pool_unused_release_timeout,
            ..H2Settings::default()
        },
    }
}

impl Running {
    /// Waits for SIGTERM/SIGINT, then drains. A second SIGINT exits at once.
    pub async fn wait_for_signal(self) {
        shutdown_signal().await;
        tracing::info!(deadline = ?self.deadline, "shutdown signal received, draining");
        let deadline = self.deadline;
        tokio::select! {
            _ = self.shutdown() => {}
            _ = async { shutdown_signal().await; } => {
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

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
