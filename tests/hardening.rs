//! Hardening against hostile or broken surroundings, with real ztunnel processes: what a node
//! does when it runs out of file descriptors, when a core task dies, and what a peer's headers
//! can make it remember.
//!
//! Addresses: 127.0.<95..99>.x only (each test its own third octet), so these never collide
//! with the other suites' 127.<n>.0.x meshes.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::identity::Identity;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::Echo;
use ztunnel::testbed::node::{Node, NodeSpec, message};

const WAIT: Duration = Duration::from_secs(10);

/// A mesh on 127.0.<octet>.1 (client) / .2 (server) / .101 (service VIP).
fn mesh(octet: u8, backend_port: u16) -> Mesh {
    Mesh {
        client_ip: IpAddr::from([127, 0, octet, 1]),
        server_ip: IpAddr::from([127, 0, octet, 2]),
        service_vip: IpAddr::from([127, 0, octet, 101]),
        ..Mesh::on_loopback(0, backend_port)
    }
}

/// Starts node B (`default/server`) of `mesh` alone, with its CA root in `dir`; `tweak`
/// adjusts its spec.
fn server_node(dir: &std::path::Path, mesh: &Mesh, tweak: impl FnOnce(NodeSpec) -> NodeSpec) -> Node {
    let (_ca, ca_files) = write_ca(dir);
    let config = dir.join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    tweak(NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files)).spawn(bin()).unwrap()
}

fn wait_ready(node: &Node) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok((200, _)) = ztunnel::testbed::http::request(node.addrs.readiness, "GET", "/healthz/ready") {
            return;
        }
        assert!(Instant::now() < deadline, "node never became ready:\n{}", node.raw_log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// With no fd left, `accept` fails for as long as the connection waits in the backlog. The
/// readiness loop used to retry at once, burning a whole core; it must back off like the
/// others, and serve again once fds are free.
#[test]
fn readiness_accept_backs_off_when_out_of_fds() {
    let dir = tempfile::tempdir().unwrap();
    let node = server_node(dir.path(), &mesh(95, 9), |s| s);
    wait_ready(&node);
    let pid = node.pid();
    // Leave a couple of spare fds, then use them up from outside with connections it accepts.
    // Only the soft limit: lowering it and raising it back needs no privilege.
    let limit = open_fds(pid) + 2;
    let (ok, out) = run("prlimit", &["--pid", &pid.to_string(), &format!("--nofile={limit}:")], b"");
    assert!(ok, "prlimit (util-linux) is required for this test: {out}");
    let conns: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(node.addrs.readiness).unwrap()).collect();
    node.wait_for(WAIT, |e| message(e).contains("accept failed"))
        .unwrap_or_else(|e| panic!("no accept failure logged ({e}):\n{}", node.raw_log()));

    // Measured over a second of wall time: the process is another process, so there is no
    // clock to pause; a spinning loop uses ~100 ticks per second, a backed-off one about none.
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(used < 30, "accept loop spins on EMFILE: {used} ticks of CPU in 1 s");

    // Free the fds: the waiting connections are served and readiness answers again.
    drop(conns);
    let hard = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let hard = hard.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().nth(4).unwrap();
    let (ok, out) = run("prlimit", &["--pid", &pid.to_string(), &format!("--nofile={hard}:")], b"");
    assert!(ok, "{out}");
    wait_ready(&node);
}

/// Opens an mTLS + HTTP/2 connection to `addr` as `default/client` (from `src_ip`, if given)
/// and sends one CONNECT to `authority` with `headers`; returns what came back on the stream
/// (a refusal is `hbone::Error::Status`).
fn hbone_connect(
    dir: &std::path::Path,
    addr: SocketAddr,
    src_ip: Option<IpAddr>,
    authority: &str,
    headers: http::HeaderMap,
) -> Result<Vec<u8>, ztunnel::hbone::Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ztunnel::hbone::{self, H2Settings};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ca = DevCa::load(&dir.join("root-cert.pem"), &dir.join("root-key.pem")).unwrap();
    let cert = ca.issue(&Identity::new("cluster.local", "default", "client"), Duration::from_secs(3600)).unwrap();
    let server = Identity::new("cluster.local", "default", "server");
    let cfg = ztunnel::tls::client_config(&cert, &[server]).unwrap();
    rt.block_on(async move {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(ip) = src_ip {
            sock.bind(SocketAddr::new(ip, 0)).unwrap();
        }
        let tcp = sock.connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(&cfg)).connect(name, tcp).await.unwrap();
        let (_trigger, watcher) = ztunnel::drain::new();
        let client = hbone::client::connect(tls, &H2Settings::default(), watcher).await?;
        let mut stream = client.send_connect(authority, headers).await?;
        // Past the CONNECT, whatever happens is the answer: collect what comes back.
        let _ = stream.write_all(b"ping").await;
        let _ = stream.shutdown().await;
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        Ok(out)
    })
}

fn connect_with_baggage(dir: &std::path::Path, node: &Node, src_ip: IpAddr, authority: &str, baggage: &str) -> Vec<u8> {
    let mut headers = http::HeaderMap::new();
    headers.insert("baggage", baggage.parse().unwrap());
    hbone_connect(dir, node.addrs.inbound, Some(src_ip), authority, headers).unwrap()
}

