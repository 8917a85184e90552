//! Certificate revocation (CRL_PATH) end to end: two real ztunnel processes, CRLs made by
//! `openssl ca -gencrl` with the mesh root, revoking the client's or the server's certificate
//! while the nodes run. Runs in both crypto builds.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::http;
use ztunnel::testbed::node::{Node, NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(15);

/// An openssl CA directory around the mesh root, to write CRLs revoking given serials.
struct CrlMaker {
    dir: PathBuf,
    root: (PathBuf, PathBuf),
}

impl CrlMaker {
    fn new(dir: &Path, root: &(PathBuf, PathBuf)) -> CrlMaker {
        let dir = dir.join("openssl-ca");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
        let cnf = format!(
            "[ca]\ndefault_ca = mesh\n[mesh]\ndatabase = {d}/index.txt\ncrlnumber = {d}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n",
            d = dir.display()
        );
        std::fs::write(dir.join("openssl.cnf"), cnf).unwrap();
        CrlMaker { dir, root: root.clone() }
    }

    /// Writes (atomically) a CRL revoking `serials` (hex) to `out`.
    fn write(&self, out: &Path, serials: &[String]) {
        let index: String =
            serials.iter().map(|s| format!("R\t351231235959Z\t251201000000Z\t{s}\tunknown\t/CN=revoked\n")).collect();
        std::fs::write(self.dir.join("index.txt"), index).unwrap();
        let tmp = out.with_extension("tmp");
        let o = Command::new("openssl")
            .args(["ca", "-batch", "-gencrl", "-config"])
            .arg(self.dir.join("openssl.cnf"))
            .arg("-cert")
            .arg(&self.root.0)
            .arg("-keyfile")
            .arg(&self.root.1)
            .arg("-out")
            .arg(&tmp)
            .output()
            .expect("these tests make CRLs with openssl (apt-get install openssl)");
        assert!(o.status.success(), "openssl ca -gencrl: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::rename(&tmp, out).unwrap();
    }
}

/// The serial (upper-case hex, as openssl's index wants it) of the certificate `node` holds.
fn serial_of(node: &Node) -> String {
    let (_, body) = http::request(node.addrs.admin, "GET", "/config_dump").unwrap();
    let dump: Value = serde_json::from_str(&body).unwrap();
    let pem = dump["certificates"][0]["certChain"][0]["pem"].as_str().expect("a certificate").to_string();
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let hex = pem.parse_x509().unwrap().tbs_certificate.serial.to_str_radix(16).to_uppercase();
    if hex.len() % 2 == 1 { format!("0{hex}") } else { hex }
}

fn reloads(node: &Node) -> usize {
    node.events().iter().filter(|e| message(e) == "reloaded CRLs").count()
}

/// One echo round trip from A's SOCKS5 listener to the service; the error text if it failed.
fn try_round_trip(a: &Node, vip: SocketAddr) -> Result<(), String> {
    let data = payload(16 * 1024, 9);
    let c = socks::connect(a.addrs.socks5.unwrap(), Dest::Addr(vip)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match round_trip(c, &data) {
        Ok(back) if back == data => Ok(()),
        Ok(back) => Err(format!("{} of {} bytes", back.len(), data.len())),
        Err(e) => Err(e.to_string()),
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn revoked_peers_are_refused_both_ways_and_crls_reload_live() {
    let dir = tempfile::tempdir().unwrap();
    let probe = ztunnel::testbed::Mesh::on_loopback(69, 0);
    let echo = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let mesh = ztunnel::testbed::Mesh::on_loopback(69, echo.addr.port());
    let (_, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let crl = dir.path().join("crl.pem");
    let maker = CrlMaker::new(dir.path(), &ca_files);
    maker.write(&crl, &[]);
    let node = |name: &str, workload: &str, ip| {
        NodeSpec::new(name, workload, ip, &config, &ca_files)
            .set("CRL_PATH", crl.display().to_string())
            // Pooled connections are released at once, so each check makes a new handshake.
            .set("POOL_UNUSED_RELEASE_TIMEOUT", "50ms")
            .spawn(bin())
            .unwrap()
    };
    let a = node("node-a", "default/client/client", mesh.client_ip);
    let b = node("node-b", "default/server/server", mesh.server_ip);
    let vip = SocketAddr::new(mesh.service_vip, mesh.service_port);
    wait_until("traffic with a CRL revoking nobody", || try_round_trip(&a, vip).is_ok());
    let (client, server) = (serial_of(&a), serial_of(&b));

    // The client's certificate is revoked: node B refuses it on 15008.
    let before = reloads(&b);
    maker.write(&crl, std::slice::from_ref(&client));
    wait_until("node B to reload", || reloads(&b) > before);
    wait_until("the revoked client to be refused", || try_round_trip(&a, vip).is_err());
    b.wait_for(WAIT, |e| e.to_string().contains("Revoked")).expect("node B says why");

    // A corrupt CRL file keeps the last good set (and says so).
    std::fs::write(&crl, "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n").unwrap();
    b.wait_for(WAIT, |e| message(e).contains("keeping the CRLs in force")).unwrap();
    assert!(try_round_trip(&a, vip).is_err(), "a bad CRL file must not un-revoke anything");

    // Only the server's certificate revoked: node A refuses node B.
    let before = (reloads(&a), reloads(&b));
    maker.write(&crl, std::slice::from_ref(&server));
    wait_until("both nodes to reload", || reloads(&a) > before.0 && reloads(&b) > before.1);
    wait_until("the revoked server to be refused", || try_round_trip(&a, vip).is_err());
    a.wait_for(WAIT, |e| message(e) == "connection complete" && e.to_string().contains("Revoked"))
        .expect("node A says why");

    // A new CRL that revokes nobody lets traffic through again, without a restart.
    maker.write(&crl, &[]);
    wait_until("traffic again", || try_round_trip(&a, vip).is_ok());
}

#[test]
fn an_unusable_crl_file_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = ztunnel::testbed::Mesh::on_loopback(70, 9);
    let (_, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let crl = dir.path().join("crl.pem");
    std::fs::write(&crl, "garbage").unwrap();
    let err = NodeSpec::new("node-a", "default/client/client", mesh.client_ip, &config, &ca_files)
        .set("CRL_PATH", crl.display().to_string())
        .spawn(bin())
        .err()
        .expect("start-up must fail")
        .to_string();
    assert!(err.contains("CRL_PATH") && err.contains("crl.pem"), "{err}");
}
