//! The data path: the listeners a ztunnel serves for its workload and the plumbing they share.
//!
//! - [`outbound`]: 15001, captured outbound TCP → route → HBONE or plain TCP.
//! - [`inbound`]: 15008, HBONE (mTLS + HTTP/2 CONNECT) → local workload.
//! - [`inbound_passthrough`]: 15006, captured plaintext inbound → local workload.
//! - [`socks5`]: 127.0.0.1:15080, SOCKS5 CONNECT → the outbound path.
//! - [`route`]: the pure routing decision; [`copy`]: the byte pump; [`proxy_protocol`]: the
//!   PROXY v2 header application tunnels receive.
//! - [`authz`]: authorization of inbound connections (both inbound listeners call it);
//!   [`connections`]: live inbound connections, re-checked when policies change.
//!
//! Listeners are bound by [`Proxy::bind`] (so tests can use port 0 and read back the
//! address) and served by [`Proxy::run`] until the drain signal.

pub mod access;
pub mod addr;
pub mod authz;
pub mod connections;
pub mod copy;
pub mod early;
pub mod inbound;
pub mod inbound_passthrough;
pub mod outbound;
pub mod peers;
pub mod proxy_protocol;
pub mod route;
pub mod socks5;

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;

use crate::certs::manager::{CertificateLease, SecretManager};
use crate::config::ProxyWorkloadInfo;
use crate::drain::DrainWatcher;
use crate::hbone;
use crate::identity::Identity;
use crate::metrics::TrafficMetrics;
use crate::runtime::{self, Shards};
use crate::socket::{self, SocketOptions};
use crate::state::workload::Workload;
use crate::state::{LocalWorkloadKey, ProxyState, StateStore};
use crate::xds::demand::{self, Demander};
pub use addr::{DestinationAddr, ServedAddr, SourceAddr};

/// What the data path needs to know, and nothing more (components get this, not `Config`).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub outbound_addr: SocketAddr,
    pub inbound_addr: SocketAddr,
    pub inbound_plaintext_addr: SocketAddr,
    /// SOCKS5 listener, when `UNSTABLE_ENABLE_SOCKS5=true`.
    pub socks5_addr: Option<SocketAddr>,
    /// Port dialled on the destination node for HBONE (15008).
    pub hbone_port: u16,
    /// Send a connection's first bytes with its `CONNECT` ([`early`]).
    pub hbone_early_data: bool,
    /// The workload this proxy serves (PROXY_WORKLOAD_INFO, or the pod the CNI announced).
    pub local_workload: ProxyWorkloadInfo,
    /// The pod's uid, when the CNI gave it (shared mode).
    pub local_workload_uid: Option<String>,
    /// This ztunnel's node in shared mode (NODE_NAME): only workloads on it can be ours.
    pub local_node: Option<String>,
    /// SO_REUSEPORT on the listeners (INPOD_PORT_REUSE, per-pod listeners in shared mode).
    pub reuse_port: bool,
    /// The data-plane threads that serve the listeners (thread-per-core); empty: the runtime
    /// that runs [`Proxy::run`].
    pub shards: Shards,
    /// Revoked peer certificates (CRL_PATH); empty when not configured.
    pub crls: crate::tls::crl::CrlStore,
    /// Options for sockets we dial (SO_MARK).
    pub socket: SocketOptions,
    /// Preserve the client's source IP when dialling local workloads (ENABLE_ORIG_SRC).
    pub orig_src: bool,
    pub connect_timeout: Duration,
    pub h2: hbone::H2Settings,
    /// Log every authorization decision at INFO (AUTHZ_POLICY_INFO_LOGGING).
    pub authz_info_logging: bool,
    /// Deliver PROXY-protocol application tunnels over loopback (LOCALHOST_APP_TUNNEL).
    pub localhost_app_tunnel: bool,
    /// Resolves hostname-only endpoints (one cache shared by every proxy of the process).
    pub resolver: Arc<crate::dns::resolve::Resolver>,
    /// NETWORK: our network. Sent as `x-forwarded-network` on double HBONE; an inbound
    /// request naming another network came through a gateway.
    pub network: String,
    /// CLUSTER_ID: istiod names our pods `<cluster>//Pod/<namespace>/<name>`.
    pub cluster_id: String,
    /// XDS_ON_DEMAND: asks istiod for addresses the state lacks. `None`: the state is the
    /// whole mesh, and a miss is final.
    pub on_demand: Option<Demander>,
}

