//! `cargo bench --bench tunnel -- --only idle-memory [--tunnels N --burst-mib M --cycles C --idle-tunnels K --netns]`
//!
//! What tunnels cost in memory once they go quiet (issue 18). N tunnels (default 200) through
//! node A's SOCKS5 → HBONE → node B → an echo backend each carry a burst of M MiB (default 4)
//! both ways at once, then stay open and idle. Prints both nodes' RSS idle, per tunnel while
//! the bursts run, per idle tunnel 1 s / 10 s / 30 s after the bursts, and 30 s after all
//! tunnels closed; with `--cycles C`, repeats open / burst / idle / close C times and prints
//! where each cycle ends (does memory come back to the same level, or creep?); with
//! `--idle-tunnels K`, also K tunnels (10,000 fit) that never carried more than one byte. Each node's `istio_proxy_pump_buffer_bytes` is shown next to its RSS, so the part
//! held by the pumps can be told apart from what the allocator has not handed back yet.
//!
//! RSS per tunnel is always (RSS − RSS before any tunnel) / N: everything a tunnel leaves
//! behind, including allocator caches, counts against it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use ztunnel::certs::dev_ca::DevCa;
use ztunnel::testbed::node::{Node, NodeSpec};

use crate::{Args, Net, Path_, dial};

/// The gauge of bytes held by the byte pumps' read buffers.
const PUMP_GAUGE: &str = "istio_proxy_pump_buffer_bytes";

fn rss_kib(n: &Node) -> f64 {
    n.rss_kib().unwrap_or(0) as f64
}

