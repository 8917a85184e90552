//! The DNS proxy in dedicated mode: one real `ztunnel proxy` process (PROXY_MODE=dedicated,
//! PROXY_WORKLOAD_INFO=ns1/client/client) serving DNS on ISTIO_META_DNS_PROXY_ADDR, queried
//! with real `dig` over UDP and TCP. Mesh names are answered from the local config as the
//! workload in ns1 sees them; anything else is forwarded to the resolver in ztunnel's
//! resolv.conf, a test DNS server (UDP and TCP) on 127.0.230.53:53 (port 53 needs root).
//!
//! Addresses: mesh 127.110.x.x, DNS proxy and upstream on 127.0.230.x.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use ztunnel::testbed::dns::TestDns;
use ztunnel::testbed::http;
use ztunnel::testbed::node::{Node, NodeSpec, message};

const WAIT: Duration = Duration::from_secs(10);
const CLIENT_IP: &str = "127.110.0.1";
const ECHO_VIP: &str = "127.110.10.1";
const ECHO_VIP6: &str = "fd00:110::1";
const ECHO_NS2_VIP: &str = "127.110.10.2";
const EXTERNAL_VIP: &str = "240.240.110.1";
const UPSTREAM: &str = "127.0.230.53";
const FORWARDED_IP: &str = "198.18.230.7";

/// The dedicated workload in ns1, a dual-stack `echo` in ns1, another `echo` in ns2 (whose
/// short name ns1 must never get) and a ServiceEntry host with an allocated VIP.
fn config_yaml(with_client: bool) -> String {
    let client = format!(
        "- uid: cluster1//v1/Pod/ns1/client\n  name: client\n  namespace: ns1\n  serviceAccount: client\n  \
         canonicalName: client-app\n  canonicalRevision: v7\n  workloadIps: [\"{CLIENT_IP}\"]\n  protocol: HBONE\n"
    );
    format!(
        "workloads:\n{}\
         - uid: cluster1//v1/Pod/ns1/server\n  name: server\n  namespace: ns1\n  serviceAccount: server\n  \
         workloadIps: [\"127.110.0.2\"]\n  protocol: HBONE\n\
         services:\n\
         - name: echo\n  namespace: ns1\n  hostname: echo.ns1.svc.cluster.local\n  vips: [\"/{ECHO_VIP}\", \"/{ECHO_VIP6}\"]\n  ports:\n    80: 8080\n\
         - name: echo\n  namespace: ns2\n  hostname: echo.ns2.svc.cluster.local\n  vips: [\"/{ECHO_NS2_VIP}\"]\n  ports:\n    80: 8080\n\
         - name: api.external.example\n  namespace: ns1\n  hostname: api.external.example\n  vips: [\"/{EXTERNAL_VIP}\"]\n  ports:\n    443: 443\n",
        if with_client { client } else { String::new() }
    )
}

/// `dig` is the client, as a workload's tools would be; missing it fails the test.
fn dig(server: SocketAddr, name: &str, qtype: &str, tcp: bool) -> (String, Vec<String>) {
    let mut cmd = Command::new("dig");
    cmd.args([&format!("@{}", server.ip()), "-p", &server.port().to_string(), name, qtype]).args([
        "+noall",
        "+comments",
        "+answer",
        "+tries=1",
        "+time=10",
    ]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("dig is required for this test (apt-get install dnsutils): {e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "dig {name} {qtype} failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("no status in dig output: {text}"))
        .to_string();
    // Answer lines: `name TTL IN TYPE data`, without the TTL (it counts down for forwarded ones).
    let answers = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[3], f[4..].join(" "))
        })
        .collect();
    (status, answers)
}

