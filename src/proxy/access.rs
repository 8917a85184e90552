//! Access log: one line per finished connection (target `access`), with the fields upstream
//! ztunnel logs, so log pipelines keep working when binaries are swapped — and the same
//! record drives the `istio_tcp_*` metrics: [`ConnectionLog::opened`] counts the connection
//! (once the peers are known), [`ConnectionLog::finish`] counts its close, bytes and failure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::metrics::traffic::{OpenConnection, PeerLabels, Reporter, ServiceLabels, TrafficLabels, TrafficMetrics};
use crate::proxy::copy::Transferred;
use crate::state::{Service, Workload};

/// Direction of a proxied connection, as logged.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// One end of a connection as the access line names it (`*.workload`, `*.namespace`,
/// `*.identity`). It holds what the connection already has (the workload's `Arc`, the peer's
/// identity) and is turned into text only when a line is written, which at the default
/// `access=info` is once per connection and with access logging off never.
#[derive(Debug, Clone, Default)]
pub enum LoggedPeer {
    #[default]
    Unknown,
    /// A workload from the state; `identity` says whether its identity is logged too (not
    /// for a plain-TCP destination, where nothing verified it).
    Workload { workload: Arc<Workload>, identity: bool },
    /// A peer known only by its verified certificate (inbound source).
    Identity(crate::identity::Identity),
}

impl LoggedPeer {
    pub fn workload(w: &Arc<Workload>, identity: bool) -> LoggedPeer {
        LoggedPeer::Workload { workload: w.clone(), identity }
    }

    fn name(&self) -> &str {
        match self {
            LoggedPeer::Workload { workload, .. } => &workload.name,
            _ => "-",
        }
    }

    fn namespace(&self) -> &str {
        match self {
            LoggedPeer::Workload { workload, .. } => &workload.namespace,
            _ => "-",
        }
    }

    fn identity(&self) -> String {
        match self {
            LoggedPeer::Workload { workload, identity: true } => workload.identity().to_string(),
            LoggedPeer::Identity(id) => id.to_string(),
            _ => "-".into(),
        }
    }
}

/// Facts about one connection, filled in as they become known.
#[derive(Debug)]
pub struct ConnectionLog {
    pub direction: Direction,
    pub src_addr: SocketAddr,
    pub src: LoggedPeer,
    pub dst_addr: Option<SocketAddr>,
    pub dst_hbone_addr: Option<SocketAddr>,
    pub dst: LoggedPeer,
    /// True when the connection is carried over HBONE (mTLS) on our side.
    pub mtls: bool,
    metrics: Arc<TrafficMetrics>,
    src_labels: Option<Arc<PeerLabels>>,
    dst_labels: Option<Arc<PeerLabels>>,
    dst_service: Option<Arc<ServiceLabels>>,
    open: Option<OpenConnection>,
    start: Instant,
}

impl ConnectionLog {
    pub fn new(direction: Direction, src: super::SourceAddr, metrics: &Arc<TrafficMetrics>) -> Self {
        ConnectionLog {
            direction,
            src_addr: src.get(),
            src: LoggedPeer::Unknown,
            dst_addr: None,
            dst_hbone_addr: None,
            dst: LoggedPeer::Unknown,
            mtls: false,
            metrics: metrics.clone(),
            src_labels: None,
            dst_labels: None,
            dst_service: None,
            open: None,
            start: Instant::now(),
        }
    }

    /// Metric labels for the source: a workload from the state.
    pub fn source_workload(&mut self, w: &Arc<Workload>) {
        self.src_labels = Some(self.metrics.peer(w));
    }

    /// Metric labels for a source we only know by identity and baggage (bounded: see
    /// [`TrafficMetrics::claimed_peer`]).
    pub fn source_claims(&mut self, id: &crate::identity::Identity, claims: &crate::metrics::baggage::Baggage) {
        self.src_labels = Some(self.metrics.claimed_peer(id, claims));
    }

    pub fn destination_workload(&mut self, w: &Arc<Workload>) {
        self.dst_labels = Some(self.metrics.peer(w));
    }

    pub fn destination_service(&mut self, s: &Service) {
        self.dst_service = Some(Arc::new(ServiceLabels::from_service(s)));
    }

    fn labels(&self) -> TrafficLabels {
        let m = &self.metrics;
        TrafficLabels {
            reporter: match self.direction {
                Direction::Outbound => Reporter::Source,
                Direction::Inbound => Reporter::Destination,
            },
            source: self.src_labels.clone().unwrap_or_else(|| m.unknown_peer()),
            destination_service: self.dst_service.clone().unwrap_or_else(|| m.unknown_service()),
            destination: self.dst_labels.clone().unwrap_or_else(|| m.unknown_peer()),
            response_flags: "-",
            connection_security_policy: if self.mtls { "mutual_tls" } else { "unknown" },
        }
    }

    /// Counts the connection as opened, with the labels known so far. Call once the source
    /// and destination are resolved; later calls do nothing.
    pub fn opened(&mut self) {
        if self.open.is_none() {
            self.open = Some(self.metrics.open(self.labels()));
        }
    }

    /// Emits the access-log line: INFO on success, ERROR with the reason on failure.
    /// Also records the close in the metrics (always, whatever the log level).
    pub fn finish(mut self, result: Result<Transferred, super::Error>) {
        let bytes = result.as_ref().map(|t| *t).unwrap_or_default();
        self.opened();
        if let Some(open) = self.open.take() {
            let flag = result.as_ref().err().map(super::Error::response_flag);
            open.close(bytes.sent, bytes.received, flag);
        }
        let enabled = match result {
            Ok(_) => tracing::enabled!(target: "access", tracing::Level::INFO),
            Err(_) => tracing::enabled!(target: "access", tracing::Level::ERROR),
        };
        if !enabled {
            return;
        }
        let opt_addr = |o: &Option<SocketAddr>| o.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
        let duration = format!("{}ms", self.start.elapsed().as_millis());
        let error = result.err().map(|e| e.to_string());
        macro_rules! emit {
            ($lvl:ident, $msg:literal) => {
                tracing::$lvl!(
                    target: "access",
                    direction = self.direction.as_str(),
                    src.addr = %self.src_addr,
                    src.workload = %self.src.name(),
                    src.namespace = %self.src.namespace(),
                    src.identity = %self.src.identity(),
                    dst.addr = %opt_addr(&self.dst_addr),
                    dst.hbone_addr = %opt_addr(&self.dst_hbone_addr),
                    dst.workload = %self.dst.name(),
                    dst.namespace = %self.dst.namespace(),
                    dst.identity = %self.dst.identity(),
                    bytes_sent = bytes.sent,
                    bytes_recv = bytes.received,
                    duration = %duration,
                    error = error.as_deref().unwrap_or("-"),
                    $msg
                )
            };
        }
        if error.is_some() {
            emit!(error, "connection complete");
        } else {
            emit!(info, "connection complete");
        }
    }
}
