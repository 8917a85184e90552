//! Operations surfaces end to end, against two real ztunnel processes: Prometheus metrics on
//! both sides (parsed), the admin config dump, readiness gating on the certificate, live log
//! filter changes, and `/quitquitquit`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use ztunnel::testbed::backend::{Sink, round_trip};
use ztunnel::testbed::http::{Sample, parse_metrics, request, sum};
use ztunnel::testbed::node::{NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(10);

/// Istio's CommonTrafficLabels, in the order upstream emits them.
const LABEL_ORDER: [&str; 23] = [
    "reporter",
    "source_workload",
    "source_canonical_service",
    "source_canonical_revision",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "destination_service",
    "destination_service_namespace",
    "destination_service_name",
    "destination_workload",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_cluster",
    "request_protocol",
    "response_flags",
    "connection_security_policy",
];

fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (status, body) = request(addr, "GET", "/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    parse_metrics(&body).unwrap_or_else(|e| panic!("unparsable metrics: {e}\n{body}"))
}

/// Scrapes until `done` holds (connection close is recorded just after the client sees EOF).
fn scrape_until(addr: SocketAddr, done: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = scrape(addr);
        if done(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The client workload gets canonical labels and a cluster, so label filling is visible.
fn labelled_mesh(m: &ztunnel::testbed::Mesh) -> String {
    m.config_yaml().replacen(
        "  serviceAccount: client\n",
        "  serviceAccount: client\n  canonicalName: client-app\n  canonicalRevision: v1\n  clusterId: Kubernetes\n",
        1,
    ) + "\
policies:
- name: deny-nobody
  namespace: default
  scope: Namespace
  action: Deny
  rules:
  - - - namespaces:
        - !Exact no-such-namespace
"
}

#[test]
fn traffic_metrics_on_both_sides() {
    let env = start_with(60, labelled_mesh, |_, s| s);
    let sink = Sink::start(SocketAddr::new(env.mesh.server_ip, 0)).unwrap();
    let socks5 = env.a.addrs.socks5.unwrap();

    // 1: straight to the workload IP, asymmetric (N bytes up, 8 bytes back).
    const N: usize = 300_000;
    let mut c = socks::connect(socks5, Dest::Addr(sink.addr)).unwrap();
    c.write_all(&payload(N, 9)).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut count = [0u8; 8];
    c.read_exact(&mut count).unwrap();
    assert_eq!(u64::from_be_bytes(count), N as u64);
    drop(c);
    // 2: through the service hostname (echo), so destination_service is known.
    let data = payload(1000, 2);
    let c = socks::connect(socks5, Dest::Host(&env.mesh.service_host, 80)).unwrap();
    assert_eq!(round_trip(c, &data).unwrap(), data);

    let closed = "istio_tcp_connections_closed_total";
    let a = scrape_until(env.a.addrs.metrics, |s| sum(s, closed, &[]) >= 2.0);
    let b = scrape_until(env.b.addrs.metrics, |s| sum(s, closed, &[]) >= 2.0);

    let client = [
        ("source_workload", "client"),
        ("source_workload_namespace", "default"),
        ("source_principal", "spiffe://cluster.local/ns/default/sa/client"),
        ("destination_workload", "server"),
        ("destination_principal", "spiffe://cluster.local/ns/default/sa/server"),
        ("connection_security_policy", "mutual_tls"),
        ("request_protocol", "tcp"),
        ("response_flags", "-"),
    ];
    for (side, samples, reporter) in [("A", &a, "source"), ("B", &b, "destination")] {
        let mut want = client.to_vec();
        want.push(("reporter", reporter));
        assert_eq!(sum(samples, "istio_tcp_connections_opened_total", &want), 2.0, "node {side}: {samples:#?}");
        assert_eq!(sum(samples, closed, &want), 2.0, "node {side}");
        assert_eq!(sum(samples, "istio_tcp_connections_failed_total", &[]), 0.0, "node {side}");
        assert_eq!(sum(samples, "istio_tcp_sockets_open", &[("reporter", reporter)]), 0.0, "node {side}");
        assert_eq!(sum(samples, "istio_build", &[("component", "ztunnel")]), 1.0, "node {side}");
        for s in samples.iter().filter(|s| s.name.starts_with("istio_tcp_") && s.name != "istio_tcp_sockets_open") {
            assert_eq!(s.label_order, LABEL_ORDER, "node {side}: {}", s.name);
        }
        // The echo connection carries the service labels; the direct one has none.
        let svc = [
            ("reporter", reporter),
            ("destination_service", "echo.default.svc.cluster.local"),
            ("destination_service_name", "echo"),
            ("destination_service_namespace", "default"),
        ];
        assert_eq!(sum(samples, closed, &svc), 1.0, "node {side}: {samples:#?}");
        assert_eq!(sum(samples, closed, &[("reporter", reporter), ("destination_service", "unknown")]), 1.0);
    }
    // Source labels: A knows the client from its state; B learns them from the certificate
    // (principal, namespace) and the client's baggage (canonical service and revision).
    for samples in [&a, &b] {
        let want = [
            ("source_canonical_service", "client-app"),
            ("source_canonical_revision", "v1"),
            ("source_cluster", "Kubernetes"),
        ];
        assert_eq!(sum(samples, closed, &want), 2.0, "{samples:#?}");
    }
    // Bytes: destination reports the request as received; source keeps Istio's inversion.
    let direct = |r: &'static str| [("reporter", r), ("destination_service", "unknown")];
    let (up, down) = (N as f64 + 0.0, 8.0);
    assert_eq!(sum(&b, "istio_tcp_received_bytes_total", &direct("destination")), up);
    assert_eq!(sum(&b, "istio_tcp_sent_bytes_total", &direct("destination")), down);
    assert_eq!(sum(&a, "istio_tcp_sent_bytes_total", &direct("source")), up);
    assert_eq!(sum(&a, "istio_tcp_received_bytes_total", &direct("source")), down);
    // Same numbers under the Prometheus-compatible path.
    let (status, body) = request(env.a.addrs.metrics, "GET", "/stats/prometheus").unwrap();
    assert_eq!(status, 200);
    assert!(parse_metrics(&body).unwrap().iter().any(|s| s.name == closed));
}

#[test]
fn failed_connections_are_counted() {
    let env = start(61, |_, s| s);
    // Port 1 on the server workload: B's dial fails, A sees the CONNECT refused.
    let err = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Addr(SocketAddr::new(env.mesh.server_ip, 1)));
    assert!(err.is_err());
    let failed = "istio_tcp_connections_failed_total";
    let a = scrape_until(env.a.addrs.metrics, |s| sum(s, failed, &[]) >= 1.0);
    let b = scrape_until(env.b.addrs.metrics, |s| sum(s, failed, &[]) >= 1.0);
    assert_eq!(
        sum(&a, failed, &[("reporter", "source"), ("response_flags", "CONNECT"), ("destination_workload", "server")]),
        1.0,
        "{a:#?}"
    );
    assert_eq!(sum(&b, failed, &[("reporter", "destination"), ("response_flags", "CONNECT")]), 1.0, "{b:#?}");
    assert_eq!(sum(&a, "istio_tcp_connections_opened_total", &[]), sum(&a, "istio_tcp_connections_closed_total", &[]));
}

#[test]
fn config_dump_has_state_certificates_and_no_keys() {
    let env = start_with(62, labelled_mesh, |_, s| s);
    // Traffic first, so node A also holds its client certificate.
    let c = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap();
    assert_eq!(round_trip(c, b"hello").unwrap(), b"hello");

    let (status, body) = request(env.a.addrs.admin, "GET", "/config_dump").unwrap();
    assert_eq!(status, 200);
    assert!(!body.contains("PRIVATE KEY"), "private key material in the dump");
    let dump: serde_json::Value = serde_json::from_str(&body).unwrap();
    let uids: Vec<&str> = dump["workloads"].as_array().unwrap().iter().map(|w| w["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, ["cluster1//v1/Pod/default/client", "cluster1//v1/Pod/default/server"]);
    assert_eq!(dump["workloads"][0]["canonicalName"], "client-app");
    assert_eq!(dump["services"][0]["hostname"], env.mesh.service_host);
    assert_eq!(dump["policies"][0]["name"], "deny-nobody");
    assert_eq!(dump["policiesByNamespace"]["default"][0], "default/deny-nobody");
    let vip = format!("{}:80", env.mesh.service_vip);
    assert_eq!(dump["vips"][&vip][0][0], env.mesh.server_ip.to_string());
    assert_eq!(dump["staticConfig"]["workloads"].as_array().unwrap().len(), 2);
    assert_eq!(dump["proxyMode"], "Dedicated");
    assert_eq!(
        dump["config"]["adminAddr"],
        env.a.addrs.admin.to_string().replace(&env.a.addrs.admin.port().to_string(), "0")
    );
    assert!(dump["version"]["version"].is_string());
    assert!(dump["crypto"]["cipherSuites"].is_array() || dump["crypto"]["cipher_suites"].is_array());

    let certs = dump["certificates"].as_array().unwrap();
    let mine = certs
        .iter()
        .find(|c| c["identity"] == "spiffe://cluster.local/ns/default/sa/client")
        .unwrap_or_else(|| panic!("no client certificate in {certs:#?}"));
    assert_eq!(mine["state"], "Available");
    let leaf = &mine["certChain"][0];
    assert!(leaf["pem"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(!leaf["serialNumber"].as_str().unwrap().is_empty());
    assert!(leaf["validFrom"].as_str().unwrap().ends_with('Z'));
    assert!(leaf["expirationTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(mine["rootCerts"][0]["pem"].as_str().unwrap().trim(), env.ca.root_pem().trim());

    // Methods and paths.
    assert_eq!(request(env.a.addrs.admin, "POST", "/config_dump").unwrap().0, 405);
    assert_eq!(request(env.a.addrs.admin, "GET", "/quitquitquit").unwrap().0, 405);
    assert_eq!(request(env.a.addrs.admin, "GET", "/logging").unwrap().0, 405);
    assert_eq!(request(env.a.addrs.admin, "GET", "/nope").unwrap().0, 404);
    let (status, index) = request(env.a.addrs.admin, "GET", "/").unwrap();
    assert_eq!(status, 200);
    for path in ["/config_dump", "/logging", "/quitquitquit"] {
        assert!(index.contains(path), "{index}");
    }
}

#[test]
fn readiness_waits_for_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = ztunnel::testbed::Mesh::on_loopback(63, 9);
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    // The CA root is not there yet (a secret that is mounted late).
    let ca_files = (dir.path().join("root-cert.pem"), dir.path().join("root-key.pem"));
    let node =
        NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files).spawn(bin()).unwrap();
    let ready = node.addrs.readiness;
    for _ in 0..3 {
        let (status, body) = request(ready, "GET", "/healthz/ready").unwrap();
        assert_eq!((status, body.as_str()), (500, "not ready, pending: workload certificate\n"));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (_, dump) = request(node.addrs.admin, "GET", "/config_dump").unwrap();
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    let state = dump["certificates"][0]["state"].as_str().unwrap();
    assert!(state.starts_with("Unavailable") && state.contains("root-cert.pem"), "{state}");

    let written = Instant::now();
    write_ca(dir.path());
    let deadline = written + Duration::from_secs(15);
    loop {
        let (status, body) = request(ready, "GET", "/healthz/ready").unwrap();
        if status == 200 {
            assert_eq!(body, "ready\n");
            break;
        }
        assert!(Instant::now() < deadline, "still not ready 15 s after the CA root appeared: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    node.wait_for(WAIT, |e| message(e) == "workload certificate available").unwrap();
}

/// The kubelet trusts `/healthz/ready`: it must not answer 200 while a large config is still
/// loading or before the data-path listeners are bound.
#[test]
fn readiness_is_never_200_before_the_listeners_serve() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = ztunnel::testbed::Mesh::on_loopback(67, 9);
    // Enough workloads that loading takes a visible while.
    let mut extra = String::from("workloads:\n");
    for i in 0..20_000u32 {
        extra.push_str(&format!(
            "- name: w{i}\n  namespace: bulk\n  workloadIps: [\"10.{}.{}.{}\"]\n",
            i >> 16,
            (i >> 8) & 0xff,
            i & 0xff
        ));
    }
    let yaml = mesh.config_yaml().replacen("workloads:\n", &extra, 1);
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, yaml).unwrap();
    let (_, ca_files) = write_ca(dir.path());
    let ready_addr = SocketAddr::new(mesh.server_ip, 15021);
    let inbound = SocketAddr::new(mesh.server_ip, 15008);
    let poller = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut not_ready = 0;
        while Instant::now() < deadline {
            match request(ready_addr, "GET", "/healthz/ready") {
                Ok((200, _)) => {
                    let serving = std::net::TcpStream::connect_timeout(&inbound, Duration::from_secs(1)).is_ok();
                    return (serving, not_ready);
                }
                Ok(_) => not_ready += 1,
                Err(_) => {} // not bound yet
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("never ready");
    });
    let _node = NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files)
        .set("ZTUNNEL_READINESS_ADDR", ready_addr.to_string())
        .spawn(bin())
        .unwrap();
    let (serving, not_ready) = poller.join().unwrap();
    assert!(serving, "readiness answered 200 before 15008 accepted connections");
    // The load takes about half a second here; polled every 5 ms, readiness must keep
    // answering (500, not ready) through it. With the parse on the control thread (thread-per-core: the
    // one that also serves 15021) it answered once before and then not until the load ended.
    assert!(not_ready >= 10, "readiness must answer \"not ready\" all through the load, answered {not_ready} times");
}

#[test]
fn logging_filter_changes_at_runtime() {
    let env = start(64, |_, s| s);
    let node = &env.b;
    let touched = |n: &ztunnel::testbed::node::Node| {
        n.events().iter().filter(|e| message(e) == "local config touched, content unchanged").count()
    };
    // Rewriting the file with the same content is a debug event of ztunnel::xds.
    let touch = || {
        let body = std::fs::read(&env.config).unwrap();
        std::thread::sleep(Duration::from_millis(1100)); // distinct mtime
        write_atomic(&env.config, body);
        std::thread::sleep(Duration::from_millis(2500)); // the watcher polls every second
    };
    touch();
    assert_eq!(touched(node), 0, "debug is off at RUST_LOG=info");

    let (status, body) = request(node.addrs.admin, "POST", "/logging?level=ztunnel::xds=debug,info").unwrap();
    assert_eq!((status, body.as_str()), (200, "current log level is ztunnel::xds=debug,info\n"));
    touch();
    let after_enable = touched(node);
    assert!(after_enable >= 1, "debug line did not appear after enabling it");
    let ev = node.events().into_iter().find(|e| message(e) == "local config touched, content unchanged").unwrap();
    assert_eq!(ev["level"], "debug");

    // A bad filter is refused and changes nothing.
    let (status, body) = request(node.addrs.admin, "POST", "/logging?level=ztunnel%3D%3Dnope").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid log filter"), "{body}");
    assert_eq!(
        request(node.addrs.admin, "POST", "/logging").unwrap().1,
        "current log level is ztunnel::xds=debug,info\n"
    );

    let (status, body) = request(node.addrs.admin, "POST", "/logging?reset").unwrap();
    assert_eq!((status, body.as_str()), (200, "current log level is info\n"));
    touch();
    assert_eq!(touched(node), after_enable, "debug line still logged after reset");
}

#[test]
fn quitquitquit_drains_and_exits_zero() {
    let mut env = start(65, |name, s| if name == "a" { s.set("CONNECTION_TERMINATION_DEADLINE", "20s") } else { s });
    let socks5 = env.a.addrs.socks5.unwrap();
    let mut open = socks::connect(socks5, Dest::Host(&env.mesh.service_host, 80)).unwrap();
    open.write_all(b"before").unwrap();
    let mut buf = [0u8; 6];
    open.read_exact(&mut buf).unwrap();

    let (status, body) = request(env.a.addrs.admin, "POST", "/quitquitquit").unwrap();
    assert_eq!((status, body.as_str()), (200, "draining\n"));
    env.a.wait_for(WAIT, |e| message(e) == "shutdown requested by admin, draining").unwrap();
    // Draining: no new connections, but the open one keeps working until it closes.
    common::eventually(WAIT, "new connections refused while draining", || {
        socks::connect(socks5, Dest::Host(&env.mesh.service_host, 80)).is_err()
    });
    assert!(env.a.is_running(), "exited before the open connection finished");
    open.write_all(b"during").unwrap();
    open.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"during");
    drop(open);
    let status = env.a.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit status {status:?}; log:\n{}", env.a.raw_log());
    env.a.wait_for(Duration::from_secs(1), |e| message(e) == "drain complete").unwrap();
}

/// Upstream raises the soft open-files limit to the hard one at start (a 1024 soft limit gives
/// EMFILE under load); so do we, and say so.
#[test]
fn open_files_soft_limit_is_raised_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = ztunnel::testbed::Mesh::on_loopback(66, 9);
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let (_, ca_files) = write_ca(dir.path());
    // Started with a low soft limit, as a container runtime may start it.
    let wrapper = dir.path().join("low-nofile.sh");
    std::fs::write(&wrapper, format!("#!/bin/sh\nulimit -S -n 256\nexec {} \"$@\"\n", bin().display())).unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let node =
        NodeSpec::new("node-a", "default/client/client", mesh.client_ip, &config, &ca_files).spawn(&wrapper).unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", node.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let nums: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    assert_eq!(nums[0], nums[1], "soft limit raised to the hard limit: {line}");
    let ev = node.wait_for(WAIT, |e| message(e) == "raised the open files limit").unwrap();
    assert_eq!(ev["before"], 256, "{ev}");
}

/// `/debug/memory` and `istio_proxy_*_bytes` say where a node's memory is: a download whose
/// client stops reading leaves data queued in node A's HTTP/2 receive side (up to the stream
/// window) and in its pump, and everything goes back to zero once the tunnel is drained and
/// closed. The allocator's figures are there because the binary runs on jemalloc.
#[test]
fn memory_accounting_follows_a_stalled_download() {
    let env = start(68, |_, s| s);
    const LEN: usize = 24 << 20;
    let listener = std::net::TcpListener::bind(SocketAddr::new(env.mesh.server_ip, 0)).unwrap();
    let backend = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&payload(LEN, 3)).unwrap();
    });
    let mut conn = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Addr(backend)).unwrap();

    let memory = |addr: SocketAddr| -> serde_json::Value {
        let (status, body) = request(addr, "GET", "/debug/memory").unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    // The client reads nothing: node A's pump blocks writing to it and h2 keeps receiving
    // until the stream's 4 MiB window is used up; the socket buffers take the rest in between.
    let mut held = serde_json::Value::Null;
    eventually(WAIT, "node A to show the stalled stream's queued bytes", || {
        held = memory(env.a.addrs.admin);
        held["hbone_receive_queued_bytes"].as_i64().unwrap() >= 1 << 20
    });
    println!("MEMORY stalled: node A {held}");
    let (status, report) = request(env.a.addrs.admin, "GET", "/debug/memory?allocator").unwrap();
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("Allocated:") && report.contains("jemalloc"), "{report}");
    let queued = held["hbone_receive_queued_bytes"].as_i64().unwrap();
    assert!(queued <= 4 << 20, "more than the stream window is queued: {held}");
    let alloc = &held["allocator"];
    assert!(alloc["allocated"].as_u64().unwrap() > 0 && alloc["resident"].as_u64() >= alloc["allocated"].as_u64());
    let metric = |s: &[Sample], name: &str, labels: &[(&str, &str)]| sum(s, name, labels);
    // While the stall builds up the queue is not still: each time the kernel grows node A's
    // send buffer to the client (it autotunes it as the pump writes), the pump moves a burst
    // into it and the queue dips until node B refills the window (a CI run read 3.5 MB from
    // /debug/memory, then 1.02 MB from the scrape right after). So the metric is read until it
    // shows the stall, as the admin figure was; once the socket buffers are full it stays.
    let mut a = Vec::new();
    eventually(WAIT, "node A's metrics to show the stalled stream's queued bytes", || {
        a = scrape(env.a.addrs.metrics);
        metric(&a, "istio_proxy_hbone_queued_bytes", &[("direction", "receive")]) >= (1 << 20) as f64
    });
    assert!(metric(&a, "istio_proxy_pump_buffer_bytes", &[]) > 0.0);
    assert!(metric(&a, "istio_proxy_allocator_bytes", &[("kind", "resident")]) > 0.0);

    // Drain it: every byte arrives, then the queues and pumps hold nothing on either node.
    let mut got = Vec::with_capacity(LEN);
    conn.read_to_end(&mut got).unwrap();
    server.join().unwrap();
    assert_eq!(sha256(&got), sha256(&payload(LEN, 3)));
    drop(conn);
    for (node, admin) in [("A", env.a.addrs.admin), ("B", env.b.addrs.admin)] {
        let mut now = serde_json::Value::Null;
        eventually(WAIT, &format!("node {node}'s queues and pumps to empty"), || {
            now = memory(admin);
            ["hbone_receive_queued_bytes", "hbone_send_queued_bytes", "pump_buffer_bytes"]
                .iter()
                .all(|k| now[*k].as_i64() == Some(0))
        });
        println!("MEMORY closed: node {node} {now}");
    }
}
