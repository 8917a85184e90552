//! Multi-network end to end: two ztunnels on different networks (`NETWORK`), joined only through
//! an east-west gateway (the test double `ztunnel::testbed::gateway`), carry byte-checked traffic
//! with double HBONE.
//!
//! Topology (needs root and `ip`; a missing prerequisite fails the test): three network
//! namespaces in a line, `zn<pid>-a` — `zn<pid>-gw` — `zn<pid>-b`, with no forwarding in the
//! middle one, so node A (network `net-a`) has no path at all to node B (network `net-b`) except
//! the gateway's HBONE listener, which terminates the outer tunnel and relays the inner one to
//! B's 15008. Addresses are on the veth links, private to these namespaces: 198.18.185.0/24
//! (A–gateway) and 198.18.186.0/24 (gateway–B). Service VIPs are keys only (127.0.187.x).
//!
//! A second case (namespaces `zq<pid>-*`, links 198.18.210.0/24 and 198.18.211.0/24) has the
//! two networks overlap, as pod and service CIDRs of separate clusters do: the server pod's IP
//! is also a pod on net-a, and one VIP is a service on each network.
//!
//! The mesh comes from local config files, one per node, as istiod would describe it to each
//! side: to A the server pod is an address-less workload on `net-b` behind the gateway
//! (`networkGateway` naming the gateway Service by hostname); to B it is a local pod.
//! istio-cp (tests/istio.rs) is not used here: istiod derives network gateways from a
//! `topology.istio.io/network`-labelled gateway Service plus remote-cluster secrets, which the
//! single-cluster istio-cp cannot express.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{bin, payload, write_ca};
use serde_json::Value;
use ztunnel::identity::Identity;
use ztunnel::testbed::backend::Echo;
use ztunnel::testbed::gateway::GatewayDouble;
use ztunnel::testbed::netns::{in_netns, sh};
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(10);
const CLIENT: &str = "198.18.185.1";
const GATEWAY: &str = "198.18.185.2";
const SERVER: &str = "198.18.186.2";
const ECHO_VIP: &str = "127.0.187.1";
const STRANDED_VIP: &str = "127.0.187.2";
const ECHO_HOST: &str = "echo.default.svc.cluster.local";

/// Three namespaces in a line, deleted on drop.
struct Line {
    a: String,
    gw: String,
    b: String,
}

impl Line {
    fn new() -> Line {
        Line::with("zn", ["185", "186"])
    }