fn flags(server: SocketAddr, name: &str) -> String {
    let out = Command::new("dig")
        .args([&format!("@{}", server.ip()), "-p", &server.port().to_string(), name, "A", "+noall", "+comments"])
        .output()
        .expect("dig");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split("flags: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or_default().to_string()
}

fn require_root() {
    let (ok, uid) = run("id", &["-u"], b"");
    assert!(ok && uid.trim() == "0", "this test binds the upstream resolver on port 53: run it as root (CI does)");
}

fn upstream() -> TestDns {
    let records = HashMap::from([("www.example.org".to_string(), (vec![FORWARDED_IP.parse::<IpAddr>().unwrap()], 60))]);
    TestDns::start(SocketAddr::new(UPSTREAM.parse().unwrap(), 53), records).expect("bind the test resolver on port 53")
}

fn spawn(dir: &Path, config: &Path, dns_addr: &str, ca: &(std::path::PathBuf, std::path::PathBuf)) -> Node {
    let resolv = dir.join("resolv.conf");
    std::fs::write(
        &resolv,
        format!(
            "search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver {UPSTREAM}\noptions ndots:5\n"
        ),
    )
    .unwrap();
    NodeSpec::new("dedicated", "ns1/client/client", ip(CLIENT_IP), config, ca)
        .set("ISTIO_META_DNS_PROXY_ADDR", dns_addr)
        .set("ZTUNNEL_RESOLV_CONF", resolv.display().to_string())
        .set("RUST_LOG", "info,dns=debug")
        .spawn(bin())
        .unwrap()
}

fn dns_requests(node: &Node, want: &[(&str, &str)]) -> f64 {
    let (code, body) = http::request(node.addrs.metrics, "GET", "/metrics").unwrap();
    assert_eq!(code, 200);
    http::sum(&http::parse_metrics(&body).unwrap(), "istio_dns_requests_total", want)
}

#[test]
fn dedicated_mode_answers_for_its_workload_over_udp_and_tcp() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (_ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, config_yaml(true)).unwrap();
    let up = upstream();
    let mut node = spawn(dir.path(), &config, "127.0.230.1:15053", &ca_files);
    let dns: SocketAddr = "127.0.230.1:15053".parse().unwrap();
    assert_eq!(node.addrs.dns, Some(dns), "the configured address is the one announced");
    let ev = node.wait_for(WAIT, |e| message(e) == "DNS proxy listening").unwrap();
    assert_eq!(ev["workload"], "ns1/client");

    // Ready only with the DNS proxy up (its task is registered before the readiness listener
    // exists, and completed only after the bind).
    eventually(WAIT, "ready", || matches!(http::request(node.addrs.readiness, "GET", "/healthz/ready"), Ok((200, _))));

    let a = |name: &str| vec![format!("{name} A {ECHO_VIP}")];
    for tcp in [false, true] {
        let how = if tcp { "tcp" } else { "udp" };
        // The FQDN, and the short forms relative to the workload's namespace.
        assert_eq!(
            dig(dns, "echo.ns1.svc.cluster.local", "A", tcp),
            ("NOERROR".into(), a("echo.ns1.svc.cluster.local.")),
            "{how}"
        );
        assert_eq!(dig(dns, "echo", "A", tcp), ("NOERROR".into(), a("echo.")), "{how}: short name in ns1");
        assert_eq!(dig(dns, "echo.ns1", "A", tcp), ("NOERROR".into(), a("echo.ns1.")), "{how}");
        // ns2's echo is reachable by its namespace-qualified name only.
        assert_eq!(
            dig(dns, "echo.ns2", "A", tcp),
            ("NOERROR".into(), vec![format!("echo.ns2. A {ECHO_NS2_VIP}")]),
            "{how}"
        );
        // A search domain of the workload's resolver appended to a complete name: CNAME + A.
        assert_eq!(
            dig(dns, "echo.ns1.svc.cluster.local.ns1.svc.cluster.local", "A", tcp).1,
            vec![
                "echo.ns1.svc.cluster.local.ns1.svc.cluster.local. CNAME echo.ns1.svc.cluster.local.".to_string(),
                format!("echo.ns1.svc.cluster.local. A {ECHO_VIP}"),
            ],
            "{how}"
        );
        // The ServiceEntry host.
        assert_eq!(
            dig(dns, "api.external.example", "A", tcp),
            ("NOERROR".into(), vec![format!("api.external.example. A {EXTERNAL_VIP}")]),
            "{how}"
        );
        // IP families: the dual-stack service answers AAAA with its v6 VIP; the v4-only ones
        // exist (NOERROR) with no AAAA records, and nothing is forwarded for them.
        assert_eq!(dig(dns, "echo", "AAAA", tcp), ("NOERROR".into(), vec![format!("echo. AAAA {ECHO_VIP6}")]), "{how}");
        assert_eq!(dig(dns, "api.external.example", "AAAA", tcp), ("NOERROR".into(), vec![]), "{how}");
        assert_eq!(dig(dns, "echo.ns2", "AAAA", tcp), ("NOERROR".into(), vec![]), "{how}");
    }
    assert_eq!(up.queries_for("api.external.example"), 0, "mesh names are never forwarded");
    assert_eq!(up.queries_for("echo"), 0);
    assert!(flags(dns, "echo").contains("aa"), "mesh answers are authoritative");

    // Unknown names go to the upstream resolver in ztunnel's resolv.conf (over the client's
    // transport) and come back as it answered.
    for (n, tcp) in [(1, false), (2, true)] {
        let forwarded = vec![format!("www.example.org. A {FORWARDED_IP}")];
        assert_eq!(dig(dns, "www.example.org", "A", tcp), ("NOERROR".into(), forwarded), "tcp={tcp}");
        assert_eq!(up.queries_for("www.example.org"), n);
        assert_eq!(dig(dns, "nothing.example.org", "A", tcp), ("NXDOMAIN".into(), vec![]), "tcp={tcp}");
        assert_eq!(up.queries_for("nothing.example.org"), n);
    }
    assert!(!flags(dns, "www.example.org").contains("aa"), "forwarded answers are not ours");

    // The DNS access log (upstream's: DEBUG, target `dns`), naming the dedicated workload.
    let log = |domain: &str, result: &str| {
        node.wait_for(WAIT, |e| e["scope"] == "dns" && e["domain"] == domain && e["result"] == result).unwrap()
    };
    let fwd = log("www.example.org.", "forwarded");
    assert_eq!(
        (&fwd["src.workload"], &fwd["src.namespace"], &fwd["query"]),
        (&"client".into(), &"ns1".into(), &"A".into())
    );
    assert_eq!(fwd["endpoints"], 1);
    assert_eq!(log("echo.", "success")["endpoints"], 1);
    assert_eq!(log("api.external.example.", "no records")["query"], "AAAA");

    // Metrics on 15020, labelled with the dedicated workload's canonical service.
    let ours = [("source_canonical_service", "client-app"), ("source_canonical_revision", "v7")];
    let udp = dns_requests(&node, &[ours[0], ours[1], ("request_protocol", "udp")]);
    let tcp = dns_requests(&node, &[ours[0], ours[1], ("request_protocol", "tcp")]);
    // Per transport: 9 mesh queries and 2 forwarded; plus the 2 `flags` queries over UDP.
    assert_eq!((udp, tcp), (9.0 + 2.0 + 2.0, 9.0 + 2.0), "istio_dns_requests_total by protocol");
    let (_, body) = http::request(node.addrs.metrics, "GET", "/metrics").unwrap();
    let samples = http::parse_metrics(&body).unwrap();
    assert_eq!(http::sum(&samples, "istio_dns_upstream_requests_total", &ours), 5.0, "forwarded queries");

    // The workload leaves the state: nothing is answered on its behalf, not even names of the
    // mesh, and nothing is forwarded. As upstream, a query first waits (5 s) for the workload
    // to come back, then gets SERVFAIL.
    let reloaded = |from: usize| {
        node.wait_from(from, WAIT, |e| message(e).starts_with("reloaded local config")).unwrap();
    };
    let mark = node.event_count();
    write_atomic(&config, config_yaml(false));
    reloaded(mark);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        let queries = [("echo", false), ("echo.ns1.svc.cluster.local", true), ("www.example.org", false)];
        let digs: Vec<_> = queries.iter().map(|&(q, tcp)| s.spawn(move || dig(dns, q, "A", tcp))).collect();
        for (d, q) in digs.into_iter().zip(queries) {
            assert_eq!(d.join().unwrap(), ("SERVFAIL".into(), vec![]), "{q:?}");
        }
    });
    assert!(started.elapsed() >= Duration::from_secs(5), "answered after the wait: {:?}", started.elapsed());
    assert_eq!(up.queries_for("www.example.org"), 3, "two digs and the `flags` check above, none since");
    // Back while a query waits: that query is answered.
    std::thread::scope(|s| {
        let waiting = s.spawn(|| dig(dns, "echo", "A", false));
        std::thread::sleep(Duration::from_millis(500));
        write_atomic(&config, config_yaml(true));
        assert_eq!(waiting.join().unwrap(), ("NOERROR".into(), a("echo.")));
    });

    // Drain stops the DNS listeners with the others.
    node.terminate(WAIT).unwrap();
    assert!(std::net::TcpStream::connect_timeout(&dns, Duration::from_millis(500)).is_err(), "DNS TCP listener closed");
}

