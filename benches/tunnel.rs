//! `cargo bench --bench tunnel [-- --runs N --seconds S --workers W --only METRIC --env K=V --scrape --netns --capture]`
//!
//! `--only throughput|connections|latency|http|handshakes` runs one measurement (`crypto-floor`
//! and `wake-floor` print the floors alone);
//! `--only idle-memory` runs the memory bench of [`idle_memory`] instead (its own flags:
//! `--tunnels N --burst-mib M --idle-tunnels K`).
//!
//! `--scrape` polls both nodes' `/metrics` once a second during the run (as Prometheus
//! would), to show that metrics recording and scraping do not slow the data path.
//!
//! Direct TCP vs the same traffic through two real ztunnel processes (client → node A's
//! SOCKS5 → HBONE (mTLS + HTTP/2) → node B → backend), in one run: single-stream throughput,
//! new connections per second, 64-byte round-trip p50/p99, HTTP/1.1 request/response p50/p99
//! on one connection, CPU per unit of work, mTLS handshakes per second on node B's 15008 with
//! `--clients N` parallel clients (default 16), and the RSS of each ztunnel. Prints the median of N runs (the machine is noisy). All on loopback by
//! default; `--netns` (root) puts node A and the client in one network namespace and node B
//! and the backends in another, joined by a veth pair, as two nodes would be. `--capture`
//! (root, iptables; implies `--netns`) enters node A through an iptables REDIRECT to 15001, as
//! captured pod traffic does, instead of SOCKS5.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use ztunnel::certs::dev_ca::DevCa;
use ztunnel::testbed::backend::{Echo, Sink};
use ztunnel::testbed::node::NodeSpec;
use ztunnel::testbed::socks::{self, Dest};
use ztunnel::testbed::{Mesh, netns};

mod crypto_floor;
mod handshakes;
mod http_rr;
mod idle_memory;
mod wake_floor;

struct Args {
    runs: usize,
    seconds: f64,
    workers: String,
    /// Run only one measurement (throughput|connections|latency|..., crypto-floor: the AEAD's
    /// CPU per GB alone, or wake-floor: a sleep and wake-up per message), e.g. while profiling.
    only: Option<String>,
    /// Extra `KEY=VALUE` environment for both nodes, for A/B comparisons of settings.
    env: Vec<(String, String)>,
    /// Scrape both nodes' /metrics every second while measuring.
    scrape: bool,
    /// Two network namespaces joined by a veth pair instead of loopback (needs root).
    netns: bool,
    /// Enter node A through iptables capture (15001) instead of SOCKS5; implies `netns`.
    capture: bool,
    /// idle-memory: tunnels that carry a burst, the burst's size, and never-busy tunnels.
    tunnels: usize,
    burst_mib: usize,
    idle_tunnels: usize,
    /// handshakes: parallel clients.
    clients: usize,
    /// http: response body bytes.
    http_body: usize,
    /// idle-memory: how many open / burst / idle / close cycles.
    cycles: usize,
    /// Internal: run as idle-memory's echo backend process on this address.
    serve_echo: Option<std::net::IpAddr>,
}

fn args() -> Args {
    let mut a = Args {
        runs: 3,
        seconds: 2.0,
        workers: "2".into(),
        only: None,
        env: Vec::new(),
        scrape: false,
        netns: false,
        capture: false,
        tunnels: 200,
        burst_mib: 4,
        idle_tunnels: 0,
        clients: 16,
        http_body: http_rr::BODY,
        cycles: 1,
        serve_echo: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        match v[i].as_str() {
            "--runs" => {
                a.runs = v[i + 1].parse().expect("--runs N");
                i += 1;
            }
            "--env" => {
                let (k, val) = v[i + 1].split_once('=').expect("--env KEY=VALUE");
                a.env.push((k.to_string(), val.to_string()));
                i += 1;
            }
            "--only" => {
                a.only = Some(v[i + 1].clone());
                i += 1;
            }
            "--workers" => {
                a.workers = v[i + 1].clone();
                i += 1;
            }
            "--seconds" => {
                a.seconds = v[i + 1].parse().expect("--seconds S");
                i += 1;
            }
            "--tunnels" => {
                a.tunnels = v[i + 1].parse().expect("--tunnels N");
                i += 1;
            }
            "--burst-mib" => {
                a.burst_mib = v[i + 1].parse().expect("--burst-mib M");
                i += 1;
            }
            "--idle-tunnels" => {
                a.idle_tunnels = v[i + 1].parse().expect("--idle-tunnels K");
                i += 1;
            }
            "--clients" => {
                a.clients = v[i + 1].parse().expect("--clients N");
                i += 1;
            }
            "--http-body" => {
                a.http_body = v[i + 1].parse().expect("--http-body N");
                i += 1;
            }
            "--cycles" => {
                a.cycles = v[i + 1].parse().expect("--cycles N");
                i += 1;
            }
            "--serve-echo" => {
                a.serve_echo = Some(v[i + 1].parse().expect("--serve-echo IP"));
                i += 1;
            }
            "--scrape" => a.scrape = true,
            "--netns" => a.netns = true,
            // Needs iptables in the namespaces.
            "--capture" => {
                a.capture = true;
                a.netns = true;
            }
            _ => {} // cargo passes --bench
        }
        i += 1;
    }
    a
}

