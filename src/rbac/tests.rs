//! Tests for the decision engine: field tables, rule-structure edge cases, decision order,
//! dry-run, scopes through `ProxyState::policies_for`, YAML-loaded policies, and a randomized
//! comparison against an independently written reference model.

use std::net::IpAddr;
use std::sync::Arc;

use super::*;
use crate::identity::Identity;
use crate::state::{ProxyState, Workload};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn id(ns: &str, sa: &str) -> Identity {
    Identity::new("cluster.local", ns, sa)
}

/// The default connection: `default/client` at 10.0.0.5 to 10.0.1.7:8080 over mTLS.
fn mtls() -> Connection {
    Connection {
        src_identity: Some(id("default", "client")),
        src_ip: ip("10.0.0.5"),
        dst_ip: ip("10.0.1.7"),
        dst_port: 8080,
    }
}

/// The same connection on the plaintext path (no identity).
fn plain() -> Connection {
    Connection { src_identity: None, ..mtls() }
}

fn policy(ns: &str, name: &str, action: PolicyAction, rules: Vec<Vec<Vec<RbacMatch>>>) -> Authorization {
    Authorization {
        name: name.into(),
        namespace: ns.into(),
        scope: PolicyScope::Namespace,
        action,
        rules,
        dry_run: false,
    }
}

/// A policy with a single rule holding a single clause holding `m`.
fn single(action: PolicyAction, name: &str, m: RbacMatch) -> Authorization {
    policy("default", name, action, vec![vec![vec![m]]])
}

fn exact(s: &str) -> StringMatch {
    StringMatch::Exact(s.into())
}
fn prefix(s: &str) -> StringMatch {
    StringMatch::Prefix(s.into())
}
fn suffix(s: &str) -> StringMatch {
    StringMatch::Suffix(s.into())
}
fn sa(ns: &str, sa: &str) -> ServiceAccountMatch {
    ServiceAccountMatch { namespace: ns.into(), service_account: sa.into() }
}

fn m() -> RbacMatch {
    RbacMatch::default()
}

// ---------------------------------------------------------------------------------------------
// Field table
// ---------------------------------------------------------------------------------------------

