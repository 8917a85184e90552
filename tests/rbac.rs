//! Authorization policy enforcement end to end: real ztunnel processes, real HBONE, the policy
//! in the shared local config file (reloaded live when rewritten).
//!
//! Loopback mesh 127.<n>.0.x: node A serves `default/client`, node C serves `foo/sleep` (the
//! seed's example client namespace), node B serves `default/server` with the echo backend and
//! enforces the policies. The plaintext (15006) test runs node B in a network namespace with an
//! iptables PREROUTING REDIRECT, like the capture tests (needs root).

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::netns::{Pair, in_netns, sh};
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(10);
const REJECTED: &str = "RBAC rejected";
const REVOKED: &str = "connection closed because it is no longer allowed after a policy update";

/// The `foo/sleep` client workload on 127.<n>.0.3, inserted into the mesh's workload list.
fn with_foo_client(m: &Mesh, policies: &str) -> String {
    let foo_ip = foo_ip(m);
    let extra = format!(
        "\
- uid: cluster1//v1/Pod/foo/sleep
  name: sleep
  namespace: foo
  serviceAccount: sleep
  trustDomain: {td}
  workloadIps: [{foo_ip}]
  protocol: HBONE
",
        td = m.trust_domain
    );
    let yaml = m.config_yaml().replacen("\nservices:\n", &format!("\n{extra}services:\n"), 1);
    assert!(yaml.contains("uid: cluster1//v1/Pod/foo/sleep"), "mesh config layout changed");
    format!("{yaml}{policies}")
}

fn foo_ip(m: &Mesh) -> IpAddr {
    match m.client_ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::from([o[0], o[1], o[2], 3])
        }
        IpAddr::V6(_) => unreachable!("loopback meshes are IPv4"),
    }
}

/// A started mesh plus node C (`foo/sleep`).
struct Rig {
    env: Env,
    c: Node,
}

fn rig(n: u8, policies: &'static str, tweak_b: impl Fn(NodeSpec) -> NodeSpec) -> Rig {
    let env = start_with(n, |m| with_foo_client(m, policies), |name, s| if name == "b" { tweak_b(s) } else { s });
    let c =
        NodeSpec::new("node-c", "foo/sleep/sleep", foo_ip(&env.mesh), &env.config, &env.ca_files).spawn(bin()).unwrap();
    Rig { env, c }
}

/// Connects through `node`'s SOCKS5 listener to `dst` (a host name or an address).
fn via(node: &Node, dst: Dest<'_>) -> std::io::Result<TcpStream> {
    socks::connect(node.addrs.socks5.unwrap(), dst)
}

fn echo_ok(node: &Node, dst: Dest<'_>, seed: u64) {
    let data = payload(64 * 1024, seed);
    let conn = via(node, dst).expect("allowed connection must be accepted");
    assert_eq!(round_trip(conn, &data).unwrap(), data);
}

/// A refused HBONE CONNECT surfaces on the client node as a failed SOCKS5 request whose
/// access-log line names the 401 from the destination node.
fn assert_refused_with_401(node: &Node, dst: Dest<'_>) {
    let err = via(node, dst).expect_err("denied connection must be refused");
    assert!(err.to_string().contains("reply code"), "{err}");
    let log = node
        .wait_for(WAIT, |e| {
            message(e) == "connection complete" && e["error"].as_str().is_some_and(|s| s.contains("401"))
        })
        .unwrap_or_else(|e| panic!("no 401 in {}'s access log ({e}):\n{}", node.name, node.raw_log()));
    assert_eq!(log["direction"], "outbound");
}

fn events(node: &Node, msg: &str) -> Vec<Value> {
    node.events().into_iter().filter(|e| message(e) == msg).collect()
}

/// Waits until `node` logged `msg` at least once, then returns all such events.
fn wait_events(node: &Node, msg: &str) -> Vec<Value> {
    node.wait_for(WAIT, |e| message(e) == msg)
        .unwrap_or_else(|e| panic!("{} never logged {msg:?} ({e}):\n{}", node.name, node.raw_log()));
    // Let any (wrong) duplicate arrive before counting.
    std::thread::sleep(Duration::from_millis(300));
    events(node, msg)
}

