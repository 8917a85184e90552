//! Tests for the local config loader: the shipped example, the schema, and error precision.

use std::net::IpAddr;

use super::*;
use crate::rbac::{PolicyAction, PolicyScope};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn err(yaml: &str) -> String {
    load_str(yaml, "test.yaml").unwrap_err().to_string()
}

#[test]
fn example_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/localhost.yaml");
    let st = load_file(&path).unwrap();
    assert_eq!(st.workload_count(), 2);
    assert_eq!(st.service_count(), 2);
    assert_eq!(st.policy_count(), 1);

    let local = st.workload_by_ip("", ip("127.0.0.1")).unwrap();
    assert_eq!(local.uid, "cluster1//v1/Pod/default/local");
    assert_eq!(local.protocol, TunnelProtocol::Hbone);
    // No trustDomain in the file: the default trust domain, as for istiod's empty value.
    assert_eq!(local.identity().to_string(), "spiffe://cluster.local/ns/default/sa/default");
    let tcp = st.workload_by_name("default", "local-tcp").unwrap();
    assert_eq!(tcp.protocol, TunnelProtocol::Tcp);

    let svc = st.service_by_vip("", ip("127.10.0.1")).unwrap();
    assert_eq!(svc.hostname, "example.com");
    assert_eq!(svc.endpoints.len(), 2, "both workloads are endpoints");
    assert_eq!(svc.endpoints[&local.uid].port[&80], 8080);
    let remote = st.service_by_hostname("example2.com").unwrap();
    assert_eq!(remote.vips[0].network, "remote");

    let p = st.policy("default/deny-9999").unwrap();
    assert_eq!(p.action, PolicyAction::Allow);
    assert_eq!(p.scope, PolicyScope::Namespace);
    assert_eq!(p.rules[0][0][0].not_destination_ports, vec![9999]);
}

#[test]
fn defaults_and_derived_uid() {
    let st = load_str(
        "workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n- namespace: ns\n  clusterId: c9\n  workloadIps: [10.0.0.2]\n",
        "x",
    )
    .unwrap();
    let a = st.workload_by_ip("", ip("10.0.0.1")).unwrap();
    assert_eq!(a.uid, "Kubernetes//v1/Pod/ns/a");
    assert_eq!(a.service_account, "default");
    assert_eq!(a.trust_domain, "cluster.local");
    assert_eq!(a.identity().to_string(), "spiffe://cluster.local/ns/ns/sa/default");
    assert_eq!(a.cluster_id, "Kubernetes");
    assert_eq!(a.protocol, TunnelProtocol::Tcp);
    assert_eq!(a.status, HealthStatus::Healthy);
    assert_eq!(a.capacity, 1);
    let b = st.workload_by_ip("", ip("10.0.0.2")).unwrap();
    assert_eq!(b.uid, "c9//v1/Pod/ns/10.0.0.2");
}

#[test]
fn empty_documents_are_empty_state() {
    for doc in ["", "# nothing\n", "---\n", "{}"] {
        let st = load_str(doc, "x").unwrap();
        assert_eq!(st.workload_count(), 0, "{doc:?}");
    }
}

#[test]
fn full_workload_schema() {
    let yaml = r#"
workloads:
- uid: u1
  name: w
  namespace: ns
  trustDomain: td
  serviceAccount: sa
  workloadIps: [10.0.0.1, "fd00::1"]
  protocol: HBONE
  networkMode: HostNetwork
  network: n1
  node: node1
  hostname: ""
  canonicalName: cn
  canonicalRevision: v1
  workloadName: wn
  workloadType: deployment
  clusterId: c1
  status: Unhealthy
  authorizationPolicies: [ns/p]
  locality: {region: r, zone: z, subzone: s}
  waypoint: {destination: /10.0.0.9, hboneMtlsPort: 15008}
  networkGateway: {destination: {namespace: ns, hostname: gw.example}}
  nativeTunnel: true
  applicationTunnel: {protocol: PROXY, port: 15088}
  capacity: 3
"#;
    let st = load_str(yaml, "x").unwrap();
    let w = st.workload_by_uid("u1").unwrap();
    assert_eq!(w.identity().to_string(), "spiffe://td/ns/ns/sa/sa");
    assert_eq!(w.workload_ips.len(), 2);
    assert_eq!(w.status, HealthStatus::Unhealthy);
    assert!(w.waypoint.is_some() && w.network_gateway.is_some());
    assert_eq!(w.capacity, 3);
    assert_eq!(w.locality.zone, "z");
}