#[test]
fn every_field_positive_and_negative() {
    let v6 = Connection { src_ip: ip("fd00::5"), dst_ip: ip("fd00:1::7"), ..mtls() };
    let mapped = Connection { src_ip: ip("::ffff:10.0.0.5"), ..mtls() };
    #[rustfmt::skip]
    let cases: Vec<(&str, RbacMatch, Connection, bool)> = vec![
        // namespaces: StringMatch on the source identity's namespace ("default").
        ("ns exact", RbacMatch { namespaces: vec![exact("default")], ..m() }, mtls(), true),
        ("ns exact other", RbacMatch { namespaces: vec![exact("other")], ..m() }, mtls(), false),
        ("ns prefix", RbacMatch { namespaces: vec![prefix("def")], ..m() }, mtls(), true),
        ("ns prefix miss", RbacMatch { namespaces: vec![prefix("fault")], ..m() }, mtls(), false),
        ("ns suffix", RbacMatch { namespaces: vec![suffix("ault")], ..m() }, mtls(), true),
        ("ns suffix miss", RbacMatch { namespaces: vec![suffix("def")], ..m() }, mtls(), false),
        ("ns presence", RbacMatch { namespaces: vec![StringMatch::Presence], ..m() }, mtls(), true),
        ("ns any-of", RbacMatch { namespaces: vec![exact("a"), exact("default")], ..m() }, mtls(), true),
        ("not ns hit", RbacMatch { not_namespaces: vec![exact("default")], ..m() }, mtls(), false),
        ("not ns miss", RbacMatch { not_namespaces: vec![exact("other")], ..m() }, mtls(), true),
        ("not ns any hit", RbacMatch { not_namespaces: vec![exact("x"), prefix("d")], ..m() }, mtls(), false),
        ("ns pos and neg", RbacMatch { namespaces: vec![exact("default")], not_namespaces: vec![prefix("d")], ..m() }, mtls(), false),
        // No identity: a namespace pattern sees "" (upstream), so Presence / non-empty
        // patterns cannot match and their negations do not exclude...
        ("plain ns presence", RbacMatch { namespaces: vec![StringMatch::Presence], ..m() }, plain(), false),
        ("plain ns exact", RbacMatch { namespaces: vec![exact("default")], ..m() }, plain(), false),
        ("plain not ns presence", RbacMatch { not_namespaces: vec![StringMatch::Presence], ..m() }, plain(), true),
        ("plain not ns exact", RbacMatch { not_namespaces: vec![exact("default")], ..m() }, plain(), true),
        // ...but the degenerate empty patterns do match "" exactly as upstream's do.
        ("plain ns exact empty", RbacMatch { namespaces: vec![exact("")], ..m() }, plain(), true),
        ("plain not ns prefix empty", RbacMatch { not_namespaces: vec![prefix("")], ..m() }, plain(), false),
        // serviceAccounts: {namespace, serviceAccount} against the identity.
        ("sa hit", RbacMatch { service_accounts: vec![sa("default", "client")], ..m() }, mtls(), true),
        ("sa wrong sa", RbacMatch { service_accounts: vec![sa("default", "other")], ..m() }, mtls(), false),
        ("sa wrong ns", RbacMatch { service_accounts: vec![sa("other", "client")], ..m() }, mtls(), false),
        ("sa any-of", RbacMatch { service_accounts: vec![sa("a", "b"), sa("default", "client")], ..m() }, mtls(), true),
        ("not sa hit", RbacMatch { not_service_accounts: vec![sa("default", "client")], ..m() }, mtls(), false),
        ("not sa miss", RbacMatch { not_service_accounts: vec![sa("x", "y")], ..m() }, mtls(), true),
        ("plain sa", RbacMatch { service_accounts: vec![sa("default", "client")], ..m() }, plain(), false),
        ("plain not sa", RbacMatch { not_service_accounts: vec![sa("default", "client")], ..m() }, plain(), true),
        // principals: StringMatch against the identity WITHOUT `spiffe://`.
        ("principal exact", RbacMatch { principals: vec![exact("cluster.local/ns/default/sa/client")], ..m() }, mtls(), true),
        ("principal exact with scheme", RbacMatch { principals: vec![exact("spiffe://cluster.local/ns/default/sa/client")], ..m() }, mtls(), false),
        ("principal prefix", RbacMatch { principals: vec![prefix("cluster.local/ns/default/")], ..m() }, mtls(), true),
        ("principal prefix miss", RbacMatch { principals: vec![prefix("cluster.local/ns/other/")], ..m() }, mtls(), false),
        ("principal suffix", RbacMatch { principals: vec![suffix("/sa/client")], ..m() }, mtls(), true),
        ("principal suffix miss", RbacMatch { principals: vec![suffix("/sa/server")], ..m() }, mtls(), false),
        ("principal presence", RbacMatch { principals: vec![StringMatch::Presence], ..m() }, mtls(), true),
        ("not principal hit", RbacMatch { not_principals: vec![suffix("/sa/client")], ..m() }, mtls(), false),
        ("not principal miss", RbacMatch { not_principals: vec![suffix("/sa/server")], ..m() }, mtls(), true),
        ("not principal presence", RbacMatch { not_principals: vec![StringMatch::Presence], ..m() }, mtls(), false),
        // No identity: no principal at all, so nothing matches, not even the empty prefix,
        // and negations do not exclude.
        ("plain principal presence", RbacMatch { principals: vec![StringMatch::Presence], ..m() }, plain(), false),
        ("plain principal prefix empty", RbacMatch { principals: vec![prefix("")], ..m() }, plain(), false),
        ("plain not principal presence", RbacMatch { not_principals: vec![StringMatch::Presence], ..m() }, plain(), true),
        ("plain not principal exact", RbacMatch { not_principals: vec![exact("cluster.local/ns/default/sa/client")], ..m() }, plain(), true),
        // sourceIps / destinationIps: CIDR, v4 and v6, bare addresses are host prefixes.
        ("src cidr", RbacMatch { source_ips: vec![cidr("10.0.0.0/24")], ..m() }, mtls(), true),
        ("src cidr miss", RbacMatch { source_ips: vec![cidr("10.0.2.0/24")], ..m() }, mtls(), false),
        ("src host", RbacMatch { source_ips: vec![cidr("10.0.0.5")], ..m() }, mtls(), true),
        ("src any-of", RbacMatch { source_ips: vec![cidr("1.0.0.0/8"), cidr("10.0.0.0/8")], ..m() }, mtls(), true),
        ("not src hit", RbacMatch { not_source_ips: vec![cidr("10.0.0.0/8")], ..m() }, mtls(), false),
        ("not src miss", RbacMatch { not_source_ips: vec![cidr("192.168.0.0/16")], ..m() }, mtls(), true),
        ("src v6", RbacMatch { source_ips: vec![cidr("fd00::/64")], ..m() }, v6.clone(), true),
        ("src v6 miss", RbacMatch { source_ips: vec![cidr("fd01::/64")], ..m() }, v6.clone(), false),
        ("src v4 rule v6 conn", RbacMatch { source_ips: vec![cidr("0.0.0.0/0")], ..m() }, v6.clone(), false),
        ("src v6 rule v4 conn", RbacMatch { source_ips: vec![cidr("::/0")], ..m() }, mtls(), false),
        ("src v4-mapped", RbacMatch { source_ips: vec![cidr("10.0.0.0/24")], ..m() }, mapped, true),
        ("plain src", RbacMatch { source_ips: vec![cidr("10.0.0.0/24")], ..m() }, plain(), true),
        ("dst cidr", RbacMatch { destination_ips: vec![cidr("10.0.1.0/24")], ..m() }, mtls(), true),
        ("dst cidr miss", RbacMatch { destination_ips: vec![cidr("10.0.0.0/24")], ..m() }, mtls(), false),
        ("not dst hit", RbacMatch { not_destination_ips: vec![cidr("10.0.1.7/32")], ..m() }, mtls(), false),
        ("not dst miss", RbacMatch { not_destination_ips: vec![cidr("10.0.1.8/32")], ..m() }, mtls(), true),
        ("dst v6", RbacMatch { destination_ips: vec![cidr("fd00:1::/32")], ..m() }, v6.clone(), true),
        ("not dst v6", RbacMatch { not_destination_ips: vec![cidr("fd00:1::7")], ..m() }, v6, false),
        // destinationPorts.
        ("port hit", RbacMatch { destination_ports: vec![80, 8080], ..m() }, mtls(), true),
        ("port miss", RbacMatch { destination_ports: vec![80], ..m() }, mtls(), false),
        ("not port hit", RbacMatch { not_destination_ports: vec![8080], ..m() }, mtls(), false),
        ("not port miss", RbacMatch { not_destination_ports: vec![9999], ..m() }, mtls(), true),
        // Fields AND together.
        ("and all hit", RbacMatch { destination_ports: vec![8080], namespaces: vec![exact("default")], source_ips: vec![cidr("10.0.0.0/8")], ..m() }, mtls(), true),
        ("and one miss", RbacMatch { destination_ports: vec![8080], namespaces: vec![exact("other")], ..m() }, mtls(), false),
    ];
    for (name, rm, conn, want) in cases {
        let p = single(PolicyAction::Allow, "p", rm);
        assert_eq!(p.matches(&conn), want, "{name}");
        // And through `evaluate`: a lone ALLOW policy allows exactly when it matches.
        assert_eq!(evaluate([&p], &conn).is_allowed(), want, "{name} (evaluate)");
    }
}

