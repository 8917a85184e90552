//! End-to-end tests on loopback: two real ztunnel processes sharing a built-in CA root, a
//! SOCKS5 client in front of node A and an echo backend behind node B.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ztunnel::testbed::backend::round_trip;
use ztunnel::testbed::node::message;
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn socks5_hostname_through_hbone_byte_exact() {
    let env = start(11, |_, s| s);
    let data = payload(3 << 20, 1);
    let conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap();
    let back = round_trip(conn, &data).unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(sha256(&back), sha256(&data));

    let out = env.a.wait_for(WAIT, |e| message(e) == "HBONE connection established").unwrap();
    assert_eq!(out["peer_identity"], "spiffe://cluster.local/ns/default/sa/server");
    assert_eq!(out["tls_version"], "TLSv1_3");
    let suite = out["cipher_suite"].as_str().unwrap();
    assert!(suite == "TLS13_AES_256_GCM_SHA384" || suite == "TLS13_AES_128_GCM_SHA256", "{suite}");
    let inb = env.b.wait_for(WAIT, |e| message(e) == "HBONE connection accepted").unwrap();
    assert_eq!(inb["peer_identity"], "spiffe://cluster.local/ns/default/sa/client");

    // Both sides log the finished connection with the byte counts.
    let log_b = env.b.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(log_b["direction"], "inbound");
    assert_eq!(log_b["src.identity"], "spiffe://cluster.local/ns/default/sa/client");
    assert_eq!(log_b["bytes_sent"], data.len() as u64);
    let log_a = env.a.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(log_a["direction"], "outbound");
    assert_eq!(log_a["dst.hbone_addr"], SocketAddr::new(env.mesh.server_ip, 15008).to_string());
}

#[test]
fn socks5_by_vip_and_by_workload_ip() {
    let env = start(12, |_, s| s);
    for dst in [SocketAddr::new(env.mesh.service_vip, 80), SocketAddr::new(env.mesh.server_ip, env.mesh.backend_port)] {
        let data = payload(200_000, dst.port() as u64);
        let conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Addr(dst)).unwrap();
        assert_eq!(round_trip(conn, &data).unwrap(), data, "via {dst}");
    }
    // Both went through the tunnel: B delivered two inbound connections.
    let n = (0..50)
        .find_map(|_| {
            let c = env.b.events().iter().filter(|e| message(e) == "connection complete").count();
            if c >= 2 {
                Some(c)
            } else {
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        })
        .unwrap_or(0);
    assert_eq!(n, 2);
}

#[test]
fn tcp_protocol_destination_is_dialled_directly() {
    let env = start_with(
        13,
        |m| m.config_yaml().replacen("protocol: HBONE\n  services", "protocol: TCP\n  services", 1),
        |_, s| s,
    );
    let data = payload(100_000, 3);
    let conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap();
    assert_eq!(round_trip(conn, &data).unwrap(), data);
    let log_a = env.a.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert_eq!(log_a["dst.hbone_addr"], "-");
    assert!(env.b.events().iter().all(|e| message(e) != "HBONE connection accepted"));
}

#[test]
fn unknown_destination_is_passed_through() {
    let env = start(14, |_, s| s);
    let outside = ztunnel::testbed::backend::Echo::start("127.14.0.9:0".parse().unwrap()).unwrap();
    let data = payload(50_000, 4);
    let conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Addr(outside.addr)).unwrap();
    assert_eq!(round_trip(conn, &data).unwrap(), data);
    assert_eq!(outside.accepted(), 1);
}

#[test]
fn self_calls_are_refused() {
    let env = start(15, |_, s| s);
    for port in [env.a.addrs.outbound.port(), 15008] {
        let dst = SocketAddr::new(env.mesh.client_ip, port);
        let err = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Addr(dst)).unwrap_err();
        assert!(err.to_string().contains("reply code 2"), "{dst}: {err}");
    }
}

#[test]
fn wrong_server_identity_is_refused() {
    // Node A believes the server runs as "imposter"; node B presents ".../sa/server".
    let env = start(16, |name, s| {
        if name == "a" {
            let mesh_yaml = std::fs::read_to_string(s.env["LOCAL_XDS_PATH"].clone()).unwrap();
            let path = std::path::Path::new(&s.env["LOCAL_XDS_PATH"]).with_file_name("mesh-a.yaml");
            std::fs::write(&path, mesh_yaml.replace("serviceAccount: server", "serviceAccount: imposter")).unwrap();
            s.set("LOCAL_XDS_PATH", path.display().to_string())
        } else {
            s
        }
    });
    let err = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap_err();
    assert!(err.to_string().contains("reply code 5"), "{err}");
    let log = env.a.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    let error = log["error"].as_str().unwrap();
    assert!(error.contains("imposter") || error.contains("identity"), "{error}");
    assert_eq!(env.echo.accepted(), 0);
}