/// How a measurement reaches the backend.
#[derive(Clone, Copy)]
enum Path_ {
    Direct,
    /// Two chained plain TCP relays (the floor, see [`relay`]): connect to the first one.
    Relays(SocketAddr),
    /// Through node A's SOCKS5 listener.
    Tunnel(SocketAddr),
    /// Straight to the destination; an iptables rule in the client's namespace redirects
    /// connections carrying [`CAPTURE_MARK`] to node A's 15001, as pod traffic is captured.
    Captured,
}

/// The mark the capture rule matches, so that only the tunnel path's sockets are captured
/// (direct and relay sockets in the same namespace are not).
const CAPTURE_MARK: u32 = 0x77;

fn dial(path: Path_, dst: SocketAddr) -> TcpStream {
    let s = match path {
        Path_::Direct => TcpStream::connect(dst).unwrap(),
        Path_::Relays(first) => TcpStream::connect(first).unwrap(),
        Path_::Tunnel(socks5) => socks::connect(socks5, Dest::Addr(dst)).unwrap(),
        Path_::Captured => {
            let sock = socket2::Socket::new(socket2::Domain::for_address(dst), socket2::Type::STREAM, None).unwrap();
            sock.set_mark(CAPTURE_MARK).unwrap();
            sock.connect(&dst.into()).unwrap();
            sock.into()
        }
    };
    s.set_nodelay(true).unwrap();
    s
}

/// A plain TCP relay to a fixed target on its own thread and single-threaded tokio runtime
/// (like a ztunnel with one worker): accept, connect, copy both ways with 64 KiB buffers.
/// No TLS, no HTTP/2, no SOCKS5, no policy. Two of them chained are the floor for any
/// two-proxy path on this machine: the extra socket hops, wake-ups and copies that the tunnel
/// also pays, without the tunnel's own work. Measuring it in the same run shows how much of
/// the gap to direct TCP is the tunnel's and how much is the topology's.
/// Runs in network namespace `ns` when given (else in the caller's). Returns its address
/// and its thread id (for its CPU time).
fn relay(ns: Option<&str>, listen: IpAddr, target: SocketAddr) -> (SocketAddr, u32) {
    let ns = ns.map(str::to_string);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some(ns) = ns {
            netns::enter(&ns).unwrap();
        }
        let l = std::net::TcpListener::bind((listen, 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        // SAFETY: gettid has no preconditions.
        tx.send((l.local_addr().unwrap(), unsafe { libc::gettid() } as u32)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            loop {
                let (mut down, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut up = tokio::net::TcpStream::connect(target).await.unwrap();
                    down.set_nodelay(true).unwrap();
                    up.set_nodelay(true).unwrap();
                    let _ = tokio::io::copy_bidirectional_with_sizes(&mut down, &mut up, 64 << 10, 64 << 10).await;
                });
            }
        })
    });
    rx.recv().unwrap()
}

/// Two chained relays in front of `target`, placed like the two nodes: the path to dial, and
/// the relays' thread ids.
fn relays_to(net: &Net, target: SocketAddr) -> (Path_, [u32; 2]) {
    let (second, t2) = relay(net.ns_b(), net.mesh.server_ip, target);
    let (first, t1) = relay(None, net.mesh.client_ip, second);
    (Path_::Relays(first), [t1, t2])
}

/// Where a run happens: loopback addresses, or two namespaces joined by a veth pair (node A,
/// the client and the first relay in one; node B, the backends and the second relay in the
/// other), as pods on two nodes. In namespace mode the measuring thread has entered A.
struct Net {
    mesh: Mesh,
    pair: Option<netns::Pair>,
}

