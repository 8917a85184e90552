//! Small helpers every layer uses, each written once: poison-tolerant locks ([`sync`]),
//! exponential backoff with jitter ([`backoff`]) and IPv4-mapped address normalisation
//! ([`net`]). A leaf: imports nothing from the crate.

pub mod backoff;
pub mod net;
pub mod sync;
