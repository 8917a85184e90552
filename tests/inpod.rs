//! In-pod (shared) mode end to end, in real network namespaces (needs root, `ip`,
//! `iptables`; a missing prerequisite FAILS with an explanation).
//!
//! One ztunnel (node namespace = the test's) gets two pods from the test CNI
//! ([`ztunnel::testbed::cni`]) over a real ZDS socket with real netns fds. Each pod has the
//! redirection rules installed by `ztunnel redirect install`. An unmodified client in pod A
//! dials the service VIP; the rules send it to 15001 inside pod A, ztunnel tunnels it as HBONE
//! to 15008 inside pod B, and pod B's echo server answers.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use common::netns::{cni_pod, mesh, redirect};
use common::*;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::cni::{Cni, CniPod};
use ztunnel::testbed::http;
use ztunnel::testbed::netns::{Pair, in_netns};
use ztunnel::testbed::node::{Node, NodeSpec, message};

const WAIT: Duration = Duration::from_secs(15);

struct Setup {
    pair: Pair,
    mesh: Mesh,
    _echo: Echo,
    dir: tempfile::TempDir,
    cni: Cni,
    ca: (PathBuf, PathBuf),
    config: PathBuf,
}

/// A pod whose service account is its name.
fn pod(pair_ns: &str, uid: &str, name: &str) -> CniPod {
    cni_pod(pair_ns, uid, name, name)
}

fn setup(n: u8) -> Setup {
    let pair = Pair::new(n);
    let mesh = mesh(n);
    let dir = tempfile::tempdir().unwrap();
    let (_, ca) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let server = mesh.server_ip;
    let echo = in_netns(&pair.b, move || Echo::serve(TcpListener::bind((server, 8080)).unwrap()).unwrap());
    for ns in [&pair.a, &pair.b] {
        redirect(&["install", "--netns", ns]);
    }
    let cni = Cni::start(&dir.path().join("zds.sock")).unwrap();
    // Registered before ztunnel connects: they arrive in its first snapshot.
    assert_eq!(cni.add(pod(&pair.a, "uid-client", "client")).unwrap(), None);
    assert_eq!(cni.add(pod(&pair.b, "uid-server", "server")).unwrap(), None);
    Setup { pair, mesh, _echo: echo, dir, cni, ca, config }
}

impl Setup {
    fn ztunnel(&self) -> Node {
        self.ztunnel_with(&[])
    }

    fn ztunnel_with(&self, extra: &[(&str, &str)]) -> Node {
        let mut spec = NodeSpec::new("node", "-", IpAddr::from([127, 0, 0, 1]), &self.config, &self.ca)
            .unset("PROXY_WORKLOAD_INFO")
            // Per pod, at upstream's default (localhost:15053).
            .unset("ISTIO_META_DNS_PROXY_ADDR")
            .unset("UNSTABLE_ENABLE_SOCKS5")
            .set("PROXY_MODE", "shared")
            .set("INPOD_UDS", self.cni.path.display().to_string())
            .set("CONNECTION_TERMINATION_DEADLINE", "1s")
            // Bound inside each pod's namespace, at upstream's fixed ports.
            .set("ZTUNNEL_OUTBOUND_ADDR", "0.0.0.0:15001")
            .set("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "0.0.0.0:15006")
            .set("ZTUNNEL_INBOUND_ADDR", "0.0.0.0:15008");
        spec.env.remove("PACKET_MARK"); // shared mode's default (1337) is what the rules expect
        for (k, v) in extra {
            spec = spec.set(k, *v);
        }
        spec.spawn(bin()).unwrap()
    }

    /// An unmodified client in pod A: plain connect to `dst`, echo round trip.
    fn client_round_trip(&self, dst: SocketAddr, seed: u64) -> Result<(), String> {
        let data = payload(256 * 1024, seed);
        let expected = data.clone();
        in_netns(&self.pair.a, move || {
            let c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).map_err(|e| e.to_string())?;
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let back = round_trip(c, &data).map_err(|e| e.to_string())?;
            if back == expected {
                Ok(())
            } else {
                Err(format!("echo mismatch: {} of {} bytes", back.len(), expected.len()))
            }
        })
    }

    fn vip(&self) -> SocketAddr {
        SocketAddr::new(self.mesh.service_vip, 80)
    }
}

