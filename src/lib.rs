//! # ztunnel: the zero-trust node proxy of Istio's ambient mesh
//!
//! Module map (each module's `//!` header says what it owns). Dependencies point down this list:
//! a module imports only modules above it (`scripts/module-graph.py` checks there are no cycles).
//!
//! Values and leaves:
//! - [`util`]: locks, backoff with jitter, address normalisation (each written once).
//! - [`drain`]: graceful-shutdown signalling.
//! - [`runtime`]: the data-plane threads of the thread-per-core layout (one runtime each).
//! - [`identity`]: the SPIFFE identity value type (parse, format, compare). No I/O.
//! - [`socket`]: the socket factory every listener and dialler goes through (options, marks,
//!   transparent binds, keepalive, SO_REUSEPORT) and network namespaces ([`socket::netns`]).
//! - [`config`]: every environment variable and default; parsed from a key-value source.
//! - [`telemetry`]: logging setup.
//! - [`proto`]: generated protobuf types (workload API, authorization, CA, ZDS, discovery).
//!
//! Security and the control plane:
//! - [`redirect`]: capture: `SO_ORIGINAL_DST` and the in-pod iptables rules ([`redirect::rules`]).
//! - [`tls`]: rustls client/server configs, peer verification and CRLs; [`tls::provider`] is the
//!   only place that knows which crypto backend is compiled in.
//! - [`control_plane`]: the gRPC channel to istiod and the credentials sent on it.
//! - [`certs`]: where workload certificates come from (istiod's CA, the built-in dev CA, files)
//!   and the per-identity certificate cache with rotation.
//! - [`rbac`]: authorization policy types and the L4 allow/deny decision engine (pure).
//! - [`state`]: workloads, services and policies the proxy knows; lookups only, no I/O.
//! - [`http_util`]: the small HTTP/1 server loop the operations endpoints share (with limits).
//! - [`readiness`]: the 15021 readiness endpoint, the tasks it waits for, core-task supervision.
//! - [`xds`]: where state comes from: the local config file, or istiod over delta ADS.
//!
//! The data path and the endpoints around it:
//! - [`hbone`]: the HBONE protocol (HTTP/2 CONNECT over mTLS): dialler, client, server, stream,
//!   connection pool.
//! - [`metrics`]: Prometheus metrics, the baggage header, and the 15020 scrape endpoint.
//! - [`dns`]: the DNS proxy (15053), and the resolver for hostname-only endpoints.
//! - [`proxy`]: the listeners (15001, 15006, 15008, 15080), routing, authorization and the byte
//!   copy between them.
//! - [`inpod`]: shared (in-pod) mode: the ZDS client and per-pod proxies.
//! - [`admin`]: the 15000 admin endpoint (config dump, log level, shutdown).
//! - [`app`]: wires everything together and owns start-up and shutdown order.
//! - `testbed` (tests, benches and `demo` only, behind the `testing` feature): a test istiod,
//!   a test CNI, process spawners.

// `unsafe` only where the standard library, socket2 and tokio have no safe API; each such module
// is allowed below (or at its declaration) and says why in its header: socket (setns, rlimit,
// IPV6_TRANSPARENT), redirect (SO_ORIGINAL_DST), inpod::protocol (SCM_RIGHTS over SOCK_SEQPACKET),
// tls::provider::boring (BoringSSL's FIPS self-test and service indicator), testbed::netns.
#![deny(unsafe_code)]

// Roughly from the leaves up: each module imports only from modules listed above it, except
// `app`, which wires everything.
pub mod util;
pub mod drain;
pub mod runtime;
pub mod identity;
#[allow(unsafe_code)]
pub mod socket;
pub mod config;
pub mod telemetry;
pub mod proto;
#[allow(unsafe_code)]
pub mod redirect;
pub mod tls;
pub mod control_plane;
pub mod certs;
pub mod rbac;
pub mod state;
pub mod http_util;
pub mod readiness;
pub mod xds;
pub mod metrics;
pub mod hbone;
pub mod dns;
pub mod proxy;
pub mod inpod;
pub mod admin;
pub mod app;
#[cfg(any(test, feature = "testing"))]
pub mod testbed;
