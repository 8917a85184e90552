//! Capture-path tests in real network namespaces with real iptables rules (needs root, `ip`
//! and `iptables`; CI runs as root and installs them). A missing prerequisite FAILS the test
//! with an explanation; it never passes silently.
//!
//! Topology per test: namespaces `<prefix>-a` (node A + client) and `<prefix>-b` (node B +
//! echo backend) joined by a veth pair on 198.18.<n>.0/24 (the RFC 2544 benchmarking range,
//! private to these namespaces). The service VIP 198.19.<n>.10 exists only in the config.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::netns::mesh;
use common::*;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::netns::{Pair, in_netns};
use ztunnel::testbed::node::{Node, NodeSpec, message};

const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    pair: Pair,
    mesh: Mesh,
    _echo: Echo,
    _dir: tempfile::TempDir,
    a: Node,
    b: Node,
}

fn setup(n: u8) -> Setup {
    setup_with(n, mesh(n), "0.0.0.0")
}

/// The same mesh on IPv6 (2001:db8:<n>::1/2, VIP 2001:db8:ffff:<n>::10).
fn mesh_v6(n: u8) -> Mesh {
    Mesh {
        client_ip: format!("2001:db8:{n}::1").parse().unwrap(),
        server_ip: format!("2001:db8:{n}::2").parse().unwrap(),
        service_vip: format!("2001:db8:ffff:{n}::10").parse().unwrap(),
        ..mesh(n)
    }
}

fn setup_with(n: u8, mesh: Mesh, wildcard: &str) -> Setup {
    let pair = Pair::new(n);
    let dir = tempfile::tempdir().unwrap();
    let (_, ca) = write_ca(dir.path());
    let cfg = dir.path().join("mesh.yaml");
    std::fs::write(&cfg, mesh.config_yaml()).unwrap();
    let server = mesh.server_ip;
    let echo = in_netns(&pair.b, move || Echo::serve(TcpListener::bind((server, 8080)).unwrap()).unwrap());
    let any = |port: u16| SocketAddr::new(wildcard.parse().unwrap(), port).to_string();
    let spec = |name: &str, wl: &str, ip: IpAddr, ns: &str| {
        let mut s = NodeSpec::new(name, wl, ip, &cfg, &ca)
            .set("PACKET_MARK", "1337")
            .set("ZTUNNEL_OUTBOUND_ADDR", any(15001))
            .set("ZTUNNEL_INBOUND_ADDR", any(15008))
            .set("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", any(15006))
            .set("ZTUNNEL_READINESS_ADDR", any(15021))
            .unset("UNSTABLE_ENABLE_SOCKS5");
        s.netns = Some(ns.to_string());
        s.spawn(bin()).unwrap()
    };
    let a = spec("node-a", "default/client/client", mesh.client_ip, &pair.a);
    let b = spec("node-b", "default/server/server", mesh.server_ip, &pair.b);
    Setup { pair, mesh, _echo: echo, _dir: dir, a, b }
}

#[test]
fn outbound_capture_with_iptables_redirect() {
    let s = setup(31);
    // Dedicated-mode capture as upstream's redirect script does it: every TCP connection
    // leaving the namespace, except ztunnel's own (mark 0x539), goes to 15001.
    s.pair.ipt(&s.pair.a, "-t nat -A OUTPUT -p tcp ! -o lo -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001");

    for (i, dst) in
        [SocketAddr::new(s.mesh.service_vip, 80), SocketAddr::new(s.mesh.server_ip, 8080)].into_iter().enumerate()
    {
        let data = payload(2 << 20, 40 + i as u64);
        let expected = data.clone();
        let back = in_netns(&s.pair.a, move || {
            let c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap();
            round_trip(c, &data).unwrap()
        });
        assert_eq!(sha256(&back), sha256(&expected), "via {dst}");
    }
    let out = s.a.wait_for(WAIT, |e| message(e) == "HBONE connection established").unwrap();
    assert_eq!(out["peer_identity"], "spiffe://cluster.local/ns/default/sa/server");
    let log =
        s.a.wait_for(WAIT, |e| {
            message(e) == "connection complete" && e["dst.addr"] == format!("{}:80", s.mesh.service_vip)
        })
        .unwrap();
    assert_eq!(log["dst.hbone_addr"], format!("{}:15008", s.mesh.server_ip));
    let inb = s.b.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client");
    assert_eq!(inb["dst.addr"], format!("{}:8080", s.mesh.server_ip));
}