impl ProxyConfig {
    /// How the state finds the workload this proxy serves.
    pub fn local_workload_key(&self) -> LocalWorkloadKey<'_> {
        LocalWorkloadKey {
            uid: self.local_workload_uid.as_deref(),
            namespace: &self.local_workload.namespace,
            name: &self.local_workload.name,
            service_account: &self.local_workload.service_account,
            node: self.local_node.as_deref(),
        }
    }

    /// Ports a workload must never reach through us: they would loop back into ztunnel.
    fn own_ports(&self, bound: &BoundAddrs) -> HashSet<u16> {
        let mut ports: HashSet<u16> = [
            bound.outbound.port(),
            bound.inbound.port(),
            bound.inbound_plaintext.port(),
            self.outbound_addr.port(),
            self.inbound_addr.port(),
            self.inbound_plaintext_addr.port(),
            self.hbone_port,
        ]
        .into_iter()
        .collect();
        if let Some(s) = bound.socks5 {
            ports.insert(s.port());
        }
        ports.remove(&0);
        ports
    }
}

/// The addresses the listeners actually bound (port 0 resolved).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BoundAddrs {
    pub outbound: SocketAddr,
    pub inbound: SocketAddr,
    pub inbound_plaintext: SocketAddr,
    pub socks5: Option<SocketAddr>,
}

