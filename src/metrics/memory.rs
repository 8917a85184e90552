//! Memory the data path holds, for operators (issue 18): where a node's RSS goes.
//!
//! - `istio_proxy_pump_buffer_bytes`: the read-buffer capacity the byte pumps
//!   (`proxy::copy`) keep for their next reads, summed over every open connection. A busy pump
//!   holds up to 256 KiB per direction, an idle one 1 KiB.
//! - `istio_proxy_hbone_queued_bytes{direction}`: HBONE stream data inside h2. `send`: bytes
//!   handed to h2 that it has not yet written to the TLS layer (its send queues; the
//!   flow-control windows bound them). `receive`: bytes the peer sent on a stream that have
//!   not yet been delivered onward and credited back (h2's receive queue plus the chunk a pump
//!   is writing), summed over the live streams at scrape time (`hbone::stream` installs the
//!   reader with [`set_hbone_recv_queued`]).
//! - `istio_proxy_allocator_bytes{kind}`: the allocator's own view, when the binary runs on
//!   jemalloc (`main.rs` installs the reader with [`set_allocator_stats`]): `allocated` (live
//!   objects), `active` (pages holding them), `resident` (what the allocator keeps in RAM,
//!   metadata included), `metadata`, `retained` (address space kept for reuse, not in RSS).
//!   `resident - allocated` is what fragmentation and caches cost.
//!
//! The same figures are served as JSON on the admin port, `/debug/memory` ([`snapshot`]).
//! Upstream has none of these families; the names stay clear of upstream's `istio_tcp_*`.
//! Each counter is a process-wide atomic, adjusted only when a buffer changes hands and read at
//! scrape time.

use std::fmt::Error;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use serde::Serialize;

static PUMP_BUFFER_BYTES: AtomicI64 = AtomicI64::new(0);
static HBONE_SEND_QUEUED: AtomicI64 = AtomicI64::new(0);
static HBONE_RECV_QUEUED: OnceLock<fn() -> u64> = OnceLock::new();
static ALLOCATOR_STATS: OnceLock<fn() -> Option<AllocatorStats>> = OnceLock::new();
static ALLOCATOR_REPORT: OnceLock<fn() -> Option<String>> = OnceLock::new();

/// Adds `delta` (may be negative) to the bytes held by pump read buffers.
pub fn add_pump_buffer_bytes(delta: i64) {
    add(&PUMP_BUFFER_BYTES, delta);
}

/// Bytes held by pump read buffers right now.
pub fn pump_buffer_bytes() -> i64 {
    PUMP_BUFFER_BYTES.load(Ordering::Relaxed)
}

/// Adds `delta` to the bytes queued in h2 for sending on HBONE streams.
pub fn add_hbone_send_queued(delta: i64) {
    add(&HBONE_SEND_QUEUED, delta);
}

/// Installs the reader of the bytes received on HBONE streams and not yet delivered onward
/// (once). It lives with the streams, which this module may not depend on.
pub fn set_hbone_recv_queued(reader: fn() -> u64) {
    let _ = HBONE_RECV_QUEUED.set(reader);
}

fn add(counter: &AtomicI64, delta: i64) {
    if delta != 0 {
        counter.fetch_add(delta, Ordering::Relaxed);
    }
}

/// The allocator's statistics, in bytes (jemalloc's `stats.*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AllocatorStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub metadata: u64,
    pub retained: u64,
}

/// Installs the allocator's statistics reader (once; later calls are ignored). The library
/// does not pick the allocator, the binary does, so the binary provides the reader.
pub fn set_allocator_stats(reader: fn() -> Option<AllocatorStats>) {
    let _ = ALLOCATOR_STATS.set(reader);
}

/// Installs the allocator's full report (jemalloc's `malloc_stats_print`), served on
/// `/debug/memory?allocator` for whoever has to find out where the memory went.
pub fn set_allocator_report(reader: fn() -> Option<String>) {
    let _ = ALLOCATOR_REPORT.set(reader);
}

/// The allocator's full report, if the binary installed one.
pub fn allocator_report() -> Option<String> {
    ALLOCATOR_REPORT.get().and_then(|read| read())
}

