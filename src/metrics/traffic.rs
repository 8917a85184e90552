//! `istio_tcp_*` connection metrics with Istio's standard labels, in upstream's order.
//!
//! Cost model: a connection resolves its label set once (peer labels come from a per-workload
//! cache, so the common case allocates nothing new) and looks its counters up once when it
//! opens and once when it closes. Nothing runs per byte: byte counts are added when the
//! connection finishes. Labels never carry addresses or ports, so the number of series is
//! bounded by workload pairs × services × response flags.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::identity::Identity;
use crate::state::{Name, ProxyState, Service, StateChange, StateStore, Workload};
use crate::util::sync::lock;

/// The value Istio uses for a label it cannot fill.
pub const UNKNOWN: &str = "unknown";

/// Which side of the connection is reporting.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Reporter {
    /// Outbound: we proxy for the client.
    Source,
    /// Inbound: we proxy for the server.
    Destination,
}

impl Reporter {
    pub fn as_str(self) -> &'static str {
        match self {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        }
    }
}

/// The per-workload half of a label set (source_* or destination_*).
///
/// Hashes as a digest of its fields taken once when it is built: every counter lookup hashes
/// a whole [`TrafficLabels`] (two peers and a service, ~20 strings), four times per connection,
/// and the halves are shared `Arc`s that never change once built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerLabels {
    pub workload: String,
    pub canonical_service: String,
    pub canonical_revision: String,
    pub namespace: String,
    pub principal: String,
    pub app: String,
    pub version: String,
    pub cluster: String,
    digest: u64,
}

impl std::hash::Hash for PeerLabels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.digest);
    }
}

/// A keyed digest of `parts` (the key is random per process, so peer-supplied label values
/// cannot be chosen to collide).
fn digest(parts: &[&str]) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    let mut h = KEY.get_or_init(Default::default).build_hasher();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() { UNKNOWN.to_string() } else { s.to_string() }
}

impl PeerLabels {
    /// Every label `unknown` (a peer we know nothing about).
    pub fn unknown() -> PeerLabels {
        let u = || UNKNOWN.to_string();
        PeerLabels::new([u(), u(), u(), u(), u(), u(), u(), u()])
    }

    /// workload, canonical service, canonical revision, namespace, principal, app, version,
    /// cluster.
    fn new(v: [String; 8]) -> PeerLabels {
        let digest = digest(&v.each_ref().map(String::as_str));
        let [workload, canonical_service, canonical_revision, namespace, principal, app, version, cluster] = v;
        PeerLabels {
            workload,
            canonical_service,
            canonical_revision,
            namespace,
            principal,
            app,
            version,
            cluster,
            digest,
        }
    }

    /// From a workload in the state. Workload name falls back to the pod name, as upstream.
    pub fn from_workload(w: &Workload) -> PeerLabels {
        let workload = if w.workload_name.is_empty() { &w.name } else { &w.workload_name };
        PeerLabels::new([
            or_unknown(workload),
            or_unknown(&w.canonical_name),
            or_unknown(&w.canonical_revision),
            or_unknown(&w.namespace),
            w.identity().to_string(),
            or_unknown(&w.canonical_name),
            or_unknown(&w.canonical_revision),
            or_unknown(&w.cluster_id),
        ])
    }

    /// A peer known only by its verified identity, plus what its baggage claimed.
    pub fn from_identity(id: &Identity, baggage: &crate::metrics::baggage::Baggage) -> PeerLabels {
        let b = |v: &Option<String>| v.as_deref().map(or_unknown).unwrap_or_else(|| UNKNOWN.into());
        PeerLabels::new([
            b(&baggage.workload_name),
            b(&baggage.service_name),
            b(&baggage.service_version),
            // The identity is verified; the baggage namespace is only a claim.
            or_unknown(id.namespace()),
            id.to_string(),
            b(&baggage.service_name),
            b(&baggage.service_version),
            b(&baggage.cluster),
        ])
    }
}

