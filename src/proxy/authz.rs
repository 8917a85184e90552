//! Authorization of inbound connections: the I/O edge of [`crate::rbac`].
//!
//! Owns [`InboundConn`] (what an inbound connection is, as policies and log lines see it) and
//! [`authorize`], which evaluates one connection against the policies of its destination
//! workload and writes the decision's log lines. The decision itself is the pure
//! [`rbac::evaluate`]; closing or refusing is left to the listener that called.
//!
//! Log lines (target `rbac`), worded like upstream so existing greps keep working:
//! - denial: WARN `RBAC rejected`, once per connection, with `conn=<src ip>(<identity>)-><dst>`,
//!   both sides' addresses and identities, `policy` (the deciding `ns/name`, or `-` when no
//!   ALLOW policy matched) and `reason` (`explicitly denied by: ns/name` or `allow policies
//!   exist, but none allowed`);
//! - dry-run policies that matched: INFO `RBAC dry-run policy matched (not enforced)`;
//! - allowed: INFO `RBAC allowed` when `AUTHZ_POLICY_INFO_LOGGING=true`, DEBUG otherwise.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::identity::Identity;
use crate::rbac::{self, Decision, DenyReason, Evaluation};
use crate::state::ProxyState;
use crate::state::workload::Workload;

/// One inbound connection's authorization inputs, kept for its lifetime so it can be
/// re-checked when policies change.
#[derive(Debug)]
pub struct InboundConn {
    /// What policies match on: peer identity (none on 15006), peer IP, destination IP and the
    /// real destination port.
    pub rbac: rbac::Connection,
    /// The peer's address with its port, for logs.
    pub src: SocketAddr,
    /// The destination workload, as it was when the connection was accepted. Re-checks look
    /// it up again by uid in the new state.
    pub dst_workload: Arc<Workload>,
}

impl InboundConn {
    pub fn new(
        src: SocketAddr,
        src_identity: Option<Identity>,
        dst: SocketAddr,
        dst_workload: Arc<Workload>,
    ) -> InboundConn {
        InboundConn {
            rbac: rbac::Connection { src_identity, src_ip: src.ip(), dst_ip: dst.ip(), dst_port: dst.port() },
            src,
            dst_workload,
        }
    }

    pub fn dst(&self) -> SocketAddr {
        SocketAddr::new(self.rbac.dst_ip, self.rbac.dst_port)
    }
}

/// Upstream's compact rendering: `10.0.0.1(spiffe://td/ns/a/sa/b)->10.0.0.2:80`.
impl fmt::Display for InboundConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rbac.src_ip)?;
        if let Some(id) = &self.rbac.src_identity {
            write!(f, "({id})")?;
        }
        write!(f, "->{}", self.dst())
    }
}

/// Evaluates `conn` against the policies that apply to its destination workload in `state`.
/// The workload is looked up again in `state` (its policy bindings may have changed); if it is
/// gone, nothing can authorize the connection and it is denied (fail closed).
pub fn evaluate(state: &ProxyState, conn: &InboundConn) -> Evaluation {
    match state.workload_by_uid(&conn.dst_workload.uid) {
        Some(w) => state.evaluate(&w, &conn.rbac),
        None => Evaluation {
            decision: Decision::Deny(workload_gone(&conn.dst_workload)),
            dry_run: Vec::new(),
            allowed_by: None,
        },
    }
}

/// The denial for a connection whose destination workload is no longer in the state.
pub(crate) fn workload_gone(w: &Workload) -> DenyReason {
    DenyReason { policy: None, message: format!("destination workload {} no longer exists", w.uid) }
}

/// Decides `conn` against `state`, logs the decision, and returns why it is denied, if it is.
/// The caller must refuse the connection on `Err` without touching the workload.
pub fn authorize(state: &ProxyState, conn: &InboundConn, info_logging: bool) -> Result<(), DenyReason> {
    let eval = evaluate(state, conn);
    log_dry_run(conn, &eval);
    match eval.decision {
        Decision::Allow => {
            let by = eval.allowed_by.as_deref().unwrap_or("-");
            if info_logging {
                tracing::info!(target: "rbac", conn = %conn, policy = by, "RBAC allowed");
            } else {
                tracing::debug!(target: "rbac", conn = %conn, policy = by, "RBAC allowed");
            }
            Ok(())
        }
        Decision::Deny(reason) => {
            log_denial(conn, &reason, Denial::AtConnect);
            Err(reason)
        }
    }
}

fn log_dry_run(conn: &InboundConn, eval: &Evaluation) {
    for (policy, would) in &eval.dry_run {
        let would = if would.is_allow() { "allow" } else { "deny" };
        tracing::info!(target: "rbac", conn = %conn, policy = %policy, would, "RBAC dry-run policy matched (not enforced)");
    }
}

/// When a connection was found not allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Denial {
    /// Before the workload was dialled.
    AtConnect,
    /// While open, on re-check after a state update.
    AfterUpdate,
}

/// The single WARN line for a denied (or revoked) connection.
pub(crate) fn log_denial(conn: &InboundConn, reason: &DenyReason, when: Denial) {
    let w = &conn.dst_workload;
    let src_identity = conn.rbac.src_identity.as_ref().map(|i| i.to_string());
    // One call site per message: tracing needs the message at compile time.
    macro_rules! warn_with {
        ($msg:literal) => {
            tracing::warn!(
                target: "rbac",
                conn = %conn,
                src.addr = %conn.src,
                src.identity = src_identity.as_deref().unwrap_or("-"),
                dst.addr = %conn.dst(),
                dst.workload = %w.name,
                dst.namespace = %w.namespace,
                dst.identity = %w.identity(),
                policy = reason.policy.as_deref().unwrap_or("-"),
                reason = %reason,
                $msg
            )
        };
    }
    match when {
        Denial::AtConnect => warn_with!("RBAC rejected"),
        Denial::AfterUpdate => {
            warn_with!("connection closed because it is no longer allowed after a policy update")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workload whose only ALLOW policy is referenced but unknown (rejected at conversion,
    /// or not arrived yet) is denied: skipping the reference would flip it to allow-all.
    #[test]
    fn unknown_selected_policy_denies() {
        let mut st = ProxyState::new();
        let mut w = Workload::new("u1", "ns", "a", vec!["10.0.0.1".parse().unwrap()]);
        w.authorization_policies = vec!["ns/only-allow".into()];
        let w = st.insert_workload(w).unwrap();
        let conn = InboundConn::new(
            "10.0.0.5:4000".parse().unwrap(),
            Some(Identity::new("cluster.local", "ns", "client")),
            "10.0.0.1:80".parse().unwrap(),
            w,
        );
        let eval = evaluate(&st, &conn);
        let Decision::Deny(reason) = eval.decision else { panic!("allowed: {eval:?}") };
        assert!(reason.message.contains("ns/only-allow"), "{reason}");
    }
}