#[test]
fn readiness_endpoint() {
    let env = start(17, |_, s| s);
    let url = format!("http://{}/healthz/ready", env.b.addrs.readiness);
    // The workload certificate is issued after the listeners are bound; give it a moment.
    let mut attempt = 0;
    let (ok, out) = loop {
        let (ok, out) = run("curl", &["-s", "-w", "\n%{http_code}", &url], b"");
        attempt += 1;
        if out.ends_with("200") || attempt == 50 {
            break (ok, out);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(ok, "{out}");
    assert!(out.starts_with("ready") && out.ends_with("200"), "{out}");
    let (_, out) = run("curl", &["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", &url], b"");
    assert_eq!(out, "405");
    let (_, out) = run(
        "curl",
        &["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{}/nope", env.b.addrs.readiness)],
        b"",
    );
    assert_eq!(out, "404");
}

#[test]
fn pool_reuses_connections_up_to_the_stream_limit() {
    // The limit applies per pool, and each data-plane thread has its own: with one thread,
    // 35 connections open at the same time need ceil(35/10) = 4 HBONE connections, not 35.
    let env = start(18, |name, s| {
        if name == "a" { s.set("POOL_MAX_STREAMS_PER_CONNECTION", "10").set("ZTUNNEL_WORKER_THREADS", "1") } else { s }
    });
    let conns: Vec<_> = (0..35)
        .map(|_| socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap())
        .collect();
    for (i, c) in conns.into_iter().enumerate() {
        let data = payload(1000, i as u64);
        assert_eq!(round_trip(c, &data).unwrap(), data);
    }
    let accepted = env.b.events().iter().filter(|e| message(e) == "HBONE connection accepted").count();
    assert_eq!(accepted, 4, "HBONE connections opened for 35 concurrent streams with limit 10");
}

#[test]
fn sigterm_drains_open_connections_then_exits_zero() {
    let mut env = start(19, |name, s| if name == "a" { s.set("CONNECTION_TERMINATION_DEADLINE", "3s") } else { s });
    let mut conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap();
    use std::io::{Read, Write};
    conn.write_all(b"before").unwrap();
    let mut buf = [0u8; 6];
    conn.read_exact(&mut buf).unwrap();
    std::process::Command::new("kill").args(["-TERM", &env.a.pid().to_string()]).status().unwrap();
    env.a.wait_for(WAIT, |e| message(e) == "shutdown signal received, draining").unwrap();
    // The open connection keeps working during the drain...
    conn.write_all(b"during").unwrap();
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"during");
    // ...while new ones are refused.
    common::eventually(WAIT, "new connections refused while draining", || {
        socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).is_err()
    });
    let started = std::time::Instant::now();
    let status = env.a.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn idle_node_exits_promptly_on_sigterm() {
    let mut env = start(20, |_, s| s);
    let started = std::time::Instant::now();
    let status = env.b.terminate(Duration::from_secs(10)).unwrap();
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[test]
fn bursty_transfer_with_idle_gaps_is_byte_exact() {
    bursty(start(21, |_, s| s));
}

#[test]
fn bursty_transfer_to_tcp_destination_is_byte_exact() {
    let tcp = |m: &ztunnel::testbed::Mesh| {
        m.config_yaml().replacen("protocol: HBONE\n  services", "protocol: TCP\n  services", 1)
    };
    bursty(start_with(22, tcp, |_, s| s));
}

/// Bursts separated by idle gaps exercise buffer resizing and flow-control credit return in
/// the pumps (a continuous transfer does not).
fn bursty(env: Env) {
    let data = payload(2 << 20, 21);
    let socks5 = env.a.addrs.socks5.unwrap();
    let back =
        paced_echo(socks5, &env.mesh.service_host, &data, 40, Duration::from_millis(30), Duration::from_secs(20));
    assert_eq!(back.len(), data.len(), "bytes lost or stalled");
    assert_eq!(sha256(&back), sha256(&data));
}

/// The threads of a running node, by name (`/proc/<pid>/task/*/comm`).
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn both_runtime_layouts_carry_traffic() {
    // Node A on tokio's work-stealing runtime, node B on the default thread-per-core layout:
    // each serves its side of the same tunnel, and each runs the threads its setting names.
    let env = start(23, |name, s| if name == "a" { s.set("ZTUNNEL_RUNTIME", "work-stealing") } else { s });
    for i in 0..4 {
        let data = payload(300_000, i);
        let conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap();
        assert_eq!(round_trip(conn, &data).unwrap(), data, "connection {i}");
    }
    common::eventually(WAIT, "B logs four inbound connections", || {
        env.b.events().iter().filter(|e| message(e) == "connection complete").count() == 4
    });
    let (a, b) = (thread_names(env.a.pid()), thread_names(env.b.pid()));
    // Two workers (the default), plus any blocking-pool threads, which share the name.
    assert!(a.iter().filter(|n| *n == "ztunnel-worker").count() >= 2, "{a:?}");
    assert!(!a.iter().any(|n| n.starts_with("ztunnel-dp-")), "{a:?}");
    for shard in ["ztunnel-dp-0", "ztunnel-dp-1"] {
        assert!(b.iter().any(|n| n == shard), "{b:?}");
    }
    assert!(!b.iter().any(|n| n == "ztunnel-worker"), "{b:?}");
}