/// destination_service, destination_service_namespace, destination_service_name. Hashes as
/// a digest taken when built, as [`PeerLabels`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceLabels {
    pub hostname: String,
    pub namespace: String,
    pub name: String,
    digest: u64,
}

impl std::hash::Hash for ServiceLabels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.digest);
    }
}

impl ServiceLabels {
    pub fn unknown() -> ServiceLabels {
        ServiceLabels::new(UNKNOWN.into(), UNKNOWN.into(), UNKNOWN.into())
    }

    pub fn from_service(s: &Service) -> ServiceLabels {
        ServiceLabels::new(or_unknown(&s.hostname), or_unknown(&s.namespace), or_unknown(&s.name))
    }

    fn new(hostname: String, namespace: String, name: String) -> ServiceLabels {
        let digest = digest(&[&hostname, &namespace, &name]);
        ServiceLabels { hostname, namespace, name, digest }
    }
}

/// Istio's CommonTrafficLabels. Encoded by hand so the source and destination halves can be
/// shared `Arc`s (cloning a label set is then a handful of reference-count bumps).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct TrafficLabels {
    pub reporter: Reporter,
    pub source: Arc<PeerLabels>,
    pub destination_service: Arc<ServiceLabels>,
    pub destination: Arc<PeerLabels>,
    /// `-` when nothing went wrong.
    pub response_flags: &'static str,
    /// `mutual_tls` (HBONE) or `unknown` (plain TCP).
    pub connection_security_policy: &'static str,
}

impl EncodeLabelSet for TrafficLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        let (s, d, svc) = (&*self.source, &*self.destination, &*self.destination_service);
        let pairs: [(&str, &str); 23] = [
            ("reporter", self.reporter.as_str()),
            ("source_workload", &s.workload),
            ("source_canonical_service", &s.canonical_service),
            ("source_canonical_revision", &s.canonical_revision),
            ("source_workload_namespace", &s.namespace),
            ("source_principal", &s.principal),
            ("source_app", &s.app),
            ("source_version", &s.version),
            ("source_cluster", &s.cluster),
            ("destination_service", &svc.hostname),
            ("destination_service_namespace", &svc.namespace),
            ("destination_service_name", &svc.name),
            ("destination_workload", &d.workload),
            ("destination_canonical_service", &d.canonical_service),
            ("destination_canonical_revision", &d.canonical_revision),
            ("destination_workload_namespace", &d.namespace),
            ("destination_principal", &d.principal),
            ("destination_app", &d.app),
            ("destination_version", &d.version),
            ("destination_cluster", &d.cluster),
            ("request_protocol", "tcp"),
            ("response_flags", self.response_flags),
            ("connection_security_policy", self.connection_security_policy),
        ];
        for pair in pairs {
            pair.encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// Labels of the on-demand DNS counters: the source workload and the hostname resolved.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct OnDemandDnsLabels {
    pub source: Arc<PeerLabels>,
    pub hostname: String,
}

impl EncodeLabelSet for OnDemandDnsLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        let s = &*self.source;
        let pairs: [(&str, &str); 9] = [
            ("source_workload", &s.workload),
            ("source_canonical_service", &s.canonical_service),
            ("source_canonical_revision", &s.canonical_revision),
            ("source_workload_namespace", &s.namespace),
            ("source_principal", &s.principal),
            ("source_app", &s.app),
            ("source_version", &s.version),
            ("source_cluster", &s.cluster),
            ("hostname", &self.hostname),
        ];
        for pair in pairs {
            pair.encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ReporterLabel(Reporter);

impl EncodeLabelSet for ReporterLabel {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        ("reporter", self.0.as_str()).encode(encoder.encode_label())
    }
}

/// A workload and the labels built from it.
type CachedPeer = (Arc<Workload>, Arc<PeerLabels>);

