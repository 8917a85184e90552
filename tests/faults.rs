//! Faults around a tunnel, with real ztunnel processes, and the rule that no byte is lost
//! silently: a peer ztunnel killed mid-transfer must surface as an error (a reset), never as
//! a clean end of stream after a truncated transfer; SIGTERM with 100 transfers in flight
//! lets every one finish, checksums matching, inside the drain deadline; a backend that
//! half-closes still gets and gives every byte; and a node out of file descriptors recovers
//! once they are free.
//!
//! Addresses: 127.0.89.x, one slot (`adversary::mesh_in_slot`) per test.

mod common;
#[path = "adversary/mod.rs"]
mod adversary;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use adversary::*;
use common::{payload, run, sha256};
use ztunnel::testbed::node::{Node, message};
use ztunnel::testbed::socks::{self, Dest};

const OCTET: u8 = 89;

fn kill(node: &Node, signal: &str) {
    let (ok, out) = run("kill", &[signal, &node.pid().to_string()], b"");
    assert!(ok, "kill {signal}: {out}");
}

/// Node B is SIGKILLed while 64 MiB stream through it. Node A must reset the client's
/// connection: reading what came back ends in an error, not in EOF after a short transfer.
#[test]
fn peer_killed_mid_transfer_is_a_reset_not_a_truncation() {
    let mut bed = start_in_slot(OCTET, 0, |_, s| s);
    let data = payload(64 << 20, 5);
    let conn = socks::connect(bed.a.addrs.socks5.unwrap(), Dest::Host(&bed.mesh.service_host, 80)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let w = std::thread::spawn(move || -> std::io::Result<()> {
        for c in data.chunks(64 * 1024) {
            writer.write_all(c)?;
        }
        writer.shutdown(Shutdown::Write)
    });
    let mut reader = conn;
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut killed = false;
    let end = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got += n,
            Err(e) => break Err(e),
        }
        if !killed && got >= 4 << 20 {
            kill(&bed.b, "-KILL");
            killed = true;
        }
    };
    let wrote = w.join().unwrap();
    println!("FAULT kill -9 peer: {} of 64 MiB echoed, then read {end:?}, write {wrote:?}", got >> 20);
    assert!(killed, "the transfer finished before the kill");
    assert!(got < 64 << 20, "the whole transfer came back although the peer was killed");
    // Linux reports a reset once, to whichever call comes first: the writer thread may take
    // it and leave the reader an EOF. One of the two must have been told.
    let err = match (end, wrote) {
        (Err(e), _) | (_, Err(e)) => e,
        (Ok(()), Ok(())) => panic!("a truncated transfer ended cleanly on both halves: silent data loss"),
    };
    assert!(
        matches!(err.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe),
        "expected a reset, got {err:?}"
    );
    // A logged the failure, and is still serving (the next tunnel simply fails to connect).
    let log = bed.a.wait_for(WAIT, |e| message(e) == "connection complete" && e.get("error").is_some()).unwrap();
    println!("FAULT kill -9 peer: node A logged {}", log["error"]);
    assert!(bed.a.is_running());
    wait_ready(&bed.a);
}

/// The same with a download only (the client sends nothing, so no unread bytes make the
/// kernel reset the socket for us): 64 MiB from a backend behind B, B killed part-way.
#[test]
fn peer_killed_mid_download_is_a_reset_not_a_truncation() {
    let mut bed = start_in_slot(OCTET, 5, |_, s| s);
    let listener = TcpListener::bind(SocketAddr::new(bed.mesh.server_ip, 0)).unwrap();
    let backend = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = payload(64 * 1024, 9);
        for _ in 0..1024 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let mut conn = socks::connect(bed.a.addrs.socks5.unwrap(), Dest::Addr(backend)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let (mut got, mut killed) = (0usize, false);
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        match conn.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got += n,
            Err(e) => break Err(e),
        }
        if !killed && got >= 4 << 20 {
            kill(&bed.b, "-KILL");
            killed = true;
        }
    };
    println!("FAULT kill -9 peer (download): {} of 64 MiB received, then {end:?}", got >> 20);
    assert!(killed && got < 64 << 20, "the download finished before the kill");
    let err = end.expect_err("a truncated download ended in a clean EOF: silent data loss");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err:?}");
    assert!(bed.a.is_running());
}

