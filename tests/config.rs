//! Bad configuration is refused with a precise message, never a crash, and the local config
//! file is reloaded live while the last good state stays in force across bad edits.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use ztunnel::testbed::backend::round_trip;
use ztunnel::testbed::node::message;
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(10);

/// Runs `ztunnel proxy` with exactly `env`; returns (exit success, stderr).
fn proxy_with(env: &[(&str, String)]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("proxy")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn startup_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mesh.yaml");
    let mesh = ztunnel::testbed::Mesh::on_loopback(52, 8080);
    std::fs::write(&cfg, mesh.config_yaml()).unwrap();
    let base = |extra: &[(&'static str, &str)]| {
        let mut v: Vec<(&str, String)> = vec![
            ("PROXY_MODE", "dedicated".into()),
            ("PROXY_WORKLOAD_INFO", "default/client/client".into()),
            ("FAKE_CA", "true".into()),
            ("XDS_ADDRESS", String::new()),
            ("LOCAL_XDS_PATH", cfg.display().to_string()),
            ("ZTUNNEL_OUTBOUND_ADDR", "127.52.0.1:0".into()),
            ("ZTUNNEL_INBOUND_ADDR", "127.52.0.1:0".into()),
            ("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "127.52.0.1:0".into()),
            ("ZTUNNEL_READINESS_ADDR", "127.52.0.1:0".into()),
        ];
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            v.push((k, val.to_string()));
        }
        v
    };
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            base(&[("POOL_MAX_STREAMS_PER_CONNECTION", "abc")]),
            "invalid value \"abc\" for POOL_MAX_STREAMS_PER_CONNECTION",
        ),
        (base(&[("FAKE_CA", "yes please")]), "FAKE_CA"),
        (base(&[("PROXY_WORKLOAD_INFO", "just-a-name")]), "PROXY_WORKLOAD_INFO"),
        (base(&[("PROXY_WORKLOAD_INFO", "default/nobody/sa")]), "default/nobody, which is not in the configuration"),
        (base(&[("PROXY_WORKLOAD_INFO", "default/client/wrong-sa")]), "service account"),
        (base(&[("HTTP2_FRAME_SIZE", "12")]), "HTTP2_FRAME_SIZE"),
        (base(&[("CONNECTION_TERMINATION_DEADLINE", "soon")]), "CONNECTION_TERMINATION_DEADLINE"),
        (base(&[("LOCAL_XDS_PATH", "/nonexistent/mesh.yaml")]), "/nonexistent/mesh.yaml"),
        (base(&[("FAKE_CA_ROOT_CERT", "/tmp/x.pem")]), "FAKE_CA_ROOT_KEY"),
        (base(&[("ZTUNNEL_OUTBOUND_ADDR", "not-an-address")]), "ZTUNNEL_OUTBOUND_ADDR"),
    ];
    for (env, expected) in cases {
        let (ok, stderr) = proxy_with(&env);
        assert!(!ok, "should refuse to start ({expected}); stderr:\n{stderr}");
        assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    // A malformed file: the message names the file, the line and the field.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, mesh.config_yaml().replacen("protocol: HBONE", "protocol: HBONEX", 1)).unwrap();
    let (ok, stderr) = proxy_with(&base(&[("LOCAL_XDS_PATH", &bad.display().to_string())]));
    assert!(!ok);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("line 8") && stderr.contains("workloads[0].protocol"),
        "{stderr}"
    );
}

