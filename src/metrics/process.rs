//! `process_*` metrics (the Prometheus client libraries' standard set, which Istio's ztunnel
//! dashboard and alerts read): CPU seconds, resident and virtual memory, open and maximum file
//! descriptors, start time. Read from `/proc/self` at scrape time, so they cost nothing between
//! scrapes; a value that cannot be read is left out of that scrape rather than reported as 0.

use std::fmt::Error;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports CPU times in clock ticks of USER_HZ, which is 100 on every architecture's
/// userspace ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Registered on the unprefixed registry: these names carry no `istio_` prefix.
#[derive(Debug, Default)]
pub struct ProcessCollector;

/// One reading of the process.
#[derive(Debug, Default, PartialEq)]
struct Sample {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    resident_bytes: Option<f64>,
    virtual_bytes: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
}

impl Sample {
    fn read() -> Sample {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let boot = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let (cpu_seconds, start_ticks) = parse_stat(&stat).unzip();
        let boot_time = boot.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<f64>().ok());
        Sample {
            cpu_seconds,
            start_time_seconds: boot_time.zip(start_ticks).map(|(b, t)| b + t / TICKS_PER_SECOND),
            resident_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024.0),
            virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024.0),
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as f64),
            max_fds: max_open_files(&limits),
        }
    }
}

/// (utime + stime in seconds, starttime in ticks) from `/proc/self/stat`. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(f64, f64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": state is field 3; utime 14, stime 15, starttime 22.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    Some(((field(14)? + field(15)?) / TICKS_PER_SECOND, field(22)?))
}

fn status_kib(status: &str, key: &str) -> Option<f64> {
    status.lines().find_map(|l| l.strip_prefix(key))?.split_whitespace().next()?.parse().ok()
}

/// The soft limit of "Max open files" in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let s = Sample::read();
        let families = [
            (
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                MetricType::Counter,
                s.cpu_seconds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                MetricType::Gauge,
                s.start_time_seconds,
            ),
            ("process_resident_memory_bytes", "Resident memory size in bytes", MetricType::Gauge, s.resident_bytes),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::Gauge, s.virtual_bytes),
            ("process_open_fds", "Number of open file descriptors", MetricType::Gauge, s.open_fds),
            ("process_max_fds", "Maximum number of open file descriptors", MetricType::Gauge, s.max_fds),
        ];
        for (name, help, kind, value) in families {
            let Some(value) = value else { continue };
            let metric = encoder.encode_descriptor(name, help, None, kind)?;
            match kind {
                MetricType::Counter => prometheus_client::metrics::counter::ConstCounter::new(value).encode(metric)?,
                _ => ConstGauge::new(value).encode(metric)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (z tunnel (x)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0 1234 100 5 rest";
        assert_eq!(parse_stat(stat), Some((3.0, 1234.0)));
        assert_eq!(status_kib("Name:\tz\nVmRSS:\t  10240 kB\n", "VmRSS:"), Some(10240.0));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1048576              1048576              files\n";
        assert_eq!(max_open_files(limits), Some(1048576.0));
    }

    #[test]
    fn this_process_is_readable() {
        let s = Sample::read();
        assert!(s.cpu_seconds.is_some() && s.start_time_seconds.unwrap() > 1.6e9);
        assert!(s.resident_bytes.unwrap() > 0.0 && s.open_fds.unwrap() >= 3.0 && s.max_fds.is_some());
    }
}