/// The inbound side of the same rule: node A (the client's node) is SIGKILLed during a
/// 64 MiB upload; the backend behind B must see a reset, not an EOF that ends the upload.
#[test]
fn client_node_killed_mid_upload_resets_the_backend() {
    let bed = start_in_slot(OCTET, 6, |_, s| s);
    let listener = TcpListener::bind(SocketAddr::new(bed.mesh.server_ip, 0)).unwrap();
    let backend = listener.local_addr().unwrap();
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed),
                Err(e) => return Err(e),
            };
        }
    });
    let mut conn = socks::connect(bed.a.addrs.socks5.unwrap(), Dest::Addr(backend)).unwrap();
    let upload = std::thread::spawn(move || {
        let chunk = payload(64 * 1024, 3);
        for _ in 0..1024 {
            if conn.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    while received.load(std::sync::atomic::Ordering::Relaxed) < 4 << 20 {
        assert!(Instant::now() < deadline, "upload did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(&bed.a, "-KILL");
    let end = server.join().unwrap();
    let _ = upload.join();
    let got = received.load(std::sync::atomic::Ordering::Relaxed);
    println!("FAULT kill -9 client node (upload): backend got {} of 64 MiB, then {end:?}", got >> 20);
    assert!(got < 64 << 20);
    let err = end.expect_err("the backend saw a clean EOF after a truncated upload: silent data loss");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err:?}");
}

/// A download still running when node A's drain deadline (2 s) passes is cut: the client
/// must see a reset, not an EOF that would make the partial download look complete.
#[test]
fn drain_deadline_cut_is_a_reset_not_a_truncation() {
    let mut bed =
        start_in_slot(OCTET, 7, |name, s| if name == "a" { s.set("CONNECTION_TERMINATION_DEADLINE", "2s") } else { s });
    let listener = TcpListener::bind(SocketAddr::new(bed.mesh.server_ip, 0)).unwrap();
    let backend = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = payload(64 * 1024, 4);
        // 10 s of trickle: far longer than the drain deadline.
        for _ in 0..100 {
            if s.write_all(&chunk).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut conn = socks::connect(bed.a.addrs.socks5.unwrap(), Dest::Addr(backend)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let first = conn.read(&mut buf).unwrap();
    kill(&bed.a, "-TERM");
    let mut got = first;
    let end = loop {
        match conn.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got += n,
            Err(e) => break Err(e),
        }
    };
    let status = bed.a.wait_exit(WAIT).unwrap();
    println!("FAULT drain deadline cut: {} KiB of 6400 received, then {end:?}; exit {status}", got >> 10);
    assert!(got < 100 * 64 * 1024, "the download was not cut");
    let err = end.expect_err("a download cut at the drain deadline ended in a clean EOF: silent data loss");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err:?}");
}

/// Runs `n` transfers through node A at once, each `len` bytes in 16 paced chunks, starting
/// together; calls `during` once every one of them has its tunnel, then returns each
/// transfer's outcome.
fn in_flight(bed: &Bed, n: usize, len: usize, during: impl FnOnce()) -> Vec<Result<(), String>> {
    let started = Arc::new(Barrier::new(n + 1));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let socks5 = bed.a.addrs.socks5.unwrap();
            let host = bed.mesh.service_host.clone();
            let started = started.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let data = payload(len, 1000 + i as u64);
                let conn = socks::connect(socks5, Dest::Host(&host, 80));
                started.wait();
                let mut conn = conn.map_err(|e| format!("connect: {e}"))?;
                conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut reader = conn.try_clone().unwrap();
                let r = std::thread::spawn(move || {
                    let mut back = Vec::new();
                    reader.read_to_end(&mut back).map(|_| back)
                });
                for c in data.chunks(len / 16) {
                    conn.write_all(c).map_err(|e| format!("write: {e}"))?;
                    std::thread::sleep(Duration::from_millis(100));
                }
                conn.shutdown(Shutdown::Write).map_err(|e| format!("shutdown: {e}"))?;
                let back = r.join().unwrap().map_err(|e| format!("read: {e}"))?;
                match sha256(&back) == sha256(&data) {
                    true => Ok(()),
                    false => Err(format!("{} of {} bytes back, checksum differs", back.len(), data.len())),
                }
            })
        })
        .collect();
    started.wait();
    during();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// SIGTERM to one node while 100 transfers (256 KiB each, paced over ~1.6 s) are in
/// flight: all finish with matching checksums, and the node exits 0 inside its deadline.
fn sigterm_with_transfers_in_flight(slot: u8, which: &str) {
    let deadline = Duration::from_secs(8);
    let mut bed =
        start_in_slot(
            OCTET,
            slot,
            |name, s| {
                if name == which { s.set("CONNECTION_TERMINATION_DEADLINE", "8s") } else { s }
            },
        );
    let mut signalled = None;
    let node = if which == "a" { &bed.a } else { &bed.b };
    let results = in_flight(&bed, 100, 256 * 1024, || {
        kill(node, "-TERM");
        signalled = Some(Instant::now());
    });
    let failed: Vec<_> = results.iter().enumerate().filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e))).collect();
    let node = if which == "a" { &mut bed.a } else { &mut bed.b };
    let status = node.wait_exit(deadline + Duration::from_secs(5)).unwrap();
    let took = signalled.unwrap().elapsed();
    println!(
        "FAULT SIGTERM node {which}: 100 in flight, {} failed, exit {status} {took:?} after the signal",
        failed.len()
    );
    assert!(failed.is_empty(), "transfers cut by the drain: {failed:?}");
    assert!(status.success(), "exit status {status}");
    assert!(took < deadline + Duration::from_secs(2), "drain took {took:?}");
}