/// Distinct baggage claims (workload, service, version, cluster) one identity may put into
/// labels. Series are never pruned, so each claim is memory and scrape size for good; a real
/// service account runs one workload with one or two versions at a time (a canary), so four
/// leaves room for that while a peer inventing values gains at most four.
const CLAIMS_PER_IDENTITY: usize = 4;
/// Identities whose claims are remembered. Verified identities are bounded by what the CA
/// signs, but not by us; past this, new identities get `unknown` claims.
const CLAIMING_IDENTITIES_MAX: usize = 4096;

/// A baggage value we are willing to use as a label: what Kubernetes allows in names and
/// label values (at most 253 characters of `[A-Za-z0-9._-]`). Anything else is `unknown`.
fn plausible(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .filter(|v| v.len() <= 253 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b)))
        .cloned()
}

/// Hard bound on the peer-label cache. Entries leave when their workload changes or goes
/// ([`TrafficMetrics::follow_state`]), so the cache holds at most the live workloads this node
/// talks to; past this bound (a mesh larger than it, all of it talking to this node) one entry
/// is evicted per insert, never the whole cache (clearing it made every connection of a large
/// mesh rebuild its labels: a thrash).
const PEER_CACHE_MAX: usize = 65_536;

/// The connection metric families. Shared by every listener.
pub struct TrafficMetrics {
    opened: Family<TrafficLabels, Counter>,
    closed: Family<TrafficLabels, Counter>,
    failed: Family<TrafficLabels, Counter>,
    sent_bytes: Family<TrafficLabels, Counter>,
    received_bytes: Family<TrafficLabels, Counter>,
    sockets_open: Family<ReporterLabel, Gauge>,
    /// Connections that resolved a hostname endpoint, and those the cache could not answer.
    /// Hostnames come from istiod's configuration, so the series stay bounded.
    on_demand_dns: Family<OnDemandDnsLabels, Counter>,
    on_demand_dns_cache_misses: Family<OnDemandDnsLabels, Counter>,
    /// workload uid (the workload's own shared copy) → (the workload the labels were built
    /// from, its labels). A changed workload is a new `Arc`, so a pointer mismatch means
    /// "rebuild"; change events remove entries sooner (see [`Self::follow_state`]).
    peer_cache: Mutex<HashMap<Name, CachedPeer>>,
    /// principal → the distinct claimed label sets accepted for it (see [`Self::claimed_peer`]).
    claims: Mutex<HashMap<String, Vec<Arc<PeerLabels>>>>,
    unknown_peer: Arc<PeerLabels>,
    unknown_service: Arc<ServiceLabels>,
}

impl fmt::Debug for TrafficMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrafficMetrics").finish_non_exhaustive()
    }
}

impl TrafficMetrics {
    /// Creates the families and registers them (names as upstream, `istio_` from the registry).
    pub fn register(registry: &mut Registry) -> Arc<TrafficMetrics> {
        let m = TrafficMetrics {
            opened: Family::default(),
            closed: Family::default(),
            failed: Family::default(),
            sent_bytes: Family::default(),
            received_bytes: Family::default(),
            sockets_open: Family::default(),
            on_demand_dns: Family::default(),
            on_demand_dns_cache_misses: Family::default(),
            peer_cache: Mutex::new(HashMap::new()),
            claims: Mutex::new(HashMap::new()),
            unknown_peer: Arc::new(PeerLabels::unknown()),
            unknown_service: Arc::new(ServiceLabels::unknown()),
        };
        registry.register("tcp_connections_opened", "The total number of TCP connections opened", m.opened.clone());
        registry.register("tcp_connections_closed", "The total number of TCP connections closed", m.closed.clone());
        registry.register(
            "tcp_connections_failed",
            "The total number of TCP connections that failed to establish (unstable)",
            m.failed.clone(),
        );
        registry.register(
            "tcp_sent_bytes",
            "The size of total bytes sent during response in case of a TCP connection",
            m.sent_bytes.clone(),
        );
        registry.register(
            "tcp_received_bytes",
            "The size of total bytes received during request in case of a TCP connection",
            m.received_bytes.clone(),
        );
        registry.register(
            "tcp_sockets_open",
            "The current number of open proxied TCP connections (unstable)",
            m.sockets_open.clone(),
        );
        registry.register(
            "on_demand_dns",
            "The total number of requests that used on-demand DNS (unstable)",
            m.on_demand_dns.clone(),
        );
        registry.register(
            "on_demand_dns_cache_misses",
            "The total number of cache misses for requests on-demand DNS (unstable)",
            m.on_demand_dns_cache_misses.clone(),
        );
        Arc::new(m)
    }