/// With ISTIO_META_DNS_CAPTURE=false no DNS proxy runs and readiness does not wait for one.
#[test]
fn dedicated_mode_without_dns_capture_serves_no_dns() {
    let dir = tempfile::tempdir().unwrap();
    let (_ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, config_yaml(true)).unwrap();
    let node = NodeSpec::new("no-dns", "ns1/client/client", ip("127.110.0.3"), &config, &ca_files)
        .set("ISTIO_META_DNS_CAPTURE", "false")
        .set("ISTIO_META_DNS_PROXY_ADDR", "127.0.230.3:15053")
        .spawn(bin())
        .unwrap();
    assert_eq!(node.addrs.dns, None);
    eventually(WAIT, "ready", || matches!(http::request(node.addrs.readiness, "GET", "/healthz/ready"), Ok((200, _))));
    assert!(
        std::net::TcpStream::connect_timeout(&"127.0.230.3:15053".parse().unwrap(), Duration::from_millis(500))
            .is_err()
    );
}

/// An address already taken: start-up fails with an error naming it, instead of a proxy that
/// runs without the DNS its workload was promised.
#[test]
fn dedicated_mode_dns_bind_failure_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let (_ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, config_yaml(true)).unwrap();
    let taken = std::net::TcpListener::bind("127.0.230.2:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let spec = NodeSpec::new("taken", "ns1/client/client", ip("127.110.0.4"), &config, &ca_files)
        .set("ISTIO_META_DNS_PROXY_ADDR", addr.as_str());
    let err = match spec.spawn(bin()) {
        Ok(_) => panic!("started although {addr} is taken"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains(&format!("failed to bind the DNS proxy on {addr}")), "{err}");
    assert!(err.contains("ISTIO_META_DNS_PROXY_ADDR"), "{err}");
}

/// Readiness lists "dns proxy" among what it waits for in dedicated mode (and not with
/// ISTIO_META_DNS_CAPTURE=false). Held before the first xDS sync (an xDS address nothing
/// listens on), where start-up has not bound the DNS proxy yet.
#[test]
fn readiness_waits_for_the_dns_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (_ca, ca_files) = write_ca(dir.path());
    for (port, capture, listed) in [(15021, "true", true), (15022, "false", false)] {
        let readiness: SocketAddr = SocketAddr::new(ip("127.0.230.4"), port);
        let spec = NodeSpec::new("unsynced", "ns1/client/client", ip("127.110.0.5"), Path::new("-"), &ca_files)
            .unset("LOCAL_XDS_PATH")
            .set("XDS_ADDRESS", "https://127.0.230.5:9")
            .set("ISTIO_META_DNS_CAPTURE", capture)
            .set("ZTUNNEL_READINESS_ADDR", readiness.to_string());
        let mut child = Command::new(bin())
            .arg("proxy")
            .env_clear()
            .envs(&spec.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut body = String::new();
        eventually(WAIT, "readiness answers", || match http::request(readiness, "GET", "/healthz/ready") {
            Ok((500, b)) => {
                body = b;
                true
            }
            _ => false,
        });
        let _ = child.kill();
        let _ = child.wait();
        assert!(body.starts_with("not ready, pending: "), "{body}");
        assert!(body.contains("state manager"), "{body}");
        assert_eq!(body.contains("dns proxy"), listed, "ISTIO_META_DNS_CAPTURE={capture}: {body}");
    }
}

/// Upstream's `localhost:<port>` form binds 127.0.0.1 and, when loopback has IPv6, ::1; both
/// answer. (Port 0 here, so each gets its own port and parallel tests never collide.)
#[test]
fn localhost_form_binds_ipv4_and_ipv6_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (_ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, config_yaml(true)).unwrap();
    let node = NodeSpec::new("localhost", "ns1/client/client", ip("127.110.0.6"), &config, &ca_files)
        .set("ISTIO_META_DNS_PROXY_ADDR", "localhost:0")
        .spawn(bin())
        .unwrap();
    let ev = node.wait_for(WAIT, |e| message(e) == "listeners bound").unwrap();
    let addrs: Vec<SocketAddr> = ev["dns"].as_str().unwrap().split(',').map(|a| a.parse().unwrap()).collect();
    assert!(addrs[0].ip() == ip("127.0.0.1") && addrs[0].port() != 0, "{addrs:?}");
    let lo_v6 = std::fs::read_to_string("/proc/sys/net/ipv6/conf/lo/disable_ipv6").is_ok_and(|v| v.trim() == "0");
    assert_eq!(addrs.len(), if lo_v6 { 2 } else { 1 }, "{addrs:?}");
    for a in addrs {
        assert_eq!(dig(a, "echo", "A", false), ("NOERROR".into(), vec![format!("echo. A {ECHO_VIP}")]), "{a}");
        assert_eq!(dig(a, "echo", "A", true).1, vec![format!("echo. A {ECHO_VIP}")], "{a} over TCP");
    }
}