#[test]
fn sigterm_on_the_client_node_finishes_100_in_flight_transfers() {
    sigterm_with_transfers_in_flight(1, "a");
}

#[test]
fn sigterm_on_the_server_node_finishes_100_in_flight_transfers() {
    sigterm_with_transfers_in_flight(2, "b");
}

/// A backend that sends 1 MiB and half-closes at once, then reads whatever the client sends
/// until the client half-closes: both directions arrive complete through the tunnel.
#[test]
fn half_closing_backend_loses_no_bytes() {
    let bed = start_in_slot(OCTET, 3, |_, s| s);
    let banner = payload(1 << 20, 31);
    let upload = payload(2 << 20, 32);
    let listener = TcpListener::bind(SocketAddr::new(bed.mesh.server_ip, 0)).unwrap();
    let backend = listener.local_addr().unwrap();
    let sent = banner.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&sent).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let mut conn = socks::connect(bed.a.addrs.socks5.unwrap(), Dest::Addr(backend)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    assert_eq!(sha256(&got), sha256(&banner), "banner before the backend's half-close");
    // Our direction is still open after the backend's FIN.
    conn.write_all(&upload).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let received = server.join().unwrap();
    println!("FAULT half-closing backend: {} KiB down, {} KiB up after its FIN", got.len() >> 10, received.len() >> 10);
    assert_eq!(sha256(&received), sha256(&upload), "upload after the backend's half-close");
    assert_eq!(conn.read(&mut [0u8; 1]).unwrap(), 0, "EOF once both sides are done");
}

fn set_soft_nofile(pid: u32, limit: &str) {
    let (ok, out) = run("prlimit", &["--pid", &pid.to_string(), &format!("--nofile={limit}:")], b"");
    assert!(ok, "prlimit (util-linux) is required for this test: {out}");
}

/// The fd number the process would get next: a soft limit of exactly this leaves it none.
fn lowest_free_fd(pid: u32) -> usize {
    let open: std::collections::BTreeSet<usize> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap()
}

fn hard_nofile(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    line.split_whitespace().nth(4).unwrap().to_string()
}

/// One checked 64 KiB round trip through A's SOCKS5, given up after `timeout` (on a thread
/// of its own: a node out of fds leaves the connection in its backlog, unanswered, and the
/// testbed's SOCKS5 client has no handshake timeout; such a thread ends once it is served).
fn probe(bed: &Bed, timeout: Duration) -> Result<(), String> {
    let socks5 = bed.a.addrs.socks5.unwrap();
    let host = bed.mesh.service_host.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let data = payload(64 * 1024, 77);
        let res = socks::connect(socks5, Dest::Host(&host, 80)).map_err(|e| format!("connect: {e}")).and_then(|c| {
            c.set_read_timeout(Some(timeout)).unwrap();
            let back = ztunnel::testbed::backend::round_trip(c, &data).map_err(|e| format!("round trip: {e}"))?;
            if sha256(&back) == sha256(&data) { Ok(()) } else { Err(format!("{} bytes back, mismatch", back.len())) }
        });
        let _ = tx.send(res);
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

/// Node A with no spare fds: tunnels fail (cleanly, fast) instead of hanging, A does not
/// spin, and once the limit is back tunnels work again. Then the same for node B.
///
/// A goes first: while B is out of fds, A's data-plane threads that have no pooled connection
/// to B yet dial it, and those dials wait in B's backlog until A's handshake timeout; the fds
/// they free on A later would let A's probes through a limit taken before.
#[test]
fn fd_exhaustion_fails_tunnels_then_recovers() {
    let bed = start_in_slot(OCTET, 4, |_, s| s);
    probe(&bed, WAIT).expect("control transfer");
    for node in [&bed.a, &bed.b] {
        let pid = node.pid();
        let hard = hard_nofile(pid);
        set_soft_nofile(pid, &lowest_free_fd(pid).to_string());
        let before = usage(pid);
        let start = Instant::now();
        let outcomes: Vec<_> = (0..5).map(|_| probe(&bed, Duration::from_secs(3))).collect();
        let spent = start.elapsed();
        let cpu = usage(pid).cpu_ticks - before.cpu_ticks;
        println!("FAULT fd exhaustion node {}: {outcomes:?} in {spent:?}, {cpu} CPU ticks", node.name);
        assert!(outcomes.iter().any(|o| o.is_err()), "no tunnel failed with no fds left");
        // Failing is fine, corrupting is not (a probe may also slip into an fd freed meanwhile).
        assert!(!outcomes.iter().any(|o| o.as_ref().is_err_and(|e| e.contains("mismatch"))), "{outcomes:?}");
        assert!(cpu < 100 * spent.as_secs() + 50, "node {} spins without fds: {cpu} ticks", node.name);
        set_soft_nofile(pid, &hard);
        let deadline = Instant::now() + WAIT;
        while let Err(e) = probe(&bed, Duration::from_secs(3)) {
            assert!(Instant::now() < deadline, "node {} did not recover once fds were free: {e}", node.name);
        }
    }
}