    /// Counts a connection from `source` that resolved `hostname` (upstream's names and labels).
    pub fn on_demand_dns(&self, source: &Arc<Workload>, hostname: &str, cache_miss: bool) {
        let labels = OnDemandDnsLabels { source: self.peer(source), hostname: or_unknown(hostname) };
        self.on_demand_dns.get_or_create(&labels).inc();
        if cache_miss {
            self.on_demand_dns_cache_misses.get_or_create(&labels).inc();
        }
    }

    /// Labels for a workload, from the cache when the workload has not changed.
    pub fn peer(&self, w: &Arc<Workload>) -> Arc<PeerLabels> {
        let mut cache = lock(&self.peer_cache);
        if let Some((cached, labels)) = cache.get(w.uid.as_str())
            && Arc::ptr_eq(cached, w)
        {
            return labels.clone();
        }
        let labels = Arc::new(PeerLabels::from_workload(w));
        if cache.len() >= PEER_CACHE_MAX
            && !cache.contains_key(w.uid.as_str())
            && let Some(victim) = cache.keys().next().cloned()
        {
            cache.remove(&victim);
        }
        cache.insert(w.uid.clone(), (w.clone(), labels.clone()));
        labels
    }

    /// Drops the cached labels of workload `uid` (it changed or left the mesh).
    pub fn forget_peer(&self, uid: &str) {
        lock(&self.peer_cache).remove(uid);
    }

    /// Keeps only the cached labels of workloads `state` still holds unchanged.
    pub fn retain_live_peers(&self, state: &ProxyState) {
        lock(&self.peer_cache)
            .retain(|uid, (w, _)| state.workload_by_uid(uid).is_some_and(|live| Arc::ptr_eq(&live, w)));
    }

    pub fn peer_cache_len(&self) -> usize {
        lock(&self.peer_cache).len()
    }

