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
//! condition, never a guess). Policies that pin no namespace are indexed, the same way, by the
//! destination ports they require (port-only policies: "allow anyone on 8080"); only those
//! that pin neither are visited for every connection.

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
    /// Destination port → positions (ascending) of the policies with no derivable namespace
    /// requirement that can only match these ports.
    by_port: HashMap<u16, Vec<u32>>,
    /// Positions (ascending) of policies with neither requirement derivable.
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
            // An empty set: the policy can never match (e.g. no rules); nothing to visit.
            match (required_namespaces(p), required_ports(p)) {
                (Some(namespaces), _) => {
                    for ns in namespaces {
                        lane.by_namespace.entry(ns.into()).or_default().push(i);
                    }
                }
                (None, Some(ports)) => {
                    for port in ports {
                        lane.by_port.entry(port).or_default().push(i);
                    }
                }
                (None, None) => lane.rest.push(i),
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

    /// The policies of `lane` that a connection from `namespace` to `port` could match, in
    /// set order.
    pub fn candidates<'s>(
        &'s self,
        lane: Lane,
        namespace: &str,
        port: u16,
    ) -> impl Iterator<Item = &'s Authorization> + 's {
        let idx = match lane {
            Lane::Deny => &self.deny,
            Lane::Allow => &self.allow,
            Lane::DryRun => &self.dry_run,
        };
        let pinned = idx.by_namespace.get(namespace).map(Vec::as_slice).unwrap_or(&[]);
        let on_port = idx.by_port.get(&port).map(Vec::as_slice).unwrap_or(&[]);
        Merge { lists: [pinned, on_port, &idx.rest] }.map(|i| self.policies[i as usize].as_ref())
    }
}

/// Ascending position lists merged into one ascending sequence (no allocation). A position
/// is in at most one of them, so no deduplication is needed.
struct Merge<'s> {
    lists: [&'s [u32]; 3],
}

impl Iterator for Merge<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let list = self.lists.iter_mut().filter(|l| !l.is_empty()).min_by_key(|l| l[0])?;
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first)
    }
}

/// The destination ports a policy can match at all, or `None` when that cannot be derived:
/// the same rules as [`required_namespaces`], with a match bounded by a non-empty
/// `destination_ports` (the connection's port must be one of them).
fn required_ports(p: &Authorization) -> Option<BTreeSet<u16>> {
    let mut all = BTreeSet::new();
    for rule in &p.rules {
        let bound = rule.iter().find_map(|clause| clause_ports(clause))?;
        all.extend(bound);
    }
    Some(all)
}

fn clause_ports(clause: &[RbacMatch]) -> Option<BTreeSet<u16>> {
    if clause.is_empty() {
        return None;
    }
    let mut out = BTreeSet::new();
    for m in clause.iter().filter(|m| !m.is_empty()) {
        if m.destination_ports.is_empty() {
            return None;
        }
        out.extend(m.destination_ports.iter().copied());
    }
    Some(out)
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
        assert_eq!(names(set.candidates(Lane::Allow, "a", 80)), ["a-any", "a-a", "a-any2"]);
        assert_eq!(names(set.candidates(Lane::Allow, "z", 80)), ["a-any", "a-any2"]);
        assert_eq!(names(set.candidates(Lane::Allow, "a", 81)), ["a-a"], "port-only policies pin port 80");
        assert_eq!(names(set.candidates(Lane::Deny, "a", 80)), ["d-a"]);
        assert!(set.candidates(Lane::Deny, "b", 80).next().is_none());
        assert!(set.candidates(Lane::DryRun, "a", 80).next().is_none());
        assert_eq!(set.len(), 5);
    }

    #[test]
    fn port_requirements_and_the_three_way_merge() {
        let port = |p: u16| RbacMatch { destination_ports: vec![p], ..RbacMatch::default() };
        let ip_only = RbacMatch { source_ips: vec!["10.0.0.0/8".parse().unwrap()], ..RbacMatch::default() };
        let ports = |p: &Authorization| required_ports(p).map(|s| s.into_iter().collect::<Vec<_>>());
        let p = |rules| policy("p", PolicyAction::Allow, rules);
        assert_eq!(ports(&p(vec![vec![vec![port(80), port(81)]], vec![vec![port(90)]]])), Some(vec![80, 81, 90]));
        // A clause with a match that does not pin ports, or a rule with none: any port.
        assert_eq!(ports(&p(vec![vec![vec![port(80), ip_only.clone()]]])), None);
        assert_eq!(ports(&p(vec![vec![vec![port(80)]], vec![vec![ip_only.clone()]]])), None);
        // Another clause of the same rule may pin them.
        assert_eq!(ports(&p(vec![vec![vec![ip_only.clone()], vec![port(80)]]])), Some(vec![80]));
        let set = PolicySet::new(vec![
            policy("ip", PolicyAction::Allow, vec![vec![vec![ip_only]]]),
            policy("on-80", PolicyAction::Allow, vec![vec![vec![port(80)]]]),
            policy("from-a", PolicyAction::Allow, vec![vec![vec![from_ns("a")]]]),
            policy("on-90", PolicyAction::Allow, vec![vec![vec![port(90)]]]),
            policy("on-80-again", PolicyAction::Allow, vec![vec![vec![port(80)]]]),
        ]);
        assert_eq!(names(set.candidates(Lane::Allow, "a", 80)), ["ip", "on-80", "from-a", "on-80-again"]);
        assert_eq!(names(set.candidates(Lane::Allow, "b", 90)), ["ip", "on-90"]);
    }
}
