//! xDS client metrics under upstream's names, so existing dashboards keep working:
//! `istio_xds_connection_terminations_total{reason}`, `istio_xds_message_total{url}` and
//! `istio_xds_message_bytes_total{url}`, plus ours, `istio_xds_nack_total{url}`. Label values are
//! bounded (four reasons; the two subscribed type URLs, or `unsubscribed`).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Why an ADS stream ended (upstream's reason values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// Could not connect (TCP, TLS or credentials).
    ConnectionError,
    /// The stream failed with a gRPC error.
    Error,
    /// The server closed the stream; we reconnect.
    Reconnect,
    /// We ended it (shutdown).
    Complete,
}

impl Termination {
    fn as_str(self) -> &'static str {
        match self {
            Termination::ConnectionError => "ConnectionError",
            Termination::Error => "Error",
            Termination::Reconnect => "Reconnect",
            Termination::Complete => "Complete",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UrlLabel {
    url: String,
}

/// Counters the xDS client updates. `Default` gives unregistered counters (tests).
#[derive(Default)]
pub struct XdsMetrics {
    terminations: Family<ReasonLabel, Counter>,
    messages: Family<UrlLabel, Counter>,
    message_bytes: Family<UrlLabel, Counter>,
    nacks: Family<UrlLabel, Counter>,
}

impl XdsMetrics {
    /// Registers the families in `registry` (which carries the `istio` prefix).
    pub fn register(registry: &mut Registry) -> Arc<XdsMetrics> {
        let m = XdsMetrics::default();
        registry.register("xds_connection_terminations", "ADS streams that ended, by reason", m.terminations.clone());
        registry.register("xds_message", "xDS responses received, by type URL", m.messages.clone());
        registry.register("xds_message_bytes", "Bytes of xDS responses received, by type URL", m.message_bytes.clone());
        // Ours: upstream only logs a NACK. A control plane we disagree with should show on a
        // dashboard, not only in logs.
        registry.register("xds_nack", "xDS responses rejected (NACKed), by type URL", m.nacks.clone());
        Arc::new(m)
    }

    pub fn terminated(&self, reason: Termination) {
        self.terminations.get_or_create(&ReasonLabel { reason: reason.as_str().to_string() }).inc();
    }

    pub fn message(&self, type_url: &str, bytes: usize) {
        let label = UrlLabel { url: type_url.to_string() };
        self.messages.get_or_create(&label).inc();
        self.message_bytes.get_or_create(&label).inc_by(bytes as u64);
    }
}

impl XdsMetrics {
    pub fn nacked(&self, type_url: &str) {
        self.nacks.get_or_create(&UrlLabel { url: type_url.to_string() }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_upstream_names() {
        let mut registry = Registry::with_prefix("istio");
        let m = XdsMetrics::register(&mut registry);
        m.terminated(Termination::Reconnect);
        m.message("type.googleapis.com/istio.workload.Address", 120);
        m.nacked("type.googleapis.com/istio.security.Authorization");
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(out.contains("istio_xds_connection_terminations_total{reason=\"Reconnect\"} 1"), "{out}");
        assert!(out.contains("istio_xds_message_total{url=\"type.googleapis.com/istio.workload.Address\"} 1"), "{out}");
        assert!(
            out.contains("istio_xds_message_bytes_total{url=\"type.googleapis.com/istio.workload.Address\"} 120"),
            "{out}"
        );
        assert!(
            out.contains("istio_xds_nack_total{url=\"type.googleapis.com/istio.security.Authorization\"} 1"),
            "{out}"
        );
    }
}
