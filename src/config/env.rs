//! Where configuration values come from, and how single values are parsed.
//!
//! Owns the [`EnvSource`] abstraction (so tests never touch the process environment) and the
//! small value parsers shared by [`crate::config`]: booleans, durations (duration-str / Go
//! style), worker-thread counts. Every parse error names the variable, the bad value and the
//! expected form.

use std::collections::HashMap;
use std::time::Duration;

use super::ConfigError;

/// A key–value source of configuration, normally the process environment.
pub trait EnvSource {
    /// The value of `key`, if set. An empty value is returned as `Some("")`; callers decide
    /// whether empty means "unset" (most do) or something else (XDS_ADDRESS: "disabled").
    fn get(&self, key: &str) -> Option<String>;
    /// Every `(key, value)` whose key starts with `prefix`, sorted by key for stable output.
    fn keys_with_prefix(&self, prefix: &str) -> Vec<(String, String)>;
}

/// The real process environment. This is the only place in the crate that reads `std::env`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        // Non-UTF-8 values are treated as unset rather than panicking; none of our variables
        // can legitimately hold one.
        std::env::var(key).ok()
    }

    fn keys_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with(prefix)).collect();
        out.sort();
        out
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }

    fn keys_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            self.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        out.sort();
        out
    }
}

/// Builds the error every parser returns.
pub(super) fn invalid(var: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid { var: var.to_string(), value: value.to_string(), expected: expected.to_string() }
}

/// Reads a variable, treating an empty value as unset (upstream does the same for nearly all).
pub(super) fn non_empty(src: &dyn EnvSource, var: &str) -> Option<String> {
    src.get(var).filter(|v| !v.trim().is_empty())
}

/// `true/false/1/0`, case-insensitive.
pub(super) fn parse_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(var, value, "true, false, 1 or 0")),
    }
}

pub(super) fn bool_or(src: &dyn EnvSource, var: &str, default: bool) -> Result<bool, ConfigError> {
    opt_bool(src, var).map(|v| v.unwrap_or(default))
}

pub(super) fn opt_bool(src: &dyn EnvSource, var: &str) -> Result<Option<bool>, ConfigError> {
    non_empty(src, var).map(|v| parse_bool(var, &v)).transpose()
}

/// A positive (non-zero) integer.
pub(super) fn positive_u32_or(src: &dyn EnvSource, var: &str, default: u32) -> Result<u32, ConfigError> {
    match non_empty(src, var) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid(var, &v, "a positive integer")),
        },
    }
}

pub(super) fn opt_u32(src: &dyn EnvSource, var: &str) -> Result<Option<u32>, ConfigError> {
    non_empty(src, var)
        .map(|v| v.trim().parse::<u32>().map_err(|_| invalid(var, &v, "a non-negative 32-bit integer")))
        .transpose()
}

pub(super) fn duration_or(src: &dyn EnvSource, var: &str, default: Duration) -> Result<Duration, ConfigError> {
    opt_duration(src, var).map(|d| d.unwrap_or(default))
}

pub(super) fn opt_duration(src: &dyn EnvSource, var: &str) -> Result<Option<Duration>, ConfigError> {
    non_empty(src, var).map(|v| parse_duration(&v).ok_or_else(|| invalid(var, &v, DURATION_FORM))).transpose()
}

const DURATION_FORM: &str = "a duration such as 5s, 300ms, 1m30s, 2h or a bare number of seconds";

/// Parses duration-str / Go style durations: one or more `<number><unit>` groups with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`; numbers may have a fraction (`1.5h`). A bare
/// number is seconds, as duration-str (used by upstream) does.
pub fn parse_duration(input: &str) -> Option<Duration> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit_nanos: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let nanos = number * unit_nanos;
        if !nanos.is_finite() || nanos > u64::MAX as f64 {
            return None;
        }
        total = total.checked_add(Duration::from_nanos(nanos.round() as u64))?;
    }
    Some(total)
}

