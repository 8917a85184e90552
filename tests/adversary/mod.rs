//! Shared tooling for the adversarial and fault suites: a two-node mesh on 127.0.<80..89>.x,
//! a checked transfer that runs in the background while an attack goes on, /proc figures
//! for the attacked node, and a raw HTTP/2 frame writer over mTLS for attacks the `h2`
//! client refuses to produce (resets right after HEADERS, CONTINUATION floods, ...).
//!
//! Addresses: 127.0.<octet>.x with octet 80-89 only (each test its own), so nothing collides
//! with the other suites (127.<n>.0.x meshes, hardening's 127.0.95-99.x).
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::identity::Identity;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::backend::{Echo, round_trip};
use ztunnel::testbed::node::{Node, NodeSpec};
use ztunnel::testbed::socks::{self, Dest};
use ztunnel::tls::WorkloadCertificate;

use crate::common::{bin, payload, sha256, write_ca};

pub const WAIT: Duration = Duration::from_secs(10);

/// A mesh on 127.0.<octet>.1 (client) / .2 (server) / .101 (service VIP).
pub fn mesh(octet: u8, backend_port: u16) -> Mesh {
    mesh_in_slot(octet, 0, backend_port)
}

/// Several meshes in one octet: slot `s` uses .(10s+1) / .(10s+2) / .(101+s).
pub fn mesh_in_slot(octet: u8, slot: u8, backend_port: u16) -> Mesh {
    assert!((80..=89).contains(&octet), "this suite owns 127.0.80-89.x only");
    assert!(slot < 10);
    Mesh {
        client_ip: IpAddr::from([127, 0, octet, 10 * slot + 1]),
        server_ip: IpAddr::from([127, 0, octet, 10 * slot + 2]),
        service_vip: IpAddr::from([127, 0, octet, 101 + slot]),
        ..Mesh::on_loopback(0, backend_port)
    }
}

/// Echo backend + node A (client) + node B (server, the one attacked).
pub struct Bed {
    pub dir: tempfile::TempDir,
    pub mesh: Mesh,
    pub echo: Echo,
    pub ca: DevCa,
    pub ca_files: (PathBuf, PathBuf),
    pub a: Node,
    pub b: Node,
}

pub fn start(octet: u8, tweak: impl Fn(&str, NodeSpec) -> NodeSpec) -> Bed {
    start_in_slot(octet, 0, tweak)
}

/// [`start`] on [`mesh_in_slot`] addresses.
pub fn start_in_slot(octet: u8, slot: u8, tweak: impl Fn(&str, NodeSpec) -> NodeSpec) -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let echo = Echo::start(SocketAddr::new(mesh_in_slot(octet, slot, 0).server_ip, 0)).unwrap();
    let mesh = mesh_in_slot(octet, slot, echo.addr.port());
    let (ca, ca_files) = write_ca(dir.path());
    let config = dir.path().join("mesh.yaml");
    std::fs::write(&config, mesh.config_yaml()).unwrap();
    let spec = |name: &str, node: &str, wl: &str, ip| tweak(name, NodeSpec::new(node, wl, ip, &config, &ca_files));
    let a = spec("a", "node-a", "default/client/client", mesh.client_ip).spawn(bin()).unwrap();
    let b = spec("b", "node-b", "default/server/server", mesh.server_ip).spawn(bin()).unwrap();
    let bed = Bed { dir, mesh, echo, ca, ca_files, a, b };
    wait_ready(&bed.a);
    wait_ready(&bed.b);
    bed
}

pub fn wait_ready(node: &Node) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok((200, _)) = ztunnel::testbed::http::request(node.addrs.readiness, "GET", "/healthz/ready") {
            return;
        }
        assert!(Instant::now() < deadline, "node {} never became ready:\n{}", node.name, node.raw_log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the attacked process uses: resident memory and CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub rss_kib: u64,
    pub cpu_ticks: u64,
    pub fds: usize,
}

pub fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("node process is gone");
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let cpu_ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    Usage { rss_kib, cpu_ticks, fds }
}

/// Before/after figures of one attack, printed for SECURITY.md and checked against bounds.
pub struct Figures {
    name: &'static str,
    pid: u32,
    before: Usage,
    started: Instant,
}

impl Figures {
    pub fn start(name: &'static str, node: &Node) -> Figures {
        Figures { name, pid: node.pid(), before: usage(node.pid()), started: Instant::now() }
    }

    /// Prints the figures and asserts RSS grew by less than `max_rss_mib` and the node used
    /// less than `max_cpu_ticks` (1 tick = 10 ms) during the attack.
    pub fn check(self, max_rss_mib: u64, max_cpu_ticks: u64) -> Usage {
        let after = usage(self.pid);
        let rss_delta = after.rss_kib as i64 - self.before.rss_kib as i64;
        let cpu = after.cpu_ticks - self.before.cpu_ticks;
        println!(
            "ATTACK {}: {:.1}s, RSS {} -> {} KiB (delta {rss_delta} KiB), CPU {cpu} ticks, fds {} -> {}",
            self.name,
            self.started.elapsed().as_secs_f64(),
            self.before.rss_kib,
            after.rss_kib,
            self.before.fds,
            after.fds
        );
        assert!(rss_delta < (max_rss_mib * 1024) as i64, "{}: RSS grew by {rss_delta} KiB", self.name);
        assert!(cpu < max_cpu_ticks, "{}: {cpu} CPU ticks", self.name);
        after
    }
}