/// Whether anything listens on `port` inside `ns` (the pod's ztunnel listeners).
fn listening(ns: &str, port: u16) -> bool {
    in_netns(ns, move || {
        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(2)).is_ok()
    })
}

/// A plain DNS client in `ns`: an A query for `name` to `server:53` (UDP or TCP); the pod's
/// rules send it to ztunnel's DNS proxy. Returns the A records.
fn dns_a(ns: &str, server: IpAddr, name: &str, tcp: bool) -> Result<Vec<IpAddr>, String> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    let mut q = Message::query();
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let bytes = q.to_vec().unwrap();
    let reply = in_netns(ns, move || -> std::io::Result<Vec<u8>> {
        let dst = SocketAddr::new(server, 53);
        if tcp {
            let mut c = TcpStream::connect_timeout(&dst, Duration::from_secs(5))?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(&(bytes.len() as u16).to_be_bytes())?;
            c.write_all(&bytes)?;
            let mut len = [0u8; 2];
            c.read_exact(&mut len)?;
            let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
            c.read_exact(&mut buf)?;
            Ok(buf)
        } else {
            let s = std::net::UdpSocket::bind(if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.send_to(&bytes, dst)?;
            let mut buf = vec![0u8; 4096];
            let n = s.recv(&mut buf)?;
            buf.truncate(n);
            Ok(buf)
        }
    })
    .map_err(|e| e.to_string())?;
    let m = Message::from_vec(&reply).map_err(|e| e.to_string())?;
    Ok(m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn client_in_pod_a_reaches_pod_b_by_vip_over_hbone() {
    let s = setup(71);
    let node = s.ztunnel();
    s.cni.wait_snapshots(1, WAIT).unwrap();
    assert!(s.cni.acks().iter().all(|(_, err)| err.is_empty()), "{:?}", s.cni.acks());
    // Readiness waited for the snapshot ("workload proxy manager").
    wait_until("readiness", || {
        http::request(node.addrs.readiness, "GET", "/healthz/ready").map(|r| r.0 == 200).unwrap_or(false)
    });

    s.client_round_trip(s.vip(), 1).unwrap();

    // By hostname: the pod's DNS (UDP and TCP, any resolver address) is answered by the DNS
    // proxy inside pod A, then the client dials what it got.
    for tcp in [false, true] {
        let ips = dns_a(&s.pair.a, s.mesh.server_ip, "echo.default.svc.cluster.local.", tcp).unwrap();
        assert_eq!(ips, vec![s.mesh.service_vip], "tcp={tcp}");
    }
    // Over IPv6 too (the ip6tables rules redirect to [::1]:15053).
    let v6_resolver: IpAddr = format!("2001:db8:{}::2", 71).parse().unwrap();
    assert_eq!(
        dns_a(&s.pair.a, v6_resolver, "echo.default.svc.cluster.local.", false).unwrap(),
        vec![s.mesh.service_vip]
    );
    s.client_round_trip(SocketAddr::new(s.mesh.service_vip, 80), 11).unwrap();

    // It crossed as HBONE, with each pod's own identity on each side.
    let acc = node.wait_for(WAIT, |e| message(e) == "HBONE connection accepted").unwrap();
    assert!(acc.to_string().contains("spiffe://cluster.local/ns/default/sa/client"), "{acc}");
    let out = node.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "outbound").unwrap();
    assert_eq!(out["dst.addr"], s.vip().to_string());
    assert_eq!(out["dst.hbone_addr"], format!("{}:15008", s.mesh.server_ip));
    assert_eq!(out["src.identity"], "spiffe://cluster.local/ns/default/sa/client");
    let inb = node.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client");
    assert_eq!(inb["dst.addr"], format!("{}:8080", s.mesh.server_ip));

    // Metrics: the node counts the tunnelled connection on both sides.
    let (_, text) = http::request(node.addrs.metrics, "GET", "/metrics").unwrap();
    let samples = http::parse_metrics(&text).unwrap();
    let opened = |reporter: &str| http::sum(&samples, "istio_tcp_connections_opened_total", &[("reporter", reporter)]);
    assert!(opened("source") >= 1.0 && opened("destination") >= 1.0, "{text}");
    let dns = http::sum(&samples, "istio_dns_requests_total", &[]);
    assert!(dns >= 2.0, "DNS requests counted: {dns}");
    // Upstream's workload-manager families, which the ztunnel dashboard shows.
    assert_eq!(http::sum(&samples, "istio_workload_manager_active_proxy_count", &[]), 2.0, "{text}");
    assert_eq!(http::sum(&samples, "istio_workload_manager_pending_proxy_count", &[]), 0.0, "{text}");
    assert_eq!(http::sum(&samples, "istio_workload_manager_proxies_started_total", &[]), 2.0, "{text}");
    assert!(samples.iter().any(|s| s.name == "process_resident_memory_bytes" && s.value > 0.0), "{text}");

    // The admin dump shows each pod's proxy (upstream's `workloadState`).
    let pods = workload_state(&node);
    assert_eq!(pods["uid-server"]["state"], "Up", "{pods}");
    assert_eq!(pods["uid-client"]["info"]["serviceAccount"], "client", "{pods}");
    drop(s.dir);
}

/// `workloadState` from the node's `/config_dump`.
fn workload_state(node: &Node) -> serde_json::Value {
    let (status, body) = http::request(node.addrs.admin, "GET", "/config_dump").unwrap();
    assert_eq!(status, 200, "{body}");
    let dump: serde_json::Value = serde_json::from_str(&body).unwrap();
    dump["workloadState"].clone()
}

#[test]
fn deleted_pod_closes_listeners_and_drains_connections() {
    let s = setup(72);
    let node = s.ztunnel();
    s.cni.wait_snapshots(1, WAIT).unwrap();
    assert!(listening(&s.pair.b, 15008) && listening(&s.pair.b, 15001) && listening(&s.pair.b, 15006));

    // A long-lived connection through both pods.
    let vip = s.vip();
    let (tx, rx) = std::sync::mpsc::channel();
    let ns_a = s.pair.a.clone();
    let held = std::thread::spawn(move || {
        in_netns(&ns_a, move || {
            let mut c = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).unwrap();
            c.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            tx.send(()).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let started = std::time::Instant::now();
            let n = c.read(&mut buf).unwrap_or(0);
            (n, started.elapsed())
        })
    });
    rx.recv_timeout(WAIT).expect("held connection established");
    // The dump lists it on both pods, in upstream's shape (what istioctl's connections table reads).
    let pods = workload_state(&node);
    let out = &pods["uid-client"]["connections"]["outbound"];
    assert_eq!(out.as_array().map(Vec::len), Some(1), "{pods}");
    assert_eq!(out[0]["originalDst"], vip.to_string(), "{pods}");
    assert_eq!(out[0]["actualDst"], format!("{}:15008", s.mesh.server_ip), "{pods}");
    assert_eq!(out[0]["protocol"], "HBONE", "{pods}");
    let inb = &pods["uid-server"]["connections"]["inbound"];
    assert_eq!(inb[0]["actualDst"], format!("{}:8080", s.mesh.server_ip), "{pods}");
    assert_eq!(inb[0]["protocol"], "HBONE", "{pods}");

    assert_eq!(s.cni.del("uid-server").unwrap(), Some(String::new()));
    // Each listener's task sees the stop on its own, so they close in no fixed order.
    wait_until("pod B listeners to close", || {
        !listening(&s.pair.b, 15008) && !listening(&s.pair.b, 15001) && !listening(&s.pair.b, 15006)
    });
    // Pod A is untouched.
    assert!(listening(&s.pair.a, 15001));
    // The open connection is closed once the drain deadline (1 s) passes.
    let (n, waited) = held.join().unwrap();
    assert_eq!(n, 0, "connection must be closed, not answered");
    assert!(waited < Duration::from_secs(10), "closed after {waited:?}");
    node.wait_for(WAIT, |e| message(e) == "pod removed: closing its listeners").unwrap();

    let (_, text) = http::request(node.addrs.metrics, "GET", "/metrics").unwrap();
    let samples = http::parse_metrics(&text).unwrap();
    assert_eq!(http::sum(&samples, "istio_workload_manager_proxies_stopped_total", &[]), 1.0, "{text}");
    assert_eq!(http::sum(&samples, "istio_workload_manager_active_proxy_count", &[]), 1.0, "{text}");

    // Re-adding the pod brings it back.
    assert_eq!(s.cni.add(pod(&s.pair.b, "uid-server", "server")).unwrap(), Some(String::new()));
    s.client_round_trip(s.vip(), 2).unwrap();
}