/// Why a proxied connection failed. Each variant says what went wrong in terms of who is to
/// blame ([`Error::blame`]); the SOCKS5 reply ([`socks5::reply_for`]), the HBONE status
/// ([`Error::hbone_status`]) and the `response_flags` label ([`Error::response_flag`]) all derive
/// from the variant, never from the message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no original destination: {0} (connection was not redirected by iptables?)")]
    NoOriginalDst(io::Error),
    #[error("refused: destination {0} is one of ztunnel's own ports (would loop)")]
    SelfCall(SocketAddr),
    #[error("local workload {0} is not known to this ztunnel")]
    UnknownLocalWorkload(String),
    /// XDS_ON_DEMAND: istiod did not answer for an address the connection needs.
    #[error("{0}")]
    OnDemand(#[from] crate::xds::demand::DemandError),
    #[error("routing failed: {0}")]
    Route(#[from] route::RouteError),
    #[error("routing failed: {0}")]
    Resolve(#[from] crate::dns::resolve::ResolveError),
    #[error("certificate for {identity} unavailable: {reason}")]
    Certificate { identity: Identity, reason: String },
    #[error("HBONE to {dst} failed: {source}")]
    Hbone { dst: SocketAddr, source: hbone::Error },
    #[error("connect to {dst} failed: {source}")]
    Connect { dst: SocketAddr, source: io::Error },
    /// The source's CONNECT names a destination this node does not serve.
    #[error("refused: CONNECT {authority}: {refusal}")]
    ConnectRefused { authority: String, refusal: inbound::Refusal },
    /// Plaintext inbound (15006) to an IP that is not the local workload's.
    #[error("refused: {ip} is not an address of local workload {namespace}/{name}")]
    NotLocalAddress { ip: IpAddr, namespace: String, name: String },
    /// Upstream's wording, so access-log greps carry over.
    #[error("connection closed due to policy rejection: {0}")]
    AuthorizationPolicyRejection(crate::rbac::DenyReason),
    #[error("connection closed due to policy change: {0}")]
    AuthorizationPolicyRevoked(crate::rbac::DenyReason),
    #[error("SOCKS5: {0}")]
    Socks5(#[from] socks5::Socks5Error),
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// Who a failed connection is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blame {
    /// The client or peer that opened the connection: a bad request, a call to our own ports,
    /// a policy that denies it.
    Source,
    /// Where it was going: unreachable, refused, no healthy endpoint, a peer ztunnel that failed.
    Destination,
    /// What istiod told us, or has not yet: an unknown local workload, no certificate.
    ControlPlane,
    /// This node: capture without an original destination, a local TLS configuration error.
    Local,
    /// The connection itself broke mid-way (reset, timeout), either end.
    Network,
}

impl Error {
    pub fn blame(&self) -> Blame {
        match self {
            Error::SelfCall(_)
            | Error::ConnectRefused { .. }
            | Error::NotLocalAddress { .. }
            | Error::AuthorizationPolicyRejection(_)
            | Error::AuthorizationPolicyRevoked(_)
            | Error::Socks5(_) => Blame::Source,
            Error::Route(_) | Error::Resolve(_) | Error::Connect { .. } => Blame::Destination,
            Error::Hbone { source, .. } => match source.blame() {
                hbone::HboneBlame::Local => Blame::Local,
                hbone::HboneBlame::Peer => Blame::Destination,
            },
            Error::UnknownLocalWorkload(_) | Error::OnDemand(_) | Error::Certificate { .. } => Blame::ControlPlane,
            Error::NoOriginalDst(_) => Blame::Local,
            Error::Io(_) => Blame::Network,
        }
    }

    /// Istio's `response_flags` label for the connection's metrics. A call to our own ports is
    /// counted as a policy refusal ("DENY"): it is one, and the flag set stays bounded.
    pub fn response_flag(&self) -> &'static str {
        match self {
            Error::AuthorizationPolicyRejection(_)
            | Error::AuthorizationPolicyRevoked(_)
            | Error::SelfCall(_)
            | Error::ConnectRefused { refusal: inbound::Refusal::SelfCall(_), .. } => "DENY",
            Error::NoOriginalDst(_)
            | Error::UnknownLocalWorkload(_)
            | Error::OnDemand(_)
            | Error::Route(_)
            | Error::Resolve(_)
            | Error::Certificate { .. }
            | Error::Hbone { .. }
            | Error::Connect { .. }
            | Error::ConnectRefused { .. }
            | Error::NotLocalAddress { .. }
            | Error::Socks5(_)
            | Error::Io(_) => "CONNECT",
        }
    }

    /// The status an inbound CONNECT is answered with when it fails before the tunnel opens.
    pub fn hbone_status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Error::ConnectRefused { refusal, .. } => refusal.status(),
            Error::AuthorizationPolicyRejection(_) | Error::AuthorizationPolicyRevoked(_) => StatusCode::UNAUTHORIZED,
            Error::SelfCall(_) | Error::NotLocalAddress { .. } | Error::Socks5(_) => StatusCode::BAD_REQUEST,
            Error::Connect { .. }
            | Error::Route(_)
            | Error::Resolve(_)
            | Error::Hbone { .. }
            | Error::UnknownLocalWorkload(_)
            | Error::OnDemand(_)
            | Error::Certificate { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::NoOriginalDst(_) | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// How long a connection waits for the local workload to appear in the state (upstream: 5 s).
pub const LOCAL_WORKLOAD_WAIT: Duration = Duration::from_secs(5);

/// Shared, read-only context for every connection handler.
pub struct ProxyInputs {
    pub cfg: ProxyConfig,
    pub state: StateStore,
    pub certs: SecretManager,
    /// One HBONE pool per shard (one in all without shards): a pooled connection's driver
    /// task lives on the shard that dialled it, so streams from that shard never cross threads.
    pools: Vec<(Option<usize>, hbone::pool::Pool)>,
    /// For connections owned by one proxied connection (double HBONE's inner one), whose own
    /// watcher already holds the drain up.
    pub drain: DrainWatcher,
    pub metrics: Arc<TrafficMetrics>,
    /// Live inbound connections, for re-checks when policies change.
    pub connections: Arc<connections::ConnectionRegistry>,
    /// Live outbound connections, for the admin dump.
    pub outbound_connections: Arc<connections::OutboundConnections>,
    /// Filled in once listeners are bound; used for self-call checks.
    self_calls: SelfCalls,
    /// Keeps the local workload's certificate cached and refreshed while this proxy lives. In
    /// shared mode a pod's proxy ends when the pod leaves; with the last proxy using an
    /// identity, its key, refresh worker and CA traffic go too.
    cert_lease: std::sync::Mutex<Option<CertificateLease>>,
}

impl ProxyInputs {
    /// The HBONE pool of the calling shard.
    pub fn pool(&self) -> &hbone::pool::Pool {
        let shard = runtime::current_shard();
        let (_, pool) = self.pools.iter().find(|(s, _)| *s == shard).unwrap_or(&self.pools[0]);
        pool
    }

    /// The workload this proxy serves, from the current state. A pod can start (and the CNI
    /// announce it) before istiod's push about it arrives, so a missing workload is waited for
    /// up to [`LOCAL_WORKLOAD_WAIT`], as upstream does, rather than failing the pod's first
    /// connections.
    pub async fn local_workload(&self) -> Result<Arc<Workload>, Error> {
        let info = &self.cfg.local_workload;
        let key = self.cfg.local_workload_key();
        if let Some(d) = &self.cfg.on_demand
            && self.state.snapshot().find_local_workload(&key).is_none()
        {
            // On demand, our own pod is asked for by istiod's uid for it (istiod also pushes a
            // node's pods unasked when NODE_NAME is set); the wait below still applies.
            let uid = demand::pod_uid(&self.cfg.cluster_id, &info.namespace, &info.name);
            if let Err(e) = d.demand(&uid).await {
                tracing::debug!(%uid, "local workload not fetched on demand: {e}");
            }
        }
        let workload = self.state.wait_for_local_workload(&key, LOCAL_WORKLOAD_WAIT).await.ok_or_else(|| {
            Error::UnknownLocalWorkload(format!(
                "{}/{} (service account {:?}) after waiting {LOCAL_WORKLOAD_WAIT:?}",
                info.namespace, info.name, info.service_account
            ))
        })?;
        self.hold_certificate(&workload.identity());
        Ok(workload)
    }

    /// Leases `id` (the local workload's identity, which every connection path resolves
    /// before it needs a certificate) for as long as this proxy lives.
    fn hold_certificate(&self, id: &Identity) {
        let mut lease = crate::util::sync::lock(&self.cert_lease);
        if lease.as_ref().is_none_or(|l| l.identity() != id) {
            // The new lease is taken before the old one goes, so nothing in between is dropped.
            *lease = Some(self.certs.lease(id));
        }
    }

    /// Fetches the local workload's certificate ahead of its first connection.
    pub async fn warm_certificate(&self) -> Result<(), Error> {
        let workload = self.local_workload().await?;
        let id = workload.identity();
        self.certs
            .fetch_certificate(&id)
            .await
            .map(drop)
            .map_err(|e| Error::Certificate { identity: id.into_owned(), reason: e.to_string() })
    }

    /// On demand (XDS_ON_DEMAND), makes sure the state has istiod's answer for `ip` (a
    /// workload or service address) before the caller looks it up: a miss asks istiod for
    /// `network/IP` and waits, bounded by [`demand::DEMAND_WAIT`]; a timeout fails closed.
    /// After `Ok` the address may still be unknown (istiod knows nothing there either), and
    /// the caller goes on as it would without on-demand. Without on-demand: nothing, at no cost.
    pub async fn ensure_address(&self, network: &str, ip: IpAddr) -> Result<(), Error> {
        let Some(d) = &self.cfg.on_demand else { return Ok(()) };
        if knows_address(&self.state.snapshot(), network, ip) {
            return Ok(());
        }
        d.demand(&demand::address_name(network, ip)).await?;
        Ok(())
    }

    /// As [`ProxyInputs::ensure_address`], for a service by `namespace/hostname`.
    pub async fn ensure_service(&self, namespace: &str, hostname: &str) -> Result<(), Error> {
        let Some(d) = &self.cfg.on_demand else { return Ok(()) };
        if self.state.snapshot().service_by_namespaced_host(namespace, hostname).is_some() {
            return Ok(());
        }
        d.demand(&demand::service_name(namespace, hostname)).await?;
        Ok(())
    }

    /// True when an outbound `dst` points back at one of our own listeners.
    pub fn is_self_call(&self, dst: DestinationAddr) -> bool {
        self.self_calls.outbound(dst)
    }

    /// True when an inbound target (CONNECT authority, or 15006's original destination) is one
    /// of our own ports, whatever its IP.
    pub fn is_inbound_self_call(&self, dst: DestinationAddr) -> bool {
        self.self_calls.inbound(dst)
    }
}

/// Whether the state has a workload or a service (VIP or CIDR VIP) at `ip`.
fn knows_address(state: &ProxyState, network: &str, ip: IpAddr) -> bool {
    state.workload_by_ip(network, ip).is_some() || state.service_for_destination(network, ip, "", |_| true).is_some()
}

/// Which destinations would loop back into this ztunnel.
///
/// Outbound, a workload may legitimately dial port 15008 (or 15001...) on *another* host, so
/// only our own addresses count. Inbound, the target is by construction on the local workload,
/// and with wildcard binds (the default, and always in-pod) every local IP reaches our
/// listeners, while `own_ips` knows none of them: so inbound goes by port alone, as upstream
/// does (`illegal_ports` in its `find_inbound_upstream`). Otherwise a CONNECT to
/// `<pod-ip>:15008` is dialled back into our own HBONE listener, and the nested session's
/// RBAC sees the pod's own IP as the source.
#[derive(Debug, Clone, Default)]
struct SelfCalls {
    ports: HashSet<u16>,
    /// Specific (non-wildcard) IPs our listeners are bound to.
    ips: HashSet<IpAddr>,
}

impl SelfCalls {
    fn new(ports: HashSet<u16>, bound: &BoundAddrs) -> SelfCalls {
        let ips = [bound.outbound, bound.inbound, bound.inbound_plaintext]
            .iter()
            .map(|a| a.ip())
            .filter(|ip| !ip.is_unspecified())
            .collect();
        SelfCalls { ports, ips }
    }

    fn outbound(&self, dst: DestinationAddr) -> bool {
        if !self.ports.contains(&dst.port()) {
            return false;
        }
        let ip = dst.ip();
        ip.is_loopback() || ip.is_unspecified() || self.ips.contains(&ip)
    }

    fn inbound(&self, dst: DestinationAddr) -> bool {
        self.ports.contains(&dst.port())
    }
}

/// Bound, not yet serving, listeners.
pub struct Proxy {
    inputs: Arc<ProxyInputs>,
    /// The listeners once per shard: the same sockets, each registered with its shard's
    /// reactor (`None`: the runtime that runs [`Proxy::run`]).
    listeners: Vec<(Option<tokio::runtime::Handle>, Listeners)>,
    addrs: BoundAddrs,
}

/// One set of the proxy's listening sockets.
struct Listeners {
    outbound: TcpListener,
    inbound: TcpListener,
    inbound_plaintext: TcpListener,
    socks5: Option<TcpListener>,
}

impl Listeners {
    /// The same sockets registered with the reactor of the runtime entered on this thread.
    /// Every shard then polls the one accept queue; the first awake takes a connection,
    /// which balances by load, and nothing changes for SO_REUSEPORT or a second process.
    fn register_again(&self) -> io::Result<Listeners> {
        let again = |l: &TcpListener| -> io::Result<TcpListener> {
            let fd = std::os::fd::AsFd::as_fd(l).try_clone_to_owned()?;
            TcpListener::from_std(std::net::TcpListener::from(fd))
        };
        Ok(Listeners {
            outbound: again(&self.outbound)?,
            inbound: again(&self.inbound)?,
            inbound_plaintext: again(&self.inbound_plaintext)?,
            socks5: self.socks5.as_ref().map(again).transpose()?,
        })
    }
}

impl Proxy {
    /// Binds every listener. Fails (naming the address) if any port is taken.
    pub fn bind(
        cfg: ProxyConfig,
        state: StateStore,
        certs: SecretManager,
        metrics: Arc<TrafficMetrics>,
        drain: DrainWatcher,
    ) -> Result<Proxy, BindError> {
        let b = |addr: SocketAddr, transparent: bool, what: &'static str| {
            let opts =
                socket::ListenOptions { transparent, reuse_port: cfg.reuse_port, keepalive: cfg.socket.keepalive };
            socket::bind(addr, &opts).map_err(|source| BindError { what, addr, source })
        };
        let bound = Listeners {
            outbound: b(cfg.outbound_addr, true, "outbound (15001)")?,
            inbound: b(cfg.inbound_addr, cfg.orig_src, "inbound HBONE (15008)")?,
            inbound_plaintext: b(cfg.inbound_plaintext_addr, true, "inbound plaintext (15006)")?,
            socks5: match cfg.socks5_addr {
                Some(a) => Some(b(a, false, "SOCKS5 (15080)")?),
                None => None,
            },
        };
        let addr = |l: &TcpListener| l.local_addr().expect("bound listener has an address");
        let addrs = BoundAddrs {
            outbound: addr(&bound.outbound),
            inbound: addr(&bound.inbound),
            inbound_plaintext: addr(&bound.inbound_plaintext),
            socks5: bound.socks5.as_ref().map(addr),
        };
        let self_calls = SelfCalls::new(cfg.own_ports(&addrs), &addrs);
        let connector = Arc::new(crate::hbone::connect::HboneConnector::new(
            certs.clone(),
            cfg.crls.clone(),
            cfg.socket.clone(),
            cfg.connect_timeout,
            cfg.h2.clone(),
            drain.detached(),
        ));
        // Idle pooled connections must not hold up shutdown; streams in use are covered by
        // their proxied connection's own watcher.
        let pool = || hbone::pool::Pool::new(cfg.h2.clone(), connector.clone(), drain.detached());
        let (listeners, pools) = if cfg.shards.is_empty() {
            (vec![(None, bound)], vec![(None, pool())])
        } else {
            let (mut listeners, mut pools) = (Vec::new(), Vec::new());
            for shard in cfg.shards.iter() {
                // The pool's reaper, and the listeners' registrations, belong to the shard.
                let _entered = shard.handle().enter();
                let again = bound.register_again().map_err(|source| BindError {
                    what: "data-plane thread",
                    addr: addrs.outbound,
                    source,
                })?;
                listeners.push((Some(shard.handle().clone()), again));
                pools.push((Some(shard.index()), pool()));
            }
            (listeners, pools)
        };
        let inputs = Arc::new(ProxyInputs {
            cfg,
            state,
            certs,
            pools,
            drain: drain.detached(),
            metrics,
            connections: Arc::default(),
            outbound_connections: Arc::default(),
            self_calls,
            cert_lease: std::sync::Mutex::new(None),
        });
        Ok(Proxy { inputs, listeners, addrs })
    }

    pub fn addresses(&self) -> BoundAddrs {
        self.addrs
    }

    /// The shared connection context (e.g. to warm the certificate before serving).
    pub fn inputs(&self) -> Arc<ProxyInputs> {
        self.inputs.clone()
    }

    /// This proxy's open connections, for the admin dump.
    pub fn live_connections(&self) -> connections::LiveConnections {
        connections::LiveConnections {
            inbound: self.inputs.connections.clone(),
            outbound: self.inputs.outbound_connections.clone(),
        }
    }

    /// Serves every listener until `drain` is signalled; in-flight connections keep their
    /// own drain watchers so shutdown waits for them (up to the deadline).
    pub async fn run(self, drain: DrainWatcher) {
        let i = self.inputs;
        let mut tasks = tokio::task::JoinSet::new();
        for (shard, l) in self.listeners {
            let mut spawn = |task: futures_util::future::BoxFuture<'static, ()>| match &shard {
                Some(handle) => tasks.spawn_on(task, handle),
                None => tasks.spawn(task),
            };
            spawn(Box::pin(outbound::serve(l.outbound, i.clone(), drain.clone())));
            spawn(Box::pin(inbound::serve(l.inbound, i.clone(), drain.clone())));
            spawn(Box::pin(inbound_passthrough::serve(l.inbound_plaintext, i.clone(), drain.clone())));
            if let Some(l) = l.socks5 {
                spawn(Box::pin(socks5::serve(l, i.clone(), drain.clone())));
            }
        }
        tasks.spawn(connections::watch_policies(i.state.clone(), i.connections.clone(), drain.clone()));
        drop(drain);
        while tasks.join_next().await.is_some() {}
    }
}

/// A listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("failed to bind {what} listener on {addr}: {source}")]
pub struct BindError {
    pub what: &'static str,
    pub addr: SocketAddr,
    pub source: io::Error,
}

/// Accept loop shared by all listeners: stops on drain, survives accept errors (EMFILE…).
///
/// Connection tasks belong to the loop (a `JoinSet`): after the drain signal it waits for
/// them to finish on their own, and dropping the loop (aborting [`Proxy::run`], e.g. when an
/// in-pod proxy's drain deadline passes) closes whatever is still open.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, name: &'static str, drain: DrainWatcher, handle: F)
where
    F: Fn(tokio::net::TcpStream, SocketAddr, DrainWatcher) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut conns = tokio::task::JoinSet::new();
    {
        // Created once: the loop wakes at least twice per connection (accept, reap), and a
        // fresh drain future each time would clone the watch receiver and re-register with it.
        let drained = drain.signaled();
        tokio::pin!(drained);
        loop {
            tokio::select! {
                _ = &mut drained => {
                    tracing::info!(listener = name, "draining: stopped accepting");
                    break;
                }
                // Reap finished connections so the set only holds live ones.
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                (stream, peer) = socket::accept(&listener, name) => {
                    // TCP_NODELAY and keepalive come with the socket (set on the listener).
                    conns.spawn(handle(stream, peer, drain.clone()));
                }
            }
        }
    }
    drop(listener);
    drop(drain);
    while conns.join_next().await.is_some() {}
}

#[cfg(test)]
mod early_tests;
#[cfg(test)]
mod error_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-pod default: every listener on a wildcard, so no own IP is known.
    fn wildcard() -> SelfCalls {
        let any = |port| SocketAddr::from(([0, 0, 0, 0], port));
        let bound =
            BoundAddrs { outbound: any(15001), inbound: any(15008), inbound_plaintext: any(15006), socks5: None };
        SelfCalls::new([15001, 15006, 15008].into(), &bound)
    }

    #[test]
    fn inbound_refuses_own_ports_on_the_pod_ip_with_wildcard_binds() {
        let calls = wildcard();
        for port in [15001, 15006, 15008] {
            let pod = SocketAddr::from(([10, 1, 2, 3], port));
            assert!(calls.inbound(DestinationAddr::new(pod)), "{pod} would be dialled back into ztunnel");
        }
        assert!(
            !calls.inbound(DestinationAddr::new(SocketAddr::from(([10, 1, 2, 3], 8080)))),
            "the application's own port"
        );
    }

    #[test]
    fn outbound_only_refuses_our_own_addresses() {
        let calls = wildcard();
        assert!(calls.outbound(DestinationAddr::new(SocketAddr::from(([127, 0, 0, 1], 15008)))));
        // Another pod's HBONE port is a legitimate (if unusual) outbound destination.
        assert!(!calls.outbound(DestinationAddr::new(SocketAddr::from(([10, 9, 9, 9], 15008)))));
        let bound = BoundAddrs {
            outbound: SocketAddr::from(([10, 1, 2, 3], 15001)),
            inbound: SocketAddr::from(([10, 1, 2, 3], 15008)),
            inbound_plaintext: SocketAddr::from(([10, 1, 2, 3], 15006)),
            socks5: None,
        };
        let specific = SelfCalls::new([15001, 15006, 15008].into(), &bound);
        assert!(specific.outbound(DestinationAddr::new(SocketAddr::from(([10, 1, 2, 3], 15006)))));
    }
}
