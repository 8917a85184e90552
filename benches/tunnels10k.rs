//! `cargo bench --bench tunnels10k [-- --tunnels N --parallel P --workers W]`
//!
//! Holds N (default 10,000) tunnels open at the same time through one pair of real ztunnel
//! processes: client → node A's SOCKS5 → HBONE (mTLS + HTTP/2) → node B → an echo backend.
//! Each tunnel is checked twice, once right after it opens and once more when all N are open,
//! with 1 KiB of its own bytes echoed back exactly. That proves every one of the N is alive
//! at the same moment.
//!
//! It reports the connect-time distribution, measured from the TCP connect to node A until
//! the SOCKS5 success reply (so it includes the HBONE CONNECT to node B and node B's dial to
//! the backend). It also reports each node's RSS and fds, idle and with N open, and the RSS
//! per tunnel.
//!
//! Needs about N + 1000 file descriptors in each of four processes: this one (the clients),
//! the echo backend (this binary again, re-run with `--serve-echo IP`, so that a 20,000 hard
//! limit is enough for 10,000 tunnels), and the two nodes. It raises the soft limit to the hard
//! limit, and where allowed (CAP_SYS_RESOURCE) the hard limit too; children inherit both.
//! Clients and backend connections are tokio tasks, not a thread per connection.
//!
//! Loopback addresses 127.201.0.x (`tunnel.rs` uses 127.200.0.x).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ztunnel::certs::dev_ca::DevCa;
use ztunnel::testbed::Mesh;
use ztunnel::testbed::node::{Node, NodeSpec};

struct Args {
    tunnels: usize,
    parallel: usize,
    workers: String,
    /// Internal: run as the echo backend on this IP (port printed on stdout).
    serve_echo: Option<IpAddr>,
}