    /// Namespaces `<prefix><pid>-{a,gw,b}`, links on 198.18.`<subnets>`.0/24.
    fn with(prefix: &str, subnets: [&str; 2]) -> Line {
        require_root_and_ip();
        let tag = std::process::id() % 100_000;
        let ns = |s: &str| format!("{prefix}{tag}-{s}");
        let line = Line { a: ns("a"), gw: ns("gw"), b: ns("b") };
        for n in [&line.a, &line.gw, &line.b] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
            sh(&["ip", "netns", "add", n]);
            sh(&["ip", "-n", n, "link", "set", "lo", "up"]);
        }
        // veth names are at most 15 bytes.
        let links = [
            (&line.a, &line.gw, subnets[0], format!("{prefix}{tag}a")),
            (&line.gw, &line.b, subnets[1], format!("{prefix}{tag}b")),
        ];
        for (left, right, subnet, dev) in links {
            let (l, r) = (format!("{dev}l"), format!("{dev}r"));
            sh(&["ip", "link", "add", &l, "netns", left, "type", "veth", "peer", "name", &r, "netns", right]);
            for (n, d, host) in [(left, &l, 1), (right, &r, 2)] {
                sh(&["ip", "-n", n, "addr", "add", &format!("198.18.{subnet}.{host}/24"), "dev", d]);
                sh(&["ip", "-n", n, "link", "set", d, "up"]);
            }
        }
        line
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        for n in [&self.a, &self.gw, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

fn require_root_and_ip() {
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "0", "multi-network tests need root (network namespaces)");
    assert!(Command::new("ip").arg("-V").output().is_ok(), "multi-network tests need `ip` (apt-get install iproute2)");
}

fn id(ns: &str, sa: &str) -> Identity {
    Identity::new("cluster.local", ns, sa)
}

/// The gateway as both sides see it: a Service on net-b (port 15008 → 15008) and its pod.
fn gateway_yaml() -> String {
    gateway_at(GATEWAY)
}

fn gateway_at(ip: &str) -> String {
    format!(
        "\
- uid: cluster2//v1/Pod/istio-system/eastwest
  name: eastwest
  namespace: istio-system
  serviceAccount: istio-eastwestgateway
  workloadIps: [\"{ip}\"]
  network: net-b
  protocol: TCP
  services:
    istio-system/eastwest.istio-system.svc.cluster.local: {{15008: 15008}}
"
    )
}

const GATEWAY_SERVICE: &str = "\
- name: eastwest
  namespace: istio-system
  hostname: eastwest.istio-system.svc.cluster.local
  vips: [\"net-b/127.0.187.3\"]
  ports: {15008: 15008}
";

/// Node A's view (net-a): the server pod is on net-b, with no address here (as istiod sends
/// remote pods), only its gateway.
fn view_a(backend: u16) -> String {
    format!(
        "\
workloads:
- uid: cluster1//v1/Pod/default/client
  name: client
  namespace: default
  serviceAccount: client
  workloadIps: [\"{CLIENT}\"]
  network: net-a
  protocol: HBONE
- uid: cluster2//v1/Pod/default/server
  name: server
  namespace: default
  serviceAccount: server
  network: net-b
  protocol: HBONE
  networkGateway:
    destination: {{namespace: istio-system, hostname: eastwest.istio-system.svc.cluster.local}}
    hboneMtlsPort: 15008
  services:
    default/{ECHO_HOST}: {{80: {backend}}}
# On a third network that has no gateway: unreachable from net-a, whatever its address.
- uid: cluster3//v1/Pod/default/stranded
  name: stranded
  namespace: default
  serviceAccount: stranded
  workloadIps: [\"198.18.187.9\"]
  network: net-c
  protocol: HBONE
  services:
    default/stranded.default.svc.cluster.local: {{80: 8080}}
{gw}services:
- name: echo
  namespace: default
  hostname: {ECHO_HOST}
  vips: [\"net-a/{ECHO_VIP}\"]
  ports: {{80: {backend}}}
- name: stranded
  namespace: default
  hostname: stranded.default.svc.cluster.local
  vips: [\"net-a/{STRANDED_VIP}\"]
  ports: {{80: 8080}}
{GATEWAY_SERVICE}",
        gw = gateway_yaml()
    )
}

/// Node B's view (net-b): its own pod, with its address.
fn view_b(backend: u16) -> String {
    node_b_view(SERVER, ECHO_VIP, GATEWAY, backend)
}

/// Node B's view on net-b: its pod at `server_ip` behind the gateway at `gateway`, and the
/// echo service's net-b VIP.
fn node_b_view(server_ip: &str, vip: &str, gateway: &str, backend: u16) -> String {
    format!(
        "\
workloads:
- uid: cluster2//v1/Pod/default/server
  name: server
  namespace: default
  serviceAccount: server
  workloadIps: [\"{server_ip}\"]
  network: net-b
  protocol: HBONE
  services:
    default/{ECHO_HOST}: {{80: {backend}}}
{gw}services:
- name: echo
  namespace: default
  hostname: {ECHO_HOST}
  vips: [\"net-b/{vip}\"]
  ports: {{80: {backend}}}
{GATEWAY_SERVICE}",
        gw = gateway_at(gateway)
    )
}

/// Echoes a payload through node A's SOCKS5 (from inside A's namespace) to `dst`.
fn echo_through(ns: &str, socks5: SocketAddr, dst: SocketAddr, seed: u64) -> std::io::Result<()> {
    echo_to(ns, socks5, Dest::Addr(dst), seed)
}

fn echo_to(ns: &str, socks5: SocketAddr, dst: Dest<'static>, seed: u64) -> std::io::Result<()> {
    in_netns(ns, move || {
        let data = payload(256 * 1024 + 17, seed);
        let mut conn = socks::connect(socks5, dst)?;
        conn.set_read_timeout(Some(WAIT))?;
        let writer = {
            let mut w = conn.try_clone()?;
            let data = data.clone();
            std::thread::spawn(move || {
                w.write_all(&data)?;
                w.shutdown(std::net::Shutdown::Write)
            })
        };
        let mut back = Vec::new();
        conn.read_to_end(&mut back)?;
        writer.join().expect("writer")?;
        assert!(back == data, "echo returned {} bytes, not the {} sent", back.len(), data.len());
        Ok(())
    })
}

fn events(node: &Node, what: &str) -> Vec<Value> {
    node.events().into_iter().filter(|e| message(e) == what).collect()
}

fn wait_event(node: &Node, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    common::eventually(WAIT, &format!("{} logs {what:?}", node.name), || events(node, what).iter().any(&pred));
    events(node, what).into_iter().find(|e| pred(e)).unwrap()
}

#[test]
fn two_networks_joined_only_by_a_gateway_carry_traffic_with_double_hbone() {
    let line = Line::new();
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_files) = write_ca(dir.path());
    let echo = {
        let at: SocketAddr = format!("{SERVER}:0").parse().unwrap();
        in_netns(&line.b, move || Echo::start(at).unwrap())
    };
    let (config_a, config_b) = (dir.path().join("net-a.yaml"), dir.path().join("net-b.yaml"));
    std::fs::write(&config_a, view_a(echo.addr.port())).unwrap();
    std::fs::write(&config_b, view_b(echo.addr.port())).unwrap();
    let node = |name: &str, wl: &str, at: &str, config: &std::path::Path, network: &str, ns: &str| {
        let mut spec = NodeSpec::new(name, wl, at.parse().unwrap(), config, &ca_files).set("NETWORK", network);
        spec.netns = Some(ns.to_string());
        spec.spawn(bin()).unwrap()
    };
    let a = node("node-a", "default/client/client", CLIENT, &config_a, "net-a", &line.a);
    let b = node("node-b", "default/server/server", SERVER, &config_b, "net-b", &line.b);
    let gateway = {
        let cert = ca.issue(&id("istio-system", "istio-eastwestgateway"), Duration::from_secs(3600)).unwrap();
        let routes = HashMap::from([(format!("{ECHO_HOST}:80"), format!("{SERVER}:15008").parse().unwrap())]);
        let at: SocketAddr = format!("{GATEWAY}:15008").parse().unwrap();
        in_netns(&line.gw, move || GatewayDouble::start(at, cert, routes).unwrap())
    };
    let socks5 = a.addrs.socks5.unwrap();

    // The networks really are apart: from A, B's HBONE port cannot even be dialled.
    let direct = in_netns(&line.a, || TcpStream::connect_timeout(&format!("{SERVER}:15008").parse().unwrap(), WAIT));
    assert!(direct.is_err(), "node A must have no path to node B except through the gateway");
    assert!(
        in_netns(&line.gw, || TcpStream::connect_timeout(&format!("{SERVER}:15008").parse().unwrap(), WAIT)).is_ok(),
        "the gateway reaches node B"
    );

    // 1. To the service: A picks the endpoint on net-b and sends it through the gateway.
    echo_through(&line.a, socks5, format!("{ECHO_VIP}:80").parse().unwrap(), 1).expect("double HBONE echo");
    assert_eq!(echo.accepted(), 1);

    // The gateway terminated the outer tunnel: A's identity, the service's name as authority,
    // and no `x-forwarded-network` (that travels, encrypted, on the inner request only).
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].authority, format!("{ECHO_HOST}:80"));
    assert_eq!(seen[0].peer, Some(id("default", "client")));
    assert_eq!(seen[0].relayed_to, Some(format!("{SERVER}:15008").parse().unwrap()));
    assert!(seen[0].headers.iter().any(|(k, _)| k == "traceparent"), "{:?}", seen[0].headers);
    assert!(!seen[0].headers.iter().any(|(k, _)| k == "x-forwarded-network"), "{:?}", seen[0].headers);

    // A logged the gateway as the next hop, verified as the gateway's identity.
    let at_a = wait_event(&a, "connection complete", |e| e["dst.addr"] == format!("{ECHO_VIP}:80"));
    assert_eq!(at_a["dst.hbone_addr"], format!("{GATEWAY}:15008"), "{at_a}");
    assert_eq!(at_a["dst.identity"], id("istio-system", "istio-eastwestgateway").to_string(), "{at_a}");
    assert_eq!(at_a["error"], "-", "{at_a}");

    // B got the inner request: A's network, A's identity (from the inner handshake, which the
    // gateway cannot forge), the service hostname as authority, delivered to the target port.
    let fwd = wait_event(&b, "request forwarded by a network gateway", |_| true);
    assert_eq!(fwd["src.network"], "net-a", "{fwd}");
    assert_eq!(fwd["src.identity"], id("default", "client").to_string(), "{fwd}");
    assert_eq!(fwd["authority"], format!("{ECHO_HOST}:80"), "{fwd}");
    let at_b = wait_event(&b, "connection complete", |e| e["direction"] == "inbound");
    assert_eq!(at_b["dst.addr"], echo.addr.to_string(), "{at_b}");
    assert_eq!(at_b["src.identity"], id("default", "client").to_string(), "{at_b}");
    assert_eq!(at_b["error"], "-", "{at_b}");
    // The gateway's TCP connection is not the source: no workload was looked up by its IP.
    assert_ne!(at_b["src.workload"], "eastwest", "{at_b}");

    // 2. Several connections: each its own inner tunnel, over pooled outer connections to the
    //    gateway. Each data-plane thread keeps its own pool (thread-per-core), so the node's
    //    two threads (the default) dial at most one each; every other connection reuses one.
    for seed in 2..7 {
        echo_through(&line.a, socks5, format!("{ECHO_VIP}:80").parse().unwrap(), seed).expect("repeat");
    }
    assert_eq!(echo.accepted(), 6);
    assert_eq!(gateway.seen().len(), 6);
    let dials = events(&a, "HBONE connection established");
    assert!(matches!(dials.len(), 1 | 2), "one outer connection per data-plane thread, reused: {dials:?}");

    // 3. An endpoint on a network without a gateway: refused at the source with the reason,
    //    never sent to its address.
    let err = echo_through(&line.a, socks5, format!("{STRANDED_VIP}:80").parse().unwrap(), 9)
        .expect_err("a remote network without a gateway is unreachable");
    assert!(err.to_string().contains("reply code"), "{err}");
    let at_a = wait_event(&a, "connection complete", |e| e["dst.addr"] == format!("{STRANDED_VIP}:80"));
    let e = at_a["error"].as_str().unwrap_or_default();
    assert!(e.contains("is on network \"net-c\", which has no network gateway"), "{at_a}");
    assert_eq!(gateway.seen().len(), 6, "nothing went to the gateway for it");
    drop(line);
}

// ---- Overlapping addresses: the same pod IP and the same VIP on both networks ----

const OV_CLIENT: &str = "198.18.210.1";
const OV_GATEWAY: &str = "198.18.210.2";
/// B's server pod, and also (on A's side, on loopback) A's own `twin` pod.
const OV_SHARED_IP: &str = "198.18.211.2";
/// On net-a the `twin` service, on net-b the `echo` service.
const OV_SHARED_VIP: &str = "127.0.210.1";
/// The `echo` service's VIP on net-a: its only endpoint is B's server, behind the gateway.
const OV_ECHO_VIP: &str = "127.0.210.2";
const TWIN_HOST: &str = "twin.default.svc.cluster.local";

/// A's view: its own `twin` pod at the shared IP, and B's server at the same IP on net-b.
fn overlap_view_a(twin_port: u16, echo_port: u16) -> String {
    format!(
        "\
workloads:
- uid: cluster1//v1/Pod/default/client
  name: client
  namespace: default
  serviceAccount: client
  workloadIps: [\"{OV_CLIENT}\"]
  network: net-a
  protocol: HBONE
- uid: cluster1//v1/Pod/default/twin
  name: twin
  namespace: default
  serviceAccount: twin
  workloadIps: [\"{OV_SHARED_IP}\"]
  network: net-a
  protocol: TCP
  services:
    default/{TWIN_HOST}: {{80: {twin_port}}}
- uid: cluster2//v1/Pod/default/server
  name: server
  namespace: default
  serviceAccount: server
  workloadIps: [\"{OV_SHARED_IP}\"]
  network: net-b
  protocol: HBONE
  networkGateway:
    destination: {{namespace: istio-system, hostname: eastwest.istio-system.svc.cluster.local}}
    hboneMtlsPort: 15008
  services:
    default/{ECHO_HOST}: {{80: {echo_port}}}
{gw}services:
- name: twin
  namespace: default
  hostname: {TWIN_HOST}
  vips: [\"net-a/{OV_SHARED_VIP}\"]
  ports: {{80: {twin_port}}}
- name: echo
  namespace: default
  hostname: {ECHO_HOST}
  vips: [\"net-b/{OV_SHARED_VIP}\", \"net-a/{OV_ECHO_VIP}\"]
  ports: {{80: {echo_port}}}
{GATEWAY_SERVICE}",
        gw = gateway_at(OV_GATEWAY)
    )
}

fn overlap_view_b(echo_port: u16) -> String {
    node_b_view(OV_SHARED_IP, OV_SHARED_VIP, OV_GATEWAY, echo_port)
}

#[test]
fn overlapping_ips_and_vips_resolve_on_the_source_network() {
    let line = Line::with("zq", ["210", "211"]);
    // A's own pod holds the address B's server has on net-b.
    sh(&["ip", "-n", &line.a, "addr", "add", &format!("{OV_SHARED_IP}/32"), "dev", "lo"]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_files) = write_ca(dir.path());
    let at: SocketAddr = format!("{OV_SHARED_IP}:0").parse().unwrap();
    let twin = in_netns(&line.a, move || Echo::start(at).unwrap());
    let echo = in_netns(&line.b, move || Echo::start(at).unwrap());
    let (config_a, config_b) = (dir.path().join("net-a.yaml"), dir.path().join("net-b.yaml"));
    std::fs::write(&config_a, overlap_view_a(twin.addr.port(), echo.addr.port())).unwrap();
    std::fs::write(&config_b, overlap_view_b(echo.addr.port())).unwrap();
    let node = |name: &str, wl: &str, at: &str, config: &std::path::Path, network: &str, ns: &str| {
        let mut spec = NodeSpec::new(name, wl, at.parse().unwrap(), config, &ca_files).set("NETWORK", network);
        spec.netns = Some(ns.to_string());
        spec.spawn(bin()).unwrap()
    };
    let a = node("node-a", "default/client/client", OV_CLIENT, &config_a, "net-a", &line.a);
    let _b = node("node-b", "default/server/server", OV_SHARED_IP, &config_b, "net-b", &line.b);
    let gateway = {
        let cert = ca.issue(&id("istio-system", "istio-eastwestgateway"), Duration::from_secs(3600)).unwrap();
        let routes = HashMap::from([(format!("{ECHO_HOST}:80"), format!("{OV_SHARED_IP}:15008").parse().unwrap())]);
        let at: SocketAddr = format!("{OV_GATEWAY}:15008").parse().unwrap();
        in_netns(&line.gw, move || GatewayDouble::start(at, cert, routes).unwrap())
    };
    let socks5 = a.addrs.socks5.unwrap();

    // 1. The shared pod IP, from net-a: A's own twin, directly (plain TCP, it is not captured),
    //    never B's server through the gateway.
    echo_through(&line.a, socks5, twin.addr, 1).expect("echo to the net-a pod");
    assert_eq!((twin.accepted(), echo.accepted(), gateway.seen().len()), (1, 0, 0));
    let at_a = wait_event(&a, "connection complete", |e| e["dst.addr"] == twin.addr.to_string());
    assert_eq!(at_a["dst.workload"], "twin", "{at_a}");
    assert_eq!(at_a["error"], "-", "{at_a}");

    // 2. The shared VIP, from net-a: net-a's service (twin), not net-b's (echo).
    let shared_vip: SocketAddr = format!("{OV_SHARED_VIP}:80").parse().unwrap();
    echo_through(&line.a, socks5, shared_vip, 2).expect("echo to the net-a service");
    assert_eq!((twin.accepted(), echo.accepted(), gateway.seen().len()), (2, 0, 0));
    let at_a = wait_event(&a, "connection complete", |e| e["dst.addr"] == shared_vip.to_string());
    assert_eq!(at_a["dst.workload"], "twin", "{at_a}");

    // 3. A service whose only endpoint is on net-b (at the shared IP there) still goes through
    //    the gateway, double HBONE, bytes intact.
    let echo_vip: SocketAddr = format!("{OV_ECHO_VIP}:80").parse().unwrap();
    echo_through(&line.a, socks5, echo_vip, 3).expect("double HBONE echo to net-b");
    assert_eq!((twin.accepted(), echo.accepted()), (2, 1));
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].authority, format!("{ECHO_HOST}:80"));
    assert_eq!(seen[0].relayed_to, Some(format!("{OV_SHARED_IP}:15008").parse().unwrap()));
    let at_a = wait_event(&a, "connection complete", |e| e["dst.addr"] == echo_vip.to_string());
    assert_eq!(at_a["dst.hbone_addr"], format!("{OV_GATEWAY}:15008"), "{at_a}");
    assert_eq!(at_a["error"], "-", "{at_a}");

    // 4. By hostname (SOCKS5): the service's VIP on A's network, though its first-listed VIP is
    //    net-b's (which on net-a is the twin service's address).
    echo_to(&line.a, socks5, Dest::Host(ECHO_HOST, 80), 4).expect("echo by hostname");
    assert_eq!((twin.accepted(), echo.accepted(), gateway.seen().len()), (2, 2, 2));
    drop(line);
}