/// Second octet of the loopback addresses / third octet of 198.18.N.0/24 in namespace mode.
const NET: u8 = 200;

impl Net {
    fn new(use_netns: bool) -> Net {
        Net::numbered(use_netns, NET)
    }

    /// As [`Net::new`] on other addresses (`n` instead of [`NET`]), so that two benches can
    /// run at once on loopback without their nodes' fixed ports colliding.
    fn numbered(use_netns: bool, n: u8) -> Net {
        if !use_netns {
            return Net { mesh: Mesh::on_loopback(n, 0), pair: None };
        }
        let pair = netns::Pair::new(n);
        let mesh = Mesh {
            client_ip: IpAddr::from([198, 18, n, 1]),
            server_ip: IpAddr::from([198, 18, n, 2]),
            service_vip: IpAddr::from([198, 19, n, 10]),
            ..Mesh::on_loopback(n, 0)
        };
        netns::enter(&pair.a).expect("entering the client namespace");
        Net { mesh, pair: Some(pair) }
    }

    fn ns_a(&self) -> Option<&str> {
        self.pair.as_ref().map(|p| p.a.as_str())
    }

    fn ns_b(&self) -> Option<&str> {
        self.pair.as_ref().map(|p| p.b.as_str())
    }

    /// A listener on node B's side (port 0).
    fn listen_b(&self) -> std::net::TcpListener {
        let addr = SocketAddr::new(self.mesh.server_ip, 0);
        match self.ns_b() {
            Some(ns) => netns::in_netns(ns, move || std::net::TcpListener::bind(addr)).unwrap(),
            None => std::net::TcpListener::bind(addr).unwrap(),
        }
    }
}

/// CPU seconds used so far by this process's threads `tids`.
fn threads_cpu(tids: [u32; 2]) -> f64 {
    tids.iter().map(|t| cpu_secs_in(&format!("/proc/self/task/{t}/stat"))).sum()
}

/// CPU time (user + system, all threads) a process has used so far, in seconds. Unlike
/// wall-clock rates this barely moves when other work shares the cores, so it is the steadier
/// figure for before/after comparisons on a busy machine.
fn cpu_secs(pid: u32) -> f64 {
    cpu_secs_in(&format!("/proc/{pid}/stat"))
}

/// CPU seconds from a `stat` file of proc(5) (a process's or a thread's).
fn cpu_secs_in(stat_file: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_file) else {
        return 0.0;
    };
    // Fields after "(comm)": state is index 0, utime 11, stime 12 (proc(5)).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Context switches (voluntary + involuntary) of the threads in `task_dir` (a process's
/// `/proc/<pid>/task` or this process's relay threads): each is a wake-up or preemption the
/// work paid for, and on a VM the main cost of a small message after the syscalls.
fn switches_in(status_files: impl Iterator<Item = String>) -> f64 {
    status_files
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// `file` (e.g. "status") of every thread of both nodes.
fn node_task_files(pids: (u32, u32), file: &str) -> Vec<String> {
    let tasks = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| format!("{}/{file}", e.path().display()))
            .collect::<Vec<_>>()
    };
    tasks(pids.0).into_iter().chain(tasks(pids.1)).collect()
}

fn nodes_switches(pids: (u32, u32)) -> f64 {
    switches_in(node_task_files(pids, "status").into_iter())
}

fn threads_switches(tids: [u32; 2]) -> f64 {
    switches_in(tids.iter().map(|t| format!("/proc/self/task/{t}/status")))
}