// ---------------------------------------------------------------------------------------------
// Rule structure edge cases (upstream src/rbac.rs `matches`)
// ---------------------------------------------------------------------------------------------

type Rules = Vec<Vec<Vec<RbacMatch>>>;

#[test]
fn rule_structure_edge_cases() {
    let port = RbacMatch { destination_ports: vec![8080], ..m() };
    let other_port = RbacMatch { destination_ports: vec![1], ..m() };
    let allow = |rules| policy("default", "p", PolicyAction::Allow, rules);
    #[rustfmt::skip]
    let cases: Vec<(&str, Rules, bool)> = vec![
        // No rules: never matches (so an ALLOW with no rules allows nothing, a DENY denies
        // nothing). This is upstream's `rules.is_empty() => false`.
        ("no rules", vec![], false),
        // A rule with no clauses: `all` of nothing, matches everything.
        ("rule without clauses", vec![vec![]], true),
        // An empty clause is explicitly true upstream.
        ("empty clause", vec![vec![vec![]]], true),
        // A clause holding only an empty match: the empty match is skipped, nothing is left
        // to match, so the clause (and rule) is false. NOT "match all".
        ("only empty match", vec![vec![vec![m()]]], false),
        // Empty matches are skipped, not fatal: the other match in the clause still counts.
        ("empty match skipped", vec![vec![vec![m(), port.clone()]]], true),
        // Clause = ANY of its matches.
        ("clause any-of", vec![vec![vec![other_port.clone(), port.clone()]]], true),
        // Rule = ALL of its clauses.
        ("rule all-of miss", vec![vec![vec![port.clone()], vec![other_port.clone()]]], false),
        ("rule all-of hit", vec![vec![vec![port.clone()], vec![port.clone()]]], true),
        ("rule with empty clause and miss", vec![vec![vec![], vec![other_port.clone()]]], false),
        // Policy = ANY of its rules.
        ("policy any-of", vec![vec![vec![other_port.clone()]], vec![vec![port.clone()]]], true),
        ("policy none", vec![vec![vec![other_port.clone()]], vec![vec![m()]]], false),
    ];
    for (name, rules, want) in cases {
        let p = allow(rules);
        assert_eq!(p.matches(&mtls()), want, "{name}");
        assert_eq!(p.matches(&plain()), want, "{name} (plaintext, identity-free rules)");
    }
}

