//! The admin server (localhost:15000): what operators and `istioctl ztunnel-config` use.
//!
//! | path | method | does |
//! |---|---|---|
//! | `/` | GET | lists the endpoints |
//! | `/config_dump` | GET | JSON dump of config, state, certificates (see [`config_dump`]) |
//! | `/debug/memory` | GET | JSON: bytes held in pump buffers, in HBONE's HTTP/2 queues, and the allocator's figures (see [`crate::metrics::memory`]); `?allocator`: the allocator's own full report (text) |
//! | `/logging` | POST | no query: show the log filter; `?level=<RUST_LOG filter>` sets it (e.g. `debug` or `ztunnel::proxy=debug,info`); `?reset` restores the start-up filter |
//! | `/quitquitquit` | POST | starts a graceful drain; the process exits when it completes |
//!
//! Other methods get 405, other paths 404. Bound to localhost by default: it has no
//! authentication and can stop the proxy.

pub mod config_dump;

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::certs::manager::SecretManager;
use crate::config::Config;
use crate::drain::DrainWatcher;
use crate::http_util::{self, Body};
use crate::inpod::states::PodStates;
use crate::state::StateStore;

const INDEX: &str = "\
ztunnel admin
  GET  /config_dump    configuration, workloads, services, policies, certificates, crypto
  GET  /debug/memory   bytes held by pump buffers, HTTP/2 queues and the allocator (JSON); ?allocator: the allocator's full report
  POST /logging        show the log filter; ?level=<filter> sets it (e.g. ztunnel::proxy=debug,info); ?reset restores it
  POST /quitquitquit   drain gracefully and exit
";

/// What the admin handlers read, and the way to ask for shutdown.
pub struct Admin {
    pub config: Arc<Config>,
    pub state: StateStore,
    pub certs: SecretManager,
    /// Sending asks the process to drain and exit (see `app::Running::wait_for_signal`).
    pub quit: mpsc::Sender<()>,
    /// Shared (in-pod) mode: the pods' proxy states, dumped as `workloadState`.
    pub pods: Option<PodStates>,
}

impl Admin {
    pub fn handle<B>(&self, req: &Request<B>) -> Response<Body> {
        let method = req.method();
        let get = method == Method::GET || method == Method::HEAD;
        match req.uri().path() {
            "/" if get => http_util::text(StatusCode::OK, INDEX),
            "/" => http_util::method_not_allowed("GET"),
            "/config_dump" if get => self.config_dump(),
            "/config_dump" => http_util::method_not_allowed("GET"),
            "/debug/memory" if get && req.uri().query() == Some("allocator") => allocator_report(),
            "/debug/memory" if get => json(&crate::metrics::memory::snapshot()),
            "/debug/memory" => http_util::method_not_allowed("GET"),
            "/logging" if method == Method::POST => logging(req.uri().query()),
            "/logging" => http_util::method_not_allowed("POST"),
            "/quitquitquit" if method == Method::POST => {
                tracing::info!("shutdown requested through the admin endpoint");
                // A full channel means a shutdown is already on its way.
                let _ = self.quit.try_send(());
                http_util::text(StatusCode::OK, "draining\n")
            }
            "/quitquitquit" => http_util::method_not_allowed("POST"),
            _ => http_util::not_found(),
        }
    }

    fn config_dump(&self) -> Response<Body> {
        let state = self.state.snapshot();
        let pods = self.pods.as_ref().map(PodStates::snapshot);
        json(&config_dump::build(&self.config, &state, self.certs.dump(), pods))
    }
}

/// `/debug/memory?allocator`: jemalloc's statistics report, or 404 when the process runs on
/// an allocator that has none (tests, a build without jemalloc).
fn allocator_report() -> Response<Body> {
    match crate::metrics::memory::allocator_report() {
        Some(report) => http_util::text(StatusCode::OK, report),
        None => http_util::text(StatusCode::NOT_FOUND, "this process's allocator has no report\n"),
    }
}

