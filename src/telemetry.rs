//! Logging: a tracing subscriber filtered by `RUST_LOG`, writing Istio-style plain text or,
//! with `LOG_FORMAT=json`, one JSON object per line (what the testbed and log pipelines parse).
//!
//! The filter sits behind a reload layer so the admin `/logging` endpoint can change it while
//! the process runs; [`handle`] returns the control for the process-wide subscriber.

use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, fmt, reload};

/// Why a filter change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid log filter {filter:?}: {reason}")]
    InvalidFilter { filter: String, reason: String },
    #[error("the logging subscriber is gone: {0}")]
    Reload(String),
}

/// Changes the live log filter. One per process (see [`handle`]).
pub struct LogControl {
    reload: reload::Handle<EnvFilter, Registry>,
    /// The filter given at start-up (RUST_LOG); what `reset` returns to.
    initial: String,
    current: Mutex<String>,
}

impl LogControl {
    /// The filter in force, in `RUST_LOG` syntax.
    pub fn current(&self) -> String {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the filter (`info`, `ztunnel::proxy=debug,info`, ...). An invalid filter is
    /// refused and the old one stays.
    pub fn set(&self, filter: &str) -> Result<(), LogError> {
        let parsed = parse(filter)?;
        self.reload.reload(parsed).map_err(|e| LogError::Reload(e.to_string()))?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = filter.to_string();
        Ok(())
    }

    /// Back to the start-up filter.
    pub fn reset(&self) -> Result<(), LogError> {
        let initial = self.initial.clone();
        self.set(&initial)
    }
}

fn parse(filter: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::try_new(filter).map_err(|e| LogError::InvalidFilter { filter: filter.to_string(), reason: e.to_string() })
}

static CONTROL: OnceLock<LogControl> = OnceLock::new();

/// The live-filter control, if [`init`] ran in this process.
pub fn handle() -> Option<&'static LogControl> {
    CONTROL.get()
}

/// Installs the global subscriber. `filter` uses `RUST_LOG` syntax; an invalid filter is an
/// error naming the variable rather than a silent fallback.
pub fn init(filter: &str, json: bool) -> Result<(), String> {
    let parsed = parse(filter).map_err(|e| format!("invalid RUST_LOG: {e}"))?;
    let (filter_layer, reload) = reload::Layer::new(parsed);
    let (json_layer, plain_layer) = if json {
        let l = fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .with_target(true);
        (Some(l), None)
    } else {
        let l = fmt::layer().with_ansi(false).with_writer(std::io::stderr).with_target(true);
        (None, Some(l))
    };
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(json_layer)
        .with(plain_layer)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))?;
    let _ = CONTROL.set(LogControl { reload, initial: filter.to_string(), current: Mutex::new(filter.to_string()) });
    Ok(())
}
