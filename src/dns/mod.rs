//! The DNS proxy (port 15053, UDP and TCP): answers mesh service names from the state and
//! forwards everything else to the upstream resolvers.
//!
//! - [`lookup`]: pure name → service resolution (search domains, short names);
//! - [`server`]: wire handling (hickory-proto), forwarding, truncation, the serve loops;
//! - [`metrics`]: `istio_dns_*` counters and the upstream latency histogram;
//! - [`resolve`]: the caching stub resolver for hostname-only endpoints (not the proxy's path).

pub mod lookup;
pub mod metrics;
pub mod resolve;
pub mod server;