#[test]
fn restarts_reconcile_from_the_snapshot() {
    let s = setup(73);
    let mut node = s.ztunnel();
    s.cni.wait_snapshots(1, WAIT).unwrap();
    s.client_round_trip(s.vip(), 3).unwrap();

    // ztunnel restarts while the pods exist: the new process gets them from the snapshot.
    node.terminate(WAIT).unwrap();
    wait_until("pod listeners to go with the process", || !listening(&s.pair.a, 15001));
    let node = s.ztunnel();
    s.cni.wait_snapshots(2, WAIT).unwrap();
    s.client_round_trip(s.vip(), 4).unwrap();

    // The CNI restarts and only re-announces pod A: ztunnel reconnects and tears down pod B.
    let path = s.cni.path.clone();
    let (vip, ns_a) = (s.vip(), s.pair.a.clone());
    drop(s.cni);
    let cni = Cni::start(&path).unwrap();
    cni.add(pod(&s.pair.a, "uid-client", "client")).unwrap();
    cni.wait_snapshots(1, WAIT).unwrap();
    node.wait_for(WAIT, |e| message(e) == "ZDS snapshot reconciled" && e["removed"] == 1).unwrap();
    wait_until("pod B listeners to close", || !listening(&s.pair.b, 15008));
    assert!(listening(&s.pair.a, 15001), "pod A kept running across the reconnect");
    let refused = in_netns(&ns_a, move || {
        let mut c = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(b"ping");
        let mut buf = [0u8; 4];
        Some(c.read(&mut buf).unwrap_or(0))
    });
    assert!(matches!(refused, None | Some(0)), "pod B is no longer served: {refused:?}");
}