// ---------------------------------------------------------------------------------------------
// Decision order (upstream src/state.rs `assert_rbac`)
// ---------------------------------------------------------------------------------------------

fn matching(action: PolicyAction, name: &str) -> Authorization {
    single(action, name, RbacMatch { destination_ports: vec![8080], ..m() })
}

fn non_matching(action: PolicyAction, name: &str) -> Authorization {
    single(action, name, RbacMatch { destination_ports: vec![1], ..m() })
}

fn denied_by(e: &Evaluation) -> Option<&DenyReason> {
    match &e.decision {
        Decision::Deny(r) => Some(r),
        Decision::Allow => None,
    }
}

#[test]
fn no_policies_allow() {
    let e = evaluate([], &mtls());
    assert_eq!(e, Evaluation { decision: Decision::Allow, dry_run: vec![], allowed_by: None });
}

#[test]
fn deny_beats_allow_in_any_order() {
    let deny = matching(PolicyAction::Deny, "deny");
    let allow = matching(PolicyAction::Allow, "allow");
    for order in [[&allow, &deny], [&deny, &allow]] {
        let e = evaluate(order, &mtls());
        let r = denied_by(&e).expect("denied");
        assert_eq!(r.policy.as_deref(), Some("default/deny"));
        assert_eq!(r.message, "explicitly denied by: default/deny");
        assert_eq!(r.to_string(), r.message);
        assert_eq!(e.allowed_by, None, "a denied connection was not allowed by anything");
    }
}

#[test]
fn non_matching_deny_only_allows() {
    let e = evaluate([&non_matching(PolicyAction::Deny, "d")], &mtls());
    assert!(e.is_allowed());
    assert_eq!(e.allowed_by, None);
}

#[test]
fn allow_exists_but_none_matches_denies() {
    let e = evaluate([&non_matching(PolicyAction::Allow, "a"), &non_matching(PolicyAction::Deny, "d")], &mtls());
    let r = denied_by(&e).expect("denied");
    assert_eq!(r.policy, None);
    assert_eq!(r.message, "allow policies exist, but none allowed");
}

#[test]
fn first_matching_allow_is_reported() {
    let ps = [
        non_matching(PolicyAction::Allow, "a1"),
        matching(PolicyAction::Allow, "a2"),
        matching(PolicyAction::Allow, "a3"),
        non_matching(PolicyAction::Deny, "d"),
    ];
    let e = evaluate(&ps, &mtls());
    assert!(e.is_allowed());
    assert_eq!(e.allowed_by.as_deref(), Some("default/a2"));
}

#[test]
fn first_matching_deny_is_reported() {
    let ps = [matching(PolicyAction::Deny, "d1"), matching(PolicyAction::Deny, "d2")];
    let e = evaluate(&ps, &mtls());
    assert_eq!(denied_by(&e).unwrap().policy.as_deref(), Some("default/d1"));
}

// ---------------------------------------------------------------------------------------------
// Dry run
// ---------------------------------------------------------------------------------------------

fn dry(mut p: Authorization) -> Authorization {
    p.dry_run = true;
    p
}

#[test]
fn dry_run_deny_is_reported_not_enforced() {
    let e = evaluate([&dry(matching(PolicyAction::Deny, "d"))], &mtls());
    assert!(e.is_allowed());
    assert_eq!(e.dry_run.len(), 1);
    assert_eq!(e.dry_run[0].0, "default/d");
    let Decision::Deny(r) = &e.dry_run[0].1 else { panic!("would deny") };
    assert_eq!(r.policy.as_deref(), Some("default/d"));
}

