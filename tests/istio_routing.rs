//! Routing fields as istiod encodes them, applied by our ztunnel (dedicated mode on loopback,
//! against Istio's own control plane, `interop/istio`):
//!
//! - a waypoint from a Gateway API `Gateway` of class `istio-waypoint` and the
//!   `istio.io/use-waypoint` label on the Service: the service's `waypoint` arrives as istiod
//!   resolves it (the Gateway's `status.addresses` hostname, port 15008), and traffic goes
//!   through the waypoint test double (its certificate issued by istiod's CA to the waypoint
//!   pod's service account), then its own ztunnel to the backend;
//! - `internalTrafficPolicy: Local` and `trafficDistribution: PreferClose` arrive as STRICT
//!   [NODE] and FAILOVER [NETWORK, REGION, ZONE] and pick the node-local / same-zone endpoint
//!   on every connection (localities from the Nodes' topology labels).
//! - overlapping workload IPs: a pod and a WorkloadEntry on two networks at one address, each
//!   sent qualified by its network; a client on one network reaches its own network's.
//!
//! The fake cluster has no gateway controller, so the test writes what it would: the waypoint
//! Service and Pod, and the Gateway's status address.
//!
//! Addresses: 127.0.152.x (pods), 127.0.153.x (service VIPs), 127.0.211.x (overlapping IPs);
//! the on-demand waypoint test (`XDS_ON_DEMAND`: the waypoint fetched by name before routing)
//! 127.106.x.x.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use common::istio::{IstioCp, k8s, nacks};
use common::{bin, eventually, payload};
use serde_json::Value;
use ztunnel::certs::ca_client::{CaClient, CaClientConfig};
use ztunnel::certs::manager::CertificateSource;
use ztunnel::config::{AuthToken, RootCert};
use ztunnel::control_plane::auth::Credentials;
use ztunnel::control_plane::channel::ControlPlaneEndpoint;
use ztunnel::identity::Identity;
use ztunnel::testbed::backend::Echo;
use ztunnel::testbed::http;
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};
use ztunnel::testbed::waypoint::{Seen, WaypointDouble};

const WAIT: Duration = Duration::from_secs(20);

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 152, last])
}

fn vip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 153, last])
}

fn ready(node: &Node) -> bool {
    http::request(node.addrs.readiness, "GET", "/healthz/ready").map(|r| r.0 == 200).unwrap_or(false)
}

fn dump(node: &Node) -> Value {
    let (status, body) = http::request(node.addrs.admin, "GET", "/config_dump").unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn dumped_service(d: &Value, name: &str) -> Value {
    d["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no service {name} in the dump: {}", d["services"]))
}

/// A dedicated-mode ztunnel for `default/<pod>` (service account `sa`) on `at`, against `cp`.
fn node(cp: &IstioCp, name: &str, pod: &str, sa: &str, at: IpAddr, tweak: impl Fn(NodeSpec) -> NodeSpec) -> Node {
    let mut spec =
        NodeSpec::new(name, &format!("default/{pod}/{sa}"), at, &PathBuf::new(), &(PathBuf::new(), PathBuf::new()))
            .unset("LOCAL_XDS_PATH")
            .unset("FAKE_CA_ROOT_CERT")
            .unset("FAKE_CA_ROOT_KEY")
            .set("NODE_NAME", name)
            .set("POD_NAME", pod)
            .set("POD_NAMESPACE", "default");
    for (k, v) in cp.ztunnel_env(&format!("default/{sa}/{pod}")) {
        spec = spec.set(&k, v);
    }
    tweak(spec).spawn(bin()).unwrap()
}

/// A ready pod with extra labels (YAML lines under `labels:`); `ambient`: enrolled by the CNI.
fn pod(name: &str, sa: &str, node: &str, at: IpAddr, labels: &[(&str, &str)], ambient: bool) -> String {
    let labels: String = labels.iter().map(|(k, v)| format!("    {k}: {v}\n")).collect();
    let annotations = if ambient { "  annotations:\n    ambient.istio.io/redirection: enabled\n" } else { "" };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\n  uid: {name}\n  labels:\n{labels}{annotations}\
         spec:\n  nodeName: {node}\n  serviceAccountName: {sa}\n  containers:\n  - name: app\n    image: app\n\
         status:\n  phase: Running\n  hostIP: {at}\n  podIP: {at}\n  podIPs:\n  - ip: {at}\n  conditions:\n  - type: Ready\n    status: \"True\"\n"
    )
}