    /// Evicts cached peer labels as the state changes, until the store is dropped: a changed
    /// or removed workload's entry goes at once (it could never be hit again, and it kept the
    /// old workload alive); after a full replacement, or when this fell behind the change
    /// stream, entries are checked against the current snapshot. Ends on drain.
    /// Subscribes at once (not when first polled), so no change published after this call is
    /// missed.
    pub fn follow_state(
        self: Arc<Self>,
        store: StateStore,
        drain: crate::drain::DrainWatcher,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        use tokio::sync::broadcast::error::RecvError;
        let mut changes = store.subscribe_changes();
        async move {
            loop {
                let next = tokio::select! {
                    next = changes.recv() => next,
                    _ = drain.signaled() => return,
                };
                match next {
                    Ok(set) => {
                        for change in &set.changes {
                            match change {
                                StateChange::WorkloadChanged { uid, .. } | StateChange::WorkloadRemoved { uid } => {
                                    self.forget_peer(uid.as_str())
                                }
                                StateChange::Replaced => self.retain_live_peers(&store.snapshot()),
                                _ => {}
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => self.retain_live_peers(&store.snapshot()),
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }

    /// Labels for a peer known only by its verified identity, from what its `baggage`
    /// claims. The claims are peer input that would otherwise mint series without bound: only
    /// name-like values are used, and each identity gets at most [`CLAIMS_PER_IDENTITY`]
    /// distinct label sets; beyond that its connections are labelled with the identity alone
    /// (claims `unknown`). Capped rather than checked against the state, because the peers
    /// that land here are exactly those the state does not place (host network, VMs, other
    /// networks): there is nothing to check them against.
    pub fn claimed_peer(&self, id: &Identity, baggage: &crate::metrics::baggage::Baggage) -> Arc<PeerLabels> {
        let clean = crate::metrics::baggage::Baggage {
            cluster: plausible(&baggage.cluster),
            namespace: plausible(&baggage.namespace),
            workload_name: plausible(&baggage.workload_name),
            service_name: plausible(&baggage.service_name),
            service_version: plausible(&baggage.service_version),
        };
        let claimed = PeerLabels::from_identity(id, &clean);
        let identity_only = || Arc::new(PeerLabels::from_identity(id, &Default::default()));
        let mut claims = lock(&self.claims);
        if !claims.contains_key(&claimed.principal) && claims.len() >= CLAIMING_IDENTITIES_MAX {
            return identity_only();
        }
        let seen = claims.entry(claimed.principal.clone()).or_default();
        if let Some(known) = seen.iter().find(|l| ***l == claimed) {
            return known.clone();
        }
        if seen.len() >= CLAIMS_PER_IDENTITY {
            tracing::debug!(identity = %id, "more distinct baggage claims than allowed; labelling by identity only");
            return identity_only();
        }
        let labels = Arc::new(claimed);
        seen.push(labels.clone());
        labels
    }

    pub fn unknown_peer(&self) -> Arc<PeerLabels> {
        self.unknown_peer.clone()
    }

    pub fn unknown_service(&self) -> Arc<ServiceLabels> {
        self.unknown_service.clone()
    }

    /// Counts a connection as opened; the returned guard records its close.
    pub fn open(self: &Arc<Self>, labels: TrafficLabels) -> OpenConnection {
        self.opened.get_or_create(&labels).inc();
        let socket = self.sockets_open.get_or_create_owned(&ReporterLabel(labels.reporter));
        socket.inc();
        OpenConnection { metrics: self.clone(), labels, socket, closed: false }
    }
}

/// A connection counted as opened and not yet closed. Dropping it without [`close`] still
/// counts the close (as a failure), so opened and closed always balance.
///
/// [`close`]: OpenConnection::close
pub struct OpenConnection {
    metrics: Arc<TrafficMetrics>,
    labels: TrafficLabels,
    socket: Gauge,
    closed: bool,
}

impl fmt::Debug for OpenConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenConnection").field("labels", &self.labels).finish_non_exhaustive()
    }
}

impl OpenConnection {
    /// Records the close. `sent`/`received` are bytes client→upstream / upstream→client as the
    /// proxy saw them; `failure` is the response flag if the connection failed.
    ///
    /// Byte direction follows Istio: the destination reports request bytes as received and
    /// response bytes as sent; the source reports them the other way round (Istio's
    /// long-standing inversion, istio/istio#32399, which dashboards depend on).
    pub fn close(mut self, sent: u64, received: u64, failure: Option<&'static str>) {
        self.closed = true;
        let mut labels = self.labels.clone();
        if let Some(flag) = failure {
            labels.response_flags = flag;
            self.metrics.failed.get_or_create(&labels).inc();
        }
        let m = &self.metrics;
        m.closed.get_or_create(&labels).inc();
        let (sent_metric, received_metric) = match labels.reporter {
            Reporter::Source => (sent, received),
            Reporter::Destination => (received, sent),
        };
        if sent_metric > 0 {
            m.sent_bytes.get_or_create(&labels).inc_by(sent_metric);
        }
        if received_metric > 0 {
            m.received_bytes.get_or_create(&labels).inc_by(received_metric);
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.socket.dec();
        if !self.closed {
            let mut labels = self.labels.clone();
            labels.response_flags = "CONNECT";
            self.metrics.failed.get_or_create(&labels).inc();
            self.metrics.closed.get_or_create(&labels).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{MetricsBuilder, encode};

    fn workload(name: &str) -> Arc<Workload> {
        let mut w = Workload::new(format!("uid-{name}"), "default", name, vec![]);
        w.trust_domain = "cluster.local".into();
        w.service_account = name.into();
        w.canonical_name = format!("{name}-app").into();
        w.canonical_revision = "v1".into();
        w.cluster_id = "Kubernetes".into();
        Arc::new(w)
    }

    #[test]
    fn equal_label_sets_built_apart_share_a_series() {
        use std::hash::{BuildHasher, RandomState};
        let (one, two) =
            (PeerLabels::from_workload(&workload("client")), PeerLabels::from_workload(&workload("client")));
        let h = RandomState::new();
        assert_eq!(one, two);
        assert_eq!(h.hash_one(&one), h.hash_one(&two));
        let other = PeerLabels::from_workload(&workload("server"));
        assert_ne!(one, other);
        assert_ne!(h.hash_one(&one), h.hash_one(&other));
        // A counter looked up with a separately built, equal label set is the same counter.
        let mut b = MetricsBuilder::new("t");
        let m = TrafficMetrics::register(b.registry());
        let labels = |p: PeerLabels| TrafficLabels {
            reporter: Reporter::Source,
            source: Arc::new(p),
            destination_service: Arc::new(ServiceLabels::unknown()),
            destination: m.unknown_peer(),
            response_flags: "-",
            connection_security_policy: "mutual_tls",
        };
        m.opened.get_or_create(&labels(one)).inc();
        assert_eq!(m.opened.get_or_create(&labels(two)).get(), 1);
    }

    #[test]
    fn labels_in_upstream_order_and_bytes_direction() {
        let mut b = MetricsBuilder::new("t");
        let m = TrafficMetrics::register(b.registry());
        let reg = b.finish();
        let (client, server) = (workload("client"), workload("server"));
        let labels = TrafficLabels {
            reporter: Reporter::Destination,
            source: m.peer(&client),
            destination_service: m.unknown_service(),
            destination: m.peer(&server),
            response_flags: "-",
            connection_security_policy: "mutual_tls",
        };
        let conn = m.open(labels);
        let text = encode(&reg);
        assert!(text.contains("istio_tcp_sockets_open{reporter=\"destination\"} 1"), "{text}");
        conn.close(100, 7, None);
        let text = encode(&reg);
        let line = text.lines().find(|l| l.starts_with("istio_tcp_received_bytes_total{")).unwrap();
        assert!(line.ends_with(" 100"), "request bytes are received at the destination: {line}");
        let keys: Vec<&str> = line[line.find('{').unwrap() + 1..line.rfind('}').unwrap()]
            .split("\",")
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(keys[..3], ["reporter", "source_workload", "source_canonical_service"]);
        assert_eq!(keys.last(), Some(&"connection_security_policy"));
        assert!(line.contains("source_principal=\"spiffe://cluster.local/ns/default/sa/client\""));
        assert!(line.contains("destination_app=\"server-app\""));
        assert!(text.contains("istio_tcp_sockets_open{reporter=\"destination\"} 0"), "{text}");
    }

    #[test]
    fn peer_cache_follows_state_updates() {
        let m = TrafficMetrics::register(&mut Registry::default());
        let w = workload("a");
        let first = m.peer(&w);
        assert!(Arc::ptr_eq(&first, &m.peer(&w)), "unchanged workload hits the cache");
        let mut changed = (*w).clone();
        changed.canonical_revision = "v2".into();
        let changed = Arc::new(changed);
        assert_eq!(m.peer(&changed).version, "v2");
    }

    /// Lets the spawned follower run until `done` holds (current-thread runtime: it runs
    /// only when this task yields).
    async fn until(done: impl Fn() -> bool) {
        for _ in 0..1000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("condition not reached");
    }

    /// Lets the follower handle what is queued (events about entries not cached yet).
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn peer_cache_forgets_changed_and_removed_workloads() {
        let m = TrafficMetrics::register(&mut Registry::default());
        let store = StateStore::default();
        let (_trigger, drain) = crate::drain::new();
        let follower = tokio::spawn(m.clone().follow_state(store.clone(), drain));
        let add = |name: &str| {
            let w = Workload::clone(&workload(name));
            store.update(|st, log| st.upsert_workload(w, &Default::default(), log))
        };
        let a = add("a");
        let b = add("b");
        settle().await;
        m.peer(&a);
        m.peer(&b);
        assert_eq!(m.peer_cache_len(), 2);
        // b's labels change: its entry goes (it could never be hit again).
        let mut b2 = Workload::clone(&b);
        b2.canonical_revision = "v2".into();
        store.update(|st, log| st.upsert_workload(b2, &Default::default(), log));
        until(|| m.peer_cache_len() == 1).await;
        store.update(|st, log| st.remove_workload("uid-a", log));
        until(|| m.peer_cache_len() == 0).await;
        // A full replacement keeps only entries the new state still holds unchanged: here
        // the same snapshot again, so c's stays and the removed a's (cached late) goes.
        let c = add("c");
        settle().await;
        let labels = m.peer(&c);
        m.peer(&a);
        assert_eq!(m.peer_cache_len(), 2);
        store.replace(ProxyState::clone(&store.snapshot()));
        until(|| m.peer_cache_len() == 1).await;
        assert!(Arc::ptr_eq(&m.peer(&c), &labels), "c's entry survived");
        follower.abort();
    }

    #[test]
    fn peer_cache_is_bounded_without_being_cleared() {
        let m = TrafficMetrics::register(&mut Registry::default());
        let first = workload("w0");
        m.peer(&first);
        for i in 1..PEER_CACHE_MAX + 100 {
            m.peer(&workload(&format!("w{i}")));
        }
        assert_eq!(m.peer_cache_len(), PEER_CACHE_MAX, "one evicted per insert past the bound");
    }

    #[test]
    fn baggage_claims_are_bounded_per_identity() {
        use crate::metrics::baggage::Baggage;
        let m = TrafficMetrics::register(&mut Registry::default());
        let id = Identity::new("cluster.local", "default", "vm");
        let claim = |name: &str| Baggage { workload_name: Some(name.into()), ..Default::default() };
        // A canary's two versions are kept, and repeats share one label set.
        let (a, b) = (m.claimed_peer(&id, &claim("web-v1")), m.claimed_peer(&id, &claim("web-v2")));
        assert_eq!((a.workload.as_str(), b.workload.as_str()), ("web-v1", "web-v2"));
        assert!(Arc::ptr_eq(&a, &m.claimed_peer(&id, &claim("web-v1"))));
        // A peer inventing values gets a few, then only its identity.
        let workloads: std::collections::HashSet<String> =
            (0..1000).map(|i| m.claimed_peer(&id, &claim(&format!("made-up-{i}"))).workload.clone()).collect();
        assert_eq!(workloads.len(), CLAIMS_PER_IDENTITY - 2 + 1, "{workloads:?}");
        assert!(workloads.contains(UNKNOWN));
        let capped = m.claimed_peer(&id, &claim("made-up-5000"));
        assert_eq!(capped.principal, id.to_string(), "the verified identity is always labelled");
        // Another identity has its own allowance.
        let other = Identity::new("cluster.local", "default", "other");
        assert_eq!(m.claimed_peer(&other, &claim("api")).workload, "api");
        // Values no Kubernetes name can have are not labels.
        let junk = Identity::new("cluster.local", "default", "junk");
        for bad in ["a b", "x\"y", &"z".repeat(300), "ünï"] {
            assert_eq!(m.claimed_peer(&junk, &claim(bad)).workload, UNKNOWN, "{bad:?}");
        }
    }

    #[test]
    fn dropped_connection_counts_as_failed() {
        let m = TrafficMetrics::register(&mut Registry::default());
        let labels = TrafficLabels {
            reporter: Reporter::Source,
            source: m.unknown_peer(),
            destination_service: m.unknown_service(),
            destination: m.unknown_peer(),
            response_flags: "-",
            connection_security_policy: "unknown",
        };
        drop(m.open(labels.clone()));
        let mut failed = labels;
        failed.response_flags = "CONNECT";
        assert_eq!(m.failed.get_or_create(&failed).get(), 1);
        assert_eq!(m.closed.get_or_create(&failed).get(), 1);
    }
}