/// Checked echo transfers through node A's SOCKS5 and the A→B tunnel, one after the other,
/// for as long as the attack runs. Each is byte-checked (sha256).
pub struct Transfers {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(usize, Vec<String>)>,
}

impl Transfers {
    pub fn start(bed: &Bed) -> Transfers {
        let socks5 = bed.a.addrs.socks5.unwrap();
        let host = bed.mesh.service_host.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut done, mut failures) = (0usize, Vec::new());
            // At least one full transfer, however short the attack.
            while done == 0 || !stop2.load(Ordering::Relaxed) {
                let data = payload(512 * 1024, done as u64 + 7);
                let res = socks::connect(socks5, Dest::Host(&host, 80)).and_then(|c| {
                    c.set_read_timeout(Some(Duration::from_secs(20)))?;
                    round_trip(c, &data)
                });
                match res {
                    Ok(back) if sha256(&back) == sha256(&data) => done += 1,
                    Ok(back) => {
                        failures.push(format!("transfer {done}: {} of {} bytes, mismatch", back.len(), data.len()))
                    }
                    Err(e) => failures.push(format!("transfer {done}: {e}")),
                }
                if failures.len() > 3 {
                    break;
                }
            }
            (done, failures)
        });
        Transfers { stop, thread }
    }

    /// Stops after the current transfer; asserts all of them were complete and exact.
    pub fn finish(self, attack: &str) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let (done, failures) = self.thread.join().unwrap();
        assert!(failures.is_empty(), "{attack}: transfers during the attack failed: {failures:?}");
        println!("ATTACK {attack}: {done} checked transfers of 512 KiB completed during the attack");
        done
    }
}

/// The node is alive and serving: readiness 200, metrics 200, and a fresh checked transfer.
pub fn assert_serving(bed: &mut Bed, attack: &str) {
    for node in [&mut bed.a, &mut bed.b] {
        assert!(node.is_running(), "{attack}: node {} died:\n{}", node.name, node.raw_log());
    }
    wait_ready(&bed.b);
    let (status, _) = ztunnel::testbed::http::request(bed.b.addrs.metrics, "GET", "/metrics").unwrap();
    assert_eq!(status, 200, "{attack}: metrics");
    let data = payload(256 * 1024, 99);
    let c = socks::connect(bed.a.addrs.socks5.unwrap(), Dest::Host(&bed.mesh.service_host, 80)).unwrap();
    assert_eq!(sha256(&round_trip(c, &data).unwrap()), sha256(&data), "{attack}: transfer after the attack");
}

/// A certificate for `default/client` from the bed's CA.
pub fn client_cert(bed: &Bed) -> WorkloadCertificate {
    bed.ca.issue(&Identity::new("cluster.local", "default", "client"), Duration::from_secs(3600)).unwrap()
}

/// mTLS (h2 ALPN) to node B's HBONE port with `cert`.
pub async fn tls_to(addr: SocketAddr, cert: &WorkloadCertificate) -> std::io::Result<TlsStream<TcpStream>> {
    let server = Identity::new("cluster.local", "default", "server");
    let cfg = ztunnel::tls::client_config(cert, &[server]).unwrap();
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
    tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await
}

// HTTP/2 frame types and flags (RFC 9113 §6).
pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;
pub const END_STREAM: u8 = 1;
pub const END_HEADERS: u8 = 4;
pub const ACK: u8 = 1;
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// HPACK integer with an `n`-bit prefix (RFC 7541 §5.1); `first` holds the high bits.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u8, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// One header as "literal without indexing, new name" (no Huffman): no dynamic-table state,
/// so blocks can be built independently.
pub fn hpack_literal(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(0);
    hpack_int(out, 0, 7, name.len());
    out.extend_from_slice(name.as_bytes());
    hpack_int(out, 0, 7, value.len());
    out.extend_from_slice(value);
}

/// The header block of a classic CONNECT to `authority`.
pub fn connect_block(authority: &str) -> Vec<u8> {
    let mut b = Vec::new();
    hpack_literal(&mut b, ":method", b"CONNECT");
    hpack_literal(&mut b, ":authority", authority.as_bytes());
    b
}

/// What the attacker read back from the server.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub frames: usize,
    pub headers: usize,
    /// RST_STREAM frames by error code.
    pub resets: std::collections::BTreeMap<u32, usize>,
    pub goaway: Option<u32>,
    pub ping_acks: usize,
    pub settings_acks: usize,
    /// Status codes of the responses, in order (the `:status` is the first header, which h2
    /// sends as an indexed static-table entry or a literal with an indexed name).
    pub statuses: Vec<u16>,
    /// The same, by stream id (responses to concurrent streams come in any order).
    pub status_of_stream: std::collections::BTreeMap<u32, u16>,
    pub closed: bool,
}