#[test]
fn dns_capture_false_disables_the_dns_proxy() {
    let s = setup(74);
    let mut spec_node = s.ztunnel_with(&[("ISTIO_META_DNS_CAPTURE", "false")]);
    s.cni.wait_snapshots(1, WAIT).unwrap();
    assert!(listening(&s.pair.a, 15001), "pod proxy is up");
    assert!(!listening(&s.pair.a, 15053), "no DNS proxy with ISTIO_META_DNS_CAPTURE=false");
    spec_node.terminate(WAIT).unwrap();
}

#[test]
fn failed_add_is_nacked_then_retried() {
    let s = setup(75);
    // Something in pod B already holds 15006: ztunnel cannot bind there.
    let blocker = in_netns(&s.pair.b, || TcpListener::bind(("0.0.0.0", 15006)).unwrap());
    let node = s.ztunnel();
    s.cni.wait_snapshots(1, WAIT).unwrap();
    let acks = s.cni.acks();
    let (_, err) = acks.iter().find(|(what, _)| what == "add uid-server").expect("add acked");
    assert!(err.contains("inbound plaintext (15006)") && err.contains("in use"), "{err}");
    assert!(acks.iter().any(|(what, err)| what == "add uid-client" && err.is_empty()), "{acks:?}");
    assert!(!listening(&s.pair.b, 15008), "nothing half-started");
    let pods = workload_state(&node);
    assert_eq!(pods["uid-server"]["state"], "Pending", "{pods}");
    assert!(pods["uid-server"]["lastError"].as_str().unwrap_or("").contains("in use"), "{pods}");

    // Once the port is free, the background retry starts pod B without a new Add.
    drop(blocker);
    wait_until("pod B to start on retry", || listening(&s.pair.b, 15008));
    s.client_round_trip(s.vip(), 6).unwrap();
    node.wait_for(WAIT, |e| {
        message(e) == "pod added: listeners bound in its network namespace" && e["uid"] == "uid-server"
    })
    .unwrap();
    assert_eq!(workload_state(&node)["uid-server"]["state"], "Up");
}

