//! Conformance with real Istio: ztunnel processes against istiod's own discovery server and CA
//! (`interop/istio`, built from Istio's Go packages; see `common::istio`), not our fake.
//!
//! - Dedicated mode on loopback: two pods, each with its own ztunnel, traffic over HBONE by
//!   service VIP; certificates from istiod's CA (RSA root); the trust domain istiod leaves
//!   empty; host-network pods sharing the node IP; istioctl's reader on our `/config_dump`.
//! - Shared mode in network namespaces (root): two nodes, each a ztunnel with its own CNI
//!   socket; pod certificates by impersonation; policies, endpoint changes, pod deletion and IP
//!   reuse while the mesh runs.
//!
//! Every test ends by checking that neither ztunnel NACKed anything istiod sent.
//!
//! `ZTUNNEL_UNDER_TEST=<path>` runs them against another build of ours (e.g. an older commit,
//! to see which of these breaks it had).

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::istio::{IstioCp, k8s, nacks};
use common::netns::{cni_pod, redirect};
use common::*;
use serde_json::Value;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::cni::Cni;
use ztunnel::testbed::http;
use ztunnel::testbed::netns::{Pair, in_netns};
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks;

const WAIT: Duration = Duration::from_secs(20);

fn ztunnel() -> PathBuf {
    std::env::var_os("ZTUNNEL_UNDER_TEST").map(PathBuf::from).unwrap_or_else(|| bin().to_path_buf())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ready(node: &Node) -> bool {
    http::request(node.addrs.readiness, "GET", "/healthz/ready").map(|r| r.0 == 200).unwrap_or(false)
}

fn dump(node: &Node) -> (String, Value) {
    let (status, body) = http::request(node.addrs.admin, "GET", "/config_dump").unwrap();
    assert_eq!(status, 200, "{body}");
    let v = serde_json::from_str(&body).unwrap();
    (body, v)
}

fn metrics(node: &Node) -> String {
    http::request(node.addrs.metrics, "GET", "/metrics").unwrap().1
}

/// The workload at `ip` in a node's dump.
fn dumped_workload(dump: &Value, ip: IpAddr) -> Option<Value> {
    dump["workloads"]
        .as_array()?
        .iter()
        .find(|w| w["workloadIps"].as_array().is_some_and(|ips| ips.iter().any(|i| i == &Value::from(ip.to_string()))))
        .cloned()
}

/// The certificate a node holds for `identity`, checked to chain to istiod's root.
fn assert_cert_from_istiod(node: &Node, cp: &IstioCp, identity: &str) {
    let (_, d) = dump(node);
    let certs = d["certificates"].as_array().unwrap();
    let c = certs
        .iter()
        .find(|c| c["identity"] == identity)
        .unwrap_or_else(|| panic!("{} holds no certificate for {identity}: {certs:?}", node.name));
    assert_eq!(c["state"], "Available", "{c}");
    let root = c["rootCerts"][0]["pem"].as_str().unwrap();
    assert_eq!(root.trim(), cp.root_pem().trim(), "the root is istiod's");
    let leaf = c["certChain"][0]["pem"].as_str().unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(leaf.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap().value.general_names.clone();
    assert!(format!("{san:?}").contains(identity), "leaf SANs {san:?}");
    // Signed by istiod's RSA root, as istiod's default self-signed CA does.
    assert_eq!(cert.signature_algorithm.algorithm, x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA);
}

fn assert_no_nacks(nodes: &[&Node]) {
    for n in nodes {
        let text = metrics(n);
        assert_eq!(nacks(&text), 0.0, "{} NACKed istiod's resources; its log:\n{}", n.name, n.raw_log());
        assert!(!n.raw_log().contains("rejected xDS resource"), "{}:\n{}", n.name, n.raw_log());
    }
}

/// Two dedicated-mode ztunnels on loopback against istiod, plus host-network pods that share
/// node A's IP.
#[test]
fn dedicated_mode_against_istiod() {
    let n = 91;
    let ip = |last: u8| IpAddr::from([127, n, 0, last]);
    let (client_ip, server_ip, node_a_ip, vip) = (ip(1), ip(2), ip(100), IpAddr::from([127, n, 1, 10]));
    let echo = Echo::start(SocketAddr::new(server_ip, 8080)).unwrap();
    let pod = k8s::Pod::new;
    let mut host_a = pod("host-agent-1", "agent", "node-a", node_a_ip, "agent");
    host_a.host_network = true;
    host_a.ambient = false;
    let mut host_b = pod("host-agent-2", "agent", "node-a", node_a_ip, "agent");
    host_b.host_network = true;
    host_b.ambient = false;
    let objects = k8s::docs(&[
        k8s::namespace("default", true),
        k8s::namespace("istio-system", false),
        pod("client", "client", "node-a", client_ip, "client").yaml(),
        pod("server", "server", "node-b", server_ip, "echo").yaml(),
        host_a.yaml(),
        host_b.yaml(),
        k8s::service("default", "echo", vip, "echo", 80, 8080),
        // ServiceEntries as istiod encodes them: static endpoints, DNS (hostname-only
        // endpoints), and NONE (passthrough). Whatever we do not route yet must still be
        // accepted, never NACKed.
        k8s::service_entry(
            "default",
            "static",
            "static.example.com",
            Some(IpAddr::from([127, n, 2, 10])),
            "STATIC",
            &[ip(50), ip(51)],
        ),
        k8s::service_entry("default", "dns", "api.example.com", Some(IpAddr::from([127, n, 2, 11])), "DNS", &[]),
        k8s::service_entry("default", "passthrough", "*.example.org", None, "NONE", &[]),
    ]);
    let cp = IstioCp::start(&objects);

    let node = |name: &str, workload: &str, ip: IpAddr, token: &str| {
        let mut spec = NodeSpec::new(name, workload, ip, &PathBuf::new(), &(PathBuf::new(), PathBuf::new()))
            .unset("LOCAL_XDS_PATH")
            .unset("FAKE_CA_ROOT_CERT")
            .unset("FAKE_CA_ROOT_KEY")
            .set("NODE_NAME", name)
            .set("POD_NAME", workload.split('/').nth(1).unwrap())
            .set("POD_NAMESPACE", "default");
        for (k, v) in cp.ztunnel_env(token) {
            spec = spec.set(&k, v);
        }
        spec.spawn(&ztunnel()).unwrap()
    };
    // Dedicated mode: each ztunnel presents its pod's own token; no impersonation.
    let a = node("node-a", "default/client/client", client_ip, "default/client/client");
    let b = node("node-b", "default/server/server", server_ip, "default/server/server");
    wait_until("both nodes ready", || ready(&a) && ready(&b));

    // Bytes over HBONE through both ztunnels, to the VIP istiod assigned the service.
    let data = payload(512 * 1024, 7);
    let conn = socks::connect(a.addrs.socks5.unwrap(), socks::Dest::Addr(SocketAddr::new(vip, 80))).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(sha256(&round_trip(conn, &data).unwrap()), sha256(&data));
    assert_eq!(echo.accepted(), 1);
    let inb = b.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client", "{inb}");

    // istiod leaves trust_domain empty for cluster.local; identities must still carry it.
    let (body, d) = dump(&a);
    let client = dumped_workload(&d, client_ip).expect("client workload in the dump");
    assert_eq!(client["trustDomain"], "cluster.local", "{client}");
    assert_eq!(client["protocol"], "HBONE", "{client}");
    assert_cert_from_istiod(&a, &cp, "spiffe://cluster.local/ns/default/sa/client");
    assert_cert_from_istiod(&b, &cp, "spiffe://cluster.local/ns/default/sa/server");

    // Both host-network pods are known (by name), neither owns the node IP.
    let names: Vec<&str> = d["workloads"].as_array().unwrap().iter().filter_map(|w| w["name"].as_str()).collect();
    assert!(names.contains(&"host-agent-1") && names.contains(&"host-agent-2"), "{names:?}");
    assert!(dumped_workload(&d, node_a_ip).is_none_or(|w| w["networkMode"] == "HostNetwork"));

    // istioctl's own reader parses our dump and shows the right content.
    let workloads = cp.ztunnel_config(&body, "workload");
    for want in ["client", "server", "host-agent-1", &client_ip.to_string(), "HBONE"] {
        assert!(workloads.contains(want), "istioctl workload table lacks {want:?}:\n{workloads}");
    }
    let services = cp.ztunnel_config(&body, "service");
    assert!(services.contains("echo") && services.contains(&vip.to_string()), "{services}");
    let certs = cp.ztunnel_config(&body, "certificate");
    assert!(certs.contains("spiffe://cluster.local/ns/default/sa/client"), "{certs}");
    // istioctl reads serial numbers as decimal; anything else shows as <nil>.
    assert!(certs.contains("Leaf") && certs.contains("Root") && !certs.contains("<nil>"), "{certs}");

    assert_no_nacks(&[&a, &b]);
}

/// An unmodified client in `ns` sends `len` bytes to `dst`; the echo must return them all.
fn round_trip_from(ns: &str, dst: SocketAddr, seed: u64) -> Result<(), String> {
    let data = payload(128 * 1024, seed);
    let expected = sha256(&data);
    in_netns(ns, move || {
        let c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let back = round_trip(c, &data).map_err(|e| e.to_string())?;
        if sha256(&back) == expected {
            Ok(())
        } else {
            Err(format!("echo mismatch: {} of {} bytes", back.len(), data.len()))
        }
    })
}

/// Whether anything listens on `port` inside `ns`.
fn listening(ns: &str, port: u16) -> bool {
    in_netns(ns, move || {
        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(2)).is_ok()
    })
}

/// Shared mode, as Istio's Helm chart runs ztunnel: one ztunnel per node, each pod's
/// certificate requested by impersonation and authorised by istiod's node authorizer.
#[test]
fn shared_mode_two_nodes_against_istiod() {
    let n = 92;
    let pair = Pair::new(n);
    let (client_ip, server_ip): (IpAddr, IpAddr) = ([198, 18, n, 1].into(), [198, 18, n, 2].into());
    let vip: IpAddr = [198, 19, n, 10].into();
    let node_ip = |last: u8| IpAddr::from([198, 18, n, 100 + last]);
    let _echo = in_netns(&pair.b, move || Echo::serve(TcpListener::bind((server_ip, 8080)).unwrap()).unwrap());
    for ns in [&pair.a, &pair.b] {
        redirect(&["install", "--netns", ns]);
    }
    let pod = k8s::Pod::new;
    let objects = |server: k8s::Pod<'_>, extra: &[String]| {
        let mut docs = vec![
            k8s::namespace("default", true),
            k8s::namespace("istio-system", false),
            k8s::ztunnel_pod("node-a", node_ip(1)),
            k8s::ztunnel_pod("node-b", node_ip(2)),
            pod("client", "client", "node-a", client_ip, "client").yaml(),
            server.yaml(),
            k8s::service("default", "echo", vip, "echo", 80, 8080),
        ];
        docs.extend_from_slice(extra);
        k8s::docs(&docs)
    };
    let server = || pod("server", "server", "node-b", server_ip, "echo");
    let cp = IstioCp::start(&objects(server(), &[]));

    let dir = tempfile::tempdir().unwrap();
    let start_node = |node: &str, cni: &Cni| {
        let spec =
            cp.shared_node(node, IpAddr::from([127, 0, 0, 1]), &cni.path).set("CONNECTION_TERMINATION_DEADLINE", "1s");
        spec.spawn(&ztunnel()).unwrap()
    };
    let cni_a = Cni::start(&dir.path().join("zds-a.sock")).unwrap();
    let cni_b = Cni::start(&dir.path().join("zds-b.sock")).unwrap();
    assert_eq!(cni_a.add(cni_pod(&pair.a, "uid-client", "client", "client")).unwrap(), None);
    assert_eq!(cni_b.add(cni_pod(&pair.b, "uid-server", "server", "server")).unwrap(), None);
    let a = start_node("node-a", &cni_a);
    let b = start_node("node-b", &cni_b);
    wait_until("both nodes ready", || ready(&a) && ready(&b));

    let to_vip = SocketAddr::new(vip, 80);
    wait_until("traffic by VIP", || round_trip_from(&pair.a, to_vip, 1).is_ok());
    round_trip_from(&pair.a, SocketAddr::new(server_ip, 8080), 2).unwrap();
    // Each node holds its own pod's certificate, issued by istiod to the impersonated identity
    // (ztunnel's own token, the pod's SPIFFE id).
    assert_cert_from_istiod(&a, &cp, "spiffe://cluster.local/ns/default/sa/client");
    assert_cert_from_istiod(&b, &cp, "spiffe://cluster.local/ns/default/sa/server");
    let inb = b.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client", "{inb}");

    // istioctl's connections table, from our dump, while a connection is open.
    let held = in_netns(&pair.a, move || {
        let mut c = TcpStream::connect_timeout(&to_vip, Duration::from_secs(5)).unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        c
    });
    let table = cp.ztunnel_config(&dump(&a).0, "connections");
    assert!(table.contains("client.default") && table.contains("Outbound") && table.contains("HBONE"), "{table}");
    let table = cp.ztunnel_config(&dump(&b).0, "connections");
    assert!(table.contains("server.default") && table.contains("Inbound"), "{table}");
    drop(held);

    // A DENY policy from istiod on the server refuses the client; removing it lets it back in.
    let deny = k8s::policy("default", "deny-client", "echo", "DENY", &["cluster.local/ns/default/sa/client"]);
    cp.apply(&objects(server(), std::slice::from_ref(&deny)));
    wait_until("DENY enforced", || round_trip_from(&pair.a, to_vip, 3).is_err());
    cp.apply(&objects(server(), &[]));
    wait_until("DENY lifted", || round_trip_from(&pair.a, to_vip, 4).is_ok());
    // An ALLOW policy naming someone else refuses the client too; naming it admits it.
    let allow_other = k8s::policy("default", "allow", "echo", "ALLOW", &["cluster.local/ns/default/sa/other"]);
    cp.apply(&objects(server(), std::slice::from_ref(&allow_other)));
    wait_until("ALLOW of another identity enforced", || round_trip_from(&pair.a, to_vip, 5).is_err());
    let allow_client = k8s::policy("default", "allow", "echo", "ALLOW", &["cluster.local/ns/default/sa/client"]);
    cp.apply(&objects(server(), std::slice::from_ref(&allow_client)));
    wait_until("ALLOW of the client", || round_trip_from(&pair.a, to_vip, 6).is_ok());
    // istioctl's reader shows the policy istiod sent, from our dump.
    let policies = cp.ztunnel_config(&dump(&b).0, "policy");
    assert!(policies.contains("default") && policies.contains("allow") && policies.contains("Allow"), "{policies}");

    // The service loses its endpoint (the pod no longer matches the selector), then regains it.
    let mut unlabelled = server();
    unlabelled.app = "not-echo";
    cp.apply(&objects(unlabelled, &[]));
    wait_until("endpoint removed", || round_trip_from(&pair.a, to_vip, 7).is_err());
    cp.apply(&objects(server(), &[]));
    wait_until("endpoint back", || round_trip_from(&pair.a, to_vip, 8).is_ok());

    // The server pod is deleted and a new pod (another name, another identity) gets its IP.
    // The CNI announces it before istiod's push about it arrives: node B waits for the push
    // (up to 5 s) instead of failing the pod.
    let mut reborn = pod("server-2", "server2", "node-b", server_ip, "echo");
    reborn.uid = "server-2";
    assert_eq!(cni_b.del("uid-server").unwrap(), Some(String::new()));
    // (A new pod has a new namespace; this one reuses the old pod's, so let its listeners go.)
    wait_until("the old pod's listeners to close", || !listening(&pair.b, 15001) && !listening(&pair.b, 15008));
    assert_eq!(cni_b.add(cni_pod(&pair.b, "uid-server-2", "server-2", "server2")).unwrap(), Some(String::new()));
    b.wait_for(WAIT, |e| message(e) == "pod proxy listening" && e["uid"] == "uid-server-2").unwrap();
    cp.apply(&objects(reborn, &[]));
    wait_until("traffic to the pod that reused the IP", || round_trip_from(&pair.a, to_vip, 9).is_ok());
    b.wait_for(WAIT, |e| {
        e.to_string().contains("spiffe://cluster.local/ns/default/sa/server2")
            && message(e) == "certificate issued by CA"
    })
    .expect("the late pod's certificate was prefetched once istiod announced it");
    assert!(!b.raw_log().contains("not (yet) known"), "{}", b.raw_log());
    let (_, d) = dump(&a);
    let at_ip = dumped_workload(&d, server_ip).unwrap();
    assert_eq!(at_ip["name"], "server-2", "{at_ip}");
    assert_cert_from_istiod(&b, &cp, "spiffe://cluster.local/ns/default/sa/server2");

    assert_no_nacks(&[&a, &b]);
}