#[test]
fn parse_errors_name_file_line_and_path() {
    let yaml = "workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n  protocol: HBONEX\n";
    assert_eq!(
        err(yaml),
        "test.yaml: line 5 column 13: workloads[0].protocol: unknown variant `HBONEX`, expected `TCP` or `HBONE`"
    );
    let e = err("workloads:\n- namespace: ns\n  workloadIps: [10.0.0.1, 10.0.0]\n");
    assert_eq!(e, "test.yaml: line 3 column 27: workloads[0].workloadIps[1]: invalid IP address syntax");
    let e = err("workloads:\n- namespace: ns\n  workloadIp: 10.0.0.1\n");
    assert!(e.starts_with("test.yaml: line 3 column 3: workloads[0].workloadIp: unknown field `workloadIp`"), "{e}");
    let e = err("workload: []\n");
    assert!(e.contains("line 1 column 1") && e.contains("unknown field `workload`"), "{e}");
    let e = err("workloads:\n- name: a\n  workloadIps: [10.0.0.1]\n");
    assert!(e.contains("line 2 column 3: workloads[0]: missing field `namespace`"), "{e}");
    let e = err("workloads:\n- namespace: ns\n  workloadIps: [10.0.0.1]\n  services:\n    ns/a:\n      70000: 80\n");
    assert!(e.contains("line 6") && e.contains("workloads[0].services"), "{e}");
    let e = err(
        "policies:\n- name: p\n  namespace: ns\n  scope: Namespace\n  action: Allow\n  rules: [[[{namespaces: [default]}]]]\n",
    );
    assert!(e.contains("line 6") && e.contains("policies[0].rules[0][0][0].namespaces[0]"), "{e}");
    let e = err("workloads: [\n");
    assert!(e.starts_with("test.yaml: line 2 column 1: "), "{e}");
    let e = err("services:\n- name: s\n  namespace: ns\n  hostname: h\n  vips: [10.0.0.1]\n");
    assert!(e.contains("services[0].vips[0]") && e.contains("\"<network>/<ip>\""), "{e}");
}

#[test]
fn workloads_may_share_an_ip() {
    // Two host-network pods on one node (both hold the node IP) and a pod whose IP a new pod
    // already took: all load, none is dropped.
    let st = load_str(
        "workloads:\n- name: h1\n  namespace: kube-system\n  networkMode: HostNetwork\n  workloadIps: [10.0.0.10]\n\
         - name: h2\n  namespace: kube-system\n  networkMode: HostNetwork\n  workloadIps: [10.0.0.10]\n\
         - name: old\n  namespace: ns\n  workloadIps: [10.0.0.1]\n- name: new\n  namespace: ns\n  workloadIps: [10.0.0.1]\n",
        "x",
    )
    .unwrap();
    assert_eq!(st.workload_count(), 4);
    assert!(st.workload_by_ip("", ip("10.0.0.10")).is_none());
    assert_eq!(st.workload_by_ip("", ip("10.0.0.1")).unwrap().name, "new");
}