#[test]
fn dry_run_allow_does_not_count_as_an_allow_policy() {
    // A non-matching dry-run ALLOW must not flip "no allow policies ⇒ allow" into a deny.
    let e = evaluate([&dry(non_matching(PolicyAction::Allow, "a"))], &mtls());
    assert!(e.is_allowed());
    assert!(e.dry_run.is_empty(), "only matching dry-run policies are reported");
    // And a matching dry-run ALLOW does not rescue a connection the enforced ALLOW rejects.
    let e = evaluate([&dry(matching(PolicyAction::Allow, "dry")), &non_matching(PolicyAction::Allow, "real")], &mtls());
    assert_eq!(denied_by(&e).unwrap().policy, None);
    assert_eq!(e.dry_run, vec![("default/dry".to_string(), Decision::Allow)]);
}

#[test]
fn dry_run_policies_are_all_evaluated_even_after_an_enforced_deny() {
    let ps = [
        matching(PolicyAction::Deny, "real"),
        dry(matching(PolicyAction::Deny, "dry1")),
        dry(non_matching(PolicyAction::Deny, "dry2")),
        dry(matching(PolicyAction::Allow, "dry3")),
    ];
    let e = evaluate(&ps, &mtls());
    assert_eq!(denied_by(&e).unwrap().policy.as_deref(), Some("default/real"));
    let keys: Vec<&str> = e.dry_run.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["default/dry1", "default/dry3"]);
}

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

fn scoped(ns: &str, name: &str, scope: PolicyScope, action: PolicyAction) -> Authorization {
    Authorization { scope, namespace: ns.into(), ..matching(action, name) }
}

fn scope_state() -> (ProxyState, Arc<Workload>, Arc<Workload>) {
    use PolicyAction::{Allow, Deny};
    use PolicyScope::{Global, Namespace, WorkloadSelector};
    let mut st = ProxyState::new();
    let mut w1 = Workload::new("w1", "default", "httpbin", vec![ip("10.0.1.7")]);
    w1.authorization_policies = vec![
        "default/sel".into(),
        "other/sel-other".into(),
        "default/missing".into(),
        "default/ns-pol".into(), // also in scope by namespace: listed once
        "default/sel".into(),    // listed twice: evaluated once
        "istio-system/g".into(), // global anyway
    ];
    let w1 = st.insert_workload(w1).unwrap();
    let w2 = st.insert_workload(Workload::new("w2", "other", "b", vec![ip("10.0.1.8")])).unwrap();
    for p in [
        scoped("istio-system", "g", Global, Allow),
        scoped("default", "ns-pol", Namespace, Allow),
        scoped("default", "a-ns-pol", Namespace, Allow),
        scoped("other", "ns-other", Namespace, Allow),
        scoped("default", "sel", WorkloadSelector, Deny),
        scoped("default", "sel-unused", WorkloadSelector, Deny),
        scoped("other", "sel-other", WorkloadSelector, Allow),
    ] {
        st.insert_policy(p).unwrap();
    }
    (st, w1, w2)
}

fn keys(ps: &[Arc<Authorization>]) -> Vec<String> {
    ps.iter().map(|p| p.key()).collect()
}

#[test]
fn policies_for_applies_all_three_scopes() {
    let (st, w1, w2) = scope_state();
    // Namespace-scoped (sorted), then global, then selected; the unknown reference is
    // skipped (with a warning) and nothing appears twice.
    assert_eq!(
        keys(&st.policies_for(&w1)),
        ["default/a-ns-pol", "default/ns-pol", "istio-system/g", "default/sel", "other/sel-other"]
    );
    // w2 selects nothing: its namespace's policies and the global one only.
    assert_eq!(keys(&st.policies_for(&w2)), ["other/ns-other", "istio-system/g"]);
}

#[test]
fn selector_deny_applies_only_to_the_selecting_workload() {
    let (st, w1, w2) = scope_state();
    let e1 = evaluate(st.policies_for(&w1).iter().map(Arc::as_ref), &mtls());
    assert_eq!(denied_by(&e1).unwrap().policy.as_deref(), Some("default/sel"));
    let e2 = evaluate(st.policies_for(&w2).iter().map(Arc::as_ref), &mtls());
    assert_eq!(e2.allowed_by.as_deref(), Some("other/ns-other"));
}

#[test]
fn policies_for_workload_without_policies() {
    let st = ProxyState::new();
    let w = Workload::new("w", "default", "x", vec![]);
    assert!(st.policies_for(&w).is_empty());
    // Unknown references alone leave nothing to evaluate: allowed.
    let w = Workload { authorization_policies: vec!["default/nope".into()], ..w };
    assert!(st.policies_for(&w).is_empty());
    assert!(evaluate(st.policies_for(&w).iter().map(Arc::as_ref), &mtls()).is_allowed());
}

