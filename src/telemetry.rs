//! Logging: a tracing subscriber filtered by `RUST_LOG`, writing Istio-style plain text or,
//! with `LOG_FORMAT=json`, one JSON object per line (what the testbed and log pipelines parse).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `filter` uses `RUST_LOG` syntax; an invalid filter is an
/// error naming the variable rather than a silent fallback.
pub fn init(filter: &str, json: bool) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| format!("invalid RUST_LOG {filter:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let res = if json {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
    res.map_err(|e| format!("logging already initialised: {e}"))
}
