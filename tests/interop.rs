//! Interop between the two crypto builds: a ring-build ztunnel and a FIPS-build (BoringSSL)
//! ztunnel tunnel traffic to each other, in both directions, over real HBONE on loopback.
//!
//! The test binary belongs to one build; the other build's `ztunnel` is found through
//! `ZTUNNEL_PEER_BIN`, or else at the conventional place CI builds it: `target/fips/<profile>/`
//! for the FIPS build (its own CARGO_TARGET_DIR) and `target/<profile>/` for the ring build.
//! If it is missing, the test fails and says how to build it: interop is not optional.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::node::{NodeSpec, message};
use ztunnel::testbed::socks::{self, Dest};

const WAIT: Duration = Duration::from_secs(10);

/// Where the other build's binary is, and how to make it if it is not there.
fn peer_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ZTUNNEL_PEER_BIN") {
        return PathBuf::from(p);
    }
    let own = bin();
    let profile_dir = own.parent().expect("bin dir");
    let profile = profile_dir.file_name().expect("profile");
    let target = profile_dir.parent().expect("target dir");
    let (peer, how) = if ztunnel::tls::provider::fips_mode() {
        // We are the FIPS build in <root>/target/fips; the ring build lives in <root>/target.
        (target.parent().expect("root target").join(profile).join("ztunnel"), "cargo build --locked")
    } else {
        (
            target.join("fips").join(profile).join("ztunnel"),
            "CARGO_TARGET_DIR=target/fips cargo build --locked --no-default-features --features tls-boring",
        )
    };
    assert!(
        peer.is_file(),
        "interop test needs the other crypto build's binary at {} (or ZTUNNEL_PEER_BIN): build it with `{how}`",
        peer.display()
    );
    peer
}

fn provider_of(bin: &Path) -> String {
    let out = std::process::Command::new(bin).arg("version").output().expect("run version");
    assert!(out.status.success(), "{} version failed: {:?}", bin.display(), out);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("crypto provider: "))
        .unwrap_or_else(|| panic!("no provider line in:\n{text}"))
        .to_string()
}

/// Node A (client side) runs `a_bin`, node B (server side) runs `b_bin`; traffic flows from a
/// SOCKS5 client behind A to the echo service behind B and back, byte-exact.
fn tunnel(n: u8, a_bin: &Path, b_bin: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let probe = Mesh::on_loopback(n, 0);
    let echo = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let mesh = Mesh::on_loopback(n, echo.addr.port());
    let (_ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let a = NodeSpec::new("node-a", "default/client/client", mesh.client_ip, &config, &ca_files).spawn(a_bin).unwrap();
    let b = NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files).spawn(b_bin).unwrap();

    let data = payload(1 << 20, n as u64);
    let conn = socks::connect(a.addrs.socks5.unwrap(), Dest::Host(&mesh.service_host, 80)).unwrap();
    let back = round_trip(conn, &data).unwrap();
    assert_eq!(sha256(&back), sha256(&data), "payload changed crossing the tunnel");

    let out = a.wait_for(WAIT, |e| message(e) == "HBONE connection established").unwrap();
    let inb = b.wait_for(WAIT, |e| message(e) == "HBONE connection accepted").unwrap();
    for (side, ev) in [("client", &out), ("server", &inb)] {
        assert_eq!(ev["tls_version"], "TLSv1_3", "{side}: {ev}");
        let suite = ev["cipher_suite"].as_str().unwrap_or_default();
        assert!(suite.starts_with("TLS13_AES_"), "{side}: {ev}");
        // The only groups both builds share.
        let group = ev["kx_group"].as_str().unwrap_or_default();
        assert!(group == "secp256r1" || group == "secp384r1", "{side}: {ev}");
    }
    assert_eq!(out["peer_identity"], "spiffe://cluster.local/ns/default/sa/server");
    assert_eq!(inb["peer_identity"], "spiffe://cluster.local/ns/default/sa/client");
}

#[test]
fn this_build_to_other_build_and_back() {
    let own = bin().to_path_buf();
    let peer = peer_bin();
    let (own_p, peer_p) = (provider_of(&own), provider_of(&peer));
    assert_ne!(own_p, peer_p, "both binaries use the same provider; is ZTUNNEL_PEER_BIN right?");
    let names = [own_p.as_str(), peer_p.as_str()];
    assert!(names.contains(&"ring") && names.contains(&"boringssl-fips"), "{names:?}");
    tunnel(61, &own, &peer);
    tunnel(62, &peer, &own);
}