/// Replaces the config file atomically (the watcher must never read half a file).
fn rewrite_config(env: &Env, yaml: &str) {
    let tmp = env.config.with_extension("tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, &env.config).unwrap();
}

const DENY_FOO: &str = "\
policies:
- name: httpbin
  namespace: default
  scope: Namespace
  action: Deny
  rules:
  - - - namespaces:
        - !Exact foo
";

#[test]
fn deny_by_source_namespace() {
    let r = rig(61, DENY_FOO, |s| s);
    let (a, b, c) = (&r.env.a, &r.env.b, &r.c);
    let svc = Dest::Host(&r.env.mesh.service_host, 80);

    assert_refused_with_401(c, Dest::Host(&r.env.mesh.service_host, 80));
    assert_eq!(r.env.echo.accepted(), 0, "the backend must never see a denied connection");
    echo_ok(a, svc, 1);
    assert_eq!(r.env.echo.accepted(), 1);

    let denials = wait_events(b, REJECTED);
    assert_eq!(denials.len(), 1, "one denial, logged once: {denials:?}");
    let d = &denials[0];
    assert_eq!(d["level"], "warn");
    assert_eq!(d["policy"], "default/httpbin");
    assert_eq!(d["reason"], "explicitly denied by: default/httpbin");
    assert_eq!(d["src.identity"], "spiffe://cluster.local/ns/foo/sa/sleep");
    assert_eq!(d["dst.identity"], "spiffe://cluster.local/ns/default/sa/server");
    let dst = SocketAddr::new(r.env.mesh.server_ip, r.env.mesh.backend_port).to_string();
    assert_eq!(d["dst.addr"], dst);
    let src_ip: IpAddr = d["src.addr"].as_str().unwrap().parse::<SocketAddr>().unwrap().ip();
    assert_eq!(d["conn"], format!("{src_ip}(spiffe://cluster.local/ns/foo/sa/sleep)->{dst}"));

    // B's access line for the refused stream carries upstream's wording.
    let acc = b
        .wait_for(WAIT, |e| {
            message(e) == "connection complete" && e["src.identity"] == "spiffe://cluster.local/ns/foo/sa/sleep"
        })
        .unwrap();
    assert_eq!(acc["error"], "connection closed due to policy rejection: explicitly denied by: default/httpbin");

    // And counted: B reports one failed connection with response_flags DENY from foo/sleep.
    use ztunnel::testbed::http::{parse_metrics, request, sum};
    let failed = "istio_tcp_connections_failed_total";
    let want = [("reporter", "destination"), ("response_flags", "DENY"), ("source_workload_namespace", "foo")];
    let deadline = Instant::now() + WAIT;
    let count = loop {
        let (_, body) = request(b.addrs.metrics, "GET", "/metrics").unwrap();
        let n = sum(&parse_metrics(&body).unwrap(), failed, &want);
        if n >= 1.0 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(count, 1.0, "DENY must be counted once in {failed}");
}

#[test]
fn allow_by_principal() {
    const POLICY: &str = "\
policies:
- name: only-client
  namespace: default
  scope: Namespace
  action: Allow
  rules:
  - - - principals:
        - !Exact cluster.local/ns/default/sa/client
";
    let r = rig(62, POLICY, |s| s);
    let svc = || Dest::Host(&r.env.mesh.service_host, 80);
    echo_ok(&r.env.a, svc(), 2);
    assert_refused_with_401(&r.c, svc());
    assert_eq!(r.env.echo.accepted(), 1, "only the allowed principal reached the backend");
    let denials = wait_events(&r.env.b, REJECTED);
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0]["reason"], "allow policies exist, but none allowed");
    assert_eq!(denials[0]["policy"], "-");
    assert_eq!(denials[0]["src.identity"], "spiffe://cluster.local/ns/foo/sa/sleep");
}