/// A ClusterIP Service; `extra_meta` / `extra_spec` are YAML lines (indented) to add.
fn service(
    name: &str,
    at: IpAddr,
    selector: (&str, &str),
    ports: &[(&str, u16, u16)],
    extra_meta: &str,
    extra_spec: &str,
) -> String {
    let ports: String = ports
        .iter()
        .map(|(n, p, t)| format!("  - name: {n}\n    port: {p}\n    targetPort: {t}\n    protocol: TCP\n"))
        .collect();
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\n{extra_meta}spec:\n  clusterIP: {at}\n  clusterIPs:\n  - {at}\n\
         {extra_spec}  selector:\n    {}: {}\n  ports:\n{ports}",
        selector.0, selector.1
    )
}

fn node_object(name: &str, zone: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    topology.kubernetes.io/region: r1\n    topology.kubernetes.io/zone: {zone}\n"
    )
}

/// The waypoint's certificate, from istiod's CA, as the waypoint pod's service account.
fn waypoint_certificate(cp: &IstioCp, pod: &str) -> ztunnel::tls::WorkloadCertificate {
    let client = CaClient::new(CaClientConfig {
        endpoint: ControlPlaneEndpoint {
            address: format!("https://{}", cp.ca),
            roots: RootCert::File(cp.root_cert.clone()),
            alt_hostname: Some("istiod.istio-system.svc".into()),
        },
        credentials: Credentials {
            token: Some(AuthToken::Static(format!("default/waypoint/{pod}"))),
            cluster_id: "Kubernetes".into(),
            headers: vec![],
        },
        secret_ttl: Duration::from_secs(3600),
        impersonate: false,
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(client.fetch(&Identity::new("cluster.local", "default", "waypoint")))
        .expect("istiod's CA signs the waypoint")
}

fn echo_through(node: &Node, dst: SocketAddr, seed: u64) -> std::io::Result<()> {
    let data = payload(32 * 1024, seed);
    let mut conn = socks::connect(node.addrs.socks5.unwrap(), Dest::Addr(dst))?;
    conn.set_read_timeout(Some(WAIT))?;
    conn.write_all(&data)?;
    conn.shutdown(std::net::Shutdown::Write)?;
    let mut back = Vec::new();
    conn.read_to_end(&mut back)?;
    assert!(back == data, "echo through {dst}: {} bytes back of {}", back.len(), data.len());
    Ok(())
}

fn completions(node: &Node, dst: &str) -> Vec<Value> {
    node.events().into_iter().filter(|e| message(e) == "connection complete" && e["dst.addr"] == dst).collect()
}

#[test]
fn waypoint_and_locality_from_istiod() {
    let (client_ip, server_ip, wp_ip, near_ip, far_ip, local_ip) = (ip(1), ip(2), ip(3), ip(5), ip(6), ip(7));
    let echo = Echo::start(SocketAddr::new(server_ip, 8080)).unwrap();
    // Plain (not captured) backends for the locality checks: reached over TCP.
    let near = Echo::start(SocketAddr::new(near_ip, 9090)).unwrap();
    let far = Echo::start(SocketAddr::new(far_ip, 9090)).unwrap();
    let local = Echo::start(SocketAddr::new(local_ip, 9090)).unwrap();
    let wp_pod = "waypoint-7d4b";
    let gateway = "\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: default
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
status:
  addresses:
  - type: Hostname
    value: waypoint.default.svc.cluster.local
";
    let objects = k8s::docs(&[
        k8s::namespace("default", true),
        k8s::namespace("istio-system", false),
        node_object("node-a", "z1"),
        node_object("node-b", "z2"),
        node_object("node-c", "z1"),
        pod("client", "client", "node-a", client_ip, &[("app", "client")], true),
        pod("server", "server", "node-b", server_ip, &[("app", "echo")], true),
        // What the gateway controller would deploy for the Gateway.
        pod(wp_pod, "waypoint", "node-b", wp_ip, &[("gateway.networking.k8s.io/gateway-name", "waypoint")], false),
        service(
            "waypoint",
            vip(2),
            ("gateway.networking.k8s.io/gateway-name", "waypoint"),
            &[("status-port", 15021, 15021), ("mesh", 15008, 15008)],
            "  labels:\n    gateway.istio.io/managed: istio.io-mesh-controller\n",
            "",
        ),
        // GatewayClass `istio-waypoint` is istiod's own (its gateway-class controller writes it).
        gateway.to_string(),
        gateway
            .replace("name: waypoint\n", "name: waypoint-canary\n")
            .replace("value: waypoint.", "value: waypoint-canary."),
        // A canary waypoint at weight 0: istiod sends both, and no connection may pick the canary.
        service(
            "echo",
            vip(1),
            ("app", "echo"),
            &[("tcp", 80, 8080)],
            "  labels:\n    istio.io/use-waypoint: waypoint\n    istio.io/use-waypoint-canary: waypoint-canary\n  annotations:\n    istio.io/use-waypoint-canary-weight: \"0\"\n",
            "",
        ),
        // The backend only accepts its waypoint (what istiod's waypoint policies amount to).
        k8s::policy("default", "only-waypoint", "echo", "ALLOW", &["cluster.local/ns/default/sa/waypoint"]),
        // Locality: "near" shares the client's zone (node-c, z1), "far" does not (node-b, z2);
        // "local" runs on the client's node.
        pod("near", "backend", "node-c", near_ip, &[("app", "zonal")], false),
        pod("far", "backend", "node-b", far_ip, &[("app", "zonal"), ("tier", "nodal")], false),
        pod("local", "backend", "node-a", local_ip, &[("tier", "nodal")], false),
        service("zonal", vip(3), ("app", "zonal"), &[("tcp", 90, 9090)], "", "  trafficDistribution: PreferClose\n"),
        service("nodal", vip(4), ("tier", "nodal"), &[("tcp", 90, 9090)], "", "  internalTrafficPolicy: Local\n"),
    ]);
    let cp = IstioCp::start(&objects);
    let a = node(&cp, "node-a", "client", "client", client_ip, |s| s);
    let b = node(&cp, "node-b", "server", "server", server_ip, |s| s);
    // The waypoint's own ztunnel; the double owns the waypoint IP's port 15008.
    let w =
        node(&cp, "node-w", wp_pod, "waypoint", wp_ip, |s| s.set("ZTUNNEL_INBOUND_ADDR", format!("{}:15008", ip(4))));
    eventually(WAIT, "three nodes ready", || ready(&a) && ready(&b) && ready(&w));

    // What istiod sent, as our dump shows it.
    let d = dump(&a);
    let echo_svc = dumped_service(&d, "echo");
    assert_eq!(
        echo_svc["waypoint"],
        serde_json::json!({"destination": {"namespace": "default", "hostname": "waypoint.default.svc.cluster.local"}, "hboneMtlsPort": 15008}),
        "{echo_svc}"
    );
    let host = |h: &str| serde_json::json!({"namespace": "default", "hostname": h});
    assert_eq!(
        echo_svc["weightedWaypoints"],
        serde_json::json!([
            {"destination": {"destination": host("waypoint.default.svc.cluster.local"), "hboneMtlsPort": 15008}, "weight": 100},
            {"destination": {"destination": host("waypoint-canary.default.svc.cluster.local"), "hboneMtlsPort": 15008}, "weight": 0},
        ]),
        "{echo_svc}"
    );
    assert_eq!(
        dumped_service(&d, "zonal")["loadBalancer"],
        serde_json::json!({"routingPreferences": ["Network", "Region", "Zone"], "mode": "Failover", "healthPolicy": "OnlyHealthy"})
    );
    assert_eq!(
        dumped_service(&d, "nodal")["loadBalancer"],
        serde_json::json!({"routingPreferences": ["Node"], "mode": "Strict", "healthPolicy": "OnlyHealthy"})
    );

    // Waypoint: through the double, with the original VIP as target and the client verified.
    let double = WaypointDouble::start(
        SocketAddr::new(wp_ip, 15008),
        waypoint_certificate(&cp, wp_pod),
        w.addrs.socks5.unwrap(),
    )
    .unwrap();
    let client_id = Identity::new("cluster.local", "default", "client");
    echo_through(&a, SocketAddr::new(vip(1), 80), 1).expect("through the waypoint");
    for seed in 100..110 {
        echo_through(&a, SocketAddr::new(vip(1), 80), seed).expect("the weight-0 canary is never picked");
    }
    let seen = double.seen();
    assert_eq!(seen.len(), 11, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| *s == Seen { target: format!("{}:80", vip(1)), peer: Some(client_id.clone()), forwarded: true }),
        "{seen:?}"
    );
    assert_eq!(echo.accepted(), 11);
    eventually(WAIT, "node A's access log", || !completions(&a, &format!("{}:80", vip(1))).is_empty());
    assert_eq!(completions(&a, &format!("{}:80", vip(1)))[0]["dst.hbone_addr"], format!("{wp_ip}:15008"));
    // Around it, straight to the pod: refused by the backend's policy.
    assert!(echo_through(&a, echo.addr, 2).is_err(), "the pod address must not bypass the waypoint");
    assert_eq!(echo.accepted(), 11);

    // Locality: every connection lands on the closest endpoint.
    for seed in 0..10 {
        echo_through(&a, SocketAddr::new(vip(3), 90), 10 + seed).unwrap();
        echo_through(&a, SocketAddr::new(vip(4), 90), 20 + seed).unwrap();
    }
    assert_eq!((near.accepted(), far.accepted()), (10, 0), "PreferClose keeps traffic in the client's zone");
    assert_eq!(local.accepted(), 10, "internalTrafficPolicy: Local keeps traffic on the client's node");

    for n in [&a, &b, &w] {
        let (_, text) = http::request(n.addrs.metrics, "GET", "/metrics").unwrap();
        assert_eq!(nacks(&text), 0.0, "{} NACKed istiod's resources:\n{}", n.name, n.raw_log());
    }
}

/// ServiceEntries with `resolution: DNS` as istiod encodes them (a workload with only a
/// hostname): ztunnel resolves the host through its own resolvers (our test DNS server, via
/// ZTUNNEL_RESOLV_CONF), caches the answer for its TTL, follows a changed record once the TTL
/// has passed, and fails a name that does not resolve with the resolver's reason.
#[test]
fn service_entry_dns_endpoints_from_istiod() {
    use std::collections::HashMap;
    use ztunnel::testbed::dns::TestDns;
    let (client_ip, first_ip, second_ip) = (ip(20), ip(21), ip(22));
    let (api_vip, gone_vip) = (vip(20), vip(21));
    let first = Echo::start(SocketAddr::new(first_ip, 443)).unwrap();
    let second = Echo::start(SocketAddr::new(second_ip, 443)).unwrap();
    let records = |at: IpAddr| HashMap::from([("api.example.com".to_string(), (vec![at], 1))]);
    let dns = TestDns::start(SocketAddr::new(IpAddr::from([127, 0, 155, 53]), 53), records(first_ip))
        .expect("binding 127.0.155.53:53 (needs root)");
    let objects = k8s::docs(&[
        k8s::namespace("default", true),
        k8s::namespace("istio-system", false),
        pod("client", "client", "node-a", client_ip, &[("app", "client")], true),
        k8s::service_entry("default", "api", "api.example.com", Some(api_vip), "DNS", &[]),
        k8s::service_entry("default", "gone", "gone.example.com", Some(gone_vip), "DNS", &[]),
    ]);
    let cp = IstioCp::start(&objects);
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, format!("nameserver {}\n", dns.addr.ip())).unwrap();
    let a = node(&cp, "node-a", "client", "client", client_ip, |s| {
        s.set("ZTUNNEL_RESOLV_CONF", resolv.display().to_string())
    });
    eventually(WAIT, "node ready", || ready(&a));
    let d = dump(&a);
    let se = d["workloads"].as_array().unwrap().iter().find(|w| w["hostname"] == "api.example.com").cloned();
    let se = se.unwrap_or_else(|| panic!("no hostname workload in {}", d["workloads"]));
    assert!(se["workloadIps"].as_array().is_none_or(|ips| ips.is_empty()), "{se}");

    let api = SocketAddr::new(api_vip, 443);
    echo_through(&a, api, 1).expect("the ServiceEntry host, resolved");
    echo_through(&a, api, 2).expect("again, from the cache");
    assert_eq!(first.accepted(), 2);
    assert_eq!(dns.queries_for("api.example.com"), 2, "one A and one AAAA query for two connections");

    // The record moves; once its 1 s TTL has passed, new connections follow it.
    dns.set_records(records(second_ip));
    eventually(WAIT, "connections follow the changed record", || {
        echo_through(&a, api, 3).unwrap();
        second.accepted() > 0
    });
    assert!(dns.queries_for("api.example.com") >= 4, "re-resolved after the TTL");

    let err = echo_through(&a, SocketAddr::new(gone_vip, 443), 4).expect_err("an unresolvable host must fail");
    assert!(err.to_string().contains("reply code"), "{err}");
    eventually(WAIT, "node A logs the failure", || !completions(&a, &format!("{gone_vip}:443")).is_empty());
    let e = completions(&a, &format!("{gone_vip}:443"))[0]["error"].as_str().unwrap().to_string();
    assert!(e.contains("gone.example.com has no A or AAAA record") && e.contains("NXDOMAIN"), "{e}");
    let (_, text) = http::request(a.addrs.metrics, "GET", "/metrics").unwrap();
    assert_eq!(nacks(&text), 0.0);
    // Upstream's on-demand DNS counters: one per connection, a miss when the cache had no answer.
    let samples = http::parse_metrics(&text).unwrap();
    let count = |name: &str, host: &str| {
        http::sum(&samples, name, &[("hostname", host), ("source_workload_namespace", "default")])
    };
    let connections = (first.accepted() + second.accepted()) as f64;
    assert_eq!(count("istio_on_demand_dns_total", "api.example.com"), connections, "{text}");
    let misses = count("istio_on_demand_dns_cache_misses_total", "api.example.com");
    assert!((2.0..connections).contains(&misses), "first lookup and after the TTL, not every time: {misses}");
    assert_eq!(count("istio_on_demand_dns_cache_misses_total", "gone.example.com"), 1.0);
}