/// A pretty-printed JSON response (500 with the reason if it cannot be serialized).
fn json(value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => http_util::response(StatusCode::OK, "application/json", body),
        Err(e) => http_util::text(StatusCode::INTERNAL_SERVER_ERROR, format!("serializing the response failed: {e}\n")),
    }
}

/// `/logging`: `level=<filter>` sets, `reset` restores, nothing shows.
fn logging(query: Option<&str>) -> Response<Body> {
    let Some(control) = crate::telemetry::handle() else {
        return http_util::text(StatusCode::SERVICE_UNAVAILABLE, "logging is not managed by this process\n");
    };
    let mut level = None;
    let mut reset = false;
    for param in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        match k {
            "level" => level = Some(percent_decode(v)),
            "reset" => reset = true,
            other => {
                return http_util::text(
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter {other:?}; use ?level=<filter> or ?reset\n"),
                );
            }
        }
    }
    let result = match (level, reset) {
        (Some(_), true) => {
            return http_util::text(StatusCode::BAD_REQUEST, "use either ?level= or ?reset, not both\n");
        }
        (Some(l), false) if l.trim().is_empty() => {
            return http_util::text(
                StatusCode::BAD_REQUEST,
                "?level= needs a filter, e.g. info or ztunnel::proxy=debug\n",
            );
        }
        (Some(l), false) => control.set(l.trim()),
        (None, true) => control.reset(),
        (None, false) => Ok(()),
    };
    match result {
        Ok(()) => {
            let current = control.current();
            tracing::info!(filter = %current, "log filter in force");
            http_util::text(StatusCode::OK, format!("current log level is {current}\n"))
        }
        Err(e) => http_util::text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// Decodes `%XX` escapes and `+` (query-string form). Invalid escapes are kept literally.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves the admin endpoints until drain.
pub async fn serve(listener: TcpListener, admin: Arc<Admin>, drain: DrainWatcher) {
    http_util::serve(listener, "admin", drain, move |req| {
        let resp = admin.handle(&req);
        async move { resp }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        assert_eq!(percent_decode("ztunnel%3A%3Aproxy%3Ddebug%2Cinfo"), "ztunnel::proxy=debug,info");
        assert_eq!(percent_decode("a=b,c"), "a=b,c");
        assert_eq!(percent_decode("bad%zz%"), "bad%zz%");
    }

    #[tokio::test]
    async fn routes_and_methods() {
        let env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let (quit, mut quit_rx) = mpsc::channel(1);
        let ca = crate::certs::dev_ca::DevCa::generate("cluster.local").unwrap();
        let admin = Admin {
            config: Arc::new(Config::from_source(&env).unwrap()),
            state: StateStore::default(),
            certs: SecretManager::new(Arc::new(ca)),
            quit,
            pods: None,
        };
        let call = |m: Method, p: &str| admin.handle(&Request::builder().method(m).uri(p).body(()).unwrap());
        assert_eq!(call(Method::GET, "/").status(), StatusCode::OK);
        assert_eq!(call(Method::GET, "/config_dump").status(), StatusCode::OK);
        assert_eq!(call(Method::POST, "/config_dump").status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(call(Method::GET, "/debug/memory").status(), StatusCode::OK);
        assert_eq!(call(Method::POST, "/debug/memory").status(), StatusCode::METHOD_NOT_ALLOWED);
        // Unit tests run on the system allocator: no report to give.
        assert_eq!(call(Method::GET, "/debug/memory?allocator").status(), StatusCode::NOT_FOUND);
        assert_eq!(call(Method::GET, "/logging").status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(call(Method::GET, "/quitquitquit").status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(quit_rx.try_recv().is_err(), "GET must not quit");
        assert_eq!(call(Method::GET, "/nope").status(), StatusCode::NOT_FOUND);
        assert_eq!(call(Method::POST, "/quitquitquit").status(), StatusCode::OK);
        assert!(quit_rx.try_recv().is_ok());
    }
}