#[test]
fn port_rules_use_the_real_destination_port() {
    // Three ports on the server workload: p1 passes both policies, p2 is explicitly denied
    // (not in the deny policy's notDestinationPorts), p3 is outside the allow policy's
    // destinationPorts.
    let probe = Mesh::on_loopback(63, 0);
    let extra2 = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let extra3 = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let (p2, p3) = (extra2.addr.port(), extra3.addr.port());
    let env = start_with(
        63,
        |m| {
            let p1 = m.backend_port;
            format!(
                "{}policies:
- name: allow-p1-p2
  namespace: default
  scope: Namespace
  action: Allow
  rules:
  - - - destinationPorts: [{p1}, {p2}]
- name: deny-except-p1-p3
  namespace: default
  scope: Namespace
  action: Deny
  rules:
  - - - notDestinationPorts: [{p1}, {p3}]
",
                m.config_yaml()
            )
        },
        |_, s| s,
    );
    let server = env.mesh.server_ip;
    echo_ok(&env.a, Dest::Addr(SocketAddr::new(server, env.mesh.backend_port)), 3);
    assert_refused_with_401(&env.a, Dest::Addr(SocketAddr::new(server, p2)));
    let err = via(&env.a, Dest::Addr(SocketAddr::new(server, p3))).expect_err("p3 must be refused");
    assert!(err.to_string().contains("reply code"), "{err}");
    assert_eq!((env.echo.accepted(), extra2.accepted(), extra3.accepted()), (1, 0, 0));

    let denials = wait_events(&env.b, REJECTED);
    let by_port = |p: u16| {
        let dst = SocketAddr::new(server, p).to_string();
        let found: Vec<&Value> = denials.iter().filter(|d| d["dst.addr"] == dst).collect();
        assert_eq!(found.len(), 1, "port {p}: {denials:?}");
        found[0]["reason"].as_str().unwrap().to_string()
    };
    assert_eq!(by_port(p2), "explicitly denied by: default/deny-except-p1-p3");
    assert_eq!(by_port(p3), "allow policies exist, but none allowed");
    assert_eq!(denials.len(), 2);
}

#[test]
fn dry_run_is_logged_not_enforced_and_info_logging_logs_every_decision() {
    const POLICY: &str = "\
policies:
- name: httpbin
  namespace: default
  scope: Namespace
  action: Deny
  dryRun: true
  rules:
  - - - namespaces:
        - !Exact foo
";
    let r = rig(64, POLICY, |s| s.set("AUTHZ_POLICY_INFO_LOGGING", "true"));
    echo_ok(&r.c, Dest::Host(&r.env.mesh.service_host, 80), 4);
    echo_ok(&r.env.a, Dest::Host(&r.env.mesh.service_host, 80), 5);
    assert_eq!(r.env.echo.accepted(), 2, "dry-run must not block anything");

    let b = &r.env.b;
    let dry = wait_events(b, "RBAC dry-run policy matched (not enforced)");
    assert_eq!(dry.len(), 1, "only the foo connection matches the dry-run policy: {dry:?}");
    assert_eq!(dry[0]["level"], "info");
    assert_eq!(dry[0]["policy"], "default/httpbin");
    assert_eq!(dry[0]["would"], "deny");
    assert!(dry[0]["conn"].as_str().unwrap().contains("/ns/foo/sa/sleep"), "{}", dry[0]);
    assert!(events(b, REJECTED).is_empty());

    let allowed = wait_events(b, "RBAC allowed");
    assert_eq!(allowed.len(), 2, "AUTHZ_POLICY_INFO_LOGGING=true logs every decision: {allowed:?}");
    assert!(allowed.iter().all(|e| e["level"] == "info"));
}

#[test]
fn allowed_decisions_are_not_logged_at_info_by_default() {
    let r = rig(65, DENY_FOO, |s| s);
    echo_ok(&r.env.a, Dest::Host(&r.env.mesh.service_host, 80), 6);
    r.env.b.wait_for(WAIT, |e| message(e) == "connection complete").unwrap();
    assert!(events(&r.env.b, "RBAC allowed").is_empty());
}

#[test]
fn live_connection_is_closed_after_a_policy_update() {
    let r = rig(66, "", |s| s);
    let svc = || Dest::Host(&r.env.mesh.service_host, 80);
    let mut from_foo = via(&r.c, svc()).unwrap();
    let mut from_default = via(&r.env.a, svc()).unwrap();
    let mut buf = [0u8; 5];
    for s in [&mut from_foo, &mut from_default] {
        s.write_all(b"hello").unwrap();
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
    }

    let yaml = with_foo_client(&r.env.mesh, DENY_FOO);
    rewrite_config(&r.env, &yaml);
    let started = Instant::now();
    let revoked = wait_events(&r.env.b, REVOKED);
    assert_eq!(revoked.len(), 1, "only the foo connection is revoked, once: {revoked:?}");
    assert_eq!(revoked[0]["level"], "warn");
    assert_eq!(revoked[0]["policy"], "default/httpbin");
    assert_eq!(revoked[0]["src.identity"], "spiffe://cluster.local/ns/foo/sa/sleep");

    // The foo client sees its connection end (EOF or reset), promptly.
    from_foo.set_read_timeout(Some(WAIT)).unwrap();
    let _ = from_foo.write_all(b"after");
    let mut rest = Vec::new();
    let _ = from_foo.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no bytes may flow after the revocation: {rest:?}");
    assert!(started.elapsed() < WAIT, "closed after {:?}", started.elapsed());

    // The allowed connection is untouched.
    from_default.write_all(b"still").unwrap();
    from_default.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still");

    let acc = r
        .env
        .b
        .wait_for(WAIT, |e| {
            message(e) == "connection complete" && e["src.identity"] == "spiffe://cluster.local/ns/foo/sa/sleep"
        })
        .unwrap();
    assert_eq!(acc["error"], "connection closed due to policy change: explicitly denied by: default/httpbin");
    // New connections from foo are refused too.
    assert_refused_with_401(&r.c, svc());
}

