//! Prometheus metrics (15020, `/metrics` and `/stats/prometheus`): the registry, the metric
//! families with upstream's names and labels, and the HTTP endpoint that exposes them.
//!
//! - [`traffic`]: `istio_tcp_*` connection metrics and their label sets (recorded by
//!   `proxy::access::ConnectionLog`).
//! - [`process`]: `process_*` (CPU, memory, file descriptors), read at scrape time.
//! - [`memory`]: `istio_proxy_pump_buffer_bytes`, what the byte pumps' read buffers hold.
//! - [`server`]: the scrape endpoint.
//!
//! Everything registers into one [`Registry`] at start-up, before the server starts; a scrape
//! only reads. Components add their families through [`MetricsBuilder::registry`], which puts
//! them under the `istio_` prefix (the xDS client's `istio_xds_*` families belong there); only
//! the standard `process_*` set is unprefixed.

pub mod baggage;
pub mod memory;
pub mod process;
pub mod server;
pub mod traffic;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use traffic::TrafficMetrics;

/// Labels of `istio_build`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    component: &'static str,
    tag: String,
}

/// Collects registrations at start-up; [`MetricsBuilder::finish`] freezes the registry.
pub struct MetricsBuilder {
    registry: Registry,
}

impl MetricsBuilder {
    /// A registry with `istio_build` set. `tag` is ISTIO_META_ISTIO_VERSION (else our version).
    pub fn new(tag: &str) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::ProcessCollector));
        let mut b = MetricsBuilder { registry };
        let build: Family<BuildLabels, Gauge> = Family::default();
        build.get_or_create(&BuildLabels { component: "ztunnel", tag: tag.to_string() }).set(1);
        b.registry().register("build", "Istio component build info", build);
        b.registry().register_collector(Box::new(memory::MemoryCollector));
        b
    }

    /// Where components register their own families (names get the `istio_` prefix).
    pub fn registry(&mut self) -> &mut Registry {
        self.registry.sub_registry_with_prefix("istio")
    }

    pub fn finish(self) -> Arc<Registry> {
        Arc::new(self.registry)
    }
}

/// The scrape body: OpenMetrics text, as prometheus-client (and upstream) writes it.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_exposed() {
        let mut b = MetricsBuilder::new("1.2.3");
        let _traffic = TrafficMetrics::register(b.registry());
        let text = encode(&b.finish());
        assert!(text.contains("istio_build{component=\"ztunnel\",tag=\"1.2.3\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // The standard process set, unprefixed.
        for family in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(text.lines().any(|l| l.starts_with(family)), "{family} missing:\n{text}");
        }
    }
}