/// Istio's chart upgrades ztunnel with `maxSurge: 1, maxUnavailable: 0`: for a while a new and
/// an old ztunnel serve the same pods. With SO_REUSEPORT (INPOD_PORT_REUSE, default) the new
/// one binds every pod's ports while the old one still holds them; the old one then drains and
/// exits. A client looping through the hand-over sees no failed connection.
#[test]
fn surge_upgrade_hands_pods_over_without_failed_connections() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let s = setup(76);
    let mut old = s.ztunnel();
    s.cni.wait_snapshots(1, WAIT).unwrap();
    wait_until("old ztunnel ready", || {
        http::request(old.addrs.readiness, "GET", "/healthz/ready").map(|r| r.0 == 200).unwrap_or(false)
    });
    s.client_round_trip(s.vip(), 1).unwrap();

    let (stop, ok, failed) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = {
        let (stop, ok, failed, errors) = (stop.clone(), ok.clone(), failed.clone(), errors.clone());
        let (ns, vip) = (s.pair.a.clone(), s.vip());
        std::thread::spawn(move || {
            let mut seed = 100;
            while !stop.load(Ordering::Relaxed) {
                seed += 1;
                let data = payload(4096, seed);
                let expected = data.clone();
                let r = in_netns(&ns, move || -> Result<(), String> {
                    let c = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).map_err(|e| e.to_string())?;
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let back = round_trip(c, &data).map_err(|e| e.to_string())?;
                    if back == expected {
                        Ok(())
                    } else {
                        Err(format!("{} of {} bytes back", back.len(), expected.len()))
                    }
                });
                match r {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        errors.lock().unwrap().push(e);
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        })
    };
    let wait_for_more = |n: u64| {
        let target = ok.load(Ordering::Relaxed) + n;
        wait_until("the client loop to make progress", || ok.load(Ordering::Relaxed) >= target);
    };
    wait_for_more(20);

    // The new ztunnel: istio-cni serves every ztunnel that connects, so it gets the same pods.
    let cni2 = Cni::start(&s.dir.path().join("zds-new.sock")).unwrap();
    assert_eq!(cni2.add(pod(&s.pair.a, "uid-client", "client")).unwrap(), None);
    assert_eq!(cni2.add(pod(&s.pair.b, "uid-server", "server")).unwrap(), None);
    let new = s.ztunnel_with(&[("INPOD_UDS", &cni2.path.display().to_string())]);
    cni2.wait_snapshots(1, WAIT).unwrap();
    assert!(cni2.acks().iter().all(|(_, err)| err.is_empty()), "the new ztunnel bound every pod: {:?}", cni2.acks());
    wait_for_more(20);

    // The old one goes away (SIGTERM: stop accepting, drain, exit).
    old.terminate(WAIT).unwrap();
    wait_for_more(40);
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed connections during the hand-over: {:?}",
        errors.lock().unwrap()
    );
    // The new ztunnel carried traffic by itself at the end.
    new.wait_for(WAIT, |e| message(e) == "connection complete" && e["direction"] == "inbound").unwrap();
}

/// The client address an application listening on pod B's 9090 sees for a connection from pod A.
fn client_address_seen_by_pod_b(s: &Setup) -> IpAddr {
    let server_ip = s.mesh.server_ip;
    let listener = in_netns(&s.pair.b, move || TcpListener::bind((server_ip, 9090)).unwrap());
    let seen = std::thread::spawn(move || {
        let (mut c, peer) = listener.accept().unwrap();
        c.write_all(b"x").unwrap();
        peer.ip()
    });
    let dst = SocketAddr::new(server_ip, 9090);
    in_netns(&s.pair.a, move || {
        let mut c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    });
    seen.join().unwrap()
}

/// ENABLE_ORIG_SRC unset means best effort, as upstream: with IP_TRANSPARENT available (we are
/// root here) the application in pod B sees pod A's address as its client, not its own.
#[test]
fn the_server_sees_the_clients_address() {
    let s = setup(77);
    let node = s.ztunnel();
    s.cni.wait_snapshots(1, WAIT).unwrap();
    assert_eq!(client_address_seen_by_pod_b(&s), s.mesh.client_ip, "the application sees the real client");
    node.wait_for(WAIT, |e| message(e).contains("original source") && e["enabled"] == true).unwrap();
    drop(node);
    // Explicitly off: pod B's own address.
    let s = setup(78);
    let _node = s.ztunnel_with(&[("ENABLE_ORIG_SRC", "false")]);
    s.cni.wait_snapshots(1, WAIT).unwrap();
    assert_eq!(client_address_seen_by_pod_b(&s), s.mesh.server_ip);
}
