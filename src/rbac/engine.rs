//! The L4 authorization decision: Istio's ALLOW/DENY evaluation over one connection.
//!
//! Owns [`Connection`] (the facts a decision may use), [`evaluate`], [`Evaluator`] and
//! [`Authorization::matches`]. It decides; it never performs I/O and never looks policies up —
//! the caller feeds the policies scoped to the destination workload, as a list ([`evaluate`])
//! or as precomputed [`PolicySet`]s plus loose policies ([`Evaluator`], what
//! [`crate::state::ProxyState::evaluate`] does, visiting only candidates the set's index
//! cannot rule out).
//!
//! Semantics mirror upstream ztunnel (`src/rbac.rs` `matches`, `src/state.rs` `assert_rbac`):
//! - a policy matches if ANY rule matches; a rule if ALL its clauses match; a clause if ANY of
//!   its matches matches; a match if EVERY field it sets matches, a field being "any of the
//!   positive values AND none of the negated ones";
//! - a policy with no rules never matches; a rule with no clauses always matches; an empty
//!   clause matches; an empty match (no field set) is skipped, i.e. never matches;
//! - order: any matching DENY ⇒ deny; else no ALLOW policy ⇒ allow; else a matching ALLOW ⇒
//!   allow; else deny ("allow policies exist, but none allowed");
//! - dry-run policies are evaluated and reported but never change the decision.
//!
//! Absent identity (plaintext inbound): upstream compares namespaces against the empty string
//! and principals/service accounts against nothing. So positive principal/service-account
//! fields cannot match and their negations cannot exclude; namespaces behave the same for every
//! pattern istiod can produce (`Presence`, non-empty exact/prefix/suffix), while the degenerate
//! local-config patterns `!Exact ""`, `!Prefix ""`, `!Suffix ""` do match the empty namespace,
//! exactly as upstream.
//!
//! Hot path: building the per-connection view borrows from the connection, the principal is
//! matched piecewise instead of formatted, and nothing is allocated until the result is built
//! (a key string for the deciding policy, plus entries for dry-run policies that matched).

use std::net::IpAddr;

use tracing::{debug, trace};

use super::index::{Lane, PolicySet};
use super::types::{Authorization, PolicyAction, RbacMatch, StringMatch};
use crate::identity::Identity;

/// Upstream's message when ALLOW policies exist and none matched; operators grep for it.
const NOT_ALLOWED: &str = "allow policies exist, but none allowed";

/// The facts about one inbound connection that a policy may test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// The peer's mTLS identity; `None` on the plaintext (15006) path.
    pub src_identity: Option<Identity>,
    pub src_ip: IpAddr,
    /// The workload address the connection is for.
    pub dst_ip: IpAddr,
    /// The real destination port (the HBONE CONNECT target's port, never 15008).
    pub dst_port: u16,
}

/// The outcome of evaluating policies for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Why a connection is (or, for dry-run policies, would be) denied. `Display` is upstream's
/// wording, so access logs read "connection closed due to policy rejection: <reason>".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DenyReason {
    /// `ns/name` of the DENY policy that matched; `None` when no ALLOW policy matched.
    pub policy: Option<String>,
    pub message: String,
}

impl DenyReason {
    fn explicitly_denied(p: &Authorization) -> DenyReason {
        let key = p.key();
        DenyReason { message: format!("explicitly denied by: {key}"), policy: Some(key) }
    }

    fn not_allowed() -> DenyReason {
        DenyReason { policy: None, message: NOT_ALLOWED.to_string() }
    }

    fn unknown_policy(key: &str) -> DenyReason {
        DenyReason {
            policy: None,
            message: format!("{NOT_ALLOWED} (selected policy {key} is unknown; failing closed)"),
        }
    }
}

