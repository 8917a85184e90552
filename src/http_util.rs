//! Plumbing shared by the operations endpoints (admin 15000, metrics 15020): an HTTP/1 accept
//! loop that stops on drain, and small response helpers. Handlers are plain async functions
//! from request to response; they never see sockets.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::drain::DrainWatcher;

pub type Body = Full<Bytes>;

/// A response with a body and content type.
pub fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", body)
}

pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

pub fn method_not_allowed(allowed: &str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, format!("method not allowed; use {allowed}\n"));
    if let Ok(v) = http::HeaderValue::from_str(allowed) {
        r.headers_mut().insert(http::header::ALLOW, v);
    }
    r
}

/// Serves `handler` on `listener` until drain. Each connection runs in its own task; an
/// operator's slow client cannot hold up the data path or shutdown (connections are not
/// drain-tracked).
pub async fn serve<H, F>(listener: TcpListener, name: &'static str, drain: DrainWatcher, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    // Holding a non-detached watcher here would make every drain wait for this loop.
    let detached = drain.detached();
    drop(drain);
    let drain = detached;
    loop {
        let stream = tokio::select! {
            _ = drain.signaled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(listener = name, "accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
