//! # ztunnel: the zero-trust node proxy of Istio's ambient mesh
//!
//! Module map (each module's `//!` header says what it owns):
//!
//! - [`config`]: every environment variable and default; parsed from a key–value source.
//! - [`identity`]: SPIFFE identities, the built-in dev CA, and the per-identity certificate cache.
//! - [`tls`]: rustls client/server configs and peer verification; [`tls::provider`] is the only
//!   place that knows which crypto backend is compiled in.
//! - [`hbone`]: the HBONE protocol (HTTP/2 CONNECT over mTLS): client, server, stream, pool.
//! - [`state`]: workloads, services and policies the proxy knows; lookups only, no I/O.
//! - [`xds`]: where state comes from: the local config file, or istiod over delta ADS
//!   ([`xds::client`]); generated protos live in [`xds::proto`].
//! - [`rbac`]: authorization policy types and the L4 allow/deny decision engine (pure).
//! - [`proxy`]: the listeners (15001, 15006, 15008, 15080) and the byte copy between them.
//! - [`redirect`]: socket-level capture support (SO_ORIGINAL_DST, socket options), network
//!   namespaces ([`redirect::netns`]) and the in-pod iptables rules ([`redirect::rules`]).
//! - [`inpod`]: shared (in-pod) mode: the ZDS client and per-pod proxies.
//! - [`dns`]: the DNS proxy (15053).
//! - [`readiness`]: the 15021 readiness endpoint.
//! - [`admin`]: the 15000 admin endpoint (config dump, log level, shutdown).
//! - [`metrics`]: Prometheus metrics and the 15020 scrape endpoint.
//! - [`http_util`]: the small HTTP/1 server loop the operations endpoints share.
//! - [`drain`]: graceful-shutdown signalling.
//! - [`telemetry`]: logging setup.
//! - [`app`]: wires everything together and owns start-up and shutdown order.

pub mod admin;
pub mod app;
pub mod config;
pub mod dns;
pub mod drain;
pub mod hbone;
pub mod http_util;
pub mod identity;
pub mod inpod;
pub mod metrics;
pub mod proxy;
pub mod rbac;
pub mod readiness;
pub mod redirect;
pub mod state;
pub mod telemetry;
pub mod testbed;
pub mod tls;
pub mod xds;
