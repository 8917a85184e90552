//! Readiness (15021): `GET /healthz/ready` answers 200 `ready` once every start-up task has
//! completed, and 500 `not ready, pending: <tasks>` before that. Tasks register a
//! [`ReadyTask`] and are done when it is marked (or dropped after marking).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::drain::DrainWatcher;
use crate::util::sync::lock;

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
        lock(&self.ready.0).remove(&self.name);
    }
}

impl Ready {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, name: &str) -> ReadyTask {
        lock(&self.0).insert(name.to_string());
        ReadyTask { name: name.to_string(), ready: self.clone() }
    }

    /// Pending task names, sorted.
    pub fn pending(&self) -> Vec<String> {
        lock(&self.0).iter().cloned().collect()
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

/// Serves readiness on `listener` until drain.
pub async fn serve(listener: TcpListener, ready: Ready, drain: DrainWatcher) {
    loop {
        let (stream, _peer): (_, SocketAddr) = tokio::select! {
            _ = drain.signaled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => { tracing::warn!("readiness accept failed: {e}"); continue; }
            },
        };
        let ready = ready.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let resp = respond(&ready, &req);
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
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
}