/// How many data-plane worker threads to run, given the host's CPU count, as upstream sizes them
/// under Istio's chart.
///
/// - `ZTUNNEL_CPU_LIMIT` (the chart's downward API: `limits.cpu`, whole cores) replaces the
///   detected CPU count.
/// - `ZTUNNEL_WORKER_THREADS`: `N` (N > 0) as is, `0` one per core, `P%` (P may be fractional)
///   ceil(P% of cores), at least one.
/// - Unset: the chart's `ZTUNNEL_RESOURCE_CPU_LIMIT` (a Kubernetes quantity such as `2` or
///   `1500m`), rounded up and at least the request, when a limit is set; otherwise
///   max(2, ceil(cores / 4), ceil(`ZTUNNEL_RESOURCE_CPU_REQUEST`)).
pub(super) fn worker_threads(src: &dyn EnvSource, cpus: usize) -> Result<usize, ConfigError> {
    let cpus = match non_empty(src, "ZTUNNEL_CPU_LIMIT") {
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(invalid("ZTUNNEL_CPU_LIMIT", &v, "a whole number of CPUs, at least 1")),
        },
        None => cpus.max(1),
    };
    let var = "ZTUNNEL_WORKER_THREADS";
    let Some(raw) = non_empty(src, var) else {
        let quantity = |var: &str| -> Result<Option<usize>, ConfigError> {
            non_empty(src, var)
                .map(|v| {
                    cpu_quantity(&v)
                        .map(|c| c.ceil() as usize)
                        .ok_or_else(|| invalid(var, &v, "a Kubernetes CPU quantity such as 2, 1.5 or 500m"))
                })
                .transpose()
        };
        let request = quantity("ZTUNNEL_RESOURCE_CPU_REQUEST")?.unwrap_or(0);
        return Ok(match quantity("ZTUNNEL_RESOURCE_CPU_LIMIT")? {
            Some(limit) => limit.max(request).max(1),
            None => 2.max(cpus.div_ceil(4)).max(request),
        });
    };
    let v = raw.trim();
    let expected = "a thread count (0 = one per core) or a percentage of cores such as 50%";
    if let Some(pct) = v.strip_suffix('%') {
        return match pct.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(((cpus as f64 * p / 100.0).ceil() as usize).max(1)),
            _ => Err(invalid(var, &raw, "a percentage above 0% and at most 100%")),
        };
    }
    match v.parse::<usize>() {
        Ok(0) => Ok(cpus),
        Ok(n) => Ok(n),
        Err(_) => Err(invalid(var, &raw, expected)),
    }
}

/// A Kubernetes CPU quantity in cores: `2`, `1.5`, `500m`. `None` if it is not one.
fn cpu_quantity(v: &str) -> Option<f64> {
    let v = v.trim();
    let (number, scale) = match v.strip_suffix('m') {
        Some(milli) => (milli, 1000.0),
        None => (v, 1.0),
    };
    let n: f64 = number.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("5s", Duration::from_secs(5)),
            ("300ms", Duration::from_millis(300)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("24h", Duration::from_secs(86400)),
            ("1m30s", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            ("1.5h", Duration::from_secs(5400)),
            ("10", Duration::from_secs(10)),
            ("0", Duration::ZERO),
            ("100us", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("1d", Duration::from_secs(86400)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Some(want), "{input}");
        }
        for bad in ["", "abc", "5x", "s", "5s3", "-1s", "1..5s", "m5"] {
            assert_eq!(parse_duration(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "True", "1"] {
            assert!(parse_bool("X", t).unwrap());
        }
        for f in ["false", "FALSE", "0"] {
            assert!(!parse_bool("X", f).unwrap());
        }
        let err = parse_bool("FAKE_CA", "yes").unwrap_err().to_string();
        assert!(err.contains("FAKE_CA") && err.contains("\"yes\""), "{err}");
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn threads() {
        const T: &str = "ZTUNNEL_WORKER_THREADS";
        let t = |v: &str, cpus| worker_threads(&env(&[(T, v)]), cpus);
        assert_eq!(worker_threads(&env(&[]), 1).unwrap(), 2);
        assert_eq!(worker_threads(&env(&[]), 16).unwrap(), 4);
        assert_eq!(worker_threads(&env(&[]), 17).unwrap(), 5);
        assert_eq!(t("0", 8).unwrap(), 8);
        assert_eq!(t("3", 8).unwrap(), 3);
        assert_eq!(t("50%", 8).unwrap(), 4);
        assert_eq!(t("50%", 3).unwrap(), 2);
        assert_eq!(t("1%", 2).unwrap(), 1);
        assert_eq!(t("100%", 6).unwrap(), 6);
        for bad in ["0%", "101%", "x%", "-1", "two"] {
            let err = t(bad, 4).unwrap_err().to_string();
            assert!(err.contains(T) && err.contains(bad), "{err}");
        }
        assert_eq!(cpu_quantity("250m"), Some(0.25));
        assert_eq!(cpu_quantity("2"), Some(2.0));
        assert_eq!(cpu_quantity("-1"), None);
    }

    #[test]
    fn prefix_listing_is_sorted() {
        let e = env(&[("ISTIO_META_B", "2"), ("ISTIO_META_A", "1"), ("OTHER", "x")]);
        assert_eq!(
            e.keys_with_prefix("ISTIO_META_"),
            vec![("ISTIO_META_A".to_string(), "1".to_string()), ("ISTIO_META_B".to_string(), "2".to_string())]
        );
    }
}