/// A peer whose address does not place it in the state is labelled from its `baggage`
/// claims. Inventing a new workload name per connection must not mint a new series each time.
#[test]
fn baggage_cannot_mint_unbounded_metric_series() {
    let dir = tempfile::tempdir().unwrap();
    let probe = mesh(96, 0);
    let echo = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let mesh = mesh(96, echo.addr.port());
    let node = server_node(dir.path(), &mesh, |s| s);
    wait_ready(&node);
    let authority = format!("{}:{}", mesh.server_ip, mesh.backend_port);
    let outsider = IpAddr::from([127, 0, 96, 50]);
    let attempts = 12;
    for i in 0..attempts {
        let baggage = format!("k8s.cluster.name=c1,k8s.deployment.name=made-up-{i},service.name=svc-{i}");
        assert_eq!(connect_with_baggage(dir.path(), &node, outsider, &authority, &baggage), b"ping");
    }
    // Every connection was counted (closes are recorded just after the client sees EOF).
    let deadline = Instant::now() + WAIT;
    let workloads = loop {
        let (status, body) = ztunnel::testbed::http::request(node.addrs.metrics, "GET", "/metrics").unwrap();
        assert_eq!(status, 200, "{body}");
        let samples = ztunnel::testbed::http::parse_metrics(&body).unwrap();
        let closed: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "istio_tcp_connections_closed_total" && s.labels["reporter"] == "destination")
            .collect();
        let total: f64 = closed.iter().map(|s| s.value).sum();
        if total as usize >= attempts || Instant::now() > deadline {
            assert_eq!(total as usize, attempts, "{body}");
            assert!(
                closed.iter().all(|s| s.labels["source_principal"] == "spiffe://cluster.local/ns/default/sa/client"),
                "the verified identity labels every series"
            );
            break closed.iter().map(|s| s.labels["source_workload"].clone()).collect::<BTreeSet<_>>();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(workloads.len() <= 5, "one series per invented workload name: {workloads:?}");
    assert!(workloads.contains("unknown"), "claims past the allowance are labelled unknown: {workloads:?}");
}

/// A network namespace of our own (unique name, so it collides with no other suite), with
/// `ip` on its loopback device; deleted on drop.
struct Netns(String);

impl Netns {
    fn new(name: &str, ip: &str) -> Netns {
        let (ok, out) = run("id", &["-u"], b"");
        assert!(ok && out.trim() == "0", "this test needs root (a network namespace of its own): uid {out}");
        let _ = run("ip", &["netns", "del", name], b"");
        for args in [
            vec!["netns", "add", name],
            vec!["-n", name, "link", "set", "lo", "up"],
            vec!["-n", name, "addr", "add", ip, "dev", "lo"],
        ] {
            let (ok, out) = run("ip", &args, b"");
            assert!(ok, "ip {args:?} (iproute2 is required for this test): {out}");
        }
        Netns(name.to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.0], b"");
    }
}

/// In-pod mode binds every listener on a wildcard, so the pod's own address reaches them all
/// and no listener IP is known. A CONNECT to `<pod-ip>:15008` must then still be refused as a
/// loop (it used to be dialled back into our own HBONE port, with the pod's IP as the nested
/// session's source). Needs a non-loopback pod IP, hence a namespace of its own.
#[test]
fn connect_to_own_port_on_pod_ip_is_refused_with_wildcard_binds() {
    let ns = Netns::new("zt-harden-97", "10.97.0.2/32");
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh {
        client_ip: IpAddr::from([10, 97, 0, 1]),
        server_ip: IpAddr::from([10, 97, 0, 2]),
        service_vip: IpAddr::from([10, 97, 0, 10]),
        ..Mesh::on_loopback(0, 8080)
    };
    let echo = ztunnel::testbed::netns::in_netns(&ns.0, || Echo::start("10.97.0.2:8080".parse().unwrap()).unwrap());
    let node = server_node(dir.path(), &mesh, |mut s| {
        s.netns = Some(ns.0.clone());
        // As in-pod: wildcard binds.
        s.set("ZTUNNEL_INBOUND_ADDR", "0.0.0.0:15008")
            .set("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "0.0.0.0:0")
            .set("ZTUNNEL_OUTBOUND_ADDR", "0.0.0.0:0")
    });
    let hbone = SocketAddr::from(([10, 97, 0, 2], 15008));
    let connect = |authority: String| {
        let dir = dir.path().to_path_buf();
        ztunnel::testbed::netns::in_netns(&ns.0, move || {
            hbone_connect(&dir, hbone, None, &authority, http::HeaderMap::new()).map_err(|e| e.to_string())
        })
    };
    // Control: the workload's own port works end to end.
    assert_eq!(connect("10.97.0.2:8080".into()).unwrap(), b"ping");
    // HBONE itself, and the other listeners (bound on port 0 here) by their actual ports.
    for port in [15008, node.addrs.inbound_plaintext.port(), node.addrs.outbound.port()] {
        let own = format!("10.97.0.2:{port}");
        match connect(own.clone()) {
            Err(e) => assert!(e.contains("400"), "CONNECT {own}: {e}"),
            Ok(back) => panic!("CONNECT {own} was accepted (got {back:?}): ztunnel dialled itself"),
        }
    }
    let refused = node.wait_for(WAIT, |e| {
        message(e) == "connection complete" && e["error"].as_str().is_some_and(|s| s.contains("own ports"))
    });
    assert!(refused.is_ok(), "refusal not logged:\n{}", node.raw_log());
    assert_eq!(echo.accepted(), 1, "only the control reached the workload");
}
