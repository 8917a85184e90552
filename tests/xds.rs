//! End to end through the control plane: two ztunnel processes get their workloads over delta
//! xDS and their certificates from the CA of an in-process fake istiod (real gRPC over TLS).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::proto::ADDRESS_TYPE;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::istiod::{FakeIstiod, IstiodConfig};
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(15);

struct XdsEnv {
    _dir: tempfile::TempDir,
    mesh: Mesh,
    _echo: Echo,
    ca: (std::path::PathBuf, std::path::PathBuf),
    config: std::path::PathBuf,
    root: std::path::PathBuf,
    token: std::path::PathBuf,
    istiod: FakeIstiod,
    a: Node,
    b: Node,
}

async fn start_istiod(ca: &(std::path::PathBuf, std::path::PathBuf), config: &Path, listen: SocketAddr) -> FakeIstiod {
    FakeIstiod::start(IstiodConfig {
        listen,
        config_path: config.to_path_buf(),
        ca: DevCa::load(&ca.0, &ca.1).unwrap(),
        server_hosts: vec!["localhost".into(), "127.0.0.1".into()],
        poll: Duration::from_millis(100),
        expect_token: Some("test-token".into()),
    })
    .await
    .expect("fake istiod")
}

fn spec(
    name: &str,
    workload: &str,
    ip: std::net::IpAddr,
    env: (&Path, &Path, SocketAddr, &Path),
    ttl: &str,
) -> NodeSpec {
    let (config, root, istiod, token) = env;
    let dummy = (config.to_path_buf(), config.to_path_buf());
    NodeSpec::new(name, workload, ip, config, &dummy)
        .unset("FAKE_CA_ROOT_CERT")
        .unset("FAKE_CA_ROOT_KEY")
        .unset("LOCAL_XDS_PATH")
        .set("FAKE_CA", "false")
        .set("XDS_ADDRESS", format!("https://localhost:{}", istiod.port()))
        .set("CA_ADDRESS", format!("https://127.0.0.1:{}", istiod.port()))
        .set("XDS_ROOT_CA", root.display().to_string())
        .set("CA_ROOT_CA", root.display().to_string())
        .set("AUTH_TOKEN", token.display().to_string())
        .set("SECRET_TTL", ttl)
        .set("POD_NAME", format!("ztunnel-{name}"))
        .set("POD_NAMESPACE", "istio-system")
}

async fn start(n: u8, ttl: &str) -> XdsEnv {
    let dir = tempfile::tempdir().unwrap();
    let probe = Mesh::on_loopback(n, 0);
    let echo = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let mesh = Mesh::on_loopback(n, echo.addr.port());
    let (_, ca) = write_ca(dir.path());
    let root = dir.path().join("root-cert.pem");
    let token = dir.path().join("istio-token");
    std::fs::write(&token, "test-token\n").unwrap();
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let istiod = start_istiod(&ca, &config, "127.0.0.1:0".parse().unwrap()).await;
    let at = istiod.addr();
    let (cfg2, root2, tok2) = (config.clone(), root.clone(), token.clone());
    let ttl2 = ttl.to_string();
    let (a, b) = tokio::task::spawn_blocking(move || {
        let a = spec("node-a", "default/client/client", mesh.client_ip, (&cfg2, &root2, at, &tok2), &ttl2)
            .spawn(bin())
            .unwrap();
        let b = spec("node-b", "default/server/server", mesh.server_ip, (&cfg2, &root2, at, &tok2), &ttl2)
            .spawn(bin())
            .unwrap();
        (a, b)
    })
    .await
    .unwrap();
    XdsEnv {
        _dir: dir,
        mesh: Mesh::on_loopback(n, echo.addr.port()),
        _echo: echo,
        ca,
        config,
        root,
        token,
        istiod,
        a,
        b,
    }
}