/// The enforced decision plus what dry-run policies would have done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// `(policy key, would-be decision)` for every dry-run policy that matched, in input
    /// order: `Allow` for an ALLOW policy, `Deny` for a DENY policy. Empty (and unallocated)
    /// in the common case.
    pub dry_run: Vec<(String, Decision)>,
    /// `ns/name` of the first ALLOW policy that matched, when that is what allowed the
    /// connection. `None` when allowed because no ALLOW policy applies, and when denied.
    pub allowed_by: Option<String>,
}

impl Evaluation {
    pub fn is_allowed(&self) -> bool {
        self.decision.is_allow()
    }
}

/// Decides one connection against the policies that apply to its destination workload.
///
/// One pass over `policies`; the result does not depend on their order except for which
/// matching policy is named in `allowed_by`/`DenyReason::policy` (the first one).
pub fn evaluate<'a>(policies: impl IntoIterator<Item = &'a Authorization>, conn: &Connection) -> Evaluation {
    let mut ev = Evaluator::new(conn);
    for p in policies {
        ev.visit(p);
    }
    ev.finish(None)
}

/// An evaluation in progress: policies are fed in their overall order, one at a time
/// ([`Evaluator::visit`]) or a precomputed [`PolicySet`] at a time ([`Evaluator::visit_set`]),
/// and [`Evaluator::finish`] gives the same [`Evaluation`] [`evaluate`] would for the
/// concatenation. It exists so a caller holding policies in several places (namespace bucket,
/// global bucket, selected ones) never has to collect them into one list.
pub struct Evaluator<'a, 'c> {
    subject: Subject<'c>,
    denied_by: Option<&'a Authorization>,
    allowed_by: Option<&'a Authorization>,
    any_allow: bool,
    // `Vec::new` does not allocate; only a matching dry-run policy pays for one.
    dry_run: Vec<(String, Decision)>,
}

impl<'a, 'c> Evaluator<'a, 'c> {
    pub fn new(conn: &'c Connection) -> Evaluator<'a, 'c> {
        Evaluator {
            subject: Subject::new(conn),
            denied_by: None,
            allowed_by: None,
            any_allow: false,
            dry_run: Vec::new(),
        }
    }

    /// Feeds one policy (the next in overall order).
    pub fn visit(&mut self, p: &'a Authorization) {
        if p.dry_run {
            self.dry_run_candidate(p);
            return;
        }
        match p.action {
            PolicyAction::Deny => self.deny_candidate(p),
            PolicyAction::Allow => {
                self.any_allow = true;
                self.allow_candidate(p);
            }
        }
    }

    /// Feeds every policy of `set` (the next ones in overall order), visiting only those
    /// the set's index cannot rule out for this connection. Equivalent to visiting each
    /// policy of the set in order: within each lane candidates come in set order, the first
    /// matching DENY/ALLOW is the first in that order, and dry-run reports keep set order.
    pub fn visit_set(&mut self, set: &'a PolicySet) {
        let (ns, port) = (self.subject.namespace, self.subject.dst_port);
        self.any_allow |= set.has_enforced_allow();
        for p in set.candidates(Lane::DryRun, ns, port) {
            self.dry_run_candidate(p);
        }
        if self.denied_by.is_none() {
            for p in set.candidates(Lane::Deny, ns, port) {
                self.deny_candidate(p);
                if self.denied_by.is_some() {
                    break;
                }
            }
        }
        if self.denied_by.is_none() && self.allowed_by.is_none() {
            for p in set.candidates(Lane::Allow, ns, port) {
                self.allow_candidate(p);
                if self.allowed_by.is_some() {
                    break;
                }
            }
        }
    }

    fn dry_run_candidate(&mut self, p: &'a Authorization) {
        if self.subject.policy_matches(p) {
            let would = match p.action {
                PolicyAction::Allow => Decision::Allow,
                PolicyAction::Deny => Decision::Deny(DenyReason::explicitly_denied(p)),
            };
            debug!(policy.namespace = %p.namespace, policy.name = %p.name,
                   action = ?p.action, "dry-run policy matched (not enforced)");
            self.dry_run.push((p.key(), would));
        }
    }