/// Plaintext inbound (15006) through real capture: node B and the backend in namespace B with
/// an iptables PREROUTING REDIRECT, clients in namespace A with two source addresses. Only
/// 198.18.<n>.1 may connect; there is no identity on this path.
#[test]
fn plaintext_path_enforces_source_ip_rules() {
    let n = 67;
    let pair = Pair::new(n);
    sh(&["ip", "-n", &pair.a, "addr", "add", &format!("198.18.{n}.3/24"), "dev", &format!("vz{n}a")]);
    let mesh = Mesh {
        client_ip: IpAddr::from([198, 18, n, 1]),
        server_ip: IpAddr::from([198, 18, n, 2]),
        service_vip: IpAddr::from([198, 19, n, 10]),
        service_host: "echo.default.svc.cluster.local".into(),
        service_port: 80,
        backend_port: 8080,
        trust_domain: "cluster.local".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, ca) = write_ca(dir.path());
    let cfg = dir.path().join("mesh.yaml");
    let policy = format!(
        "\
policies:
- name: from-trusted-host
  namespace: default
  scope: Namespace
  action: Allow
  rules:
  - - - sourceIps: [198.18.{n}.1/32]
"
    );
    std::fs::write(&cfg, format!("{}{policy}", mesh.config_yaml())).unwrap();
    let server = mesh.server_ip;
    let echo = in_netns(&pair.b, move || Echo::serve(TcpListener::bind((server, 8080)).unwrap()).unwrap());
    let mut spec = NodeSpec::new("node-b", "default/server/server", server, &cfg, &ca)
        .set("ZTUNNEL_INBOUND_ADDR", "0.0.0.0:15008")
        .set("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "0.0.0.0:15006")
        .unset("UNSTABLE_ENABLE_SOCKS5");
    spec.netns = Some(pair.b.clone());
    let b = spec.spawn(bin()).unwrap();
    pair.ipt(&pair.b, "-t nat -A PREROUTING -p tcp ! --dport 15008 -j REDIRECT --to-ports 15006");

    let dst = SocketAddr::new(server, 8080);
    let from = |src: [u8; 4], data: Vec<u8>| {
        in_netns(&pair.a, move || -> std::io::Result<Vec<u8>> {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            sock.bind(&SocketAddr::from((src, 0)).into())?;
            sock.connect_timeout(&dst.into(), Duration::from_secs(5))?;
            let conn: TcpStream = sock.into();
            conn.set_read_timeout(Some(Duration::from_secs(5)))?;
            round_trip(conn, &data)
        })
    };

    let denied = from([198, 18, n, 3], payload(10_000, 7));
    match denied {
        Ok(back) => assert!(back.is_empty(), "denied client got {} bytes back", back.len()),
        Err(e) => assert!(
            // Which of these the client sees depends on when the close overtakes its writes.
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::NotConnected
            ),
            "{e}"
        ),
    }
    assert_eq!(echo.accepted(), 0, "the backend must never see the denied connection");
    let data = payload(100_000, 8);
    assert_eq!(from([198, 18, n, 1], data.clone()).unwrap(), data);
    assert_eq!(echo.accepted(), 1);

    let denials = wait_events(&b, REJECTED);
    assert_eq!(denials.len(), 1, "{denials:?}");
    let d = &denials[0];
    assert_eq!(d["reason"], "allow policies exist, but none allowed");
    assert_eq!(d["src.identity"], "-", "plaintext has no identity");
    assert_eq!(d["conn"], format!("198.18.{n}.3->{dst}"));
    assert_eq!(d["dst.addr"], dst.to_string());
    assert!(b.events().iter().all(|e| message(e) != "HBONE connection accepted"));
}