/// On demand (`XDS_ON_DEMAND=true`): the waypoint a service names is fetched too before the
/// connection routes (istiod's answer for the VIP holds the service and its pods, not its
/// waypoint), so traffic still goes through it instead of around it.
/// Addresses: 127.106.0.x (pods), 127.106.1.x (VIPs).
#[test]
fn waypoint_fetched_on_demand() {
    let at = |c: u8, d: u8| IpAddr::from([127, 106, c, d]);
    let (client_ip, server_ip, wp_ip, echo_vip, wp_vip) = (at(0, 1), at(0, 2), at(0, 3), at(1, 1), at(1, 2));
    let echo = Echo::start(SocketAddr::new(server_ip, 8080)).unwrap();
    let wp_pod = "waypoint-5c1e";
    let objects = k8s::docs(&[
        k8s::namespace("default", true),
        k8s::namespace("istio-system", false),
        pod("client", "client", "node-a", client_ip, &[("app", "client")], true),
        pod("server", "server", "node-b", server_ip, &[("app", "echo")], true),
        pod(wp_pod, "waypoint", "node-b", wp_ip, &[("gateway.networking.k8s.io/gateway-name", "waypoint")], false),
        service(
            "waypoint",
            wp_vip,
            ("gateway.networking.k8s.io/gateway-name", "waypoint"),
            &[("status-port", 15021, 15021), ("mesh", 15008, 15008)],
            "  labels:\n    gateway.istio.io/managed: istio.io-mesh-controller\n",
            "",
        ),
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: waypoint\n  namespace: default\n\
         spec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - name: mesh\n    port: 15008\n    protocol: HBONE\n\
         status:\n  addresses:\n  - type: Hostname\n    value: waypoint.default.svc.cluster.local\n"
            .to_string(),
        service(
            "echo",
            echo_vip,
            ("app", "echo"),
            &[("tcp", 80, 8080)],
            "  labels:\n    istio.io/use-waypoint: waypoint\n",
            "",
        ),
        k8s::policy("default", "only-waypoint", "echo", "ALLOW", &["cluster.local/ns/default/sa/waypoint"]),
    ]);
    let cp = IstioCp::start(&objects);
    let a = node(&cp, "node-a", "client", "client", client_ip, |s| {
        s.set("XDS_ON_DEMAND", "true").set("ISTIO_META_DNS_CAPTURE", "false")
    });
    let b = node(&cp, "node-b", "server", "server", server_ip, |s| s);
    let w = node(&cp, "node-w", wp_pod, "waypoint", wp_ip, |s| {
        s.set("ZTUNNEL_INBOUND_ADDR", format!("{}:15008", at(0, 4)))
    });
    eventually(WAIT, "three nodes ready", || ready(&a) && ready(&b) && ready(&w));
    assert_eq!(dump(&a)["services"], serde_json::json!([]), "nothing demanded yet");

    let double = WaypointDouble::start(
        SocketAddr::new(wp_ip, 15008),
        waypoint_certificate(&cp, wp_pod),
        w.addrs.socks5.unwrap(),
    )
    .unwrap();
    echo_through(&a, SocketAddr::new(echo_vip, 80), 1).expect("through the waypoint");
    let client_id = Identity::new("cluster.local", "default", "client");
    assert_eq!(double.seen(), vec![Seen { target: format!("{echo_vip}:80"), peer: Some(client_id), forwarded: true }]);
    assert_eq!(echo.accepted(), 1);
    // Two requests: the VIP, then the waypoint by namespace/hostname.
    a.wait_for(WAIT, |e| {
        message(e) == "on-demand xDS request" && e.to_string().contains("default/waypoint.default.svc.cluster.local")
    })
    .expect("the waypoint requested by name");
    let d = dump(&a);
    assert_eq!(dumped_service(&d, "waypoint")["hostname"], "waypoint.default.svc.cluster.local");
    assert_eq!(dumped_service(&d, "echo")["waypoint"]["destination"]["hostname"], "waypoint.default.svc.cluster.local");
    eventually(WAIT, "node A's access log", || !completions(&a, &format!("{echo_vip}:80")).is_empty());
    assert_eq!(completions(&a, &format!("{echo_vip}:80"))[0]["dst.hbone_addr"], format!("{wp_ip}:15008"));

    for n in [&a, &b, &w] {
        let (_, text) = http::request(n.addrs.metrics, "GET", "/metrics").unwrap();
        assert_eq!(nacks(&text), 0.0, "{} NACKed istiod's resources:\n{}", n.name, n.raw_log());
    }
}

