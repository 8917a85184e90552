//! What node B's HBONE port (15008) refuses, checked with real clients: `openssl s_client`
//! for TLS-level refusals and our own HBONE client for CONNECT-level ones. Every refusal test
//! has a positive control, so a broken set-up cannot pass as a refusal.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::drain;
use ztunnel::hbone::{self, H2Settings};
use ztunnel::identity::Identity;
use ztunnel::testbed::node::message;

const TTL: Duration = Duration::from_secs(3600);

fn client_id() -> Identity {
    Identity::new("cluster.local", "default", "client")
}

/// Writes a client certificate + key (from `ca`) and returns their paths.
fn client_files(env: &Env, ca: &DevCa, id: &Identity, tag: &str) -> (String, String) {
    let (cert, key) = ca.issue_pem(id, TTL).unwrap();
    let c = env.dir.path().join(format!("{tag}-cert.pem"));
    let k = env.dir.path().join(format!("{tag}-key.pem"));
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    (c.display().to_string(), k.display().to_string())
}

fn s_client(env: &Env, extra: &[&str]) -> (bool, String) {
    let connect = env.b.addrs.inbound.to_string();
    let root = env.ca_files.0.display().to_string();
    let mut args = vec!["10", "openssl", "s_client", "-connect", &connect, "-CAfile", &root, "-alpn", "h2"];
    args.extend_from_slice(extra);
    run("timeout", &args, b"")
}

/// For clients the server rejects after their Finished (TLS 1.3 client-auth failures): keep
/// reading after stdin ends, so the server's alert is seen.
fn s_client_refused(env: &Env, extra: &[&str]) -> (bool, String) {
    let mut e = vec!["-ign_eof"];
    e.extend_from_slice(extra);
    s_client(env, &e)
}

#[test]
fn openssl_refusals_and_positive_control() {
    let env = start(41, |_, s| s);
    let (cert, key) = client_files(&env, &env.ca, &client_id(), "good");

    // Control: a proper mesh client completes TLS 1.3 with h2 and an allowed suite.
    let (ok, out) = s_client(&env, &["-cert", &cert, "-key", &key]);
    assert!(out.contains("TLSv1.3") && out.contains("ALPN protocol: h2"), "control failed ({ok}):\n{out}");
    assert!(out.contains("TLS_AES_256_GCM_SHA384") || out.contains("TLS_AES_128_GCM_SHA256"), "{out}");
    assert!(out.contains("Verify return code: 0"), "server chain must verify against the root:\n{out}");

    // TLS 1.2 only.
    let (ok, out) = s_client(&env, &["-cert", &cert, "-key", &key, "-tls1_2"]);
    assert!(!ok && out.contains("alert protocol version"), "TLS 1.2 was not refused:\n{out}");

    // ChaCha20 only.
    let (ok, out) =
        s_client(&env, &["-cert", &cert, "-key", &key, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]);
    assert!(!ok && out.contains("handshake failure"), "ChaCha-only client was not refused:\n{out}");

    // No client certificate: TLS 1.3 clients learn of it after their Finished.
    let (_, out) = s_client_refused(&env, &[]);
    assert!(out.contains("alert certificate required"), "no-cert client was not refused:\n{out}");

    // A certificate from a different CA.
    let other = DevCa::generate("cluster.local").unwrap();
    let (ocert, okey) = client_files(&env, &other, &client_id(), "other");
    let (_, out) = s_client_refused(&env, &["-cert", &ocert, "-key", &okey]);
    assert!(out.contains("alert"), "foreign-CA client was not refused:\n{out}");

    // A client from another trust domain, signed by our own CA.
    let foreign_td = Identity::new("evil.example", "default", "client");
    let (tcert, tkey) = client_files(&env, &env.ca, &foreign_td, "td");
    let (_, out) = s_client_refused(&env, &["-cert", &tcert, "-key", &tkey]);
    assert!(out.contains("alert"), "other-trust-domain client was not refused:\n{out}");

    // Node B logged each refusal, stayed up, and never reached the backend.
    let failures = env.b.events().iter().filter(|e| message(e) == "connection failed").count();
    assert!(failures >= 5, "expected >= 5 logged refusals, got {failures}:\n{}", env.b.raw_log());
    assert_eq!(env.echo.accepted(), 0);
    let ready = std::net::TcpStream::connect(env.b.addrs.readiness);
    assert!(ready.is_ok(), "node B must survive bad clients");
}

/// Opens an mTLS + HTTP/2 connection to node B as `default/client` and sends one CONNECT.
fn connect_status(env: &Env, authority: &str) -> Result<Vec<u8>, hbone::Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ca = DevCa::load(&env.ca_files.0, &env.ca_files.1).unwrap();
    let cert = ca.issue(&client_id(), TTL).unwrap();
    let server = Identity::new("cluster.local", "default", "server");
    let cfg = ztunnel::tls::client_config(&cert, &[server]).unwrap();
    let addr = env.b.addrs.inbound;
    let authority = authority.to_string();
    rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(&cfg)).connect(name, tcp).await.unwrap();
        let (_trigger, watcher) = drain::new();
        let client = hbone::client::connect(tls, &H2Settings::default(), watcher).await?;
        let mut stream = client.send_connect(&authority, http::HeaderMap::new()).await?;
        stream.write_all(b"ping").await.unwrap();
        stream.shutdown().await.unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        Ok(out)
    })
}

#[test]
fn connect_authority_must_be_the_local_workload() {
    let env = start(42, |_, s| s);
    // Control: the real workload address works end to end.
    let good = format!("{}:{}", env.mesh.server_ip, env.mesh.backend_port);
    assert_eq!(connect_status(&env, &good).unwrap(), b"ping");

    // An IP that is not where the connection arrived: 400; a hostname (double HBONE's inner
    // request names a service) that no service has: 503. The backend is never dialled.
    let accepted_before = env.echo.accepted();
    for (bad, status) in [(format!("127.42.0.77:{}", env.mesh.backend_port), 400), ("example.com:80".to_string(), 503)]
    {
        match connect_status(&env, &bad) {
            Err(hbone::Error::Status(s)) => assert_eq!(s.as_u16(), status, "{bad}"),
            other => panic!("CONNECT {bad}: expected {status}, got {other:?}"),
        }
    }
    // A ztunnel port on the right IP: refused as a loop.
    match connect_status(&env, &format!("{}:15008", env.mesh.server_ip)) {
        Err(hbone::Error::Status(s)) => assert_eq!(s.as_u16(), 400),
        other => panic!("self call: expected 400, got {other:?}"),
    }
    assert_eq!(env.echo.accepted(), accepted_before);
}