// ---------------------------------------------------------------------------------------------
// Policies loaded from local-config YAML
// ---------------------------------------------------------------------------------------------

const SEED: &str = r#"
workloads:
- uid: cluster1//v1/Pod/default/httpbin
  name: httpbin
  namespace: default
  serviceAccount: httpbin
  workloadIps: ["10.0.1.7"]
  authorizationPolicies: ["default/deny-foo"]
policies:
# Upstream's seed example: deny everything from namespace foo to default/httpbin.
- name: deny-foo
  namespace: default
  scope: WorkloadSelector
  action: Deny
  rules:
  - - - namespaces: [!Exact foo]
- name: allow-mesh
  namespace: default
  scope: Namespace
  action: Allow
  rules:
  - - - principals: [!Prefix cluster.local/ns/]
        notPrincipals: [!Exact cluster.local/ns/bar/sa/blocked]
- name: audit-ports
  namespace: ""
  scope: Global
  action: Deny
  dryRun: true
  rules:
  - - - notDestinationPorts: [8080]
"#;

#[test]
fn yaml_seed_policies() {
    let st = crate::xds::local::load_str(SEED, "seed.yaml").unwrap();
    let w = st.workload_by_ip("", ip("10.0.1.7")).unwrap();
    let ps = st.policies_for(&w);
    assert_eq!(keys(&ps), ["default/allow-mesh", "/audit-ports", "default/deny-foo"]);
    let run = |src: Option<Identity>, port: u16| {
        let conn = Connection { src_identity: src, dst_port: port, ..mtls() };
        evaluate(ps.iter().map(Arc::as_ref), &conn)
    };

    let e = run(Some(id("foo", "anyone")), 8080);
    assert_eq!(denied_by(&e).unwrap().message, "explicitly denied by: default/deny-foo");

    let e = run(Some(id("bar", "x")), 8080);
    assert_eq!(e.allowed_by.as_deref(), Some("default/allow-mesh"));
    assert!(e.dry_run.is_empty());

    let e = run(Some(id("bar", "blocked")), 8080);
    assert_eq!(denied_by(&e).unwrap().policy, None, "!Exact negation excluded it");

    // Plaintext: the principal prefix cannot match without an identity.
    let e = run(None, 8080);
    assert_eq!(denied_by(&e).unwrap().message, "allow policies exist, but none allowed");

    // The dry-run global DENY would have denied port 9090, but is not enforced.
    let e = run(Some(id("bar", "x")), 9090);
    assert!(e.is_allowed());
    assert_eq!(e.dry_run.len(), 1);
    assert_eq!(e.dry_run[0].0, "/audit-ports");
}

#[test]
fn yaml_shipped_example() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/localhost.yaml");
    let st = crate::xds::local::load_file(std::path::Path::new(path)).unwrap();
    let w = st.workload_by_ip("", ip("127.0.0.1")).unwrap();
    let ps = st.policies_for(&w);
    let conn = |port| Connection {
        src_identity: Some(id("default", "default")),
        src_ip: ip("127.0.0.2"),
        dst_ip: ip("127.0.0.1"),
        dst_port: port,
    };
    // "Allow everything except port 9999" is an ALLOW with notDestinationPorts: 9999 is not
    // allowed by it, and since an ALLOW policy exists, that is a deny.
    assert!(evaluate(ps.iter().map(Arc::as_ref), &conn(8080)).is_allowed());
    let e = evaluate(ps.iter().map(Arc::as_ref), &conn(9999));
    assert_eq!(denied_by(&e).unwrap().policy, None);
}

// ---------------------------------------------------------------------------------------------
// Randomized comparison against a naive reference model
// ---------------------------------------------------------------------------------------------

/// xorshift64*: tiny, deterministic, good enough to spread test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

const TDS: &[&str] = &["cluster.local", "td"];
const NSS: &[&str] = &["default", "foo", "a", "def"];
const SAS: &[&str] = &["client", "x", "s"];
const IPS: &[&str] = &["10.0.0.5", "10.0.1.7", "10.1.0.1", "fd00::5", "fd00:1::7", "::ffff:10.0.0.5"];
const CIDRS: &[&str] =
    &["10.0.0.0/8", "10.0.0.0/24", "10.0.1.7", "0.0.0.0/0", "fd00::/16", "fd00::5", "::/0", "10.0.0.5"];