/// Sends `len` bytes through node A's SOCKS5 to `dest` and checks they come back intact.
async fn transfer(socks: SocketAddr, host: String, port: u16, len: usize, seed: u64) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        let data = payload(len, seed);
        let conn = socks::connect(socks, Dest::Host(&host, port))?;
        let back = round_trip(conn, &data)?;
        if sha256(&back) != sha256(&data) {
            return Err(std::io::Error::other("payload corrupted"));
        }
        Ok(())
    })
    .await
    .unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_arrive_over_xds_and_traffic_flows() {
    let env = start(61, "24h").await;
    let socks = env.a.addrs.socks5.unwrap();
    transfer(socks, env.mesh.service_host.clone(), 80, 1 << 20, 1).await.expect("traffic through xDS-configured mesh");
    let inb = env.b.wait_for(WAIT, |e| message(e) == "HBONE connection accepted").unwrap();
    assert_eq!(inb["peer_identity"], "spiffe://cluster.local/ns/default/sa/client");
    let obs = env.istiod.observed();
    assert!(obs.certificates_signed >= 2, "both nodes got CA-issued certificates: {obs:?}");
    assert!(obs.acks >= 4, "each node ACKs both types: {obs:?}");
    assert!(obs.nacks.is_empty(), "{obs:?}");
    assert!(obs.authorization.iter().all(|a| a == "Bearer test-token"), "{obs:?}");
    assert!(
        obs.node_ids
            .iter()
            .any(|id| id == "ztunnel~1.1.1.1~ztunnel-node-a.istio-system~istio-system.svc.cluster.local"),
        "{obs:?}"
    );
    let _ = (&env.ca, &env.root, &env.token, &env.config);

    // xDS traffic is visible in Prometheus under upstream's metric names.
    use ztunnel::testbed::http::{parse_metrics, request, sum};
    let (_, body) = request(env.a.addrs.metrics, "GET", "/metrics").unwrap();
    let samples = parse_metrics(&body).unwrap();
    assert!(sum(&samples, "istio_xds_message_total", &[("url", ADDRESS_TYPE)]) >= 1.0, "{body}");
    assert!(sum(&samples, "istio_xds_message_bytes_total", &[("url", ADDRESS_TYPE)]) > 0.0, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_resource_is_nacked_and_the_rest_applies() {
    let env = start(62, "24h").await;
    // A truncated protobuf and, in the same push, a new service.
    env.istiod.inject_raw(ADDRESS_TYPE, "default/broken.example", vec![0x12, 0xff, 0x01]);
    let yaml = std::fs::read_to_string(&env.config).unwrap()
        + "- name: echo2\n  namespace: default\n  hostname: echo2.default.svc.cluster.local\n  vips: [/127.62.10.2]\n  ports:\n    80: "
        + &env.mesh.backend_port.to_string()
        + "\n";
    write_atomic(
        &env.config,
        yaml.replace(
            "    default/echo.default.svc.cluster.local:\n",
            "    default/echo2.default.svc.cluster.local:\n      80: 0\n    default/echo.default.svc.cluster.local:\n",
        ),
    );
    let istiod = &env.istiod;
    eventually("a NACK naming the broken resource", || {
        istiod.observed().nacks.iter().any(|m| m.contains("default/broken.example"))
    })
    .await;
    let socks = env.a.addrs.socks5.unwrap();
    // The valid part of the update applied: the new service routes.
    let mut ok = false;
    for _ in 0..50 {
        if transfer(socks, "echo2.default.svc.cluster.local".into(), 80, 10_000, 2).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "new service applied despite the NACK");
    transfer(socks, env.mesh.service_host.clone(), 80, 10_000, 3).await.expect("old service still works");
    let ev = env.a.wait_for(WAIT, |e| message(e).starts_with("rejected xDS resource")).unwrap();
    assert_eq!(ev["resource"], "default/broken.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istiod_restart_keeps_last_state_then_resyncs() {
    let env = start(63, "24h").await;
    let socks = env.a.addrs.socks5.unwrap();
    transfer(socks, env.mesh.service_host.clone(), 80, 10_000, 4).await.unwrap();
    let addr = env.istiod.addr();
    let streams_before = env.istiod.observed().streams;
    assert!(streams_before >= 2);
    env.istiod.stop();
    // Control plane gone: the data path runs on the last state (certificates are cached).
    tokio::time::sleep(Duration::from_millis(500)).await;
    transfer(socks, env.mesh.service_host.clone(), 80, 100_000, 5).await.expect("data path survives istiod outage");
    // istiod comes back on the same address; clients reconnect with their known versions.
    let istiod = start_istiod(&env.ca, &env.config, addr).await;
    eventually("both nodes to reconnect", || istiod.observed().initial_versions.len() >= 2).await;
    let obs = istiod.observed();
    assert!(obs.initial_versions.iter().all(|n| *n >= 3), "reconnect sends initial_resource_versions: {obs:?}");
    transfer(socks, env.mesh.service_host.clone(), 80, 10_000, 6).await.unwrap();
}

/// Streams `len` bytes in small chunks over `duration` through one connection, reading the
/// echo concurrently; returns true if every byte came back intact.
fn slow_transfer(socks_addr: SocketAddr, host: &str, len: usize, duration: Duration) -> bool {
    let data = payload(len, 9);
    let chunks = 100;
    let back = paced_echo(socks_addr, host, &data, chunks, duration / chunks as u32, Duration::from_secs(30));
    sha256(&back) == sha256(&data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_transfer_survives_several_rotations() {
    let env = start(64, "3s").await;
    let signed_before = env.istiod.observed().certificates_signed;
    let socks_addr = env.a.addrs.socks5.unwrap();
    let host = env.mesh.service_host.clone();
    // ~7 s at TTL 3 s: refresh every 1.5 s, so each side rotates several times mid-stream.
    let ok = tokio::task::spawn_blocking(move || slow_transfer(socks_addr, &host, 4 << 20, Duration::from_secs(7)))
        .await
        .unwrap();
    assert!(ok, "checksum of the long transfer");
    let signed = env.istiod.observed().certificates_signed - signed_before;
    assert!(signed >= 6, "expected several rotations per node during the transfer, got {signed}");
    // New connections use the current certificate.
    transfer(env.a.addrs.socks5.unwrap(), env.mesh.service_host.clone(), 80, 10_000, 8).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_outage_past_half_life_keeps_serving_then_rotation_resumes() {
    let env = start(65, "8s").await;
    let socks_addr = env.a.addrs.socks5.unwrap();
    transfer(socks_addr, env.mesh.service_host.clone(), 80, 10_000, 10).await.unwrap();
    env.istiod.set_ca_available(false);
    // Past half-life (4 s) but before expiry (8 s): refreshes fail, the valid cert serves.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(env.istiod.observed().ca_rejections >= 1, "refresh was attempted during the outage");
    transfer(socks_addr, env.mesh.service_host.clone(), 80, 10_000, 11)
        .await
        .expect("new connection on the still-valid certificate");
    let signed = env.istiod.observed().certificates_signed;
    env.istiod.set_ca_available(true);
    let istiod = &env.istiod;
    eventually("rotation to resume", || istiod.observed().certificates_signed >= signed + 2).await;
    transfer(socks_addr, env.mesh.service_host.clone(), 80, 10_000, 12).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_change_moves_new_connections() {
    let env = start(66, "24h").await;
    let socks = env.a.addrs.socks5.unwrap();
    transfer(socks, env.mesh.service_host.clone(), 80, 10_000, 7).await.unwrap();
    let first = env._echo.accepted();
    assert_eq!(first, 1);

    // A second backend workload (plain TCP, no node of its own) becomes the service's only
    // endpoint; the first one leaves the service.
    let echo2 = Echo::start("127.66.0.4:0".parse().unwrap()).unwrap();
    let old = std::fs::read_to_string(&env.config).unwrap();
    let endpoint = format!("    default/{}:\n      80: {}\n", env.mesh.service_host, env.mesh.backend_port);
    assert!(old.contains(&endpoint));
    let moved = old.replacen(&format!("  services:\n{endpoint}"), "", 1).replacen(
        "\nservices:\n",
        &format!(
            "\n- uid: cluster1//v1/Pod/default/server2\n  name: server2\n  namespace: default\n  serviceAccount: server\n  trustDomain: cluster.local\n  workloadIps: [\"127.66.0.4\"]\n  protocol: TCP\n  services:\n    default/{}:\n      80: {}\nservices:\n",
            env.mesh.service_host,
            echo2.addr.port()
        ),
        1,
    );
    write_atomic(&env.config, moved);
    let echo2_ref = &echo2;
    let mut moved_ok = false;
    for seed in 0..100 {
        transfer(socks, env.mesh.service_host.clone(), 80, 1000, 100 + seed).await.unwrap();
        if echo2_ref.accepted() > 0 {
            moved_ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(moved_ok, "new connections never reached the new endpoint");
    // From now on every new connection lands on the new endpoint only.
    let before = (env._echo.accepted(), echo2.accepted());
    for seed in 0..5 {
        transfer(socks, env.mesh.service_host.clone(), 80, 1000, 300 + seed).await.unwrap();
    }
    assert_eq!(env._echo.accepted(), before.0, "old endpoint must not get new connections");
    assert_eq!(echo2.accepted(), before.1 + 5);
}

fn free_port(ip: &str) -> SocketAddr {
    std::net::TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_first_xds_sync() {
    let dir = tempfile::tempdir().unwrap();
    let echo = Echo::start("127.65.0.2:0".parse().unwrap()).unwrap();
    let mesh = Mesh::on_loopback(65, echo.addr.port());
    let (_, ca) = write_ca(dir.path());
    let root = dir.path().join("root-cert.pem");
    let token = dir.path().join("istio-token");
    std::fs::write(&token, "test-token\n").unwrap();
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    // istiod is not up yet: the node must report not-ready, naming what it waits for.
    let istiod_addr = free_port("127.0.0.1");
    let readiness = free_port("127.65.0.2");
    let node_spec =
        spec("node-b", "default/server/server", mesh.server_ip, (&config, &root, istiod_addr, &token), "24h")
            .set("ZTUNNEL_READINESS_ADDR", readiness.to_string());
    let node = std::thread::spawn(move || node_spec.spawn(bin()));
    let url_check = move || ztunnel::testbed::http::request(readiness, "GET", "/healthz/ready");
    let mut pending = None;
    for _ in 0..100 {
        if let Ok((code, body)) = url_check() {
            pending = Some((code, body));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, body) = pending.expect("readiness endpoint answers before the first sync");
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("not ready, pending:") && body.contains("state manager"), "{body}");
    let istiod = start_istiod(&ca, &config, istiod_addr).await;
    let node = tokio::task::spawn_blocking(move || node.join().unwrap())
        .await
        .unwrap()
        .expect("node starts once istiod is up");
    let mut ready = false;
    for _ in 0..100 {
        if matches!(url_check(), Ok((200, _))) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "ready after the first sync");
    drop((node, istiod, echo));
}
