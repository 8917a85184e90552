//! Precomputed policy sets: the policies of one scope (a namespace, or the GLOBAL ones), split
//! by lane (enforced DENY, enforced ALLOW, dry-run) and indexed by the source namespace a policy
//! requires, so a decision visits only the policies that could match its connection.
//!
//! Owns [`PolicySet`]. Built once per change of its scope (by the state store), shared
//! read-only by every decision; a decision borrows from it and allocates nothing.
//!
//! Why index by source namespace: it is the one fact nearly every real policy pins (`from:
//! source.namespaces`, `source.principals`, service accounts), and a mesh with many policies in
//! one namespace usually has them because many callers each get their own. A policy whose
//! namespace requirement cannot be derived exactly goes to the lane's `rest` list and is always
//! visited, so the index only ever skips policies that cannot match (it is a necessary
//! condition, never a guess). Ports were considered too, but policies in one namespace mostly
//! share their ports, so they would not narrow the set.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::types::{Authorization, PolicyAction, RbacMatch, StringMatch};

/// The lanes a decision walks, each in set order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Deny,
    Allow,
    DryRun,
}

#[derive(Debug, Default)]
struct LaneIndex {
    /// Source namespace → positions (ascending) of the policies that can only match it.
    by_namespace: HashMap<Box<str>, Vec<u32>>,
    /// Positions (ascending) of policies with no derivable namespace requirement.
    rest: Vec<u32>,
}

/// The policies of one scope, in their evaluation order, with a per-lane namespace index.
#[derive(Debug, Default)]
pub struct PolicySet {
    policies: Vec<Arc<Authorization>>,
    enforced_allow: bool,
    deny: LaneIndex,
    allow: LaneIndex,
    dry_run: LaneIndex,
}

impl PolicySet {
    /// Indexes `policies`, keeping their order (the order decisions name the first match in).
    pub fn new(policies: Vec<Arc<Authorization>>) -> PolicySet {
        let mut set = PolicySet { enforced_allow: false, ..PolicySet::default() };
        for (i, p) in policies.iter().enumerate() {
            let lane = match (p.dry_run, p.action) {
                (true, _) => &mut set.dry_run,
                (false, PolicyAction::Deny) => &mut set.deny,
                (false, PolicyAction::Allow) => {
                    set.enforced_allow = true;
                    &mut set.allow
                }
            };
            let i = u32::try_from(i).expect("fewer than 2^32 policies in one scope");
            match required_namespaces(p) {
                None => lane.rest.push(i),
                Some(namespaces) => {
                    // An empty set: the policy can never match (e.g. no rules); nothing to visit.
                    for ns in namespaces {
                        lane.by_namespace.entry(ns.into()).or_default().push(i);
                    }
                }
            }
        }
        set.policies = policies;
        set
    }

    pub fn policies(&self) -> &[Arc<Authorization>] {
        &self.policies
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Whether an enforced ALLOW policy is in the set (then "no ALLOW matched" denies).
    pub fn has_enforced_allow(&self) -> bool {
        self.enforced_allow
    }

    /// The policies of `lane` that a connection from `namespace` could match, in set order.
    pub fn candidates<'s>(&'s self, lane: Lane, namespace: &str) -> impl Iterator<Item = &'s Authorization> + 's {
        let idx = match lane {
            Lane::Deny => &self.deny,
            Lane::Allow => &self.allow,
            Lane::DryRun => &self.dry_run,
        };
        let pinned = idx.by_namespace.get(namespace).map(Vec::as_slice).unwrap_or(&[]);
        Merge { a: pinned, b: &idx.rest }.map(|i| self.policies[i as usize].as_ref())
    }
}

/// Two ascending position lists merged into one ascending sequence (no allocation). A
/// position is in at most one of them, so no deduplication is needed.
struct Merge<'s> {
    a: &'s [u32],
    b: &'s [u32],
}

impl Iterator for Merge<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let list = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first)
    }
}

/// The source namespaces a policy can match at all, or `None` when that cannot be derived
/// exactly. A policy matches if ANY rule does, so its set is the union of its rules' sets
/// (unconstrained if any rule is); a rule needs ALL its clauses, so any one constrained clause
/// bounds it; a clause needs ANY of its non-empty matches, so it is bounded only if each is.
fn required_namespaces(p: &Authorization) -> Option<BTreeSet<&str>> {
    let mut all = BTreeSet::new();
    for rule in &p.rules {
        // A rule with no constrained clause (including one with no clauses) matches anyone.
        let bound = rule.iter().find_map(|clause| clause_namespaces(clause))?;
        all.extend(bound);
    }
    Some(all)
}

fn clause_namespaces(clause: &[RbacMatch]) -> Option<BTreeSet<&str>> {
    // An empty clause matches everything.
    if clause.is_empty() {
        return None;
    }
    let mut out = BTreeSet::new();
    // Empty matches are skipped by the engine (never match), so they add nothing; a clause
    // of only empty matches therefore never matches and gets the empty set.
    for m in clause.iter().filter(|m| !m.is_empty()) {
        out.extend(match_namespaces(m)?);
    }
    Some(out)
}

