//! Memory the data path holds, for operators: `istio_proxy_pump_buffer_bytes`, the read-buffer
//! capacity the byte pumps (`proxy::copy`) keep for their next reads, summed over every open
//! connection. Upstream has no such family; the name stays clear of upstream's `istio_tcp_*`.
//!
//! A busy pump holds up to 256 KiB per direction and an idle one a 1 KiB buffer, so the gauge
//! divided by the connection count tells whether memory growth is pumps that have not let go
//! (a bug) or something else (h2 queues, TLS buffers, allocator caches). Chunks already handed
//! to h2 or the socket are not counted: flow-control windows bound those. A process-wide
//! atomic, adjusted only when a buffer's capacity changes and read at scrape time.

use std::fmt::Error;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

static PUMP_BUFFER_BYTES: AtomicI64 = AtomicI64::new(0);

/// Adds `delta` (may be negative) to the bytes held by pump read buffers.
pub fn add_pump_buffer_bytes(delta: i64) {
    if delta != 0 {
        PUMP_BUFFER_BYTES.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Bytes held by pump read buffers right now.
pub fn pump_buffer_bytes() -> i64 {
    PUMP_BUFFER_BYTES.load(Ordering::Relaxed)
}

/// Registered on the `istio_` sub-registry: the families below get that prefix.
#[derive(Debug, Default)]
pub struct MemoryCollector;

impl Collector for MemoryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let metric = encoder.encode_descriptor(
            "proxy_pump_buffer_bytes",
            "Bytes of read buffer the connection byte pumps hold for their next reads",
            None,
            MetricType::Gauge,
        )?;
        // Never negative in practice; clamp so a scrape never shows a nonsensical value.
        ConstGauge::new(pump_buffer_bytes().max(0)).encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::{MetricsBuilder, encode};

    #[test]
    fn gauge_is_exposed_with_the_istio_prefix() {
        let text = encode(&MetricsBuilder::new("t").finish());
        let line = text.lines().find(|l| l.starts_with("istio_proxy_pump_buffer_bytes ")).expect(&text);
        // Other tests' pumps run concurrently in this process: only the shape is checked.
        assert!(line.split(' ').nth(1).unwrap().parse::<i64>().unwrap() >= 0, "{line}");
        assert!(text.contains("# TYPE istio_proxy_pump_buffer_bytes gauge"), "{text}");
    }
}
