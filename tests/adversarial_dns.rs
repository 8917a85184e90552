//! DNS flood against the in-pod DNS proxy (15053, UDP + TCP), with a real ztunnel in shared
//! mode serving two pods in real network namespaces, as `tests/inpod.rs` sets them up (root,
//! `ip`, `iptables`; a missing prerequisite FAILS). Checked transfers from pod A through
//! the HBONE tunnel run throughout the flood.
//!
//! Namespaces: one `Pair` numbered 81, so 198.18.81.x (no other suite uses 81).

mod common;
#[path = "adversary/mod.rs"]
mod adversary;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use adversary::{Figures, usage};
use common::netns::{cni_pod, mesh, redirect};
use common::*;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::cni::Cni;
use ztunnel::testbed::http;
use ztunnel::testbed::netns::{Pair, in_netns};
use ztunnel::testbed::node::NodeSpec;

const N: u8 = 81;

fn query(name: &str, id: u16) -> Vec<u8> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut q = Message::query();
    q.metadata.id = id;
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    q.to_vec().unwrap()
}

/// Response codes (header byte 3, low 4 bits) of the replies `sock` receives until `stop`.
fn count_replies(sock: UdpSocket, stop: Arc<AtomicBool>) -> [usize; 16] {
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut counts = [0usize; 16];
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        if let Ok(n) = sock.recv(&mut buf)
            && n >= 4
        {
            counts[(buf[3] & 0x0f) as usize] += 1;
        }
    }
    counts
}

