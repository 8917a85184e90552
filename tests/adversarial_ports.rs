//! Attacks that need no credentials, on every TCP listener of real ztunnel processes:
//! slowloris (sockets that send a few bytes and stall, before TLS, inside the HTTP/2 preface,
//! in a SOCKS5 greeting and in HTTP request headers), garbage bytes, and malformed SOCKS5.
//! As in `tests/adversarial.rs`, checked transfers run throughout and the figures are printed.
//!
//! Addresses: 127.0.86-88.x (see `adversary`).

mod common;
#[path = "adversary/mod.rs"]
mod adversary;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use adversary::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a server ended a connection we stopped talking on, and when.
#[derive(Debug, PartialEq)]
enum Ended {
    /// Closed (EOF or reset) after this long.
    Closed(Duration),
    StillOpen,
}

/// Reads (discarding) until the server closes `s` or `limit` passes.
async fn ended<S: tokio::io::AsyncRead + Unpin>(s: &mut S, since: Instant, limit: Instant) -> Ended {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(limit.into(), s.read(&mut buf)).await {
            Err(_) => return Ended::StillOpen,
            Ok(Ok(0)) | Ok(Err(_)) => return Ended::Closed(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Stalled sockets on node B's HBONE port (300 mid-ClientHello, 100 mid-preface after TLS),
/// A's SOCKS5 port (100 mid-greeting) and B's readiness, metrics and admin ports (100 each,
/// mid-headers). Meanwhile transfers and a fresh HBONE handshake must work; afterwards every
/// stalled socket must have been closed by its deadline (10 s), not held forever.
#[test]
fn slowloris_sockets_are_closed_at_their_deadlines() {
    let mut bed = start(86, |_, s| s);
    let cert = client_cert(&bed);
    let transfers = Transfers::start(&bed);
    let fig_b = Figures::start("slowloris (node B)", &bed.b);
    let fig_a = Figures::start("slowloris (node A)", &bed.a);
    let since = Instant::now();
    let (tcp_ends, tls_ends, fresh) = rt().block_on(async {
        let mut plain: Vec<(&str, TcpStream)> = Vec::new();
        let stalls: [(&str, SocketAddr, &[u8], usize); 5] = [
            // A TLS record header announcing a 512-byte ClientHello that never comes.
            ("15008 ClientHello", bed.b.addrs.inbound, &[0x16, 3, 1, 2, 0], 300),
            ("15080 greeting", bed.a.addrs.socks5.unwrap(), &[5], 100),
            ("15021 headers", bed.b.addrs.readiness, b"GET /healthz/ready HTTP/1.1\r\nHost: x\r\n", 100),
            ("15020 headers", bed.b.addrs.metrics, b"GET /metrics HTTP/1.1\r\n", 100),
            ("15000 headers", bed.b.addrs.admin, b"GET /config_dump HTTP/1.1\r\nX-", 100),
        ];
        for (name, addr, bytes, n) in stalls {
            for _ in 0..n {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(bytes).await.unwrap();
                plain.push((name, s));
            }
        }
        let mut tls = Vec::new();
        for _ in 0..100 {
            let mut t = tls_to(bed.b.addrs.inbound, &cert).await.unwrap();
            t.write_all(&PREFACE[..10]).await.unwrap();
            tls.push(t);
        }
        // A fresh handshake and CONNECT still go through while all of that is held.
        let mut probe = RawH2::connect(bed.b.addrs.inbound, &cert).await.unwrap();
        let mut buf = Vec::new();
        let authority = format!("{}:{}", bed.mesh.server_ip, bed.mesh.backend_port);
        frame(&mut buf, HEADERS, END_HEADERS, 1, &connect_block(&authority));
        probe.send(&buf).await;
        let fresh = probe.wait(WAIT, |s| s.headers > 0).await.statuses;
        drop(probe);
        let limit = since + Duration::from_secs(25);
        let mut tcp_ends = std::collections::BTreeMap::<&str, Vec<Ended>>::new();
        for (name, mut s) in plain {
            let e = ended(&mut s, since, limit).await;
            tcp_ends.entry(name).or_default().push(e);
        }
        let mut tls_ends = Vec::new();
        for mut t in tls {
            tls_ends.push(ended(&mut t, since, limit).await);
        }
        (tcp_ends, tls_ends, fresh)
    });
    assert_eq!(fresh, [200], "a fresh HBONE connection during the slowloris");
    let done = transfers.finish("slowloris");
    assert!(done > 0);
    fig_b.check(64, 1500);
    fig_a.check(32, 1000);
    let latest = |ends: &[Ended]| {
        let open = ends.iter().filter(|e| **e == Ended::StillOpen).count();
        let max = ends.iter().filter_map(|e| if let Ended::Closed(d) = e { Some(*d) } else { None }).max();
        (open, max)
    };
    for (name, ends) in tcp_ends.iter().map(|(n, e)| (*n, e.as_slice())).chain([("15008 mid-preface", &tls_ends[..])]) {
        let (open, max) = latest(ends);
        println!(
            "ATTACK slowloris {name}: {} sockets, {open} still open at 25 s, last closed after {max:?}",
            ends.len()
        );
        assert_eq!(open, 0, "{name}: stalled sockets held past their deadline");
        assert!(max.unwrap() >= Duration::from_secs(9), "{name}: closed before the deadline? {max:?}");
    }
    assert_serving(&mut bed, "slowloris");
}

/// Random bytes on every TCP listener of both nodes: 20 connections per port, 64 KiB each.
/// Every connection must be closed by the server (none held), nothing reaches the backend,
/// and both nodes serve afterwards.
#[test]
fn garbage_on_every_port_is_refused() {
    let mut bed = start(87, |_, s| s);
    let ports = |n: &ztunnel::testbed::node::Node, side: &'static str| {
        let a = &n.addrs;
        [
            (side, "outbound 15001", a.outbound),
            (side, "inbound plaintext 15006", a.inbound_plaintext),
            (side, "HBONE 15008", a.inbound),
            (side, "SOCKS5 15080", a.socks5.unwrap()),
            (side, "metrics 15020", a.metrics),
            (side, "readiness 15021", a.readiness),
            (side, "admin 15000", a.admin),
        ]
    };
    let targets: Vec<_> = ports(&bed.a, "A").into_iter().chain(ports(&bed.b, "B")).collect();
    let transfers = Transfers::start(&bed);
    let dials_before = bed.echo.accepted();
    let fig_a = Figures::start("garbage (node A)", &bed.a);
    let fig_b = Figures::start("garbage (node B)", &bed.b);
    let results = rt().block_on(async {
        let mut out = Vec::new();
        for (side, name, addr) in &targets {
            let mut tasks = Vec::new();
            for i in 0..20u64 {
                let addr = *addr;
                tasks.push(tokio::spawn(async move {
                    let junk = common::payload(64 * 1024, i + addr.port() as u64);
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    // The server may close (or reset) before taking it all: that is fine.
                    let _ = s.write_all(&junk).await;
                    let since = Instant::now();
                    ended(&mut s, since, since + Duration::from_secs(15)).await
                }));
            }
            let mut ends = Vec::new();
            for t in tasks {
                ends.push(t.await.unwrap());
            }
            out.push((*side, *name, ends));
        }
        out
    });
    for (side, name, ends) in &results {
        let open = ends.iter().filter(|e| **e == Ended::StillOpen).count();
        let max = ends.iter().filter_map(|e| if let Ended::Closed(d) = e { Some(*d) } else { None }).max();
        println!(
            "ATTACK garbage node {side} {name}: 20 x 64 KiB, {open} still open at 15 s, last closed after {max:?}"
        );
        assert_eq!(open, 0, "node {side} {name} holds garbage connections open");
    }
    let done = transfers.finish("garbage");
    assert_eq!(bed.echo.accepted() - dials_before, done as u64, "garbage reached the backend");
    fig_a.check(32, 1000);
    fig_b.check(32, 1000);
    assert_serving(&mut bed, "garbage");
    let (status, _) = ztunnel::testbed::http::request(bed.b.addrs.admin, "GET", "/config_dump").unwrap();
    assert_eq!(status, 200, "admin after garbage");
}

/// Malformed SOCKS5 requests, one per row: the bytes sent, then exactly what the server must
/// answer before closing.
#[test]
fn malformed_socks5_is_answered_and_closed() {
    let mut bed = start(88, |_, s| s);
    let socks5 = bed.a.addrs.socks5.unwrap();
    let greeting: &[u8] = &[5, 1, 0];
    let req = |cmd: u8, atyp_and_addr: &[u8]| -> Vec<u8> {
        let mut v = greeting.to_vec();
        v.extend_from_slice(&[5, cmd, 0]);
        v.extend_from_slice(atyp_and_addr);
        v
    };
    let reply = |code: u8| -> Vec<u8> { vec![5, 0, 5, code, 0, 1, 0, 0, 0, 0, 0, 0] };
    let long_name: Vec<u8> = [vec![3, 255], vec![b'a'; 255], vec![0, 80]].concat();
    let own = socks5.port().to_be_bytes();
    let rows: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("SOCKS4 request", vec![4, 1, 0, 80, 127, 0, 0, 1, 0], vec![]),
        ("zero methods", vec![5, 0], vec![5, 0xff]),
        ("username/password only", vec![5, 1, 2], vec![5, 0xff]),
        ("request version 4", [greeting, &[4, 1, 0, 1, 127, 0, 0, 1, 0, 80]].concat(), reply(1)[..2].to_vec()),
        ("BIND", req(2, &[1, 127, 0, 0, 1, 0, 80]), reply(7)),
        ("UDP ASSOCIATE", req(3, &[1, 127, 0, 0, 1, 0, 80]), reply(7)),
        ("command 0xff", req(0xff, &[1, 127, 0, 0, 1, 0, 80]), reply(7)),
        ("address type 9", req(1, &[9, 1, 2, 3, 4, 0, 80]), reply(8)),
        ("empty hostname", req(1, &[3, 0, 0, 80]), reply(4)),
        ("255-byte unknown hostname", req(1, &long_name), reply(4)),
        ("non-UTF-8 hostname", req(1, &[3, 2, 0xff, 0xfe, 0, 80]), reply(1)),
        ("CONNECT to the SOCKS5 port itself", req(1, &[1, 127, 0, 88, 1, own[0], own[1]]), reply(2)),
    ];
    let transfers = Transfers::start(&bed);
    let fig = Figures::start("malformed SOCKS5", &bed.a);
    let got = rt().block_on(async {
        let mut got = Vec::new();
        for (_, bytes, _) in &rows {
            let mut s = TcpStream::connect(socks5).await.unwrap();
            s.write_all(bytes).await.unwrap();
            let mut back = Vec::new();
            let r = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut back)).await;
            got.push((back, r.is_ok()));
        }
        got
    });
    for ((name, _, want), (back, closed)) in rows.iter().zip(&got) {
        println!("ATTACK malformed SOCKS5 {name}: answered {back:?}, closed {closed}");
        // A request-version error gets the greeting answer and then a failure reply.
        if *name == "request version 4" {
            assert!(back.starts_with(want) && back.len() <= 12, "{name}: {back:?}");
        } else {
            assert_eq!(back, want, "{name}");
        }
        assert!(closed, "{name}: connection left open");
    }
    transfers.finish("malformed SOCKS5");
    fig.check(16, 300);
    assert_serving(&mut bed, "malformed SOCKS5");
}
