//! Logging: a tracing subscriber filtered by `RUST_LOG`, writing Istio-style plain text or,
//! with `LOG_FORMAT=json`, one JSON object per line in upstream's shape (`level` lower-case,
//! `time`, `scope`, `message`, then the event's fields), on stdout as upstream does, so log
//! pipelines built for upstream's ztunnel parse ours.
//!
//! The filter sits behind a reload layer so the admin `/logging` endpoint can change it while
//! the process runs; [`handle`] returns the control for the process-wide subscriber. Lines go
//! to stdout through a buffer and a thread of their own ([`writer`]).

pub mod writer;

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use crate::util::sync::lock;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
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
        lock(&self.current).clone()
    }

    /// Replaces the filter (`info`, `ztunnel::proxy=debug,info`, ...). An invalid filter is
    /// refused and the old one stays.
    pub fn set(&self, filter: &str) -> Result<(), LogError> {
        let parsed = parse(filter)?;
        self.reload.reload(parsed).map_err(|e| LogError::Reload(e.to_string()))?;
        *lock(&self.current) = filter.to_string();
        Ok(())
    }

    /// Back to the start-up filter.
    pub fn reset(&self) -> Result<(), LogError> {
        let initial = self.initial.clone();
        self.set(&initial)
    }
}

fn parse(filter: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::try_new(filter)
        .map_err(|e| LogError::InvalidFilter { filter: filter.to_string(), reason: e.to_string() })
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
        let l = fmt::layer().event_format(IstioJson).with_writer(writer::stdout());
        (Some(l), None)
    } else {
        let l = fmt::layer().with_ansi(false).with_writer(writer::stdout()).with_target(true);
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

/// Upstream's JSON line: `{"level":"info","time":"<RFC 3339, µs, UTC>","scope":"<target>",
/// "message":"...", <fields>...}`. Field values keep their JSON type where tracing gives one
/// (numbers, booleans); everything else is its `Display`/`Debug` text.
struct IstioJson;

impl<S, N> FormatEvent<S, N> for IstioJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let meta = event.metadata();
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(256);
        let quote = |v: &str| serde_json::Value::from(v).to_string();
        let _ = write!(
            line,
            "{{\"level\":{},\"time\":{},\"scope\":{},\"message\":{}",
            quote(&meta.level().as_str().to_ascii_lowercase()),
            quote(&now_rfc3339_micros()),
            quote(meta.target()),
            fields.message.unwrap_or_else(|| "\"\"".into()),
        );
        for (name, value) in fields.rest {
            let _ = write!(line, ",{}:{}", quote(name), value);
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// The event's fields as JSON text, in the order they were recorded.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    rest: Vec<(&'static str, String)>,
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        let text = value.to_string();
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.rest.push((field.name(), text));
        }
    }
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

fn now_rfc3339_micros() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats one event through the JSON layer into a buffer.
    fn capture(f: impl FnOnce()) -> (String, serde_json::Value) {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let layer = fmt::layer().event_format(IstioJson).with_writer(move || out.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let v = serde_json::from_str(&text).unwrap();
        (text, v)
    }

    #[test]
    fn json_lines_have_upstreams_shape() {
        let addr: std::net::SocketAddr = "10.0.0.1:80".parse().unwrap();
        let (text, v) = capture(
            || tracing::warn!(target: "ztunnel::proxy", direction = "inbound", src.addr = %addr, bytes = 42u64, ok = true, "connection \"done\""),
        );
        assert_eq!(v["level"], "warn");
        assert_eq!(v["scope"], "ztunnel::proxy");
        assert_eq!(v["message"], "connection \"done\"");
        assert_eq!(v["src.addr"], "10.0.0.1:80");
        assert_eq!(v["bytes"], 42);
        assert_eq!(v["ok"], true);
        let time = v["time"].as_str().unwrap();
        assert!(time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
        // Key order as upstream writes it.
        assert!(text.starts_with("{\"level\":\"warn\",\"time\":"), "{text}");
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(at("time") < at("scope") && at("scope") < at("message") && at("message") < at("src.addr"), "{text}");
    }
}
