//! On-demand xDS (`XDS_ON_DEMAND=true`) against istiod's own discovery server (`interop/istio`):
//! the Address subscription starts empty, connections fetch what they need by `network/IP`,
//! istiod's answers are applied before the connection routes, and a reconnect keeps the
//! subscription.
//!
//! Two dedicated-mode ztunnels on loopback: node A on demand, node B (the destination's)
//! subscribed to everything, so every byte goes through the real HBONE path between them; and
//! the same in shared mode, across network namespaces (root).

mod common;

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

fn dump(node: &Node) -> Value {
    let (status, body) = http::request(node.addrs.admin, "GET", "/config_dump").unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn workload_names(dump: &Value) -> Vec<String> {
    let mut names: Vec<String> = dump["workloads"]
        .as_array()
        .map(|a| a.iter().filter_map(|w| w["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn service_names(dump: &Value) -> Vec<String> {
    let mut names: Vec<String> = dump["services"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The sum of a metric family's samples whose labels include `labels`.
fn metric(node: &Node, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = http::request(node.addrs.metrics, "GET", "/metrics").unwrap().1;
    http::parse_metrics(&text)
        .unwrap()
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v)))
        .map(|s| s.value)
        .sum()
}

fn on_demand(node: &Node, outcome: &str) -> f64 {
    metric(node, "istio_xds_on_demand_total", &[("outcome", outcome)])
}

fn address_responses(node: &Node) -> f64 {
    metric(node, "istio_xds_message_total", &[("url", "type.googleapis.com/istio.workload.Address")])
}

/// 256 KiB through node A's SOCKS5 to `dst`, byte-checked.
fn round_trip_via(a: &Node, dst: SocketAddr, seed: u64) -> Result<(), String> {
    let data = payload(256 * 1024, seed);
    let conn = socks::connect(a.addrs.socks5.unwrap(), socks::Dest::Addr(dst)).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let back = round_trip(conn, &data).map_err(|e| e.to_string())?;
    if sha256(&back) == sha256(&data) { Ok(()) } else { Err(format!("{} of {} bytes back", back.len(), data.len())) }
}

#[test]
fn on_demand_address_subscription_against_istiod() {
    let n = 105;
    let ip = |c: u8, d: u8| IpAddr::from([127, n, c, d]);
    let (client_ip, server_ip, vip, unknown) = (ip(0, 1), ip(0, 2), ip(1, 10), ip(9, 9));
    let echo = Echo::start(SocketAddr::new(server_ip, 8080)).unwrap();
    let objects = |server_sa: &str| {
        let pod = k8s::Pod::new;
        k8s::docs(&[
            k8s::namespace("default", true),
            k8s::namespace("istio-system", false),
            pod("client", "client", "node-a", client_ip, "client").yaml(),
            pod("server", server_sa, "node-b", server_ip, "echo").yaml(),
            k8s::service("default", "echo", vip, "echo", 80, 8080),
        ])
    };
    // force_disconnect (to test the reconnect) is one of istiod's "unsafe" debug endpoints.
    let cp = IstioCp::start_with_env(&objects("server"), &[], &[("UNSAFE_ENABLE_ADMIN_ENDPOINTS", "true")]);

    let spec = |name: &str, workload: &str, ip: IpAddr, token: &str| {
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
        spec
    };
    let bin = bin().to_path_buf();

    // Upstream's rule: on-demand and the DNS proxy (on by default) are refused together.
    let refused = spec("node-a", "default/client/client", client_ip, "default/client/client")
        .set("XDS_ON_DEMAND", "true")
        .spawn(&bin);
    let e = format!("{:#}", refused.err().expect("XDS_ON_DEMAND with the DNS proxy must not start"));
    assert!(e.contains("DNS proxy does not currently support on-demand mode"), "{e}");

    // Without NODE_NAME, istiod sends nothing unasked: A fetches even its own workload, by
    // istiod's uid for the pod.
    let a = spec("node-a", "default/client/client", client_ip, "default/client/client")
        .unset("NODE_NAME")
        .set("XDS_ON_DEMAND", "true")
        .set("ISTIO_META_DNS_CAPTURE", "false")
        .spawn(&bin)
        .unwrap();
    let b = spec("node-b", "default/server/server", server_ip, "default/server/server").spawn(&bin).unwrap();
    wait_until("both nodes ready", || ready(&a) && ready(&b));

    // Before any traffic: only A's own workload, no services; B, subscribed to everything, has
    // the whole mesh.
    assert_eq!(dump(&a)["config"]["xdsOnDemand"], true, "upstream's config dump field");
    assert_eq!(workload_names(&dump(&a)), ["client"]);
    assert!(service_names(&dump(&a)).is_empty(), "{}", dump(&a)["services"]);
    assert_eq!(workload_names(&dump(&b)), ["client", "server"]);
    assert_eq!((on_demand(&a, "requested"), on_demand(&a, "found")), (1.0, 1.0));
    a.wait_for(WAIT, |e| {
        message(e) == "on-demand xDS request" && e.to_string().contains("Kubernetes//Pod/default/client")
    })
    .expect("A asked for its own pod by uid");

    // A connection to the server pod's IP: A asks istiod for "/127.105.0.2", routes over HBONE
    // to B once the answer is applied; only then does A hold the workload.
    round_trip_via(&a, SocketAddr::new(server_ip, 8080), 1).unwrap();
    assert_eq!(echo.accepted(), 1);
    let inb = b.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client", "{inb}");
    let out = a.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "outbound").unwrap();
    assert_eq!(out["dst.workload"], "server", "{out}");
    a.wait_for(WAIT, |e| message(e) == "on-demand xDS request" && e.to_string().contains(&format!("/{server_ip}")))
        .expect("A logged the request by network/IP");
    assert_eq!(workload_names(&dump(&a)), ["client", "server"]);
    assert_eq!((on_demand(&a, "requested"), on_demand(&a, "found")), (2.0, 2.0));

    // A second connection reuses the state: no request, no response.
    let responses = address_responses(&a);
    round_trip_via(&a, SocketAddr::new(server_ip, 8080), 2).unwrap();
    assert_eq!(on_demand(&a, "requested"), 2.0);
    assert_eq!(address_responses(&a), responses, "no Address response for a known IP");

    // The service VIP: istiod answers with the service (named ns/hostname, the VIP in its
    // aliases) and its endpoints' workloads.
    round_trip_via(&a, SocketAddr::new(vip, 80), 3).unwrap();
    assert_eq!(service_names(&dump(&a)), ["echo"]);
    assert_eq!((on_demand(&a, "requested"), on_demand(&a, "found")), (3.0, 3.0));

    // An IP istiod knows nothing about: the answer lists it as removed, and the connection
    // goes on as it would without on-demand (passthrough to the IP, where nothing listens),
    // failing with the connect error and the failure metric.
    let failed = metric(&a, "istio_tcp_connections_failed_total", &[]);
    let err = round_trip_via(&a, SocketAddr::new(unknown, 8080), 4).unwrap_err();
    assert!(!err.is_empty());
    assert_eq!(on_demand(&a, "not_found"), 1.0);
    assert_eq!(on_demand(&a, "requested"), 4.0);
    a.wait_for(WAIT, |e| e.to_string().contains("istiod knows nothing by this name"))
        .expect("A logged istiod's empty answer");
    let failure = a
        .wait_for(WAIT, |e| {
            message(e) == "connection complete"
                && e["dst.addr"].as_str().is_some_and(|d| d.contains(&unknown.to_string()))
        })
        .unwrap();
    assert!(failure["error"].as_str().is_some_and(|e| e.contains("connect")), "{failure}");
    wait_until("the failure counted", || metric(&a, "istio_tcp_connections_failed_total", &[]) > failed);
    // Asked once: a second miss is answered from what istiod already said (it would not
    // answer a subscription that changes nothing).
    let _ = round_trip_via(&a, SocketAddr::new(unknown, 8080), 5).unwrap_err();
    assert_eq!((on_demand(&a, "requested"), on_demand(&a, "not_found")), (4.0, 1.0));

    // A pod that later takes that IP is not pushed to A: istiod keys its pushes by uid, and A
    // is subscribed to the IP's name only (pilot/pkg/xds/workload.go generateDeltasOndemand
    // intersects the updated uids with the subscription). B, subscribed to everything, gets it.
    // (Not enrolled in ambient: plain TCP, reached directly; no ztunnel listens there.)
    let mut late = k8s::Pod::new("late", "late", "node-b", unknown, "late");
    late.ambient = false;
    cp.patch(&late.yaml());
    wait_until("B knows the late pod", || workload_names(&dump(&b)).contains(&"late".to_string()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(workload_names(&dump(&a)), ["client", "server"]);

    // istiod drops A's stream; A reconnects and re-subscribes what it holds and what it
    // demanded (initial_resource_versions). Proof that istiod took both: it answers the IP it
    // once knew nothing about with the late pod, and pushes a later change to the server pod,
    // although A never asks again.
    let terminations = metric(&a, "istio_xds_connection_terminations_total", &[]);
    let (status, body) = cp.debug("/debug/force_disconnect?proxyID=client.default");
    assert_eq!(status, 200, "{body}");
    wait_until("A reconnected", || metric(&a, "istio_xds_connection_terminations_total", &[]) > terminations);
    wait_until("A ready again", || ready(&a));
    // The IP istiod once answered as unknown is listed too; istiod looks it up afresh.
    wait_until("the late pod, fetched by the re-subscribed IP name", || {
        workload_names(&dump(&a)) == ["client", "late", "server"]
    });
    // Traffic over the restored state, without a request.
    round_trip_via(&a, SocketAddr::new(server_ip, 8080), 6).unwrap();
    let mut objects_v2 = objects("server-v2");
    objects_v2.push_str("---\n");
    objects_v2.push_str(&late.yaml());
    cp.apply(&objects_v2);
    wait_until("the server's new identity pushed to A", || {
        dump(&a)["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "server" && w["serviceAccount"] == "server-v2")
    });
    assert_eq!(workload_names(&dump(&a)), ["client", "late", "server"], "the state survived the reconnect");
    assert_eq!(on_demand(&a, "requested"), 4.0, "nothing asked again after the reconnect");
    assert_eq!(on_demand(&a, "timeout"), 0.0);

    for node in [&a, &b] {
        assert_eq!(nacks(&http::request(node.addrs.metrics, "GET", "/metrics").unwrap().1), 0.0, "{}", node.raw_log());
    }
}

/// An unmodified client in `ns` sends 128 KiB to `dst` (captured by node A's redirection);
/// the echo must return them all.
fn round_trip_from(ns: &str, dst: SocketAddr, seed: u64) -> Result<(), String> {
    let data = payload(128 * 1024, seed);
    let expected = sha256(&data);
    in_netns(ns, move || {
        let c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let back = round_trip(c, &data).map_err(|e| e.to_string())?;
        if sha256(&back) == expected { Ok(()) } else { Err(format!("{} of {} bytes back", back.len(), data.len())) }
    })
}

/// Shared mode (the chart's): node A on demand serves its CNI-announced pod, whose captured
/// connections fetch their destinations by pod IP and by VIP. Root (network namespaces).
#[test]
fn shared_mode_on_demand_against_istiod() {
    let n = 107;
    let pair = Pair::new(n);
    let (client_ip, server_ip): (IpAddr, IpAddr) = ([198, 18, n, 1].into(), [198, 18, n, 2].into());
    let vip: IpAddr = [198, 19, n, 10].into();
    let node_ip = |last: u8| IpAddr::from([198, 18, n, 100 + last]);
    let _echo = in_netns(&pair.b, move || Echo::serve(TcpListener::bind((server_ip, 8080)).unwrap()).unwrap());
    for ns in [&pair.a, &pair.b] {
        redirect(&["install", "--netns", ns]);
    }
    let pod = k8s::Pod::new;
    let objects = k8s::docs(&[
        k8s::namespace("default", true),
        k8s::namespace("istio-system", false),
        k8s::ztunnel_pod("node-a", node_ip(1)),
        k8s::ztunnel_pod("node-b", node_ip(2)),
        pod("client", "client", "node-a", client_ip, "client").yaml(),
        pod("server", "server", "node-b", server_ip, "echo").yaml(),
        k8s::service("default", "echo", vip, "echo", 80, 8080),
    ]);
    let cp = IstioCp::start(&objects);
    let dir = tempfile::tempdir().unwrap();
    let start_node = |node: &str, cni: &Cni, on_demand: bool| {
        let mut spec = cp.shared_node(node, IpAddr::from([127, 0, 0, 1]), &cni.path);
        if on_demand {
            spec = spec.set("XDS_ON_DEMAND", "true").set("ISTIO_META_DNS_CAPTURE", "false");
        }
        spec.spawn(bin()).unwrap()
    };
    let cni_a = Cni::start(&dir.path().join("zds-a.sock")).unwrap();
    let cni_b = Cni::start(&dir.path().join("zds-b.sock")).unwrap();
    assert_eq!(cni_a.add(cni_pod(&pair.a, "uid-client", "client", "client")).unwrap(), None);
    assert_eq!(cni_b.add(cni_pod(&pair.b, "uid-server", "server", "server")).unwrap(), None);
    let a = start_node("node-a", &cni_a, true);
    let b = start_node("node-b", &cni_b, false);
    wait_until("both nodes ready", || ready(&a) && ready(&b));

    // Node A holds its node's pods (istiod sends them unasked), nothing of node B's.
    wait_until("node A's pods", || workload_names(&dump(&a)).contains(&"client".to_string()));
    assert!(!workload_names(&dump(&a)).contains(&"server".to_string()), "{:?}", workload_names(&dump(&a)));
    assert!(service_names(&dump(&a)).is_empty());

    wait_until("traffic by pod IP", || round_trip_from(&pair.a, SocketAddr::new(server_ip, 8080), 1).is_ok());
    round_trip_from(&pair.a, SocketAddr::new(vip, 80), 2).unwrap();
    let inb = b.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client", "{inb}");
    assert!(workload_names(&dump(&a)).contains(&"server".to_string()));
    assert_eq!(service_names(&dump(&a)), ["echo"]);
    // The pod IP, then the VIP; plus the client pod itself by uid if its proxy started before
    // istiod's first Address response (readiness does not wait for it on demand).
    let own = if a.raw_log().contains("Kubernetes//Pod/default/client") { 1.0 } else { 0.0 };
    assert_eq!((on_demand(&a, "requested") - own, on_demand(&a, "timeout")), (2.0, 0.0), "{}", a.raw_log());

    for node in [&a, &b] {
        assert_eq!(nacks(&http::request(node.addrs.metrics, "GET", "/metrics").unwrap().1), 0.0, "{}", node.raw_log());
    }
}