#[test]
fn local_config_reloads_and_survives_bad_edits() {
    let env = start(53, |_, s| s);
    let socks = env.a.addrs.socks5.unwrap();
    let check = |dst: Dest<'_>, seed: u64| {
        let data = payload(64 * 1024, seed);
        let c = socks::connect(socks, dst).unwrap();
        assert_eq!(round_trip(c, &data).unwrap(), data);
    };
    check(Dest::Host(&env.mesh.service_host, 80), 1);

    // A bad edit: logged with file, line and field; the old state keeps routing.
    let good = env.mesh.config_yaml();
    write_atomic(&env.config, good.replacen("protocol: HBONE", "protocol: HBONEX", 1));
    let err = env.a.wait_for(WAIT, |e| message(e).starts_with("invalid local config")).unwrap();
    let text = message(&err);
    assert!(text.contains("mesh.yaml") && text.contains("line 8") && text.contains("workloads[0].protocol"), "{text}");
    check(Dest::Host(&env.mesh.service_host, 80), 2);

    // A good edit adding a second service VIP takes effect without a restart.
    let vip2: SocketAddr = "127.53.10.2:81".parse().unwrap();
    let extended = format!(
        "{good}- name: echo2\n  namespace: default\n  hostname: echo2.default.svc.cluster.local\n  vips: [/{}]\n  ports:\n    81: {}\n",
        vip2.ip(),
        env.mesh.backend_port
    );
    let extended = extended.replacen(
        &format!("    default/{}:\n      80: {}\n", env.mesh.service_host, env.mesh.backend_port),
        &format!(
            "    default/{}:\n      80: {}\n    default/echo2.default.svc.cluster.local:\n      81: {}\n",
            env.mesh.service_host, env.mesh.backend_port, env.mesh.backend_port
        ),
        1,
    );
    write_atomic(&env.config, extended);
    env.a.wait_for(WAIT, |e| message(e).starts_with("reloaded local config")).unwrap();
    check(Dest::Addr(vip2), 3);
    check(Dest::Host("echo2.default.svc.cluster.local", 81), 4);
}

#[test]
fn garbage_on_every_port_crashes_nothing() {
    use std::io::{Read, Write};
    let mut env = start(54, |_, s| s);
    let b = env.b.addrs.clone();
    for addr in [b.inbound, env.a.addrs.socks5.unwrap(), b.readiness, b.outbound, b.inbound_plaintext] {
        for junk in [&b"\x16\x03\x01\x00\x05hello"[..], b"GET / HTTP/1.1\r\n\r\n", &[0u8; 4096][..], b"\x05\xff"] {
            if let Ok(mut c) = std::net::TcpStream::connect(addr) {
                c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let _ = c.write_all(junk);
                let _ = c.shutdown(std::net::Shutdown::Write);
                let mut sink = Vec::new();
                let _ = c.read_to_end(&mut sink);
            }
        }
    }
    assert!(env.a.is_running() && env.b.is_running());
    let data = payload(10_000, 9);
    let c = socks::connect(env.a.addrs.socks5.unwrap(), Dest::Host(&env.mesh.service_host, 80)).unwrap();
    assert_eq!(round_trip(c, &data).unwrap(), data);
}

/// `ztunnel version` starts with upstream's one-line BuildInfo (scripts parse it), then our
/// crypto report.
#[test]
fn version_prints_upstreams_buildinfo_line_first() {
    let out = Command::new(BIN).arg("version").env("ISTIO_META_ISTIO_VERSION", "1.28.0").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("version.BuildInfo{Version:\"") && first.ends_with("\"}"), "{first}");
    for key in [
        "GitRevision:\"",
        "RustVersion:\"1.",
        "BuildProfile:\"",
        "BuildStatus:\"",
        "GitTag:\"",
        "IstioVersion:\"1.28.0\"",
    ] {
        assert!(first.contains(key), "{key} missing in {first}");
    }
    let provider = text.lines().find_map(|l| l.strip_prefix("crypto provider: ")).unwrap();
    assert!(first.contains(&format!("CryptoProvider:\"{provider}\"")), "{first}");
}

/// Istio's chart (and Dockerfile's CMD) start the container as `ztunnel proxy ztunnel`.
#[test]
fn the_charts_arguments_are_accepted() {
    let out = Command::new(BIN).args(["proxy", "ztunnel"]).env_clear().env("PROXY_MODE", "bogus").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("PROXY_MODE") && !err.contains("ztunnel\" "), "the argument must not be the problem: {err}");
}
