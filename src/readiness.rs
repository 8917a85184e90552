//! Readiness (15021): `GET /healthz/ready` answers 200 `ready` once every start-up task has
//! completed, and 500 `not ready, pending: <tasks>` before that. Tasks register a
//! [`ReadyTask`] and are done when it is marked (or dropped after marking).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::drain::DrainWatcher;

/// The set of start-up tasks still pending.
#[derive(Clone, Default)]
pub struct Ready(Arc<Mutex<BTreeSet<String>>>);

/// One pending start-up task.
pub struct ReadyTask {
    name: String,
    ready: Ready,
}

impl ReadyTask {
    /// Marks the task complete.
    pub fn done(self) {
        self.ready.lock().remove(&self.name);
    }
}

impl Ready {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, name: &str) -> ReadyTask {
        self.lock().insert(name.to_string());
        ReadyTask { name: name.to_string(), ready: self.clone() }
    }

    /// Pending task names, sorted.
    pub fn pending(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    // A panic elsewhere while holding the lock leaves a valid set behind (every update is a
    // single insert or remove), so poisoning must not turn every later probe into a panic.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn respond(ready: &Ready, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz/ready") => {
            let pending = ready.pending();
            if pending.is_empty() {
                (StatusCode::OK, "ready\n".to_string())
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, format!("not ready, pending: {}\n", pending.join(", ")))
            }
        }
        (_, "/healthz/ready") => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n".into()),
        _ => (StatusCode::NOT_FOUND, "not found\n".into()),
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body)))
        .expect("static response")
}

/// Serves readiness on `listener` until drain, with the operations listeners' limits and
/// accept back-off (its own accept loop used to spin on EMFILE).
pub async fn serve(listener: TcpListener, ready: Ready, drain: DrainWatcher) {
    crate::http_util::serve(listener, "readiness", drain, move |req| {
        let resp = respond(&ready, &req);
        async move { resp }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_complete() {
        let r = Ready::new();
        let a = r.register("proxy");
        let b = r.register("state manager");
        assert_eq!(r.pending(), vec!["proxy", "state manager"]);
        a.done();
        assert_eq!(r.pending(), vec!["state manager"]);
        b.done();
        assert!(r.pending().is_empty());
    }

    #[test]
    fn survives_a_poisoned_lock() {
        let r = Ready::new();
        let inner = r.clone();
        let _ = std::thread::spawn(move || {
            let _guard = inner.0.lock().unwrap();
            panic!("poison the readiness set");
        })
        .join();
        assert!(r.0.is_poisoned());
        let t = r.register("proxy");
        assert_eq!(r.pending(), vec!["proxy"]);
        t.done();
        assert!(r.pending().is_empty());
    }
}
