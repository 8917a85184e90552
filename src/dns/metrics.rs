//! DNS metrics, upstream's names and labels: `istio_dns_requests_total`,
//! `istio_dns_upstream_requests_total`, `istio_dns_upstream_failures_total`,
//! `istio_dns_upstream_request_duration_seconds`; ours: `istio_dns_requests_refused_total`
//! (over the in-flight bound, unlabelled).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DnsLabels {
    pub request_query_type: String,
    pub request_protocol: String,
    pub source_canonical_service: String,
    pub source_canonical_revision: String,
}

type Histograms = Family<DnsLabels, Histogram, fn() -> Histogram>;

pub struct DnsMetrics {
    pub requests: Family<DnsLabels, Counter>,
    pub upstream_requests: Family<DnsLabels, Counter>,
    pub upstream_failures: Family<DnsLabels, Counter>,
    pub upstream_duration: Histograms,
    pub refused: Counter,
}

fn buckets() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.1, 1.0, 5.0])
}

impl DnsMetrics {
    pub fn register(registry: &mut Registry) -> Arc<DnsMetrics> {
        let m = DnsMetrics {
            requests: Family::default(),
            upstream_requests: Family::default(),
            upstream_failures: Family::default(),
            upstream_duration: Family::new_with_constructor(buckets as fn() -> Histogram),
            refused: Counter::default(),
        };
        registry.register("dns_requests", "Total number of DNS requests", m.requests.clone());
        registry.register(
            "dns_upstream_requests",
            "Total number of DNS requests forwarded to upstream",
            m.upstream_requests.clone(),
        );
        registry.register(
            "dns_upstream_failures",
            "Total number of DNS requests that failed upstream",
            m.upstream_failures.clone(),
        );
        registry.register(
            "dns_upstream_request_duration_seconds",
            "Total time in seconds that DNS requests to upstream took",
            m.upstream_duration.clone(),
        );
        registry.register(
            "dns_requests_refused",
            "DNS requests answered REFUSED because too many were in flight",
            m.refused.clone(),
        );
        Arc::new(m)
    }

    /// Unregistered metrics (tests).
    pub fn unregistered() -> Arc<DnsMetrics> {
        Self::register(&mut Registry::default())
    }
}