const PORTS: &[u16] = &[80, 8080, 9090];
const STRS: &[&str] = &[
    "",
    "default",
    "def",
    "ault",
    "foo",
    "cluster.local/ns/default/sa/client",
    "cluster.local/ns/",
    "td/ns/foo/sa/x",
    "/sa/x",
    "/sa/client",
    "td/",
    "spiffe://td/ns/foo/sa/x",
    "a",
];

fn gen_string_match(r: &mut Rng) -> StringMatch {
    let s = r.pick(STRS).to_string();
    match r.below(4) {
        0 => StringMatch::Exact(s),
        1 => StringMatch::Prefix(s),
        2 => StringMatch::Suffix(s),
        _ => StringMatch::Presence,
    }
}

fn gen_list<T>(r: &mut Rng, mut f: impl FnMut(&mut Rng) -> T) -> Vec<T> {
    if r.chance(3) { (0..1 + r.below(2)).map(|_| f(r)).collect() } else { vec![] }
}

fn gen_match(r: &mut Rng) -> RbacMatch {
    RbacMatch {
        namespaces: gen_list(r, gen_string_match),
        not_namespaces: gen_list(r, gen_string_match),
        service_accounts: gen_list(r, |r| sa(r.pick(NSS), r.pick(SAS))),
        not_service_accounts: gen_list(r, |r| sa(r.pick(NSS), r.pick(SAS))),
        principals: gen_list(r, gen_string_match),
        not_principals: gen_list(r, gen_string_match),
        source_ips: gen_list(r, |r| cidr(r.pick(CIDRS))),
        not_source_ips: gen_list(r, |r| cidr(r.pick(CIDRS))),
        destination_ips: gen_list(r, |r| cidr(r.pick(CIDRS))),
        not_destination_ips: gen_list(r, |r| cidr(r.pick(CIDRS))),
        destination_ports: gen_list(r, |r| r.pick(PORTS)),
        not_destination_ports: gen_list(r, |r| r.pick(PORTS)),
    }
}

fn gen_policy(r: &mut Rng, i: usize) -> Authorization {
    let rules = (0..r.below(3))
        .map(|_| (0..r.below(3)).map(|_| (0..r.below(3)).map(|_| gen_match(r)).collect()).collect())
        .collect();
    Authorization {
        name: format!("p{i}"),
        namespace: "ns".into(),
        scope: PolicyScope::Namespace,
        action: if r.chance(2) { PolicyAction::Allow } else { PolicyAction::Deny },
        rules,
        dry_run: r.chance(5),
    }
}

fn gen_conn(r: &mut Rng) -> Connection {
    Connection {
        src_identity: if r.chance(4) { None } else { Some(Identity::new(r.pick(TDS), r.pick(NSS), r.pick(SAS))) },
        src_ip: ip(r.pick(IPS)),
        dst_ip: ip(r.pick(IPS)),
        dst_port: r.pick(PORTS),
    }
}

/// The reference model: a direct transcription of upstream's loops, formatting strings and
/// converting addresses the slow obvious way, sharing no code with the engine.
mod reference {
    use super::*;

    fn str_match(m: &StringMatch, v: &str) -> bool {
        match m {
            StringMatch::Exact(s) => v == s,
            StringMatch::Prefix(s) => v.starts_with(s.as_str()),
            StringMatch::Suffix(s) => v.ends_with(s.as_str()),
            StringMatch::Presence => !v.is_empty(),
        }
    }