/// 60,000 UDP queries from pod A as fast as one socket sends them (a third each: local
/// service names, names that must be forwarded to an upstream that never answers, and
/// garbage), plus 200 TCP connections that send half a length-prefixed query and stall.
/// Local names must keep being answered, forwarded ones beyond the in-flight cap refused,
/// memory bounded, and transfers through the tunnel unaffected.
#[test]
fn dns_flood_is_bounded() {
    let pair = Pair::new(N);
    let mesh = mesh(N);
    let dir = tempfile::tempdir().unwrap();
    let (_, ca) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let server = mesh.server_ip;
    let _echo = in_netns(&pair.b, move || Echo::serve(TcpListener::bind((server, 8080)).unwrap()).unwrap());
    for ns in [&pair.a, &pair.b] {
        redirect(&["install", "--netns", ns]);
    }
    let cni = Cni::start(&dir.path().join("zds.sock")).unwrap();
    cni.add(cni_pod(&pair.a, "uid-client", "client", "client")).unwrap();
    cni.add(cni_pod(&pair.b, "uid-server", "server", "server")).unwrap();
    let mut spec = NodeSpec::new("node", "-", IpAddr::from([127, 0, 0, 1]), &config, &ca)
        .unset("PROXY_WORKLOAD_INFO")
        // Per pod, at upstream's default (localhost:15053).
        .unset("ISTIO_META_DNS_PROXY_ADDR")
        .unset("UNSTABLE_ENABLE_SOCKS5")
        .set("PROXY_MODE", "shared")
        .set("INPOD_UDS", cni.path.display().to_string())
        .set("ZTUNNEL_OUTBOUND_ADDR", "0.0.0.0:15001")
        .set("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "0.0.0.0:15006")
        .set("ZTUNNEL_INBOUND_ADDR", "0.0.0.0:15008");
    spec.env.remove("PACKET_MARK");
    let mut node = spec.spawn(bin()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !matches!(http::request(node.addrs.readiness, "GET", "/healthz/ready"), Ok((200, _))) {
        assert!(Instant::now() < deadline, "never ready:\n{}", node.raw_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let dns = SocketAddr::from(([127, 0, 0, 1], 15053));
    let local = "echo.default.svc.cluster.local.";
    let ns_a = pair.a.clone();
    let ask = move |name: &'static str| {
        in_netns(&ns_a, move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s.send_to(&query(name, 7), dns).unwrap();
            let mut buf = [0u8; 4096];
            s.recv(&mut buf).map(|n| (buf[3] & 0x0f, n)).ok()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while ask(local).map(|r| r.0) != Some(0) {
        assert!(Instant::now() < deadline, "pod A's DNS proxy never answered:\n{}", node.raw_log());
    }

    // Checked transfers from pod A to the service VIP (captured to 15001, HBONE to pod B).
    let stop = Arc::new(AtomicBool::new(false));
    let vip = SocketAddr::new(mesh.service_vip, 80);
    let (ns_a, stop2) = (pair.a.clone(), stop.clone());
    let transfers = std::thread::spawn(move || {
        in_netns(&ns_a, move || {
            let (mut done, mut failed) = (0usize, Vec::new());
            while (done == 0 || !stop2.load(Ordering::Relaxed)) && failed.len() < 3 {
                let data = payload(256 * 1024, done as u64);
                let res = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).and_then(|c| {
                    c.set_read_timeout(Some(Duration::from_secs(20)))?;
                    round_trip(c, &data)
                });
                match res {
                    Ok(back) if sha256(&back) == sha256(&data) => done += 1,
                    other => failed.push(format!("{:?}", other.map(|b| b.len()))),
                }
            }
            (done, failed)
        })
    });

    let fig = Figures::start("DNS flood", &node);
    let ns_a = pair.a.clone();
    let (sent, counts, tcp_closed) = in_netns(&ns_a, move || {
        // TCP: length prefix announcing 512 bytes, then 2 of them, then silence.
        let started = Instant::now();
        let stalled: Vec<TcpStream> = (0..200)
            .map(|_| {
                let mut c = TcpStream::connect(dns).unwrap();
                std::io::Write::write_all(&mut c, &[2, 0, 0xab, 0xcd]).unwrap();
                c
            })
            .collect();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(dns).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (sock, stop) = (sock.try_clone().unwrap(), stop.clone());
            std::thread::spawn(move || count_replies(sock, stop))
        };
        let garbage = payload(300, 5);
        let mut sent = 0;
        for i in 0..60_000u32 {
            let msg = match i % 3 {
                0 => query(local, i as u16),
                1 => query(&format!("n{i}.example.invalid."), i as u16),
                _ => garbage[..(i as usize % 300)].to_vec(),
            };
            if sock.send(&msg).is_ok() {
                sent += 1;
            }
        }
        std::thread::sleep(Duration::from_secs(1)); // replies to the last queries are in flight
        stop.store(true, Ordering::Relaxed);
        let counts = reader.join().unwrap();
        // The stalled TCP queries: the proxy must not hold them forever (its per-message
        // read deadline is 30 s).
        let limit = Instant::now() + Duration::from_secs(40);
        let mut closed = Vec::new();
        for mut c in stalled {
            let left = limit.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            c.set_read_timeout(Some(left)).unwrap();
            let mut b = [0u8; 64];
            if matches!(std::io::Read::read(&mut c, &mut b), Ok(0)) || Instant::now() < limit {
                closed.push(started.elapsed());
            }
        }
        (sent, counts, closed)
    });
    stop.store(true, Ordering::Relaxed);
    let (done, failed) = transfers.join().unwrap();
    let after = fig.check(64, 3000);
    println!(
        "ATTACK DNS flood: {sent} UDP queries sent, replies NOERROR {} NXDOMAIN {} SERVFAIL {} REFUSED {} FORMERR {}, \
         {}/200 stalled TCP queries closed (the last after {:?}), {done} checked transfers, fds now {}",
        counts[0],
        counts[3],
        counts[2],
        counts[5],
        counts[1],
        tcp_closed.len(),
        tcp_closed.iter().max(),
        after.fds
    );
    assert!(failed.is_empty(), "transfers during the DNS flood failed: {failed:?}");
    assert!(counts[0] > 1000, "local names stopped being answered: {counts:?}");
    assert!(counts[5] > 0, "no forwarded query was refused beyond the in-flight cap: {counts:?}");
    assert_eq!(tcp_closed.len(), 200, "stalled TCP DNS connections were held open past 40 s");
    // Still answering, still alive.
    assert_eq!(ask(local).map(|r| r.0), Some(0), "DNS after the flood");
    assert!(node.is_running());
    let _ = usage(node.pid());
}