/// One `/proc/<pid>/status` field in KiB (`RssAnon`, `RssFile`), 0 if unreadable.
fn status_kib(n: &Node, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", n.pid())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// The value of an unlabelled gauge on a node's /metrics (0 if absent).
fn gauge(n: &Node, name: &str) -> f64 {
    let Ok((_, body)) = ztunnel::testbed::http::request(n.addrs.metrics, "GET", "/metrics") else {
        return 0.0;
    };
    body.lines()
        .filter_map(|l| l.strip_prefix(name))
        .find_map(|rest| rest.strip_prefix(' ').and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Node's `/debug/memory` figures in KiB: (allocator allocated, allocator resident, HBONE
/// HTTP/2 queues both ways, allocator metadata). Zeros if the node does not answer.
fn accounted(n: &Node) -> (f64, f64, f64, f64) {
    let Ok((_, body)) = ztunnel::testbed::http::request(n.addrs.admin, "GET", "/debug/memory") else {
        return (0.0, 0.0, 0.0, 0.0);
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let kib = |x: &serde_json::Value| x.as_f64().unwrap_or(0.0) / 1024.0;
    let queued = kib(&v["hbone_send_queued_bytes"]) + kib(&v["hbone_receive_queued_bytes"]);
    let a = &v["allocator"];
    (kib(&a["allocated"]), kib(&a["resident"]), queued, kib(&a["metadata"]))
}

/// Opens `n` tunnels to the echo backend in parallel, each checked with a 1-byte echo.
fn open(socks5: SocketAddr, echo: SocketAddr, n: usize) -> Vec<TcpStream> {
    let threads = 16.min(n.max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (0..n)
                        .filter(|i| i % threads == t)
                        .map(|_| {
                            let mut c = dial(Path_::Tunnel(socks5), echo);
                            c.write_all(b"x").unwrap();
                            let mut b = [0u8; 1];
                            c.read_exact(&mut b).unwrap();
                            c
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Sends `bytes` on every tunnel at once while reading the echo back; returns when all bursts
/// have come back. `sample` runs every 100 ms meanwhile (for the peak RSS).
fn burst(conns: &[TcpStream], bytes: usize, mut sample: impl FnMut()) {
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for c in conns {
            let (mut w, mut r) = (c.try_clone().unwrap(), c.try_clone().unwrap());
            s.spawn(move || {
                let buf = vec![0x5au8; 256 * 1024];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(buf.len());
                    w.write_all(&buf[..n]).unwrap();
                    left -= n;
                }
            });
            let done = &done;
            s.spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let mut left = bytes;
                while left > 0 {
                    let n = r.read(&mut buf[..left.min(256 * 1024)]).unwrap();
                    assert!(n > 0, "tunnel closed during the burst");
                    left -= n;
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
        while done.load(std::sync::atomic::Ordering::Relaxed) < conns.len() {
            sample();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// Prints one line: both nodes' RSS over the baseline per tunnel, the pump gauge, the HBONE
/// queues and what the allocator says is live (`alloc`) and kept in RAM (`res`).
fn report(what: &str, nodes: &[&Node; 2], base: [f64; 2], per: usize) {
    let line: Vec<String> = nodes
        .iter()
        .zip(base)
        .map(|(n, b)| {
            let rss = rss_kib(n);
            let pump = gauge(n, PUMP_GAUGE) / 1024.0;
            let (alloc, res, queued, meta) = accounted(n);
            let (anon, file) = (status_kib(n, "RssAnon"), status_kib(n, "RssFile"));
            let head = if per > 0 {
                format!("{:>8.1} KiB/tunnel", (rss - b) / per as f64)
            } else {
                format!("{:>+8.1}% of idle ", (rss - b) / b * 100.0)
            };
            format!(
                "{head} (RSS {:>6.1} = anon {:>5.1} + file {:>4.1} MiB; pumps {:>7.1} KiB, h2 {:>7.1} KiB; \
                 jemalloc alloc {:>4.1} meta {:>4.1} res {:>5.1} MiB)",
                rss / 1024.0,
                anon / 1024.0,
                file / 1024.0,
                pump,
                queued,
                alloc / 1024.0,
                meta / 1024.0,
                res / 1024.0
            )
        })
        .collect();
    println!("{what:<34} A: {}   B: {}", line[0], line[1]);
}

/// Sleeps until `secs` after `t0`.
fn until(t0: Instant, secs: u64) {
    if let Some(d) = Duration::from_secs(secs).checked_sub(t0.elapsed()) {
        std::thread::sleep(d);
    }
}

pub fn run(bin: &Path, a: &Args) {
    // The bench holds each tunnel's client socket; the echo backend, a process of its own,
    // holds the other end (so 10,000 tunnels fit a 20,000 hard limit).
    let want_fds = 2 * (a.tunnels.max(a.idle_tunnels) as u64) + 1024;
    raise_nofile(want_fds);
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::numbered(a.netns, 202);
    let (_echo, port) = EchoProcess::start(net.mesh.server_ip, net.ns_b());
    let echo = SocketAddr::new(net.mesh.server_ip, port);
    net.mesh.backend_port = port;
    let mesh = net.mesh.clone();
    let ca = (dir.path().join("ca.pem"), dir.path().join("ca-key.pem"));
    DevCa::generate("cluster.local").unwrap().write(&ca.0, &ca.1).unwrap();
    let cfg = dir.path().join("mesh.yaml");
    std::fs::write(&cfg, mesh.config_yaml()).unwrap();
    let spec = |name: &str, who: &str, ip: std::net::IpAddr, ns: Option<&str>| {
        let mut s = NodeSpec::new(name, who, ip, &cfg, &ca)
            .set("RUST_LOG", "info,access=warn")
            .set("ZTUNNEL_WORKER_THREADS", a.workers.as_str());
        for (k, v) in &a.env {
            s = s.set(k, v.clone());
        }
        s.netns = ns.map(str::to_string);
        s
    };
    let node_a = spec("a", "default/client/client", mesh.client_ip, net.ns_a()).spawn(bin).unwrap();
    let node_b = spec("b", "default/server/server", mesh.server_ip, net.ns_b()).spawn(bin).unwrap();
    let socks5 = node_a.addrs.socks5.unwrap();
    // Warm up: one tunnel open and closed, so that the first HBONE connection, certificates
    // and the runtime's lazily built parts are in the idle figure rather than the tunnels'.
    drop(open(socks5, echo, 1));
    std::thread::sleep(Duration::from_secs(2));
    let nodes = [&node_a, &node_b];
    let idle = [rss_kib(&node_a), rss_kib(&node_b)];
    println!(
        "idle-memory: {} tunnels x {} MiB burst (echoed, both directions), {} cycle(s), {} worker thread(s) per node, {}",
        a.tunnels,
        a.burst_mib,
        a.cycles,
        a.workers,
        if a.netns { "two network namespaces" } else { "loopback" }
    );
    println!("RSS idle (no tunnels)              A: {:.1} MiB   B: {:.1} MiB", idle[0] / 1024.0, idle[1] / 1024.0);
    report("idle (no tunnels)", &nodes, idle, 0);

    for cycle in 1..=a.cycles.max(1) {
        // Later cycles print only where they end: whether memory comes back to the same level
        // each time, or creeps up.
        let first = cycle == 1;
        let conns = open(socks5, echo, a.tunnels);
        // The level just before the burst, with the tunnels open: the other reference the
        // after-close figure is compared with (the burst is what should leave nothing behind).
        let pre_burst = [rss_kib(&node_a), rss_kib(&node_b)];
        if first {
            report("tunnels open, before the burst", &nodes, idle, a.tunnels);
        }
        let mut peak = [0f64; 2];
        let mut peak_pump = [0f64; 2];
        burst(&conns, a.burst_mib * 1024 * 1024, || {
            for (i, n) in nodes.iter().enumerate() {
                peak[i] = peak[i].max(rss_kib(n));
                peak_pump[i] = peak_pump[i].max(gauge(n, PUMP_GAUGE));
            }
        });
        let t0 = Instant::now();
        if first {
            println!(
                "{:<34} A: {:>8.1} KiB/tunnel (peak RSS {:.1} MiB, pumps {:.1} KiB)   B: {:>8.1} KiB/tunnel (peak RSS {:.1} MiB, pumps {:.1} KiB)",
                "during the bursts (peak)",
                (peak[0] - idle[0]) / a.tunnels as f64,
                peak[0] / 1024.0,
                peak_pump[0] / 1024.0,
                (peak[1] - idle[1]) / a.tunnels as f64,
                peak[1] / 1024.0,
                peak_pump[1] / 1024.0
            );
        }
        for secs in [1, 10, 30] {
            until(t0, secs);
            if first || secs == 10 {
                report(&format!("cycle {cycle}: idle, {secs} s after the bursts"), &nodes, idle, a.tunnels);
            }
        }
        for c in &conns {
            let _ = c.shutdown(Shutdown::Both);
        }
        drop(conns);
        let t1 = Instant::now();
        for secs in [1, 30] {
            until(t1, secs);
            if first || secs == 30 {
                report(&format!("cycle {cycle}: {secs} s after all closed"), &nodes, idle, 0);
            }
            if secs == 30 {
                let over = |i: usize, n: &Node| (rss_kib(n) - pre_burst[i]) / pre_burst[i] * 100.0;
                println!(
                    "{:<34} A: {:>+8.1}% of pre-burst   B: {:>+8.1}% of pre-burst (RSS with the tunnels open, before the burst: {:.1} / {:.1} MiB)",
                    format!("cycle {cycle}: 30 s after all closed"),
                    over(0, &node_a),
                    over(1, &node_b),
                    pre_burst[0] / 1024.0,
                    pre_burst[1] / 1024.0
                );
            }
        }
    }
    if a.idle_tunnels > 0 {
        let base = [rss_kib(&node_a), rss_kib(&node_b)];
        let t = Instant::now();
        let conns = open(socks5, echo, a.idle_tunnels);
        println!("{} never-busy tunnels opened in {:.1} s", a.idle_tunnels, t.elapsed().as_secs_f64());
        std::thread::sleep(Duration::from_secs(1));
        report(&format!("{} never-busy tunnels open", a.idle_tunnels), &nodes, base, a.idle_tunnels);
        drop(conns);
    }
}

/// The echo backend process (this bench binary re-run with `--serve-echo IP`, in node B's
/// namespace when there is one): binds `ip:0`, prints the port, echoes until killed.
pub fn serve_echo(ip: std::net::IpAddr) {
    raise_nofile(1 << 16);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let _ = conn.set_nodelay(true);
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    })
}

/// The running echo backend process; killed on drop.
struct EchoProcess(std::process::Child);

impl EchoProcess {
    fn start(ip: std::net::IpAddr, netns: Option<&str>) -> (EchoProcess, u16) {
        use std::io::BufRead;
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = std::process::Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&exe);
                c
            }
            None => std::process::Command::new(&exe),
        };
        let mut child =
            cmd.args(["--serve-echo", &ip.to_string()]).stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("echo backend printed {line:?}"));
        (EchoProcess(child), port)
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Raises this process's open-files limit to `want`: the bench holds every tunnel's client
/// socket and the echo backend's end. Root may raise the hard limit too; else the soft limit
/// goes as far as the hard one allows.
fn raise_nofile(want: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with valid pointers.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= want {
            return;
        }
        let both = libc::rlimit { rlim_cur: want, rlim_max: want.max(lim.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &both) != 0 {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