/// A raw HTTP/2 client over mTLS: frames are written as given; a reader task parses what
/// comes back.
pub struct RawH2 {
    pub w: WriteHalf<TlsStream<TcpStream>>,
    pub seen: Arc<std::sync::Mutex<Seen>>,
    reader: tokio::task::JoinHandle<()>,
}

impl RawH2 {
    /// Connects, sends the preface and an empty SETTINGS, and ACKs the server's SETTINGS.
    pub async fn connect(addr: SocketAddr, cert: &WorkloadCertificate) -> std::io::Result<RawH2> {
        RawH2::connect_with(addr, cert, true).await
    }

    /// Like [`RawH2::connect`], for a peer that never reads what the server sends.
    pub async fn connect_deaf(addr: SocketAddr, cert: &WorkloadCertificate) -> std::io::Result<RawH2> {
        RawH2::connect_with(addr, cert, false).await
    }

    async fn connect_with(addr: SocketAddr, cert: &WorkloadCertificate, read: bool) -> std::io::Result<RawH2> {
        let tls = tls_to(addr, cert).await?;
        let (r, mut w) = tokio::io::split(tls);
        let mut hello = PREFACE.to_vec();
        frame(&mut hello, SETTINGS, 0, 0, &[]);
        frame(&mut hello, SETTINGS, ACK, 0, &[]);
        w.write_all(&hello).await?;
        let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
        let reader = match read {
            true => tokio::spawn(read_frames(r, seen.clone())),
            // Held, unread, until the connection is dropped.
            false => tokio::spawn(async move {
                let _r = r;
                std::future::pending::<()>().await
            }),
        };
        Ok(RawH2 { w, seen, reader })
    }

    /// Writes `bytes`; false once the server has closed the connection.
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        self.w.write_all(bytes).await.is_ok() && self.w.flush().await.is_ok()
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for what was read (or the deadline passes); returns it.
    pub async fn wait(&self, timeout: Duration, pred: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.seen();
            if pred(&s) || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RawH2 {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames(mut r: ReadHalf<TlsStream<TcpStream>>, seen: Arc<std::sync::Mutex<Seen>>) {
    let mut head = [0u8; 9];
    loop {
        if r.read_exact(&mut head).await.is_err() {
            break;
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).await.is_err() {
            break;
        }
        let mut s = seen.lock().unwrap();
        s.frames += 1;
        let code = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        match head[3] {
            HEADERS => {
                s.headers += 1;
                let status = status_of(&body);
                s.statuses.push(status);
                let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
                s.status_of_stream.insert(id, status);
            }
            RST_STREAM if body.len() >= 4 => *s.resets.entry(code(&body)).or_default() += 1,
            GOAWAY if body.len() >= 8 => s.goaway = Some(code(&body[4..])),
            PING if head[4] & ACK != 0 => s.ping_acks += 1,
            SETTINGS if head[4] & ACK != 0 => s.settings_acks += 1,
            _ => {}
        }
    }
    seen.lock().unwrap().closed = true;
}

/// The `:status` of a response header block as h2 encodes it (static table: 8 = 200,
/// 9 = 204, 10 = 206, 11 = 304, 12 = 400, 13 = 404, 14 = 500; others as a literal value with
/// the name indexed 8). 0 when unrecognised.
fn status_of(block: &[u8]) -> u16 {
    match block.first() {
        Some(&b) if b & 0x80 != 0 => match b & 0x7f {
            8 => 200,
            9 => 204,
            10 => 206,
            11 => 304,
            12 => 400,
            13 => 404,
            14 => 500,
            _ => 0,
        },
        // Literal with indexed name (incremental indexing 0x40, without 0x00, never 0x10).
        Some(_) if block.len() >= 3 => {
            let len = (block[1] & 0x7f) as usize;
            let raw = block.get(2..2 + len).unwrap_or_default();
            let text = if block[1] & 0x80 != 0 { huffman_digits(raw) } else { String::from_utf8_lossy(raw).into() };
            text.parse().unwrap_or(0)
        }
        _ => 0,
    }
}

/// Decodes a Huffman-coded string of digits (RFC 7541 Appendix B: '0'-'2' are the 5-bit codes
/// 0-2, '3'-'9' the 6-bit codes 0x19-0x1f); anything else ends the string.
fn huffman_digits(raw: &[u8]) -> String {
    let bits: Vec<u8> = raw.iter().flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1)).collect();
    let take = |at: usize, n: usize| bits.get(at..at + n).map(|b| b.iter().fold(0u8, |v, &x| v << 1 | x));
    let (mut out, mut at) = (String::new(), 0);
    while let Some(v5) = take(at, 5) {
        if v5 < 3 {
            out.push((b'0' + v5) as char);
            at += 5;
        } else if let Some(v6 @ 0x19..=0x1f) = take(at, 6) {
            out.push((b'3' + v6 - 0x19) as char);
            at += 6;
        } else {
            break;
        }
    }
    out
}

/// A multi-thread runtime for one test's async attack code.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