fn args() -> Args {
    let mut a = Args { tunnels: 10_000, parallel: 200, workers: "2".into(), serve_echo: None };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = || v.get(i + 1).unwrap_or_else(|| panic!("{} needs a value", v[i])).clone();
        match v[i].as_str() {
            "--tunnels" => a.tunnels = next().parse().expect("--tunnels N"),
            "--parallel" => a.parallel = next().parse().expect("--parallel P"),
            "--workers" => a.workers = next(),
            "--serve-echo" => a.serve_echo = Some(next().parse().expect("--serve-echo IP")),
            // cargo bench passes --bench; anything else is a mistake worth stopping on.
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    a
}

/// Raises this process's open-files limit as far as allowed: the hard limit to `want` if we
/// are root, and the soft limit to the hard limit. Children (the nodes) inherit it.
fn raise_nofile(want: u64) -> u64 {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:{want}")])
        .stderr(std::process::Stdio::null())
        .status();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let hard: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    let _ = std::process::Command::new("prlimit").args(["--pid", &pid, &format!("--nofile={hard}:")]).status();
    hard
}

fn proc_status(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// An echo backend: one task per connection.
async fn echo(listener: TcpListener) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(async move {
            let (mut r, mut w) = s.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
    }
}

/// SOCKS5 CONNECT to `host:80` through `proxy`; returns the stream once the proxy replied
/// success.
async fn socks5(proxy: SocketAddr, host: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(proxy).await?;
    s.set_nodelay(true)?;
    let mut req = vec![5, 1, 0, 5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&80u16.to_be_bytes());
    s.write_all(&req).await?;
    let mut reply = [0u8; 2 + 10];
    s.read_exact(&mut reply).await?;
    if reply[..2] != [5, 0] || reply[3] != 0 {
        return Err(std::io::Error::other(format!("SOCKS5 refused: {reply:?}")));
    }
    Ok(s)
}

/// 1 KiB that only tunnel `i` in round `round` sends.
fn pattern(i: usize, round: u8) -> Vec<u8> {
    (0..1024usize).map(|k| (i.wrapping_mul(31) ^ k.wrapping_mul(7) ^ round as usize) as u8).collect()
}

async fn check(s: &mut TcpStream, i: usize, round: u8) -> std::io::Result<()> {
    let data = pattern(i, round);
    s.write_all(&data).await?;
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).await?;
    if back != data {
        return Err(std::io::Error::other(format!("tunnel {i}: echoed bytes differ")));
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The echo backend process: binds `ip:0`, prints the port, serves until killed.
fn serve_echo(ip: IpAddr) {
    raise_nofile(1 << 20);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        echo(listener).await
    })
}

/// Starts the echo backend process; killed on drop.
struct Backend(std::process::Child);

impl Backend {
    fn start(ip: IpAddr) -> (Backend, u16) {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--serve-echo", &ip.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("echo backend printed {line:?}"));
        (Backend(child), port)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let a = args();
    if let Some(ip) = a.serve_echo {
        return serve_echo(ip);
    }
    let limit = raise_nofile(a.tunnels as u64 + 4096);
    assert!(
        limit >= a.tunnels as u64 + 1000,
        "open-files hard limit {limit} is too low for {} tunnels: run as root or raise `ulimit -Hn`",
        a.tunnels
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut mesh = Mesh {
        client_ip: IpAddr::from([127, 201, 0, 1]),
        server_ip: IpAddr::from([127, 201, 0, 2]),
        service_vip: IpAddr::from([127, 201, 0, 10]),
        ..Mesh::on_loopback(0, 0)
    };
    let (_backend, port) = Backend::start(mesh.server_ip);
    mesh.backend_port = port;

    let dir = tempfile::tempdir().unwrap();
    let ca = (dir.path().join("ca.pem"), dir.path().join("ca-key.pem"));
    DevCa::generate("cluster.local").unwrap().write(&ca.0, &ca.1).unwrap();
    let cfg = dir.path().join("mesh.yaml");
    std::fs::write(&cfg, mesh.config_yaml()).unwrap();
    let bin = std::env::var_os("ZTUNNEL_BENCH_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ztunnel").into());
    // access=warn: no log line per tunnel (the testbed keeps every line in memory).
    let node = |name: &str, wl: &str, ip| -> Node {
        NodeSpec::new(name, wl, ip, &cfg, &ca)
            .set("RUST_LOG", "info,access=warn")
            .set("ZTUNNEL_WORKER_THREADS", a.workers.as_str())
            .spawn(&bin)
            .unwrap()
    };
    let node_a = node("node-a", "default/client/client", mesh.client_ip);
    let node_b = node("node-b", "default/server/server", mesh.server_ip);
    let socks = node_a.addrs.socks5.unwrap();
    let host: Arc<str> = mesh.service_host.clone().into();

    // Warm up: the certificate and a first pooled connection, so idle figures are comparable.
    rt.block_on(async { check(&mut socks5(socks, &host).await.unwrap(), 0, 0).await.unwrap() });
    std::thread::sleep(Duration::from_millis(500));
    let idle = |n: &Node| (proc_status(n.pid(), "VmRSS:"), fds(n.pid()));
    let (idle_a, idle_b) = (idle(&node_a), idle(&node_b));

    println!("opening {} tunnels ({} connecting at a time)...", a.tunnels, a.parallel);
    let started = Instant::now();
    let (conns, mut times) = rt.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(a.parallel));
        let tasks: Vec<_> = (0..a.tunnels)
            .map(|i| {
                let (gate, host) = (gate.clone(), host.clone());
                tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await.unwrap();
                    let t = Instant::now();
                    let mut s = socks5(socks, &host).await.map_err(|e| format!("tunnel {i}: {e}"))?;
                    let took = t.elapsed();
                    check(&mut s, i, 1).await.map_err(|e| format!("tunnel {i}: {e}"))?;
                    Ok::<_, String>((s, took))
                })
            })
            .collect();
        let (mut conns, mut times) = (Vec::new(), Vec::new());
        for t in tasks {
            let (s, took) = t.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
            conns.push(s);
            times.push(took);
        }
        (conns, times)
    });
    let open_secs = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let (held_a, held_b) = (idle(&node_a), idle(&node_b));

    // Every tunnel again, all of them open at once.
    let conns = rt.block_on(async {
        let tasks: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                tokio::spawn(async move {
                    check(&mut s, i, 2).await.map(|_| s).map_err(|e| format!("second check, tunnel {i}: {e}"))
                })
            })
            .collect();
        let mut conns = Vec::new();
        for t in tasks {
            conns.push(t.await.unwrap().unwrap_or_else(|e| panic!("{e}")));
        }
        conns
    });
    let n = conns.len();
    drop(conns);

    times.sort();
    let per = |held: u64, idle: u64| (held.saturating_sub(idle)) as f64 * 1024.0 / n as f64;
    println!(
        "\n{n} tunnels held at once through one node pair, each echo-checked twice ({:.1}s to open all)",
        open_secs
    );
    println!(
        "connect (TCP to SOCKS5 success): p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
        times[n - 1]
    );
    println!(
        "node A: RSS {} -> {} KiB ({:.0} bytes per tunnel), fds {} -> {}",
        idle_a.0,
        held_a.0,
        per(held_a.0, idle_a.0),
        idle_a.1,
        held_a.1
    );
    println!(
        "node B: RSS {} -> {} KiB ({:.0} bytes per tunnel), fds {} -> {}",
        idle_b.0,
        held_b.0,
        per(held_b.0, idle_b.0),
        idle_b.1,
        held_b.1
    );
    println!(
        "peak RSS (VmHWM): node A {} KiB, node B {} KiB",
        proc_status(node_a.pid(), "VmHWM:"),
        proc_status(node_b.pid(), "VmHWM:")
    );
}
