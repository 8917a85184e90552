//! L4 authorization (Istio AuthorizationPolicy as ztunnel enforces it).
//!
//! Owns the policy data types ([`types`]) and the decision engine ([`engine`]): given the
//! policies that apply to a destination workload and one connection's facts, decide allow or
//! deny with Istio's semantics. It decides; it never performs I/O, never looks anything up and
//! never closes connections — the proxy does that with the [`Evaluation`] it gets back. Which
//! policies apply to a workload is answered by the state ([`crate::state::ProxyState::evaluate`]),
//! which keeps one precomputed [`PolicySet`] per scope (`index.rs`).

mod engine;
mod index;
mod types;

#[cfg(test)]
mod tests;

pub use engine::{Connection, Decision, DenyReason, Evaluation, Evaluator, evaluate};
pub use index::{Lane, PolicySet};
pub use types::{
    Authorization, Cidr, CidrError, PolicyAction, PolicyScope, RbacMatch, ServiceAccountMatch, StringMatch,
};