/// Seconds the threads behind `schedstat_files` spent runnable but waiting for a CPU (the
/// second field of proc(5)'s `schedstat`): on a shared machine, the time a wake-up waited for
/// another process's time slice to end.
fn runqueue_wait_in(schedstat_files: impl Iterator<Item = String>) -> f64 {
    schedstat_files
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

fn nodes_runqueue_wait(pids: (u32, u32)) -> f64 {
    runqueue_wait_in(node_task_files(pids, "schedstat").into_iter())
}

fn threads_runqueue_wait(tids: [u32; 2]) -> f64 {
    runqueue_wait_in(tids.iter().map(|t| format!("/proc/self/task/{t}/schedstat")))
}

/// CPU seconds used so far by both nodes together.
fn nodes_cpu(pids: (u32, u32)) -> f64 {
    cpu_secs(pids.0) + cpu_secs(pids.1)
}

/// Gbit/s of one stream writing for `secs` into the sink, and the bytes moved.
fn throughput(path: Path_, sink: SocketAddr, secs: f64) -> (f64, f64) {
    let mut s = dial(path, sink);
    let buf = vec![0x5au8; 256 * 1024];
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    while Instant::now() < until {
        s.write_all(&buf).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut count = [0u8; 8];
    s.read_exact(&mut count).unwrap();
    let bytes = u64::from_be_bytes(count) as f64;
    (bytes * 8.0 / start.elapsed().as_secs_f64() / 1e9, bytes)
}

/// Connections per second (connect, 1-byte echo, close, sequentially) and how many were made.
fn conn_rate(path: Path_, echo: SocketAddr, secs: f64) -> (f64, f64) {
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut n = 0u64;
    while Instant::now() < until {
        let mut s = dial(path, echo);
        s.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        drop(s);
        n += 1;
    }
    (n as f64 / start.elapsed().as_secs_f64(), n as f64)
}

const LATENCY_WARMUP: usize = 200;
const LATENCY_ITERATIONS: usize = 5000;

/// (p50, p99) in microseconds of 64-byte request/response on one connection.
fn latency(path: Path_, echo: SocketAddr, iterations: usize) -> (f64, f64) {
    let mut s = dial(path, echo);
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    for _ in 0..LATENCY_WARMUP {
        s.write_all(&msg).unwrap();
        s.read_exact(&mut back).unwrap();
    }
    let samples: Vec<f64> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            s.write_all(&msg).unwrap();
            s.read_exact(&mut back).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    p50_p99(samples)
}

fn p50_p99(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// (p50, p99) in microseconds of HTTP/1.1 request/response exchanges on one connection.
fn http_latency(path: Path_, server: SocketAddr, iterations: usize) -> (f64, f64) {
    let mut s = dial(path, server);
    p50_p99(http_rr::exchanges(&mut s, LATENCY_WARMUP, iterations))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[derive(Default)]
struct Run {
    direct_gbps: f64,
    relays_gbps: f64,
    tunnel_gbps: f64,
    direct_cps: f64,
    relays_cps: f64,
    tunnel_cps: f64,
    direct_p50: f64,
    direct_p99: f64,
    relays_p50: f64,
    relays_p99: f64,
    tunnel_p50: f64,
    tunnel_p99: f64,
    /// HTTP/1.1 request/response on one connection, p50/p99 per path.
    http_direct: (f64, f64),
    http_relays: (f64, f64),
    http_tunnel: (f64, f64),
    relays_cpu_per_req_us: f64,
    cpu_per_req_us: f64,
    /// Microseconds per HTTP request the proxies' threads waited for a CPU while runnable.
    relays_wait_per_req_us: f64,
    wait_per_req_us: f64,
    /// mTLS handshakes per second on node B's 15008, and per CPU second of node B.
    handshakes_per_s: f64,
    handshakes_per_cpu_s: f64,
    rss_idle_a: f64,
    rss_idle_b: f64,
    rss_busy_a: f64,
    rss_busy_b: f64,
    scrapes: f64,
    /// The same three CPU figures for the two relays.
    relays_cpu_per_gb: f64,
    relays_cpu_per_conn_us: f64,
    relays_cpu_per_rtt_us: f64,
    /// Context switches per round trip / per connection, relays and both nodes.
    relays_switches_per_rtt: f64,
    switches_per_rtt: f64,
    relays_switches_per_conn: f64,
    switches_per_conn: f64,
    /// Both nodes' CPU seconds per GB through the tunnel.
    cpu_per_gb: f64,
    /// Both nodes' CPU microseconds per tunnelled connection.
    cpu_per_conn_us: f64,
    /// Both nodes' CPU microseconds per tunnelled 64-byte round trip.
    cpu_per_rtt_us: f64,
}

fn one_run(bin: &Path, a: &Args) -> Run {
    let (secs, workers, only, extra, scrape) = (a.seconds, a.workers.as_str(), a.only.as_deref(), &a.env, a.scrape);
    let (capture, clients) = (a.capture, a.clients);
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::new(a.netns);
    // One echo server per path: each path's connections then use their own port space, so
    // thousands of TIME_WAIT sockets left by one path never slow the next path's connect()
    // (the kernel's ephemeral port search gets slow when most ports to one destination are
    // in TIME_WAIT; it showed up as a 5 ms connect() in the tunnel phase).
    let echo = Echo::serve(net.listen_b()).unwrap();
    let echo_direct = Echo::serve(net.listen_b()).unwrap();
    let echo_relays_dst = Echo::serve(net.listen_b()).unwrap();
    let sink = Sink::serve(net.listen_b()).unwrap();
    net.mesh.backend_port = echo.addr.port();
    let mesh = net.mesh.clone();
    let http_direct = http_rr::serve(net.listen_b(), a.http_body);
    let http_relays_dst = http_rr::serve(net.listen_b(), a.http_body);
    let http_dst = http_rr::serve(net.listen_b(), a.http_body);
    let ca = (dir.path().join("ca.pem"), dir.path().join("ca-key.pem"));
    let dev_ca = DevCa::generate("cluster.local").unwrap();
    dev_ca.write(&ca.0, &ca.1).unwrap();
    let cfg = dir.path().join("mesh.yaml");
    std::fs::write(&cfg, mesh.config_yaml()).unwrap();
    let quiet = |s: NodeSpec| {
        let mut s = s.set("RUST_LOG", "info,access=warn").set("ZTUNNEL_WORKER_THREADS", workers);
        for (k, v) in extra {
            s = s.set(k, v.clone());
        }
        s
    };
    let in_ns = |mut s: NodeSpec, ns: Option<&str>| {
        s.netns = ns.map(str::to_string);
        s
    };
    let mut a = quiet(in_ns(NodeSpec::new("a", "default/client/client", mesh.client_ip, &cfg, &ca), net.ns_a()));
    if capture {
        // REDIRECT in OUTPUT delivers to the loopback address, so listen on the wildcard; mark
        // our own upstream sockets as upstream's capture setup does.
        a = a.set("ZTUNNEL_OUTBOUND_ADDR", "0.0.0.0:15001").set("PACKET_MARK", "1337");
    }
    let a = a.spawn(bin).unwrap();
    let b = quiet(in_ns(NodeSpec::new("b", "default/server/server", mesh.server_ip, &cfg, &ca), net.ns_b()));
    let b = b.spawn(bin).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let kib = |n: &ztunnel::testbed::node::Node| n.rss_kib().unwrap_or(0) as f64 / 1024.0;
    let mut r = Run { rss_idle_a: kib(&a), rss_idle_b: kib(&b), ..Run::default() };
    let tunnel = match (&net.pair, capture) {
        (Some(pair), true) => {
            let rule = format!("-t nat -A OUTPUT -p tcp -m mark --mark {CAPTURE_MARK} -j REDIRECT --to-ports 15001");
            pair.ipt(&pair.a, &rule);
            Path_::Captured
        }
        _ => Path_::Tunnel(a.addrs.socks5.unwrap()),
    };
    let echo_dst = echo.addr; // workload IP:port, tunnelled via HBONE to node B
    let ((sink_relays, sink_tids), (echo_relays, echo_tids)) =
        (relays_to(&net, sink.addr), relays_to(&net, echo_relays_dst.addr));
    let (http_relays, http_tids) = relays_to(&net, http_relays_dst);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = scrape.then(|| {
        let (stop, targets) = (stop.clone(), [a.addrs.metrics, b.addrs.metrics]);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for t in targets {
                    let (status, body) = ztunnel::testbed::http::request(t, "GET", "/metrics").expect("scrape");
                    assert!(status == 200 && body.contains("istio_build"), "bad scrape: {status}");
                    n += 1;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            n
        })
    });
    let pids = (a.pid(), b.pid());
    let want = |m: &str| only.is_none_or(|o| o == m);
    if want("throughput") {
        r.direct_gbps = throughput(Path_::Direct, sink.addr, secs).0;
        let cpu = threads_cpu(sink_tids);
        let bytes;
        (r.relays_gbps, bytes) = throughput(sink_relays, sink.addr, secs);
        r.relays_cpu_per_gb = (threads_cpu(sink_tids) - cpu) / (bytes / 1e9);
        let cpu = nodes_cpu(pids);
        let bytes;
        (r.tunnel_gbps, bytes) = throughput(tunnel, sink.addr, secs);
        r.cpu_per_gb = (nodes_cpu(pids) - cpu) / (bytes / 1e9);
    }
    if want("connections") {
        r.direct_cps = conn_rate(Path_::Direct, echo_direct.addr, secs).0;
        let (cpu, sw) = (threads_cpu(echo_tids), threads_switches(echo_tids));
        let n;
        (r.relays_cps, n) = conn_rate(echo_relays, echo_relays_dst.addr, secs);
        std::thread::sleep(Duration::from_millis(100));
        r.relays_cpu_per_conn_us = (threads_cpu(echo_tids) - cpu) * 1e6 / n;
        r.relays_switches_per_conn = (threads_switches(echo_tids) - sw) / n;
        let (cpu, sw) = (nodes_cpu(pids), nodes_switches(pids));
        let n;
        (r.tunnel_cps, n) = conn_rate(tunnel, echo_dst, secs);
        // Teardown of the last connections finishes just after the client's loop.
        std::thread::sleep(Duration::from_millis(100));
        r.cpu_per_conn_us = (nodes_cpu(pids) - cpu) * 1e6 / n;
        r.switches_per_conn = (nodes_switches(pids) - sw) / n;
    }
    if want("latency") {
        (r.direct_p50, r.direct_p99) = latency(Path_::Direct, echo_direct.addr, LATENCY_ITERATIONS);
        let per_rtt = (LATENCY_ITERATIONS + LATENCY_WARMUP) as f64;
        let (cpu, sw) = (threads_cpu(echo_tids), threads_switches(echo_tids));
        (r.relays_p50, r.relays_p99) = latency(echo_relays, echo_relays_dst.addr, LATENCY_ITERATIONS);
        r.relays_cpu_per_rtt_us = (threads_cpu(echo_tids) - cpu) * 1e6 / per_rtt;
        r.relays_switches_per_rtt = (threads_switches(echo_tids) - sw) / per_rtt;
        let (cpu, sw) = (nodes_cpu(pids), nodes_switches(pids));
        (r.tunnel_p50, r.tunnel_p99) = latency(tunnel, echo_dst, LATENCY_ITERATIONS);
        r.cpu_per_rtt_us = (nodes_cpu(pids) - cpu) * 1e6 / per_rtt;
        r.switches_per_rtt = (nodes_switches(pids) - sw) / per_rtt;
    }
    if want("http") {
        r.http_direct = http_latency(Path_::Direct, http_direct, LATENCY_ITERATIONS);
        let per_req = (LATENCY_ITERATIONS + LATENCY_WARMUP) as f64;
        let (cpu, wait) = (threads_cpu(http_tids), threads_runqueue_wait(http_tids));
        r.http_relays = http_latency(http_relays, http_relays_dst, LATENCY_ITERATIONS);
        r.relays_cpu_per_req_us = (threads_cpu(http_tids) - cpu) * 1e6 / per_req;
        r.relays_wait_per_req_us = (threads_runqueue_wait(http_tids) - wait) * 1e6 / per_req;
        let (cpu, wait) = (nodes_cpu(pids), nodes_runqueue_wait(pids));
        r.http_tunnel = http_latency(tunnel, http_dst, LATENCY_ITERATIONS);
        r.cpu_per_req_us = (nodes_cpu(pids) - cpu) * 1e6 / per_req;
        r.wait_per_req_us = (nodes_runqueue_wait(pids) - wait) * 1e6 / per_req;
    }
    if want("handshakes") {
        let cfg = handshakes::client_config(
            &dev_ca,
            "spiffe://cluster.local/ns/default/sa/client",
            "spiffe://cluster.local/ns/default/sa/server",
        );
        let cpu = cpu_secs(pids.1);
        let (n, took) = handshakes::run(cfg, b.addrs.inbound, clients, secs);
        // The last connections' teardown finishes just after the clients stop.
        std::thread::sleep(Duration::from_millis(100));
        r.handshakes_per_s = n as f64 / took;
        r.handshakes_per_cpu_s = n as f64 / (cpu_secs(pids.1) - cpu);
    }
    r.rss_busy_a = kib(&a);
    r.rss_busy_b = kib(&b);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = scraper {
        r.scrapes = h.join().expect("scraper") as f64;
    }
    r
}

fn main() {
    let args = args();
    if let Some(ip) = args.serve_echo {
        return idle_memory::serve_echo(ip);
    }
    // ZTUNNEL_BENCH_BIN runs another build (e.g. a saved copy of the previous one) for A/B
    // comparisons in the same session.
    let bin_var = std::env::var_os("ZTUNNEL_BENCH_BIN");
    let bin = bin_var.as_deref().map(Path::new).unwrap_or(Path::new(env!("CARGO_BIN_EXE_ztunnel")));
    println!("binary: {}", bin.display());
    if args.only.as_deref() == Some("crypto-floor") {
        let (aead, suite) = crypto_floor::seal_open_secs_per_gb(256, 5);
        println!("AEAD: {suite} seal + open of 1 GB in 16 KiB records, {aead:.3} CPU s (median of 5)");
        return;
    }
    if args.only.as_deref() == Some("wake-floor") {
        print_wake_floor();
        return;
    }
    if args.only.as_deref() == Some("idle-memory") {
        // On a fresh thread: in namespace mode the measuring thread enters one.
        std::thread::scope(|s| s.spawn(|| idle_memory::run(bin, &args)).join().expect("idle-memory panicked"));
        return;
    }
    println!(
        "ztunnel tunnel benchmark: {} runs x {:.1}s per measurement (medians), {} worker thread(s) per node",
        args.runs, args.seconds, args.workers
    );
    let runs: Vec<Run> = (0..args.runs)
        .map(|i| {
            // Each run on a fresh thread: in namespace mode the measuring thread enters one.
            let r = std::thread::scope(|s| s.spawn(|| one_run(bin, &args)).join().expect("run panicked"));
            eprintln!(
                "run {}: {:.2}/{:.2}/{:.2} Gbit/s, {:.0}/{:.0}/{:.0} conn/s, p50 {:.1}/{:.1}/{:.1} us \
                 (direct/relays/tunnel), HTTP p99 {:.0}/{:.0}/{:.0} us; tunnel CPU {:.2} s/GB, {:.0} us/conn, \
                 {:.1} us/rtt, {:.1} us/req (waited {:.1}/{:.1} us for a CPU); {:.0} handshakes/s",
                i + 1,
                r.direct_gbps,
                r.relays_gbps,
                r.tunnel_gbps,
                r.direct_cps,
                r.relays_cps,
                r.tunnel_cps,
                r.direct_p50,
                r.relays_p50,
                r.tunnel_p50,
                r.http_direct.1,
                r.http_relays.1,
                r.http_tunnel.1,
                r.cpu_per_gb,
                r.cpu_per_conn_us,
                r.cpu_per_rtt_us,
                r.cpu_per_req_us,
                r.relays_wait_per_req_us,
                r.wait_per_req_us,
                r.handshakes_per_s
            );
            r
        })
        .collect();
    let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let (dg, rg, tg) = (m(|r| r.direct_gbps), m(|r| r.relays_gbps), m(|r| r.tunnel_gbps));
    let (dc, rc, tc) = (m(|r| r.direct_cps), m(|r| r.relays_cps), m(|r| r.tunnel_cps));
    let (d50, r50, t50) = (m(|r| r.direct_p50), m(|r| r.relays_p50), m(|r| r.tunnel_p50));
    let (d99, r99, t99) = (m(|r| r.direct_p99), m(|r| r.relays_p99), m(|r| r.tunnel_p99));
    if args.scrape {
        println!("scraping /metrics on both nodes every second ({:.0} scrapes per run, median)", m(|r| r.scrapes));
    }
    println!();
    println!("relays = two chained plain TCP relays (no TLS/HTTP/2/SOCKS5): the floor of any two-proxy path");
    let topology = if args.netns { "two network namespaces joined by veth" } else { "loopback" };
    let entry = if args.capture { "iptables capture to 15001" } else { "SOCKS5" };
    println!("topology: {topology}; client enters node A by {entry}");
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "metric", "direct", "relays", "tunnel", "relays/dir", "tunnel/dir"
    );
    println!(
        "{:<34} {:>9.2} {:>9.2} {:>9.2} {:>10.2}x {:>10.2}x",
        "single-stream throughput (Gbit/s)",
        dg,
        rg,
        tg,
        rg / dg,
        tg / dg
    );
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>10.2}x {:>10.2}x",
        "new connections per second",
        dc,
        rc,
        tc,
        rc / dc,
        tc / dc
    );
    println!(
        "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>+9.1}us {:>+9.1}us",
        "64-byte round trip p50 (us)",
        d50,
        r50,
        t50,
        r50 - d50,
        t50 - d50
    );
    println!(
        "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>+9.1}us {:>+9.1}us",
        "64-byte round trip p99 (us)",
        d99,
        r99,
        t99,
        r99 - d99,
        t99 - d99
    );
    let (hd, hr, ht) = (m(|r| r.http_direct.0), m(|r| r.http_relays.0), m(|r| r.http_tunnel.0));
    println!(
        "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>+9.1}us {:>+9.1}us",
        "HTTP req/resp p50 (us)",
        hd,
        hr,
        ht,
        hr - hd,
        ht - hd
    );
    let (hd, hr, ht) = (m(|r| r.http_direct.1), m(|r| r.http_relays.1), m(|r| r.http_tunnel.1));
    println!(
        "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>+9.1}us {:>+9.1}us",
        "HTTP req/resp p99 (us)",
        hd,
        hr,
        ht,
        hr - hd,
        ht - hd
    );
    let (rcg, tcg) = (m(|r| r.relays_cpu_per_gb), m(|r| r.cpu_per_gb));
    let (rcc, tcc) = (m(|r| r.relays_cpu_per_conn_us), m(|r| r.cpu_per_conn_us));
    let (rcr, tcr) = (m(|r| r.relays_cpu_per_rtt_us), m(|r| r.cpu_per_rtt_us));
    println!("{:<34} {:>9} {:>9} {:>9} {:>11}", "CPU of both proxies", "", "relays", "tunnel", "tunnel/rel");
    println!("{:<34} {:>9} {:>9.2} {:>9.2} {:>10.2}x", "  s per GB", "-", rcg, tcg, tcg / rcg);
    println!("{:<34} {:>9} {:>9.0} {:>9.0} {:>10.2}x", "  us per connection", "-", rcc, tcc, tcc / rcc);
    println!("{:<34} {:>9} {:>9.1} {:>9.1} {:>10.2}x", "  us per 64-byte round trip", "-", rcr, tcr, tcr / rcr);
    // The floor under "s per GB": what the relays pay plus sealing and opening each byte once.
    let (aead, suite) = crypto_floor::seal_open_secs_per_gb(256, 5);
    println!(
        "{:<34} {:>9} {:>9.2} {:>9.2} {:>10.2}x",
        "  s per GB floor (relays + AEAD)",
        "-",
        rcg,
        rcg + aead,
        (rcg + aead) / rcg
    );
    println!("    AEAD: {suite} seal + open of 1 GB in 16 KiB records, {aead:.3} CPU s (this provider, this CPU)");
    print_wake_floor();
    let (rch, tch) = (m(|r| r.relays_cpu_per_req_us), m(|r| r.cpu_per_req_us));
    println!("{:<34} {:>9} {:>9.1} {:>9.1} {:>10.2}x", "  us per HTTP request", "-", rch, tch, tch / rch);
    let (rsc, tsc) = (m(|r| r.relays_switches_per_conn), m(|r| r.switches_per_conn));
    let (rsr, tsr) = (m(|r| r.relays_switches_per_rtt), m(|r| r.switches_per_rtt));
    println!("{:<34} {:>9} {:>9.1} {:>9.1} {:>10.2}x", "context switches per connection", "-", rsc, tsc, tsc / rsc);
    println!("{:<34} {:>9} {:>9.1} {:>9.1} {:>10.2}x", "context switches per round trip", "-", rsr, tsr, tsr / rsr);
    let (rw, tw) = (m(|r| r.relays_wait_per_req_us), m(|r| r.wait_per_req_us));
    println!("{:<34} {:>9} {:>9.1} {:>9.1} {:>10.2}x", "CPU wait us per HTTP request", "-", rw, tw, tw / rw);
    println!(
        "mTLS handshakes on node B's 15008 ({} clients): {:.0}/s, {:.0} per CPU second of node B",
        args.clients,
        m(|r| r.handshakes_per_s),
        m(|r| r.handshakes_per_cpu_s)
    );
    println!("RSS idle node A / B (MiB)          {:.1} / {:.1}", m(|r| r.rss_idle_a), m(|r| r.rss_idle_b));
    println!("RSS after load node A / B (MiB)    {:.1} / {:.1}", m(|r| r.rss_busy_a), m(|r| r.rss_busy_b));
}

/// The floor under CPU per round trip: a sleep and a wake-up per message, apart from any proxy.
fn print_wake_floor() {
    let (sleeping, spinning) = wake_floor::cpu_per_rtt_us(50_000);
    println!(
        "    wake floor: 64-byte ping-pong of two threads, {sleeping:.1} us CPU per round trip sleeping between \
         messages, {spinning:.1} spinning (this machine's scheduler)"
    );
}
