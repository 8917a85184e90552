//! Waypoints end to end, with real ztunnel processes and the waypoint test double
//! (`ztunnel::testbed::waypoint`): traffic to a service that has a waypoint goes to the
//! waypoint over HBONE (CONNECT to the original VIP:port, the waypoint's identity verified),
//! the waypoint's own ztunnel sends it on to the endpoint, and it never bypasses the waypoint.
//!
//! The mesh comes from the local config file (upstream's schema). The waypoint fields are
//! written as istiod encodes them for a Gateway of class `istio-waypoint` (the service's
//! `waypoint` names the waypoint Service by hostname, port 15008); `tests/istio.rs` checks
//! that istiod does emit them.
//!
//! Addresses: 127.0.150.x (workloads), 127.0.151.x (service VIPs).

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::{bin, ip, payload, write_ca};
use serde_json::Value;
use ztunnel::identity::Identity;
use ztunnel::testbed::backend::Echo;
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};
use ztunnel::testbed::waypoint::{Seen, WaypointDouble};

const WAIT: Duration = Duration::from_secs(10);
const CLIENT: &str = "127.0.150.1";
const SERVER: &str = "127.0.150.2";
const WAYPOINT: &str = "127.0.150.3";
/// Node W's own HBONE listener: the double owns WAYPOINT:15008.
const WAYPOINT_NODE_INBOUND: &str = "127.0.150.4:15008";
const IMPOSTOR: &str = "127.0.150.5";
const SANDWICH: &str = "127.0.150.6";
const SANDWICHED_VIP: &str = "127.0.151.5";
const PROXY_WP: &str = "127.0.150.8";
const PINNED: &str = "127.0.150.10";
const PROXIED_VIP: &str = "127.0.151.7";
const ECHO_VIP: &str = "127.0.151.1";
const BROKEN_VIP: &str = "127.0.151.3";
const GUARDED_VIP: &str = "127.0.151.4";