/// Everything this module tracks, as `/debug/memory` serves it.
#[derive(Clone, Debug, Serialize)]
pub struct MemorySnapshot {
    pub pump_buffer_bytes: i64,
    pub hbone_send_queued_bytes: i64,
    pub hbone_receive_queued_bytes: i64,
    /// `None` when the process does not run on an allocator that reports (tests, other builds).
    pub allocator: Option<AllocatorStats>,
}

/// The counters right now. Negative values would be a bookkeeping bug; they are clamped to 0
/// so an operator never reads nonsense.
pub fn snapshot() -> MemorySnapshot {
    MemorySnapshot {
        pump_buffer_bytes: pump_buffer_bytes().max(0),
        hbone_send_queued_bytes: HBONE_SEND_QUEUED.load(Ordering::Relaxed).max(0),
        hbone_receive_queued_bytes: HBONE_RECV_QUEUED.get().map_or(0, |read| read()).try_into().unwrap_or(i64::MAX),
        allocator: ALLOCATOR_STATS.get().and_then(|read| read()),
    }
}

/// Registered on the `istio_` sub-registry: the families below get that prefix.
#[derive(Debug, Default)]
pub struct MemoryCollector;

impl Collector for MemoryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let s = snapshot();
        let metric = encoder.encode_descriptor(
            "proxy_pump_buffer_bytes",
            "Bytes of read buffer the connection byte pumps hold for their next reads",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(s.pump_buffer_bytes).encode(metric)?;

        let mut family = encoder.encode_descriptor(
            "proxy_hbone_queued_bytes",
            "Bytes of HBONE stream data held in HTTP/2 queues (send: not yet written to TLS; receive: not yet delivered onward)",
            None,
            MetricType::Gauge,
        )?;
        for (direction, v) in [("send", s.hbone_send_queued_bytes), ("receive", s.hbone_receive_queued_bytes)] {
            ConstGauge::new(v).encode(family.encode_family(&[("direction", direction)])?)?;
        }

        if let Some(a) = s.allocator {
            let mut family = encoder.encode_descriptor(
                "proxy_allocator_bytes",
                "The memory allocator's statistics (allocated: live objects; resident: kept in RAM)",
                None,
                MetricType::Gauge,
            )?;
            let kinds = [
                ("allocated", a.allocated),
                ("active", a.active),
                ("resident", a.resident),
                ("metadata", a.metadata),
                ("retained", a.retained),
            ];
            for (kind, v) in kinds {
                let v = i64::try_from(v).unwrap_or(i64::MAX);
                ConstGauge::new(v).encode(family.encode_family(&[("kind", kind)])?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{MetricsBuilder, encode};

    fn value(text: &str, series: &str) -> i64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series} in {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn families_are_exposed_with_the_istio_prefix() {
        set_allocator_stats(|| Some(AllocatorStats { allocated: 1, active: 2, resident: 3, metadata: 4, retained: 5 }));
        let text = encode(&MetricsBuilder::new("t").finish());
        // Other tests' pumps and streams run concurrently in this process: only the shape and
        // the sign are checked for those.
        assert!(value(&text, "istio_proxy_pump_buffer_bytes ") >= 0);
        assert!(value(&text, "istio_proxy_hbone_queued_bytes{direction=\"send\"}") >= 0);
        assert!(value(&text, "istio_proxy_hbone_queued_bytes{direction=\"receive\"}") >= 0);
        assert_eq!(value(&text, "istio_proxy_allocator_bytes{kind=\"resident\"}"), 3);
        assert_eq!(value(&text, "istio_proxy_allocator_bytes{kind=\"retained\"}"), 5);
        for family in ["pump_buffer_bytes", "hbone_queued_bytes", "allocator_bytes"] {
            assert!(text.contains(&format!("# TYPE istio_proxy_{family} gauge")), "{family}: {text}");
        }
        let json = serde_json::to_value(snapshot()).unwrap();
        assert_eq!(json["allocator"]["metadata"], 4);
        assert!(json["hbone_send_queued_bytes"].as_i64().unwrap() >= 0);
    }
}