/// Workload IPs that overlap across networks, as istiod assigns networks: a pod is on its
/// cluster's network (the system namespace's `topology.istio.io/network` label; this istiod
/// reads no per-pod label), a WorkloadEntry on its `spec.network`. A pod on `net-a` and a
/// WorkloadEntry on `net-b` share one IP; istiod sends both, each with its network, and a client
/// on `net-a` dialing the IP reaches `net-a`'s pod directly. (Overlapping VIPs need two
/// clusters, which the single-cluster istio-cp cannot express: a cluster's Services are all on
/// its network.)
#[test]
fn overlapping_pod_ips_on_two_networks_from_istiod() {
    let (client_ip, shared_ip) = (IpAddr::from([127, 0, 211, 1]), IpAddr::from([127, 0, 211, 5]));
    let echo = Echo::start(SocketAddr::new(shared_ip, 8080)).unwrap();
    let objects = k8s::docs(&[
        k8s::namespace("default", true),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n  labels:\n    topology.istio.io/network: net-a\n"
            .to_string(),
        pod("client", "client", "node-a", client_ip, &[("app", "client")], true),
        // Not enrolled (plain TCP): the pod itself listens on the shared IP.
        pod("twin-a", "twin", "node-a", shared_ip, &[("app", "twin")], false),
        format!(
            "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: twin-b\n  namespace: default\n  labels:\n    app: twin\n\
             spec:\n  address: {shared_ip}\n  network: net-b\n  serviceAccount: twin\n"
        ),
    ]);
    let cp = IstioCp::start(&objects);
    let a = node(&cp, "node-a", "client", "client", client_ip, |s| s.set("NETWORK", "net-a"));
    eventually(WAIT, "node ready", || ready(&a));
    let network_of = |d: &Value, name: &str| {
        let w = d["workloads"].as_array().unwrap().iter().find(|w| w["name"] == name).cloned();
        w.unwrap_or_else(|| panic!("no workload {name} in {}", d["workloads"]))["network"].clone()
    };
    eventually(WAIT, "both pods known", || {
        let d = dump(&a);
        d["workloads"].as_array().unwrap().iter().filter(|w| w["workloadIps"][0] == shared_ip.to_string()).count() == 2
    });
    let d = dump(&a);
    assert_eq!(
        (network_of(&d, "twin-a"), network_of(&d, "twin-b")),
        ("net-a".into(), "net-b".into()),
        "{}",
        d["workloads"]
    );
    assert_eq!(network_of(&d, "client"), "net-a", "{d}");

    let dst = SocketAddr::new(shared_ip, 8080);
    echo_through(&a, dst, 1).expect("the net-a pod at the shared IP");
    assert_eq!(echo.accepted(), 1);
    eventually(WAIT, "node A logs it", || !completions(&a, &dst.to_string()).is_empty());
    let done = &completions(&a, &dst.to_string())[0];
    assert_eq!(done["dst.workload"], "twin-a", "{done}");
    assert_eq!(done["error"], "-", "{done}");
    let (_, text) = http::request(a.addrs.metrics, "GET", "/metrics").unwrap();
    assert_eq!(nacks(&text), 0.0);
}