/// A match requires the source namespace to be one of these when a field it sets pins it:
/// exact namespaces, service accounts (namespace + name), or exact principals.
fn match_namespaces(m: &RbacMatch) -> Option<Vec<&str>> {
    if !m.namespaces.is_empty()
        && let Some(v) = exact_all(&m.namespaces)
    {
        return Some(v);
    }
    if !m.service_accounts.is_empty() {
        return Some(m.service_accounts.iter().map(|sa| sa.namespace.as_str()).collect());
    }
    if !m.principals.is_empty() {
        return m
            .principals
            .iter()
            .map(|s| match s {
                StringMatch::Exact(v) => principal_namespace(v),
                _ => None,
            })
            .collect();
    }
    None
}

fn exact_all(ms: &[StringMatch]) -> Option<Vec<&str>> {
    ms.iter()
        .map(|s| match s {
            StringMatch::Exact(v) => Some(v.as_str()),
            _ => None,
        })
        .collect()
}

/// The namespace an exact principal `<td>/ns/<ns>/sa/<sa>` pins. Only when the separators
/// occur exactly once each: then the split of the compared string `td + "/ns/" + ns + "/sa/"
/// + sa` is unique, whatever the identity's parts contain.
fn principal_namespace(p: &str) -> Option<&str> {
    if p.matches("/ns/").count() != 1 || p.matches("/sa/").count() != 1 {
        return None;
    }
    let (_, rest) = p.split_once("/ns/")?;
    let (ns, _) = rest.split_once("/sa/")?;
    Some(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{PolicyScope, ServiceAccountMatch};

    fn policy(name: &str, action: PolicyAction, rules: Vec<Vec<Vec<RbacMatch>>>) -> Arc<Authorization> {
        Arc::new(Authorization {
            name: name.into(),
            namespace: "ns".into(),
            scope: PolicyScope::Namespace,
            action,
            rules,
            dry_run: false,
        })
    }

    fn from_ns(ns: &str) -> RbacMatch {
        RbacMatch { namespaces: vec![StringMatch::Exact(ns.into())], ..RbacMatch::default() }
    }

    fn names<'a>(it: impl Iterator<Item = &'a Authorization>) -> Vec<&'a str> {
        it.map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn namespace_requirements() {
        let ports = RbacMatch { destination_ports: vec![80], ..RbacMatch::default() };
        let sa = RbacMatch {
            service_accounts: vec![ServiceAccountMatch { namespace: "b".into(), service_account: "x".into() }],
            ..RbacMatch::default()
        };
        let principal =
            RbacMatch { principals: vec![StringMatch::Exact("td/ns/c/sa/y".into())], ..RbacMatch::default() };
        let odd_principal =
            RbacMatch { principals: vec![StringMatch::Exact("td/ns/c/sa/y/sa/z".into())], ..RbacMatch::default() };
        let set =
            |p: &Authorization| required_namespaces(p).map(|s| s.into_iter().map(str::to_string).collect::<Vec<_>>());
        let p = |rules| policy("p", PolicyAction::Allow, rules);
        assert_eq!(set(&p(vec![vec![vec![from_ns("a")]]])), Some(vec!["a".to_string()]));
        // Any constrained clause bounds the rule; the union over rules bounds the policy.
        assert_eq!(
            set(&p(vec![vec![vec![ports.clone()], vec![sa.clone()]], vec![vec![principal]]])),
            Some(vec!["b".to_string(), "c".to_string()])
        );
        // An unconstrained rule, an empty rule, an empty clause: anyone may match.
        assert_eq!(set(&p(vec![vec![vec![from_ns("a")]], vec![vec![ports.clone()]]])), None);
        assert_eq!(set(&p(vec![vec![]])), None);
        assert_eq!(set(&p(vec![vec![vec![]]])), None);
        assert_eq!(set(&p(vec![vec![vec![odd_principal]]])), None);
        // A clause mixing a pinned and an unpinned match is unconstrained.
        assert_eq!(set(&p(vec![vec![vec![from_ns("a"), ports]]])), None);
        // No rules, or only empty matches: never matches, nothing to visit.
        assert_eq!(set(&p(vec![])), Some(Vec::<String>::new()));
        assert_eq!(set(&p(vec![vec![vec![RbacMatch::default()]]])), Some(Vec::<String>::new()));
    }

    #[test]
    fn candidates_keep_set_order_and_skip_other_namespaces() {
        let any = RbacMatch { destination_ports: vec![80], ..RbacMatch::default() };
        let set = PolicySet::new(vec![
            policy("d-a", PolicyAction::Deny, vec![vec![vec![from_ns("a")]]]),
            policy("a-any", PolicyAction::Allow, vec![vec![vec![any.clone()]]]),
            policy("a-b", PolicyAction::Allow, vec![vec![vec![from_ns("b")]]]),
            policy("a-a", PolicyAction::Allow, vec![vec![vec![from_ns("a")]]]),
            policy("a-any2", PolicyAction::Allow, vec![vec![vec![any]]]),
        ]);
        assert!(set.has_enforced_allow());
        assert_eq!(names(set.candidates(Lane::Allow, "a")), ["a-any", "a-a", "a-any2"]);
        assert_eq!(names(set.candidates(Lane::Allow, "z")), ["a-any", "a-any2"]);
        assert_eq!(names(set.candidates(Lane::Deny, "a")), ["d-a"]);
        assert!(set.candidates(Lane::Deny, "b").next().is_none());
        assert!(set.candidates(Lane::DryRun, "a").next().is_none());
        assert_eq!(set.len(), 5);
    }
}