#[test]
fn semantic_errors_are_located() {
    let e = err(
        "workloads:\n- uid: same\n  namespace: ns\n  workloadIps: [10.0.0.1]\n- uid: same\n  namespace: ns\n  workloadIps: [10.0.0.2]\n",
    );
    assert_eq!(e, "test.yaml: line 5 column 3: workloads[1].uid: duplicate workload uid \"same\"");
    let e =
        err("workloads:\n- namespace: ns\n  workloadIps: [10.0.0.1]\n  services:\n    example.com:\n      80: 8080\n");
    assert_eq!(
        e,
        "test.yaml: line 5 column 5: workloads[0].services.\"example.com\": service key \"example.com\" is not of the form \"<namespace>/<hostname>\""
    );
    let e = err("workloads:\n- namespace: ns\n  workloadIps: [10.0.0.1]\n  services:\n    ns/h:\n      0: 8080\n");
    assert!(e.contains("line 6 column 7") && e.contains("service port 0"), "{e}");
    let e = err("workloads:\n- namespace: \"\"\n  workloadIps: [10.0.0.1]\n");
    assert_eq!(e, "test.yaml: line 2 column 3: workloads[0].namespace: must not be empty");
    let e = err("workloads:\n- namespace: ns\n");
    assert!(e.contains("workloads[0].workloadIps: a workload needs workloadIps"), "{e}");
    let remote = "workloads:\n- namespace: ns\n  network: net-b\n  networkGateway: {destination: net-b/10.22.1.1}\n";
    let st = load_str(remote, "test.yaml").expect("a remote pod behind its gateway needs no address");
    assert!(st.workloads().next().is_some_and(|w| w.workload_ips.is_empty() && w.network_gateway.is_some()));
    let e = err("workloads:\n- namespace: ns\n  workloadIps: [10.0.0.1]\n  authorizationPolicies: [p]\n");
    assert!(e.contains("line 4 column 3: workloads[0].authorizationPolicies[0]"), "{e}");
    let svc = "- name: s\n  namespace: ns\n  hostname: h\n  vips: [/10.96.0.1]\n";
    let e = err(&format!("services:\n{svc}{svc}"));
    assert!(e.contains("line 8 column 3: services[1].hostname: duplicate service \"ns/h\""), "{e}");
    let e = err(
        "services:\n- name: s\n  namespace: ns\n  hostname: a\n  vips: [net2/10.96.0.1]\n- name: s\n  namespace: ns\n  hostname: b\n  vips: [/10.96.0.2, net2/10.96.0.1]\n",
    );
    assert!(
        e.contains("line 9 column 3: services[1].vips: VIP net2/10.96.0.1 is already used by service \"ns/a\""),
        "{e}"
    );
    // The same address on another network is another VIP (upstream keys VIPs by network).
    let mut both = String::from("services:\n");
    for (host, vip) in [("a", "net1/10.96.0.1"), ("b", "net2/10.96.0.1")] {
        both.push_str(&format!("- name: s\n  namespace: ns\n  hostname: {host}\n  vips: [{vip}]\n"));
    }
    let st = crate::xds::load_str(&both, "test").unwrap();
    assert_eq!(st.service_by_vip("net2", "10.96.0.1".parse().unwrap()).unwrap().hostname, "b");
    let e = err("services:\n- name: s\n  namespace: ns\n  hostname: a\n  ports:\n    0: 80\n");
    assert!(e.contains("line 6 column 5: services[0].ports.0: service port 0"), "{e}");
    let e = err("services:\n- name: s\n  namespace: ns\n  hostname: a\n  endpoints:\n    u1:\n      workloadUid: u2\n");
    assert!(e.contains("line 7 column 7: services[0].endpoints.u1.workloadUid"), "{e}");
    let pol = "- name: p\n  namespace: ns\n  scope: Namespace\n  action: Deny\n";
    let e = err(&format!("policies:\n{pol}{pol}"));
    assert!(e.contains("line 6 column 3: policies[1].name: duplicate policy \"ns/p\""), "{e}");
}

#[test]
fn service_endpoints_merge_and_unknown_services_are_ignored() {
    let yaml = r#"
workloads:
- uid: w1
  namespace: ns
  workloadIps: [10.0.0.1]
  status: Unhealthy
  services:
    ns/h: {80: 9090}
    ns/missing: {80: 80}
services:
- name: s
  namespace: ns
  hostname: h
  vips: [/10.96.0.1]
  ports: {80: 8080}
  endpoints:
    w2: {workloadUid: w2, port: {}}
"#;
    let st = load_str(yaml, "x").unwrap();
    let s = st.service_by_hostname("h").unwrap();
    assert_eq!(s.endpoints.len(), 2);
    assert_eq!(s.endpoints["w1"].port[&80], 9090);
    assert_eq!(s.endpoints["w1"].status, HealthStatus::Unhealthy);
    let w = st.workload_by_uid("w1").unwrap();
    assert_eq!(w.services.len(), 2);
}

#[test]
fn global_policy_may_omit_namespace() {
    let st = load_str(
        "policies:\n- name: g\n  namespace: \"\"\n  scope: Global\n  action: Deny\n  rules: [[[{destinationPorts: [1]}]]]\n",
        "x",
    )
    .unwrap();
    assert!(st.policy("/g").is_some());
}