    fn deny_candidate(&mut self, p: &'a Authorization) {
        // After the first matching DENY the outcome is fixed; later enforced policies need no
        // evaluation (dry-run ones still do).
        if self.denied_by.is_none() && self.subject.policy_matches(p) {
            debug!(policy.namespace = %p.namespace, policy.name = %p.name, "deny policy matched");
            self.denied_by = Some(p);
        }
    }

    fn allow_candidate(&mut self, p: &'a Authorization) {
        if self.denied_by.is_none() && self.allowed_by.is_none() && self.subject.policy_matches(p) {
            trace!(policy.namespace = %p.namespace, policy.name = %p.name, "allow policy matched");
            self.allowed_by = Some(p);
        }
    }

    /// The decision. `missing_allow` names a policy the workload selects that is not known
    /// (rejected at conversion, or not arrived yet): it counts as an ALLOW policy that
    /// matches nothing, so a workload whose only ALLOW policy is missing is denied rather
    /// than flipped to allow-all (upstream skips it; we fail closed).
    pub fn finish(self, missing_allow: Option<&str>) -> Evaluation {
        let Evaluator { denied_by, allowed_by, any_allow, dry_run, .. } = self;
        let (decision, allowed_by) = match (denied_by, allowed_by) {
            (Some(deny), _) => (Decision::Deny(DenyReason::explicitly_denied(deny)), None),
            (None, Some(allow)) => (Decision::Allow, Some(allow.key())),
            (None, None) if !any_allow && missing_allow.is_none() => {
                trace!("no allow policies, allow");
                (Decision::Allow, None)
            }
            (None, None) if !any_allow => {
                let key = missing_allow.unwrap_or_default();
                debug!(policy = key, "selected policy unknown, failing closed");
                (Decision::Deny(DenyReason::unknown_policy(key)), None)
            }
            (None, None) => {
                debug!("allow policies exist, but none matched");
                (Decision::Deny(DenyReason::not_allowed()), None)
            }
        };
        Evaluation { decision, dry_run, allowed_by }
    }
}

impl Authorization {
    /// True if this policy's rules match the connection (regardless of action and dry-run).
    pub fn matches(&self, conn: &Connection) -> bool {
        Subject::new(conn).policy_matches(self)
    }
}

/// One connection's facts in the shapes policies compare against, derived once per
/// evaluation rather than once per policy or match.
pub(super) struct Subject<'c> {
    src_ip: IpAddr,
    dst_ip: IpAddr,
    dst_port: u16,
    identity: Option<&'c Identity>,
    /// Upstream compares namespace patterns against "" when there is no identity.
    namespace: &'c str,
    principal: Option<Principal<'c>>,
}