/// A captured connection's first bytes go out with its CONNECT (early data). When node B then
/// refuses it (nothing listens on the port), the client is reset, not closed as if served, and
/// node A logs the refusal as the 503 it was, not as the reset of the stream it had been
/// writing to. Node B logs the refusal once.
#[test]
fn a_refused_connection_that_sent_early_bytes_is_logged_as_its_status() {
    let s = setup(35);
    s.pair.ipt(&s.pair.a, "-t nat -A OUTPUT -p tcp ! -o lo -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001");
    let closed = SocketAddr::new(s.mesh.server_ip, 8081);
    let res = in_netns(&s.pair.a, move || {
        let mut c = TcpStream::connect_timeout(&closed, Duration::from_secs(5)).unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        c.write_all(&payload(32 * 1024, 7)).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest)
    });
    let err = res.expect_err("a refused connection must be reset, not end in EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    let log =
        s.a.wait_for(WAIT, |e| message(e) == "connection complete" && e["dst.addr"] == closed.to_string())
            .unwrap_or_else(|e| panic!("no access log line for {closed} ({e}):\n{}", s.a.raw_log()));
    let error = log["error"].as_str().unwrap_or_default();
    assert!(error.contains("503"), "node A must report the peer's answer, got {error:?}");
    let inb =
        s.b.wait_for(WAIT, |e| message(e) == "connection complete" && e["dst.addr"] == closed.to_string()).unwrap();
    assert!(inb["error"].as_str().is_some_and(|e| !e.is_empty()), "{inb}");
}

#[test]
fn inbound_plaintext_capture_via_15006() {
    let s = setup(32);
    // Node B captures inbound TCP (except HBONE) to 15006.
    s.pair.ipt(&s.pair.b, "-t nat -A PREROUTING -p tcp ! --dport 15008 -j REDIRECT --to-ports 15006");
    let dst = SocketAddr::new(s.mesh.server_ip, 8080);
    let data = payload(1 << 20, 50);
    let expected = data.clone();
    let back = in_netns(&s.pair.a, move || {
        let c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap();
        round_trip(c, &data).unwrap()
    });
    assert_eq!(back, expected);
    let log = s.b.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(log["direction"], "inbound");
    assert_eq!(log["src.identity"], "-", "plaintext path has no peer identity");
    assert_eq!(log["dst.addr"], dst.to_string());
    assert_eq!(log["bytes_sent"], expected.len() as u64);
    assert!(s.b.events().iter().all(|e| message(e) != "HBONE connection accepted"));
    drop(s.a);
}

#[test]
fn uncaptured_connection_to_15001_is_refused() {
    let s = setup(33);
    // Without a REDIRECT rule there is no original destination: ztunnel must refuse rather
    // than guess (the local address would loop back into itself).
    let dst = SocketAddr::new(s.mesh.client_ip, 15001);
    let got = in_netns(&s.pair.a, move || {
        let mut c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap();
        let _ = c.write_all(b"hello");
        let mut buf = [0u8; 16];
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.read(&mut buf).unwrap_or(0)
    });
    assert_eq!(got, 0, "connection must be closed without data");
    let log = s.a.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert!(log["error"].as_str().unwrap().contains("no original destination"), "{log}");
}

#[test]
fn outbound_capture_ipv6() {
    // Dual-stack wildcard listeners, IPv6 workloads: SO_ORIGINAL_DST via IP6T_SO_ORIGINAL_DST.
    let s = setup_with(34, mesh_v6(34), "::");
    s.pair.ipt_with(
        "ip6tables",
        &s.pair.a,
        "-t nat -A OUTPUT -p tcp ! -o lo -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001",
    );
    let dst = SocketAddr::new(s.mesh.service_vip, 80);
    let data = payload(1 << 20, 60);
    let expected = data.clone();
    let back = in_netns(&s.pair.a, move || {
        let c = TcpStream::connect_timeout(&dst, Duration::from_secs(5)).unwrap();
        round_trip(c, &data).unwrap()
    });
    assert_eq!(sha256(&back), sha256(&expected));
    let log = s.a.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(log["dst.addr"], dst.to_string());
    assert_eq!(log["dst.hbone_addr"], SocketAddr::new(s.mesh.server_ip, 15008).to_string());
    let inb = s.b.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(inb["src.identity"], "spiffe://cluster.local/ns/default/sa/client");
}