    fn bits(ip: IpAddr) -> (bool, u128) {
        match ip {
            IpAddr::V4(a) => (true, u128::from(u32::from(a)) << 96),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => (true, u128::from(u32::from(v4)) << 96),
                None => (false, u128::from(a)),
            },
        }
    }

    fn in_cidr(c: &Cidr, ip: IpAddr) -> bool {
        let (v4a, a) = bits(c.addr());
        let (v4b, b) = bits(ip);
        let len = u32::from(c.prefix_len());
        if v4a != v4b {
            return false;
        }
        len == 0 || (a ^ b) >> (128 - len) == 0
    }

    fn one_field<T>(pos: &[T], neg: &[T], f: impl Fn(&T) -> bool) -> bool {
        let mut ok = true;
        if !pos.is_empty() {
            ok &= pos.iter().any(&f);
        }
        if !neg.is_empty() {
            ok &= !neg.iter().any(&f);
        }
        ok
    }

    pub fn policy_matches(p: &Authorization, c: &Connection) -> bool {
        let id_str = c.src_identity.as_ref().map(|i| i.to_string()).unwrap_or_default();
        let ns = c.src_identity.as_ref().map(|i| i.namespace().to_string()).unwrap_or_default();
        if p.rules.is_empty() {
            return false;
        }
        for rule in &p.rules {
            let mut rule_ok = true;
            for clause in rule {
                let mut clause_ok = clause.is_empty();
                for m in clause {
                    if *m == RbacMatch::default() {
                        continue;
                    }
                    let mut ok = true;
                    ok &= one_field(&m.destination_ips, &m.not_destination_ips, |x| in_cidr(x, c.dst_ip));
                    ok &= one_field(&m.source_ips, &m.not_source_ips, |x| in_cidr(x, c.src_ip));
                    ok &= one_field(&m.destination_ports, &m.not_destination_ports, |x| *x == c.dst_port);
                    ok &= one_field(&m.service_accounts, &m.not_service_accounts, |x| {
                        c.src_identity
                            .as_ref()
                            .is_some_and(|i| i.namespace() == x.namespace && i.service_account() == x.service_account)
                    });
                    ok &= one_field(&m.principals, &m.not_principals, |x| {
                        id_str.strip_prefix("spiffe://").is_some_and(|s| str_match(x, s))
                    });
                    ok &= one_field(&m.namespaces, &m.not_namespaces, |x| str_match(x, &ns));
                    if ok {
                        clause_ok = true;
                    }
                }
                rule_ok &= clause_ok;
            }
            if rule_ok {
                return true;
            }
        }
        false
    }

    /// (allowed, deny policy key, allowed_by, dry-run keys with would-allow)
    pub type Outcome = (bool, Option<String>, Option<String>, Vec<(String, bool)>);

    pub fn evaluate(ps: &[Authorization], c: &Connection) -> Outcome {
        let dry: Vec<(String, bool)> = ps
            .iter()
            .filter(|p| p.dry_run && policy_matches(p, c))
            .map(|p| (format!("{}/{}", p.namespace, p.name), p.action == PolicyAction::Allow))
            .collect();
        let enforced: Vec<&Authorization> = ps.iter().filter(|p| !p.dry_run).collect();
        let (allow, deny): (Vec<_>, Vec<_>) = enforced.into_iter().partition(|p| p.action == PolicyAction::Allow);
        for p in &deny {
            if policy_matches(p, c) {
                return (false, Some(format!("{}/{}", p.namespace, p.name)), None, dry);
            }
        }
        if allow.is_empty() {
            return (true, None, None, dry);
        }
        for p in &allow {
            if policy_matches(p, c) {
                return (true, None, Some(format!("{}/{}", p.namespace, p.name)), dry);
            }
        }
        (false, None, None, dry)
    }
}

#[test]
fn randomized_against_reference_model() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut allowed, mut denied, mut dry) = (0, 0, 0);
    for _ in 0..4_000 {
        let n = r.below(5);
        let ps: Vec<Authorization> = (0..n).map(|i| gen_policy(&mut r, i)).collect();
        for _ in 0..8 {
            let c = gen_conn(&mut r);
            let want = reference::evaluate(&ps, &c);
            let got = evaluate(&ps, &c);
            // The indexed path over the same policies, split into two sets at a point that
            // depends on the connection (no extra draws from the generator), decides the same.
            let arcs: Vec<Arc<Authorization>> = ps.iter().cloned().map(Arc::new).collect();
            let k = usize::from(c.dst_port) % (n + 1);
            let (s1, s2) = (PolicySet::new(arcs[..k].to_vec()), PolicySet::new(arcs[k..].to_vec()));
            let mut ev = Evaluator::new(&c);
            ev.visit_set(&s1);
            ev.visit_set(&s2);
            assert_eq!(ev.finish(None), got, "indexed: {ps:#?}\nconnection: {c:?}");
            let got_deny_policy = denied_by(&got).and_then(|d| d.policy.clone());
            let got_dry: Vec<(String, bool)> = got.dry_run.iter().map(|(k, d)| (k.clone(), d.is_allow())).collect();
            let got = (got.is_allowed(), got_deny_policy, got.allowed_by.clone(), got_dry);
            assert_eq!(got, want, "policies: {ps:#?}\nconnection: {c:?}");
            for p in &ps {
                assert_eq!(p.matches(&c), reference::policy_matches(p, &c), "{p:#?}\n{c:?}");
            }
            if want.0 {
                allowed += 1
            } else {
                denied += 1
            }
            dry += want.3.len();
        }
    }
    // The generator must actually exercise both outcomes and dry-run reporting.
    assert!(allowed > 1_000 && denied > 1_000 && dry > 100, "{allowed} {denied} {dry}");
}
