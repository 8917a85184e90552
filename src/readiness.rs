//! Readiness (15021): `GET /healthz/ready` answers 200 `ready` once every start-up task has
//! completed, and 500 `not ready, pending: <tasks>` before that. Tasks register a
//! [`ReadyTask`] and are done when it is marked (or dropped after marking).
//!
//! Core tasks (xDS client, ZDS manager, listeners...) run under [`supervise`]: one that ends
//! or panics before drain turns readiness red for good ("<name> (stopped)") and logs an
//! error, instead of leaving a frozen node reporting ready; one whose state can be rebuilt
//! (the xDS client) is restarted, and readiness recovers once the new instance is ready.

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
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

/// Serves readiness on `listener` until drain, with the operations listeners' limits and
/// accept back-off (its own accept loop used to spin on EMFILE).
pub async fn serve(listener: TcpListener, ready: Ready, drain: DrainWatcher) {
    crate::http_util::serve(listener, "readiness", drain, move |req| {
        let resp = respond(&ready, &req);
        async move { resp }
    })
    .await
}

/// Restart back-off for a core task that keeps dying: 1 s doubling to 60 s.
const RESTART_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));

/// How a core task ended before drain.
fn exit_reason(result: std::thread::Result<()>) -> String {
    match result {
        Ok(()) => "returned".to_string(),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string payload".into());
            format!("panicked: {msg}")
        }
    }
}

/// Runs core task `name` until drain. If it returns or panics first, logs an error and
/// registers a readiness task "`name` (stopped)" that never completes. `drain` is only
/// looked at (a task ending because of drain is not an alarm): it is detached at once, so
/// drain never waits for the supervisor.
pub async fn supervise(name: &'static str, ready: Ready, drain: DrainWatcher, task: impl Future<Output = ()>) {
    let drain = drain.detached();
    let result = AssertUnwindSafe(task).catch_unwind().await;
    if drain.is_draining() {
        return;
    }
    tracing::error!(task = name, "core task {}; reporting not ready", exit_reason(result));
    // Never marked done (dropping a task leaves it pending): a dead core task leaves the node
    // unfit to serve until it is restarted.
    drop(ready.register(&format!("{name} (stopped)")));
}

/// Like [`supervise`], for a task that can be rebuilt from scratch: after an early end it is
/// started again (`restart`, with back-off) and handed a readiness task "`name`
/// (restarting)", which it marks once it is ready again (the xDS client: first full sync).
pub async fn supervise_restarting<F, Fut>(
    name: &'static str,
    ready: Ready,
    drain: DrainWatcher,
    first: Fut,
    mut restart: F,
) where
    F: FnMut(ReadyTask) -> Fut,
    Fut: Future<Output = ()>,
{
    let drain = drain.detached();
    let mut backoff = RESTART_BACKOFF.0;
    let mut task = first;
    loop {
        let result = AssertUnwindSafe(task).catch_unwind().await;
        if drain.is_draining() {
            return;
        }
        tracing::error!(task = name, restart_in = ?backoff, "core task {}; restarting it", exit_reason(result));
        // Red from now until the new instance says it is ready.
        let pending = ready.register(&format!("{name} (restarting)"));
        tokio::select! {
            _ = drain.signaled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF.1);
        task = restart(pending);
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

    #[tokio::test]
    async fn dead_core_task_turns_readiness_red() {
        let (_trigger, watcher) = crate::drain::new();
        let r = Ready::new();
        supervise("zds manager", r.clone(), watcher.clone(), async { panic!("bug") }).await;
        supervise("xds watcher", r.clone(), watcher.clone(), async {}).await;
        assert_eq!(r.pending(), vec!["xds watcher (stopped)", "zds manager (stopped)"]);
    }

    #[tokio::test]
    async fn core_task_ending_on_drain_is_no_alarm() {
        let (trigger, watcher) = crate::drain::new();
        let r = Ready::new();
        let w = watcher.clone();
        let task = async move { w.signaled().await };
        let supervised = supervise("proxy", r.clone(), watcher.clone(), task);
        drop(watcher);
        trigger.signal();
        supervised.await;
        assert!(r.pending().is_empty(), "{:?}", r.pending());
    }

    #[tokio::test(start_paused = true)]
    async fn restarted_core_task_brings_readiness_back() {
        let (_trigger, watcher) = crate::drain::new();
        let r = Ready::new();
        let starts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (n, probe) = (starts.clone(), r.clone());
        let restart = move |pending: ReadyTask| {
            let n = n.clone();
            async move {
                if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    drop(pending);
                    panic!("dies again");
                }
                pending.done();
                std::future::pending::<()>().await
            }
            .boxed()
        };
        let supervised =
            supervise_restarting("xds client", r.clone(), watcher.clone(), async { panic!("bug") }.boxed(), restart);
        tokio::select! {
            _ = supervised => panic!("a restartable task is never given up on"),
            _ = async {
                while starts.load(std::sync::atomic::Ordering::SeqCst) < 2 || !probe.pending().is_empty() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            } => {}
        }
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 2, "restarted after each death");
        assert!(r.pending().is_empty(), "ready again once the new instance is: {:?}", r.pending());
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
