//! Shared set-up for the integration tests: a loopback mesh with two real ztunnel processes.
#![allow(dead_code)]

pub mod istio;
pub mod netns;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ztunnel::certs::dev_ca::DevCa;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::Echo;
use ztunnel::testbed::node::{Node, NodeSpec};

pub const BIN: &str = env!("CARGO_BIN_EXE_ztunnel");

pub fn bin() -> &'static Path {
    Path::new(BIN)
}

/// A started two-node mesh. Each test passes its own `n` so the loopback addresses
/// (127.n.0.x) never collide between tests running in parallel.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub mesh: Mesh,
    pub echo: Echo,
    pub ca: DevCa,
    pub ca_files: (PathBuf, PathBuf),
    pub config: PathBuf,
    pub a: Node,
    pub b: Node,
}

pub fn write_ca(dir: &Path) -> (DevCa, (PathBuf, PathBuf)) {
    let files = (dir.join("root-cert.pem"), dir.join("root-key.pem"));
    let ca = DevCa::generate("cluster.local").expect("CA");
    ca.write(&files.0, &files.1).expect("write CA");
    (ca, files)
}

/// Starts echo + node A (client) + node B (server). `tweak` adjusts the specs.
pub fn start(n: u8, tweak: impl Fn(&str, NodeSpec) -> NodeSpec) -> Env {
    start_with(n, |m| m.config_yaml(), tweak)
}

/// Like [`start`], with a custom config body derived from the mesh.
pub fn start_with(n: u8, yaml: impl Fn(&Mesh) -> String, tweak: impl Fn(&str, NodeSpec) -> NodeSpec) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let probe = Mesh::on_loopback(n, 0);
    let echo = Echo::start(SocketAddr::new(probe.server_ip, 0)).unwrap();
    let mesh = Mesh::on_loopback(n, echo.addr.port());
    let (ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, yaml(&mesh)).unwrap();
    let a = tweak("a", NodeSpec::new("node-a", "default/client/client", mesh.client_ip, &config, &ca_files))
        .spawn(bin())
        .unwrap();
    let b = tweak("b", NodeSpec::new("node-b", "default/server/server", mesh.server_ip, &config, &ca_files))
        .spawn(bin())
        .unwrap();
    Env { dir, mesh, echo, ca, ca_files, config, a, b }
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `deadline`. For waiting
/// on another process, where paused time cannot help, instead of a fixed sleep.
pub fn eventually(deadline: std::time::Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < deadline, "not within {deadline:?}: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Deterministic pseudo-random payload.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

/// Runs a command, returning (success, combined output).
pub fn run(cmd: &str, args: &[&str], stdin: &[u8]) -> (bool, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} is required for this test (install it): {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    let _ = w.join();
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Replaces a watched config file atomically (write + rename), as config management does, so
/// a poller never reads a half-written file.
pub fn write_atomic(path: &Path, body: impl AsRef<[u8]>) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Sends `data` through node A's SOCKS5 to `host:80` (an echo service) in `chunks` pieces with
/// `gap` between them, while another thread reads the echo; returns what came back (short if
/// the stream stalled for `read_timeout` or ended early).
pub fn paced_echo(
    socks5: SocketAddr,
    host: &str,
    data: &[u8],
    chunks: usize,
    gap: std::time::Duration,
    read_timeout: std::time::Duration,
) -> Vec<u8> {
    use std::io::{Read, Write};
    use ztunnel::testbed::socks::{self, Dest};
    let mut conn = socks::connect(socks5, Dest::Host(host, 80)).unwrap();
    let mut reader = conn.try_clone().unwrap();
    reader.set_read_timeout(Some(read_timeout)).unwrap();
    let want = data.len();
    let rd = std::thread::spawn(move || {
        let mut back = Vec::with_capacity(want);
        let mut buf = [0u8; 16384];
        while back.len() < want {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => back.extend_from_slice(&buf[..n]),
            }
        }
        back
    });
    for c in data.chunks(data.len().div_ceil(chunks)) {
        conn.write_all(c).unwrap();
        std::thread::sleep(gap);
    }
    rd.join().unwrap()
}
