//! The delta ADS client: subscribes to Address and Authorization from istiod, keeps
//! [`XdsCache`] and the [`StateStore`] in sync, and reconnects forever.
//!
//! Protocol (as upstream): one `DeltaAggregatedResources` stream; an initial wildcard request
//! per type carrying the node and, after a reconnect, `initial_resource_versions`; every
//! response is answered with an ACK (its nonce) or, if any resource failed, a NACK (nonce +
//! `error_detail`) — the valid resources of a NACKed response are still applied. While
//! disconnected the last installed state stays in force. Reconnects back off from 10 ms,
//! doubling to 15 s, and the backoff resets once a stream delivers a response.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prost_types::{Struct, Value, value::Kind};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::cache::{Rejected, XdsCache};
use super::demand::Demander;
use super::metrics::{Termination, XdsMetrics};
use crate::control_plane::auth::Credentials;
use crate::control_plane::channel::{self, ControlPlaneEndpoint};
use crate::drain::DrainWatcher;
use crate::proto::discovery::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Node, Status,
    aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
};
use crate::proto::{ADDRESS_TYPE, AUTHORIZATION_TYPE};
use crate::readiness::ReadyTask;
use crate::state::StateStore;
use crate::util::backoff::Backoff;

const INITIAL_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// Largest xDS response we decode: upstream's bound. A mesh's whole Address set arrives in
/// one response, so this is generous; unbounded, a control plane (or whoever holds its
/// connection) could make us allocate any amount.
pub const MAX_MESSAGE_BYTES: usize = 200 * 1024 * 1024;
/// gRPC status code INVALID_ARGUMENT, used in NACK error details.
const INVALID_ARGUMENT: i32 = 3;

/// The types ztunnel subscribes to, in request order.
pub const SUBSCRIBED_TYPES: [&str; 2] = [ADDRESS_TYPE, AUTHORIZATION_TYPE];

/// Counters for the xDS client (the metrics module exports them).
#[derive(Debug, Default)]
pub struct XdsStats {
    pub connections: AtomicU64,
    pub connection_failures: AtomicU64,
    pub responses: AtomicU64,
    pub acks: AtomicU64,
    pub nacks: AtomicU64,
    pub rejected_resources: AtomicU64,
}

/// How to reach istiod and who we are.
#[derive(Debug, Clone)]
pub struct XdsClientConfig {
    pub endpoint: ControlPlaneEndpoint,
    pub credentials: Credentials,
    pub node: Node,
}

/// Node identity fields (upstream `node()`).
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub instance_ip: Option<String>,
    pub pod_name: String,
    pub pod_namespace: String,
    pub node_name: Option<String>,
    /// ISTIO_META_* with the prefix stripped.
    pub metadata: BTreeMap<String, String>,
    /// ISTIO_METAJSON_*.
    pub metadata_json: BTreeMap<String, serde_json::Value>,
}

fn json_to_value(v: &serde_json::Value) -> Value {
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => {
            Kind::ListValue(prost_types::ListValue { values: a.iter().map(json_to_value).collect() })
        }
        serde_json::Value::Object(o) => {
            Kind::StructValue(Struct { fields: o.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect() })
        }
    };
    Value { kind: Some(kind) }
}

fn string_value(s: &str) -> Value {
    Value { kind: Some(Kind::StringValue(s.to_string())) }
}