impl<'c> Subject<'c> {
    fn new(conn: &'c Connection) -> Subject<'c> {
        let identity = conn.src_identity.as_ref();
        Subject {
            src_ip: conn.src_ip,
            dst_ip: conn.dst_ip,
            dst_port: conn.dst_port,
            identity,
            namespace: identity.map(Identity::namespace).unwrap_or(""),
            principal: identity.map(Principal::new),
        }
    }

    fn policy_matches(&self, p: &Authorization) -> bool {
        // `any` over no rules is false: a rule-less policy never matches (upstream).
        p.rules.iter().any(|rule| {
            // `all` over no clauses is true: an empty rule matches everything (upstream).
            rule.iter().all(|clause| {
                // An empty clause matches; empty matches inside a clause are skipped.
                clause.is_empty() || clause.iter().any(|m| !m.is_empty() && self.match_matches(m))
            })
        })
    }

    fn match_matches(&self, m: &RbacMatch) -> bool {
        // Cheap, identity-free fields first. Every test is pure, so short-circuiting in a
        // different order than upstream cannot change the result.
        field(&m.destination_ports, &m.not_destination_ports, |p| *p == self.dst_port)
            && field(&m.destination_ips, &m.not_destination_ips, |c| c.contains(self.dst_ip))
            && field(&m.source_ips, &m.not_source_ips, |c| c.contains(self.src_ip))
            && field(&m.namespaces, &m.not_namespaces, |n| n.matches(self.namespace))
            && field(&m.service_accounts, &m.not_service_accounts, |sa| {
                self.identity.is_some_and(|id| sa.matches(id.namespace(), id.service_account()))
            })
            && field(&m.principals, &m.not_principals, |p| self.principal.as_ref().is_some_and(|pr| pr.matches(p)))
    }
}

/// One field: any positive value matches (or none are set) and no negated value matches.
fn field<T>(positive: &[T], negative: &[T], pred: impl Fn(&T) -> bool) -> bool {
    (positive.is_empty() || positive.iter().any(&pred)) && !negative.iter().any(&pred)
}

/// An identity as policies see it: `<trust-domain>/ns/<ns>/sa/<sa>` (the SPIFFE ID without
/// `spiffe://`, which Istio's principal patterns assume). Kept as its pieces and compared
/// piecewise so evaluating a connection never formats a string.
struct Principal<'c> {
    parts: [&'c str; 5],
    len: usize,
}

impl<'c> Principal<'c> {
    fn new(id: &'c Identity) -> Principal<'c> {
        let parts = [id.trust_domain(), "/ns/", id.namespace(), "/sa/", id.service_account()];
        Principal { parts, len: parts.iter().map(|p| p.len()).sum() }
    }

    fn matches(&self, m: &StringMatch) -> bool {
        match m {
            StringMatch::Exact(s) => s.len() == self.len && self.starts_with(s.as_bytes()),
            StringMatch::Prefix(s) => self.starts_with(s.as_bytes()),
            StringMatch::Suffix(s) => self.ends_with(s.as_bytes()),
            // Never empty: the `/ns/` and `/sa/` separators are always there.
            StringMatch::Presence => self.len > 0,
        }
    }

    fn starts_with(&self, mut want: &[u8]) -> bool {
        for part in self.parts.iter().map(|p| p.as_bytes()) {
            if want.is_empty() {
                return true;
            }
            let n = want.len().min(part.len());
            if want[..n] != part[..n] {
                return false;
            }
            want = &want[n..];
        }
        want.is_empty()
    }

    fn ends_with(&self, mut want: &[u8]) -> bool {
        for part in self.parts.iter().rev().map(|p| p.as_bytes()) {
            if want.is_empty() {
                return true;
            }
            let n = want.len().min(part.len());
            if want[want.len() - n..] != part[part.len() - n..] {
                return false;
            }
            want = &want[..want.len() - n];
        }
        want.is_empty()
    }
}

#[cfg(test)]
mod principal_tests {
    use super::*;

    /// Piecewise matching must agree with matching the formatted string, including patterns
    /// that straddle the separators and byte boundaries.
    #[test]
    fn piecewise_matches_formatted() {
        let ids = [
            Identity::new("cluster.local", "default", "httpbin"),
            Identity::new("", "a", "b"),
            Identity::new("td", "ns", "sa"),
        ];
        for id in &ids {
            let full = id.to_string();
            let stripped = full.strip_prefix("spiffe://").unwrap();
            let p = Principal::new(id);
            let mut patterns = vec![String::new()];
            for i in 0..=stripped.len() {
                patterns.push(stripped[..i].to_string());
                patterns.push(stripped[i..].to_string());
                patterns.push(format!("{}x", &stripped[..i]));
                patterns.push(format!("x{}", &stripped[i..]));
            }
            patterns.push(format!("{stripped}/extra"));
            for pat in &patterns {
                for m in [
                    StringMatch::Exact(pat.clone()),
                    StringMatch::Prefix(pat.clone()),
                    StringMatch::Suffix(pat.clone()),
                    StringMatch::Presence,
                ] {
                    assert_eq!(p.matches(&m), m.matches(stripped), "{m:?} vs {stripped}");
                }
            }
        }
    }
}