fn mesh_yaml(backend: u16) -> String {
    format!(
        "\
workloads:
- uid: cluster1//v1/Pod/default/client
  name: client
  namespace: default
  serviceAccount: client
  workloadIps: [\"{CLIENT}\"]
  protocol: HBONE
- uid: cluster1//v1/Pod/default/server
  name: server
  namespace: default
  serviceAccount: server
  workloadIps: [\"{SERVER}\"]
  protocol: HBONE
  authorizationPolicies: [default/only-from-waypoint]
  services:
    default/echo.default.svc.cluster.local: {{80: {backend}}}
    default/broken.default.svc.cluster.local: {{80: {backend}}}
    default/guarded.default.svc.cluster.local: {{80: {backend}}}
    default/sandwiched.default.svc.cluster.local: {{80: {backend}}}
# The waypoint's pod: not captured (it terminates HBONE itself), so plain TCP.
- uid: cluster1//v1/Pod/default/waypoint-7d4b
  name: waypoint-7d4b
  namespace: default
  serviceAccount: waypoint
  workloadIps: [\"{WAYPOINT}\"]
  protocol: TCP
  services:
    default/waypoint.default.svc.cluster.local: {{15008: 15008}}
# A workload with a waypoint of its own (istio.io/use-waypoint on the pod), not captured.
- uid: cluster1//v1/Pod/default/pinned
  name: pinned
  namespace: default
  serviceAccount: pinned
  workloadIps: [\"{PINNED}\"]
  protocol: TCP
  waypoint:
    destination: {{namespace: default, hostname: waypoint.default.svc.cluster.local}}
# A waypoint captured by a ztunnel of its own (the \"sandwich\"): it speaks HBONE through it.
- uid: cluster1//v1/Pod/default/sandwich-wp
  name: sandwich-wp
  namespace: default
  serviceAccount: sandwich-wp
  workloadIps: [\"{SANDWICH}\"]
  protocol: HBONE
  services:
    default/sandwich-wp.default.svc.cluster.local: {{15008: 15008}}
# A waypoint bound with `ambient.istio.io/waypoint-inbound-binding: PROXY/15088`.
- uid: cluster1//v1/Pod/default/proxy-wp
  name: proxy-wp
  namespace: default
  serviceAccount: proxy-wp
  workloadIps: [\"{PROXY_WP}\"]
  protocol: HBONE
  applicationTunnel: {{protocol: PROXY, port: 15088}}
- uid: cluster1//v1/Pod/default/other-waypoint
  name: other-waypoint
  namespace: default
  serviceAccount: other-waypoint
  workloadIps: [\"{IMPOSTOR}\"]
  protocol: TCP
services:
- name: echo
  namespace: default
  hostname: echo.default.svc.cluster.local
  vips: [\"/{ECHO_VIP}\"]
  ports: {{80: {backend}}}
  waypoint:
    destination: {{namespace: default, hostname: waypoint.default.svc.cluster.local}}
    hboneMtlsPort: 15008
- name: waypoint
  namespace: default
  hostname: waypoint.default.svc.cluster.local
  vips: [\"/127.0.151.2\"]
  ports: {{15021: 15021, 15008: 15008}}
- name: broken
  namespace: default
  hostname: broken.default.svc.cluster.local
  vips: [\"/{BROKEN_VIP}\"]
  ports: {{80: {backend}}}
  waypoint:
    destination: {{namespace: default, hostname: missing.default.svc.cluster.local}}
- name: guarded
  namespace: default
  hostname: guarded.default.svc.cluster.local
  vips: [\"/{GUARDED_VIP}\"]
  ports: {{80: {backend}}}
  waypoint:
    destination: /{IMPOSTOR}
- name: sandwiched
  namespace: default
  hostname: sandwiched.default.svc.cluster.local
  vips: [\"/{SANDWICHED_VIP}\"]
  ports: {{80: {backend}}}
  waypoint:
    destination: {{namespace: default, hostname: sandwich-wp.default.svc.cluster.local}}
- name: sandwich-wp
  namespace: default
  hostname: sandwich-wp.default.svc.cluster.local
  vips: [\"/127.0.151.6\"]
  ports: {{15008: 15008}}
- name: proxied
  namespace: default
  hostname: proxied.default.svc.cluster.local
  vips: [\"/{PROXIED_VIP}\"]
  ports: {{80: {backend}}}
  waypoint:
    destination: /{PROXY_WP}
# What istiod's implicit waypoint policy amounts to: the backend only accepts its waypoint.
policies:
- name: only-from-waypoint
  namespace: default
  scope: WorkloadSelector
  action: Allow
  rules:
  - - - principals:
        - !Exact cluster.local/ns/default/sa/waypoint
"
    )
}

fn id(sa: &str) -> Identity {
    Identity::new("cluster.local", "default", sa)
}

/// Echoes `seed`'s payload through `node`'s SOCKS5 to `dst`; returns what came back.
fn echo_through(node: &Node, dst: SocketAddr, seed: u64) -> std::io::Result<()> {
    let data = payload(64 * 1024, seed);
    let mut conn = socks::connect(node.addrs.socks5.unwrap(), Dest::Addr(dst))?;
    conn.set_read_timeout(Some(WAIT))?;
    conn.write_all(&data)?;
    conn.shutdown(std::net::Shutdown::Write)?;
    let mut back = Vec::new();
    conn.read_to_end(&mut back)?;
    assert!(back == data, "echo through {dst} returned {} bytes, not the {} sent", back.len(), data.len());
    Ok(())
}

fn completions(node: &Node, dst: &str) -> Vec<Value> {
    node.events().into_iter().filter(|e| message(e) == "connection complete" && e["dst.addr"] == dst).collect()
}

/// The access-log lines for `dst`, once there are `n` (the line follows the close).
fn wait_completions(node: &Node, dst: &str, n: usize) -> Vec<Value> {
    common::eventually(WAIT, &format!("{} logs {n} connection(s) to {dst}", node.name), || {
        completions(node, dst).len() >= n
    });
    completions(node, dst)
}

#[test]
fn service_traffic_goes_through_its_waypoint_and_never_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let echo = Echo::start(SocketAddr::new(ip(SERVER), 0)).unwrap();
    let (ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh_yaml(echo.addr.port())).unwrap();
    let spec = |name: &str, wl: &str, at: &str| NodeSpec::new(name, wl, ip(at), &config, &ca_files);
    let a = spec("node-a", "default/client/client", CLIENT).spawn(bin()).unwrap();
    let _b = spec("node-b", "default/server/server", SERVER).spawn(bin()).unwrap();
    let w = spec("node-w", "default/waypoint-7d4b/waypoint", WAYPOINT)
        .set("ZTUNNEL_INBOUND_ADDR", WAYPOINT_NODE_INBOUND)
        .spawn(bin())
        .unwrap();
    let ttl = Duration::from_secs(3600);
    let double = WaypointDouble::start(
        SocketAddr::new(ip(WAYPOINT), 15008),
        ca.issue(&id("waypoint"), ttl).unwrap(),
        w.addrs.socks5.unwrap(),
    )
    .unwrap();
    // Listens where `other-waypoint` should be, with a certificate of someone else.
    let impostor = WaypointDouble::start(
        SocketAddr::new(ip(IMPOSTOR), 15008),
        ca.issue(&id("impostor"), ttl).unwrap(),
        w.addrs.socks5.unwrap(),
    )
    .unwrap();
    let vip = |v: &str| SocketAddr::new(ip(v), 80);

    // 1. To the service: through the waypoint, bytes intact.
    echo_through(&a, vip(ECHO_VIP), 1).expect("service traffic through the waypoint");
    assert_eq!(
        double.seen(),
        vec![Seen { target: format!("{ECHO_VIP}:80"), peer: Some(id("client")), forwarded: true }],
        "the waypoint saw the original VIP:port as the CONNECT target, from the client's verified identity"
    );
    assert_eq!(echo.accepted(), 1);
    let at_a = wait_completions(&a, &format!("{ECHO_VIP}:80"), 1);
    assert_eq!(at_a.len(), 1, "{at_a:?}");
    assert_eq!(at_a[0]["dst.hbone_addr"], format!("{WAYPOINT}:15008"), "node A tunnelled to the waypoint");
    assert_eq!(at_a[0]["dst.identity"], id("waypoint").to_string());
    // The waypoint's own ztunnel went straight to the endpoint (not back to the waypoint),
    // as the waypoint's identity.
    common::eventually(WAIT, "node W logs the forwarded connection", || {
        !completions(&w, &format!("{ECHO_VIP}:80")).is_empty()
    });
    let at_w = &completions(&w, &format!("{ECHO_VIP}:80"))[0];
    assert_eq!(at_w["dst.hbone_addr"], format!("{SERVER}:15008"), "{at_w}");
    assert_eq!(at_w["src.identity"], id("waypoint").to_string());

    // 2. Around the waypoint (the pod address directly): the backend refuses the client.
    let err = echo_through(&a, echo.addr, 2).expect_err("the backend only accepts its waypoint");
    assert!(err.to_string().contains("reply code"), "{err}");
    assert_eq!(echo.accepted(), 1, "nothing reached the backend around the waypoint");

    // 3. A waypoint that cannot be resolved: refused at the source, never sent direct.
    let err = echo_through(&a, vip(BROKEN_VIP), 3).expect_err("unresolvable waypoint must fail closed");
    assert!(err.to_string().contains("reply code"), "{err}");
    let at_a = wait_completions(&a, &format!("{BROKEN_VIP}:80"), 1);
    assert_eq!(at_a.len(), 1, "{at_a:?}");
    let e = at_a[0]["error"].as_str().unwrap();
    assert!(
        e.contains("default/broken.default.svc.cluster.local must be reached through waypoint")
            && e.contains("no service or workload is named default/missing.default.svc.cluster.local"),
        "{e}"
    );

    // 4. A waypoint whose certificate is not the waypoint workload's identity: node A refuses
    //    the TLS handshake, so the impostor never even sees a CONNECT.
    let err = echo_through(&a, vip(GUARDED_VIP), 4).expect_err("wrong waypoint identity must be refused");
    assert!(err.to_string().contains("reply code"), "{err}");
    assert_eq!(impostor.seen(), vec![], "no CONNECT reached the impostor");
    assert_eq!(double.seen().len(), 1, "nothing else went to the waypoint");
    assert_eq!(echo.accepted(), 1);

    // 5. A workload waypoint: traffic to the pod address goes through it too, with the pod
    //    address as the target; the waypoint's ztunnel then goes straight to the pod.
    let pinned = Echo::start(SocketAddr::new(ip(PINNED), 0)).unwrap();
    echo_through(&a, pinned.addr, 5).expect("pod traffic through the workload's waypoint");
    assert_eq!(
        double.seen().last(),
        Some(&Seen { target: pinned.addr.to_string(), peer: Some(id("client")), forwarded: true })
    );
    assert_eq!(pinned.accepted(), 1);
    let at_w = &wait_completions(&w, &pinned.addr.to_string(), 1)[0];
    assert_eq!(at_w["dst.hbone_addr"], "-", "plain TCP to the pod, not back to the waypoint: {at_w}");

    // Failed connections are counted with upstream's response flag.
    let (_, metrics) = ztunnel::testbed::http::request(a.addrs.metrics, "GET", "/metrics").unwrap();
    let samples = ztunnel::testbed::http::parse_metrics(&metrics).unwrap();
    let failed = ztunnel::testbed::http::sum(
        &samples,
        "istio_tcp_connections_closed_total",
        &[("reporter", "source"), ("response_flags", "CONNECT")],
    );
    assert!(failed >= 3.0, "three failed connections flagged CONNECT at node A:\n{metrics}");
}

/// Upstream's inbound "waypoint sandwich": the waypoint runs behind a ztunnel of its own, so
/// node A's CONNECT (to the service VIP, not the waypoint's IP) arrives at that ztunnel, which
/// accepts it only because the VIP's waypoint is its local workload, and delivers it to the
/// waypoint application on the VIP's port.
#[test]
fn a_captured_waypoint_receives_connects_for_the_services_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Echo::start(SocketAddr::new(ip(SERVER), 0)).unwrap();
    // The waypoint application, listening on the port the service is called on.
    let waypoint_app = Echo::start(SocketAddr::new(ip(SANDWICH), 80)).unwrap();
    let (_, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh_yaml(backend.addr.port())).unwrap();
    let spec = |name: &str, wl: &str, at: &str| NodeSpec::new(name, wl, ip(at), &config, &ca_files);
    // Node A on its own address: the other test in this file uses CLIENT.
    let a = spec("node-a2", "default/client/client", "127.0.150.7").spawn(bin()).unwrap();
    let s = spec("node-s", "default/sandwich-wp/sandwich-wp", SANDWICH).spawn(bin()).unwrap();
    echo_through(&a, SocketAddr::new(ip(SANDWICHED_VIP), 80), 5).expect("through the captured waypoint");
    assert_eq!((waypoint_app.accepted(), backend.accepted()), (1, 0), "delivered to the waypoint, not around it");
    let at_a = &wait_completions(&a, &format!("{SANDWICHED_VIP}:80"), 1)[0];
    assert_eq!(at_a["dst.hbone_addr"], format!("{SANDWICH}:15008"), "{at_a}");
    let inbound: Vec<Value> =
        s.events().into_iter().filter(|e| message(e) == "connection complete" && e["direction"] == "inbound").collect();
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    assert_eq!(inbound[0]["dst.addr"], format!("{SANDWICH}:80"), "{}", inbound[0]);
    assert_eq!(inbound[0]["src.identity"], id("client").to_string());
}

/// A waypoint with a PROXY application tunnel behind its own ztunnel: the ztunnel delivers to
/// the tunnel port and first writes a PROXY v2 header with the real client, the original
/// destination (the VIP) and the client's verified identity (TLV 0xD0), as upstream does.
#[test]
fn an_application_tunnel_gets_a_proxy_header_with_the_original_destination() {
    use std::sync::{Arc, Mutex};
    use ztunnel::proxy::proxy_protocol;
    let dir = tempfile::tempdir().unwrap();
    let backend = Echo::start(SocketAddr::new(ip(SERVER), 0)).unwrap();
    // The waypoint's tunnel port: reads the header, then echoes the rest.
    let listener = std::net::TcpListener::bind(SocketAddr::new(ip(PROXY_WP), 15088)).unwrap();
    let headers = Arc::new(Mutex::new(Vec::new()));
    let seen = headers.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let parsed = loop {
                    let n = conn.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    match proxy_protocol::parse(&buf) {
                        Ok(p) => break p,
                        Err(proxy_protocol::ParseError::Incomplete(_)) => continue,
                        Err(e) => panic!("bad PROXY header: {e}"),
                    }
                };
                let rest = buf.split_off(parsed.len);
                seen.lock().unwrap().push(parsed);
                let _ = conn.write_all(&rest);
                let _ = std::io::copy(&mut conn.try_clone().unwrap(), &mut conn);
            });
        }
    });
    let (_, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh_yaml(backend.addr.port())).unwrap();
    let spec = |name: &str, wl: &str, at: &str| NodeSpec::new(name, wl, ip(at), &config, &ca_files);
    let client_at = "127.0.150.9";
    let a = spec("node-a3", "default/client/client", client_at).spawn(bin()).unwrap();
    // Not loopback: other tests on this machine may own 127.0.0.1:15088.
    let p = spec("node-p", "default/proxy-wp/proxy-wp", PROXY_WP)
        .set("LOCALHOST_APP_TUNNEL", "false")
        .spawn(bin())
        .unwrap();
    echo_through(&a, SocketAddr::new(ip(PROXIED_VIP), 80), 6).expect("through the application tunnel");
    let got = headers.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].dst, SocketAddr::new(ip(PROXIED_VIP), 80), "the original destination, not the waypoint");
    // The client as node P saw it: the HBONE connection's source (the real client's address in
    // a cluster; on one loopback host, whatever address node A's socket got).
    let inbound = p
        .wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound")
        .unwrap_or_else(|e| panic!("no inbound log at node P: {e}"));
    assert_eq!(got[0].src.to_string(), inbound["src.addr"].as_str().unwrap(), "{inbound}");
    assert_eq!(got[0].identity.as_deref(), Some(id("client").to_string().as_str()));
    assert_eq!(backend.accepted(), 0);
}