/// Builds the xDS node as upstream does:
/// id `ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`, metadata NAME, NAMESPACE,
/// INSTANCE_IPS, NODE_NAME plus ISTIO_META_* and ISTIO_METAJSON_*.
pub fn node(info: &NodeInfo) -> Node {
    let ip = info.instance_ip.clone().unwrap_or_else(|| "1.1.1.1".to_string());
    let id = format!("ztunnel~{ip}~{}.{}~{}.svc.cluster.local", info.pod_name, info.pod_namespace, info.pod_namespace);
    let mut fields = BTreeMap::new();
    for (k, v) in &info.metadata {
        fields.insert(k.clone(), string_value(v));
    }
    for (k, v) in &info.metadata_json {
        fields.insert(k.clone(), json_to_value(v));
    }
    fields.insert("NAME".into(), string_value(&info.pod_name));
    fields.insert("NAMESPACE".into(), string_value(&info.pod_namespace));
    fields.insert("INSTANCE_IPS".into(), string_value(&ip));
    if let Some(n) = &info.node_name {
        fields.insert("NODE_NAME".into(), string_value(n));
    }
    Node {
        id,
        cluster: String::new(),
        metadata: Some(Struct { fields }),
        build_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Backoff between reconnects: 10 ms doubling to 15 s (upstream's schedule), jittered.
pub const RECONNECT_BACKOFF: Backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);

/// Builds the ACK or NACK for a response. Pure, so the bookkeeping is unit-testable.
pub fn reply(type_url: &str, nonce: &str, rejected: &[Rejected]) -> DeltaDiscoveryRequest {
    let error_detail = (!rejected.is_empty()).then(|| Status {
        code: INVALID_ARGUMENT,
        message: rejected.iter().map(|r| format!("{}: {}", r.name, r.reason)).collect::<Vec<_>>().join("; "),
        details: vec![],
    });
    DeltaDiscoveryRequest {
        type_url: type_url.to_string(),
        response_nonce: nonce.to_string(),
        error_detail,
        ..Default::default()
    }
}

/// The first request of a stream for one type: node and known versions; a wildcard
/// subscription, unless `demanded` is given (on-demand Address): then subscribe to nothing but
/// what was demanded so far.
pub fn initial_request(
    type_url: &str,
    node: &Node,
    cache: &XdsCache,
    demanded: Option<&[String]>,
) -> DeltaDiscoveryRequest {
    let mut versions = cache.versions(type_url);
    let (subscribe, unsubscribe) = match demanded {
        // Empty on the first request = wildcard (every resource of the type), as upstream sends.
        None => (vec![], vec![]),
        Some(names) => {
            // Delta xDS cannot say "nothing": an empty first subscription means wildcard. As
            // upstream, subscribe and unsubscribe `*` in one request. istiod adds the names of
            // `initial_resource_versions` to the subscription, so what we demanded (answered or
            // not, held or known absent: version "") is restored with what istiod pushed us.
            for n in names {
                versions.entry(n.clone()).or_default();
            }
            (vec!["*".to_string()], vec!["*".to_string()])
        }
    };
    DeltaDiscoveryRequest {
        node: Some(node.clone()),
        type_url: type_url.to_string(),
        resource_names_subscribe: subscribe,
        resource_names_unsubscribe: unsubscribe,
        initial_resource_versions: versions,
        ..Default::default()
    }
}

/// An on-demand subscription to more Address names: no nonce (a spontaneous request, which
/// istiod answers with those names' resources, or lists them as removed).
pub fn demand_request(names: Vec<String>) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest { type_url: ADDRESS_TYPE.to_string(), resource_names_subscribe: names, ..Default::default() }
}

/// The names an Address response answers: resource names with their aliases (istiod lists
/// the `network/IP` names a workload or service answers there), and the removed names.
pub fn answered_names(resp: &DeltaDiscoveryResponse) -> (Vec<String>, Vec<String>) {
    let present = resp.resources.iter().flat_map(|r| std::iter::once(&r.name).chain(&r.aliases)).cloned().collect();
    (present, resp.removed_resources.clone())
}

/// Runs the client until drain.
pub struct XdsClient {
    cfg: XdsClientConfig,
    store: StateStore,
    cache: XdsCache,
    stats: Arc<XdsStats>,
    metrics: Arc<XdsMetrics>,
    ready: Option<ReadyTask>,
    /// Types that have delivered their first response (for readiness).
    synced: Vec<&'static str>,
    /// Flips to true once every type has delivered its first response.
    synced_tx: tokio::sync::watch::Sender<bool>,
    /// XDS_ON_DEMAND: Address names are subscribed one by one as the data path misses them.
    on_demand: Option<Demander>,
}

#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error(transparent)]
    Connect(#[from] channel::ControlPlaneError),
    #[error("credentials: {0}")]
    Auth(#[from] crate::control_plane::auth::AuthError),
    #[error("stream: {0}")]
    Grpc(String),
    #[error("xDS response over the {limit}-byte limit, not applied ({detail})")]
    TooLarge { limit: usize, detail: String },
}

/// Names the one stream error an operator must act on (istiod pushes more than we accept,
/// and will again after every reconnect) instead of burying it among transient ones.
fn stream_error(s: tonic::Status) -> StreamError {
    if s.code() == tonic::Code::OutOfRange && s.message().contains("message length too large") {
        StreamError::TooLarge { limit: MAX_MESSAGE_BYTES, detail: s.message().to_string() }
    } else {
        StreamError::Grpc(s.to_string())
    }
}

impl XdsClient {
    pub fn new(cfg: XdsClientConfig, store: StateStore, ready: ReadyTask) -> XdsClient {
        XdsClient {
            cfg,
            store,
            cache: XdsCache::new(),
            stats: Arc::default(),
            metrics: Arc::default(),
            ready: Some(ready),
            synced: Vec::new(),
            synced_tx: tokio::sync::watch::channel(false).0,
            on_demand: None,
        }
    }

    /// Subscribes to Address on demand (XDS_ON_DEMAND): nothing at first, then what
    /// `demander` is asked for. Readiness then waits only for Authorization, as upstream:
    /// an on-demand type has nothing to wait for.
    pub fn with_on_demand(mut self, demander: Demander) -> XdsClient {
        self.on_demand = Some(demander);
        self
    }

    /// The types whose first response readiness waits for.
    fn expected_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        SUBSCRIBED_TYPES.into_iter().filter(|t| self.on_demand.is_none() || *t != ADDRESS_TYPE)
    }

    /// Reports into registered Prometheus counters instead of private ones.
    pub fn with_metrics(mut self, metrics: Arc<XdsMetrics>) -> XdsClient {
        self.metrics = metrics;
        self
    }

    /// Becomes true after the first full sync (every subscribed type answered once).
    pub fn synced(&self) -> tokio::sync::watch::Receiver<bool> {
        self.synced_tx.subscribe()
    }

    pub fn stats(&self) -> Arc<XdsStats> {
        self.stats.clone()
    }

    pub async fn run(mut self, drain: DrainWatcher) {
        let mut backoff = RECONNECT_BACKOFF;
        loop {
            let result = tokio::select! {
                _ = drain.signaled() => {
                    self.metrics.terminated(Termination::Complete);
                    return;
                }
                r = self.run_stream(&mut backoff) => r,
            };
            self.stats.connection_failures.fetch_add(1, Ordering::Relaxed);
            self.metrics.terminated(match &result {
                Ok(()) => Termination::Reconnect,
                Err(StreamError::Grpc(_) | StreamError::TooLarge { .. }) => Termination::Error,
                Err(_) => Termination::ConnectionError,
            });
            let delay = backoff.next_delay();
            match result {
                Ok(()) => {
                    tracing::warn!(address = %self.cfg.endpoint.address, ?delay, "xDS stream closed by server; reconnecting (keeping last state)")
                }
                Err(e @ StreamError::TooLarge { .. }) => {
                    tracing::error!(address = %self.cfg.endpoint.address, ?delay, "xDS stream failed: {e}; reconnecting (keeping last state)")
                }
                Err(e) => {
                    tracing::warn!(address = %self.cfg.endpoint.address, ?delay, "xDS stream failed: {e}; reconnecting (keeping last state)")
                }
            }
            tokio::select! {
                _ = drain.signaled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn run_stream(&mut self, backoff: &mut Backoff) -> Result<(), StreamError> {
        let channel = self.cfg.endpoint.connect().await?;
        let (tx, rx) = mpsc::channel::<DeltaDiscoveryRequest>(16);
        let demanded = self.on_demand.as_ref().map(Demander::resubscribe);
        for t in SUBSCRIBED_TYPES {
            let names = demanded.as_deref().filter(|_| t == ADDRESS_TYPE);
            tx.send(initial_request(t, &self.cfg.node, &self.cache, names)).await.expect("receiver alive");
        }
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        self.cfg.credentials.apply(request.metadata_mut()).await?;
        let mut client = AggregatedDiscoveryServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        let mut responses = client
            .delta_aggregated_resources(request)
            .await
            .map_err(|s| StreamError::Grpc(s.to_string()))?
            .into_inner();
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        tracing::info!(address = %self.cfg.endpoint.address, "xDS stream established");
        loop {
            // Drained on every turn, not only on a wake-up: a wake-up that lands while the
            // select below takes a response is then still served.
            if let Some(d) = &self.on_demand {
                let names = d.take_queue();
                if !names.is_empty() {
                    tracing::info!(?names, "on-demand xDS request");
                    d.metrics().count("requested", names.len() as u64);
                    if tx.send(demand_request(names)).await.is_err() {
                        return Err(StreamError::Grpc("request stream closed".into()));
                    }
                }
            }
            let next = match &self.on_demand {
                None => responses.message().await,
                Some(d) => tokio::select! {
                    r = responses.message() => r,
                    _ = d.queued() => continue,
                },
            };
            let resp = match next {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(()),
                Err(s) => return Err(stream_error(s)),
            };
            backoff.reset();
            let reply = self.handle(resp);
            if tx.send(reply).await.is_err() {
                return Err(StreamError::Grpc("request stream closed".into()));
            }
        }
    }

    /// Applies one response and returns the ACK/NACK to send.
    fn handle(&mut self, resp: DeltaDiscoveryResponse) -> DeltaDiscoveryRequest {
        self.stats.responses.fetch_add(1, Ordering::Relaxed);
        let type_url = resp.type_url.clone();
        let subscribed = SUBSCRIBED_TYPES.contains(&type_url.as_str());
        // Never the peer's own string as a label value for a type we did not ask for: that
        // would let it mint series.
        self.metrics.message(if subscribed { &type_url } else { "unsubscribed" }, prost::Message::encoded_len(&resp));
        if !subscribed {
            let rejected = vec![Rejected { name: "*".into(), reason: format!("unsubscribed type {type_url}") }];
            self.stats.nacks.fetch_add(1, Ordering::Relaxed);
            self.metrics.nacked("unsubscribed");
            return reply(&type_url, &resp.nonce, &rejected);
        }
        let answered = (type_url == ADDRESS_TYPE && self.on_demand.is_some()).then(|| answered_names(&resp));
        let outcome = self.cache.apply(&type_url, resp.resources, &resp.removed_resources);
        let changes = self.cache.take_changes();
        let state = self.cache.snapshot();
        tracing::info!(
            type_url = %type_url,
            applied = outcome.applied,
            removed = outcome.removed,
            rejected = outcome.rejected.len(),
            changes = changes.len(),
            workloads = state.workload_count(),
            services = state.service_count(),
            policies = state.policy_count(),
            "xDS update applied"
        );
        // Published even when nothing changed: the version bump is what waiters on "the
        // first response of each type" observe.
        self.store.publish(state, changes);
        // Only after the publish: a woken waiter looks the name up in the new snapshot.
        if let (Some(d), Some((present, removed))) = (&self.on_demand, answered) {
            d.answered(&present, &removed);
        }
        for r in &outcome.rejected {
            tracing::error!(type_url = %type_url, resource = %r.name, "rejected xDS resource: {}", r.reason);
        }
        self.stats.rejected_resources.fetch_add(outcome.rejected.len() as u64, Ordering::Relaxed);
        if outcome.rejected.is_empty() {
            self.stats.acks.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.nacks.fetch_add(1, Ordering::Relaxed);
            self.metrics.nacked(&type_url);
        }
        self.mark_synced(&type_url);
        reply(&type_url, &resp.nonce, &outcome.rejected)
    }

    fn mark_synced(&mut self, type_url: &str) {
        if let Some(t) = SUBSCRIBED_TYPES.iter().find(|t| **t == type_url)
            && !self.synced.contains(t)
        {
            self.synced.push(t);
        }
        let pending: Vec<&str> = self.expected_types().filter(|t| !self.synced.contains(t)).collect();
        if pending.is_empty() {
            if let Some(r) = self.ready.take() {
                tracing::info!("initial xDS sync complete");
                r.done();
                self.synced_tx.send_replace(true);
            }
        } else if self.ready.is_some() {
            tracing::info!(?pending, "waiting for the first xDS response of each type");
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
