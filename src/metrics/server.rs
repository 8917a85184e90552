//! The scrape endpoint (15020): `GET /metrics` and `GET /stats/prometheus` return the whole
//! registry as OpenMetrics text; other paths 404, other methods 405.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::drain::DrainWatcher;
use crate::http_util::{self, Body};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub fn handle<B>(registry: &Registry, req: &Request<B>) -> Response<Body> {
    match req.uri().path() {
        "/metrics" | "/stats/prometheus" => {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return http_util::method_not_allowed("GET");
            }
            http_util::response(StatusCode::OK, CONTENT_TYPE, super::encode(registry))
        }
        _ => http_util::not_found(),
    }
}

pub async fn serve(listener: TcpListener, registry: Arc<Registry>, drain: DrainWatcher) {
    http_util::serve(listener, "metrics", drain, move |req| {
        let resp = handle(&registry, &req);
        async move { resp }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let reg = crate::metrics::MetricsBuilder::new("x").finish();
        let get = |m: Method, p: &str| handle(&reg, &Request::builder().method(m).uri(p).body(()).unwrap()).status();
        assert_eq!(get(Method::GET, "/metrics"), StatusCode::OK);
        assert_eq!(get(Method::GET, "/stats/prometheus"), StatusCode::OK);
        assert_eq!(get(Method::POST, "/metrics"), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get(Method::GET, "/nope"), StatusCode::NOT_FOUND);
    }
}
