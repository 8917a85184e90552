//! The scrape endpoint (15020): `GET /metrics` and `GET /stats/prometheus` return the whole
//! registry; other paths 404, other methods 405. As upstream, the answer is labelled
//! OpenMetrics only when the scraper asks for it (`Accept: application/openmetrics-text`),
//! `text/plain` otherwise (what older scrapers and `curl` expect).

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::drain::DrainWatcher;
use crate::http_util::{self, Body};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PLAIN_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type to answer with, from the request's `Accept` headers.
fn content_type<B>(req: &Request<B>) -> &'static str {
    let wants_openmetrics = req.headers().get_all(http::header::ACCEPT).iter().any(|v| {
        v.to_str().unwrap_or_default().split(',').any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/openmetrics-text")
        })
    });
    if wants_openmetrics { OPENMETRICS } else { PLAIN_TEXT }
}

pub fn handle<B>(registry: &Registry, req: &Request<B>) -> Response<Body> {
    match req.uri().path() {
        "/metrics" | "/stats/prometheus" => {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return http_util::method_not_allowed("GET");
            }
            http_util::response(StatusCode::OK, content_type(req), super::encode(registry))
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

    #[test]
    fn content_type_follows_accept() {
        let reg = crate::metrics::MetricsBuilder::new("x").finish();
        let ct = |accept: Option<&str>| {
            let mut b = Request::builder().uri("/metrics");
            if let Some(a) = accept {
                b = b.header("accept", a);
            }
            let resp = handle(&reg, &b.body(()).unwrap());
            resp.headers()["content-type"].to_str().unwrap().to_string()
        };
        assert_eq!(ct(None), PLAIN_TEXT);
        assert_eq!(ct(Some("*/*")), PLAIN_TEXT);
        assert_eq!(ct(Some("text/plain;version=0.0.4;q=0.9")), PLAIN_TEXT);
        // What Prometheus sends.
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(ct(Some(prom)), OPENMETRICS);
        assert_eq!(ct(Some("Application/OpenMetrics-Text")), OPENMETRICS);
    }
}
