//! Mesh scale over real delta xDS: a shared-mode ztunnel process connected to istiod's own
//! discovery server (`istio-cp serve`, interop/istio) holding N pods, and what one pod's change
//! costs when istiod pushes it.
//!
//! For each size N (default 10k and 50k pods; services N/10, namespaces of 100 pods, pods on
//! nodes other than the ztunnel's, so no certificate work is mixed in):
//!
//! - istio-cp's start-up with the N pods (parse, write to its fake cluster, istiod's index);
//! - the time from starting ztunnel until its state holds every workload and service (read
//!   from its "xDS update applied" log events, which carry the counts: no O(N) config dump);
//! - ztunnel's RSS and jemalloc's allocated bytes once loaded, against a baseline ztunnel on a
//!   control plane with no pods (same run), and bytes per workload;
//! - then K single-pod changes through istio-cp's `PATCH`/`DELETE /objects`, cycling add, label
//!   change, IP change, delete. Per change: ztunnel's CPU (on-CPU nanoseconds summed over its
//!   threads from `/proc/<pid>/task/*/schedstat`, minus its idle rate over the same window,
//!   measured just before), istio-cp's CPU the same way, the responses and resources istiod
//!   sent for it, and the latency from the request to istio-cp until ztunnel logged the
//!   change applied (log timestamps against the wall clock: same host). Medians per kind,
//!   plus ztunnel's total utime+stime over all K changes from `/proc/<pid>/stat` as a check.
//!
//! Run (the harness need not be optimised; ztunnel must be):
//! `cargo build --release --bin ztunnel && ZTUNNEL_BENCH_BIN=target/release/ztunnel \
//!  ISTIO_CP_BIN=target/interop/istio-cp cargo bench --profile dev --bench xds_scale -- \
//!  --sizes 10000,50000 --changes 40`
//!
//! Loopback 127.0.180.x only.

#[path = "../tests/common/istio.rs"]
#[allow(dead_code)]
mod istio;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use istio::{IstioCp, k8s};
use serde_json::Value;
use ztunnel::testbed::cni::Cni;
use ztunnel::testbed::http;
use ztunnel::testbed::node::{Node, message};

const PER_NAMESPACE: usize = 100;
const PODS_PER_SERVICE: usize = 10;
const NODE: &str = "node-0";
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);

fn pod_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0001u32 + i as u32))
}

fn churn_ip(k: usize, moved: bool) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0b00_0000u32 + (k as u32) * 2 + moved as u32))
}

fn vip(j: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xac10_0000u32 + j as u32))
}

/// A running, ready, CNI-enrolled pod with a `version` label (istiod's canonical revision).
fn pod_yaml(ns: &str, name: &str, app: &str, version: &str, node: &str, ip: IpAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: uid-{name}\n  labels:\n    app: {app}\n    version: {version}\n\
         \x20 annotations:\n    ambient.istio.io/redirection: enabled\nspec:\n  nodeName: {node}\n  serviceAccountName: {app}\n  containers:\n  - name: app\n    image: app\n\
         status:\n  phase: Running\n  hostIP: 172.18.0.2\n  podIP: {ip}\n  podIPs:\n  - ip: {ip}\n  conditions:\n  - type: Ready\n    status: \"True\"\n"
    )
}

fn namespace_of(i: usize) -> String {
    format!("ns-{}", i / PER_NAMESPACE)
}

fn app_of(i: usize) -> String {
    format!("app-{}", i / PODS_PER_SERVICE)
}

/// The mesh: namespaces, the ztunnel's own pod, `pods` pods and pods/10 services.
fn mesh(pods: usize) -> String {
    let mut out = String::with_capacity(pods * 700);
    let mut doc = |d: String| {
        out.push_str(&d);
        out.push_str("---\n");
    };
    doc(k8s::namespace("istio-system", false));
    doc(k8s::ztunnel_pod(NODE, [127, 0, 180, 1].into()));
    for n in 0..pods.div_ceil(PER_NAMESPACE).max(1) {
        doc(k8s::namespace(&format!("ns-{n}"), true));
    }
    for i in 0..pods {
        let node = format!("node-{}", 1 + i % 100);
        doc(pod_yaml(&namespace_of(i), &format!("pod-{i}"), &app_of(i), "v1", &node, pod_ip(i)));
    }
    for j in 0..pods / PODS_PER_SERVICE {
        let i = j * PODS_PER_SERVICE;
        doc(k8s::service(&namespace_of(i), &format!("svc-{j}"), vip(j), &app_of(i), 80, 8080));
    }
    out
}

/// On-CPU nanoseconds of every thread of `pid` so far (schedstat: ns resolution, unlike the
/// 10 ms ticks of `stat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    dir.flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

/// utime + stime of `pid` in nanoseconds (clock ticks of 10 ms).
fn stat_cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is parenthesised and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) * 10_000_000
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// jemalloc's allocated bytes, from the admin `/debug/memory`.
fn allocated_bytes(node: &Node) -> Option<u64> {
    let (status, body) = http::request(node.addrs.admin, "GET", "/debug/memory").ok()?;
    if status != 200 {
        return None;
    }
    serde_json::from_str::<Value>(&body).ok()?["allocator"]["allocated"].as_u64()
}

/// `istio_xds_nack_total`, as a count: the family's sum over no series is `-0.0` in f64,
/// which must not print as "-0".
fn nacks(node: &Node) -> Option<u64> {
    let (_, m) = http::request(node.addrs.metrics, "GET", "/metrics").ok()?;
    Some(istio::nacks(&m).max(0.0) as u64)
}

/// A shared-mode ztunnel for `NODE` against `cp`, as Istio's chart runs it (no pods enrolled).
fn start_ztunnel(bin: &Path, cp: &IstioCp, cni: &Cni) -> Node {
    let spec = cp.shared_node(NODE, IpAddr::from([127, 0, 180, 1]), &cni.path);
    spec.spawn(bin).expect("starting ztunnel")
}

fn is_update(e: &Value) -> bool {
    message(e) == "xDS update applied"
}

fn field(e: &Value, k: &str) -> u64 {
    e[k].as_u64().unwrap_or(0)
}

/// Log time of an event as seconds since the epoch.
fn event_time(e: &Value) -> f64 {
    let t = e["time"].as_str().unwrap_or("");
    time_of(t).unwrap_or(f64::NAN)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` → seconds since the epoch.
fn time_of(t: &str) -> Option<f64> {
    let (date, rest) = t.split_once('T')?;
    let mut d = date.split('-').map(|v| v.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let rest = rest.strip_suffix('Z')?;
    let mut h = rest.split(':');
    let (hh, mm, ss) = (h.next()?.parse::<i64>().ok()?, h.next()?.parse::<i64>().ok()?, h.next()?.parse::<f64>().ok()?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

fn now_epoch() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Add,
    Label,
    Ip,
    Delete,
}

impl Kind {
    const CYCLE: [Kind; 4] = [Kind::Add, Kind::Label, Kind::Ip, Kind::Delete];

    fn name(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Label => "label",
            Kind::Ip => "ip",
            Kind::Delete => "delete",
        }
    }
}

/// One measured change.
struct Change {
    kind: Kind,
    ztunnel_us: f64,
    istio_cp_us: f64,
    responses: u64,
    resources: u64,
    latency_ms: f64,
}

/// How long after istio-cp reports a change committed we keep listening for more responses
/// about it (istiod may push it in more than one).
const TRAILING: Duration = Duration::from_millis(150);

struct SizeResult {
    n: usize,
    cp_start: Duration,
    load: Duration,
    rss_loaded: u64,
    alloc_loaded: Option<u64>,
    idle_ztunnel_us_per_s: f64,
    changes: Vec<Change>,
    stat_cpu_per_change_us: f64,
    nacks: Option<u64>,
    initial_responses: usize,
}

fn run_size(bin: &Path, n: usize, k: usize) -> SizeResult {
    let services = n / PODS_PER_SERVICE;
    eprintln!("[{n}] writing {n} pods, {services} services");
    let objects = mesh(n);
    let t = Instant::now();
    let cp = IstioCp::start_with(&objects, &["--log-level", "all:warn"]);
    let cp_start = t.elapsed();
    eprintln!("[{n}] istio-cp up in {:.1} s", cp_start.as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let cni = Cni::start(&dir.path().join("zds.sock")).unwrap();

    let t = Instant::now();
    let node = start_ztunnel(bin, &cp, &cni);
    let (_, loaded) = node
        .wait_from(0, LOAD_TIMEOUT, |e| {
            is_update(e) && field(e, "workloads") >= n as u64 && field(e, "services") >= services as u64
        })
        .unwrap_or_else(|e| panic!("ztunnel did not load {n} workloads: {e}\n{}", tail(&node.raw_log(), 20)));
    let load = t.elapsed();
    let initial_responses = node.events().iter().filter(|e| is_update(e)).count();
    let base_workloads = field(&loaded, "workloads");
    eprintln!("[{n}] ztunnel holds {base_workloads} workloads after {:.2} s", load.as_secs_f64());
    // Let the buffers of the initial response go back to the OS (jemalloc decays in ~1 s).
    std::thread::sleep(Duration::from_secs(3));
    let rss_loaded = rss_bytes(node.pid());
    let alloc_loaded = allocated_bytes(&node);

    // Idle rate, so the cost of timers and housekeeping is not counted as push handling.
    let idle_window = Duration::from_secs(5);
    let (c0, t0) = (cpu_ns(node.pid()), Instant::now());
    std::thread::sleep(idle_window);
    let idle_ns_per_s = (cpu_ns(node.pid()) - c0) as f64 / t0.elapsed().as_secs_f64();
    let (cp_c0, cp_t0) = (cpu_ns(cp.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let cp_idle_ns_per_s = (cpu_ns(cp.pid()) - cp_c0) as f64 / cp_t0.elapsed().as_secs_f64();

    let mut changes = Vec::new();
    let stat_start = stat_cpu_ns(node.pid());
    let churn_start = Instant::now();
    for step in 0..k {
        let kind = Kind::CYCLE[step % 4];
        let cycle = step / 4;
        let name = format!("churn-{cycle}");
        let (ns, app) = ("ns-0", app_of(0));
        let moved = matches!(kind, Kind::Ip);
        let version = if matches!(kind, Kind::Label | Kind::Ip) { "v2" } else { "v1" };
        let doc = pod_yaml(ns, &name, &app, version, "node-1", churn_ip(cycle, moved));
        let from = node.event_count();
        let (z0, c0, w0, e0) = (cpu_ns(node.pid()), cpu_ns(cp.pid()), Instant::now(), now_epoch());
        if kind == Kind::Delete {
            cp.delete(&doc);
        } else {
            cp.patch(&doc);
        }
        let want = match kind {
            Kind::Add | Kind::Label | Kind::Ip => base_workloads + 1,
            Kind::Delete => base_workloads,
        };
        let (_, first) = node
            .wait_from(from, Duration::from_secs(30), |e| {
                is_update(e) && field(e, "workloads") == want && field(e, "applied") + field(e, "removed") > 0
            })
            .unwrap_or_else(|e| panic!("ztunnel did not apply change {step} ({}): {e}", kind.name()));
        std::thread::sleep(TRAILING);
        let window = w0.elapsed().as_secs_f64();
        let (z1, c1) = (cpu_ns(node.pid()), cpu_ns(cp.pid()));
        let updates: Vec<Value> = node.events_from(from).into_iter().filter(is_update).collect();
        changes.push(Change {
            kind,
            ztunnel_us: ((z1 - z0) as f64 - idle_ns_per_s * window) / 1000.0,
            istio_cp_us: ((c1 - c0) as f64 - cp_idle_ns_per_s * window) / 1000.0,
            responses: updates.len() as u64,
            resources: updates.iter().map(|e| field(e, "applied") + field(e, "removed")).sum(),
            latency_ms: (event_time(&first) - e0) * 1000.0,
        });
    }
    let churn = churn_start.elapsed().as_secs_f64();
    let stat_total = stat_cpu_ns(node.pid()) - stat_start;
    let stat_cpu_per_change_us = (stat_total as f64 - idle_ns_per_s * churn) / k as f64 / 1000.0;
    let nacks = nacks(&node);
    SizeResult {
        n,
        cp_start,
        load,
        rss_loaded,
        alloc_loaded,
        idle_ztunnel_us_per_s: idle_ns_per_s / 1000.0,
        changes,
        stat_cpu_per_change_us,
        nacks,
        initial_responses,
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let sizes: Vec<usize> = opt("--sizes")
        .unwrap_or_else(|| "10000,50000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes: comma-separated pod counts"))
        .collect();
    let k: usize = opt("--changes").map(|v| v.parse().expect("--changes: a number")).unwrap_or(40);
    let bin = std::env::var_os("ZTUNNEL_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ztunnel").into());
    eprintln!("ztunnel: {}; istio-cp: {}", bin.display(), istio::istio_cp_bin().display());

    // Baseline: the same ztunnel, connected and synced, with no pods in the mesh.
    let (rss_base, alloc_base) = {
        let cp = IstioCp::start_with(&mesh(0), &["--log-level", "all:warn"]);
        let dir = tempfile::tempdir().unwrap();
        let cni = Cni::start(&dir.path().join("zds.sock")).unwrap();
        let node = start_ztunnel(&bin, &cp, &cni);
        node.wait_for(Duration::from_secs(30), |e| message(e) == "initial xDS sync complete")
            .unwrap_or_else(|e| panic!("baseline ztunnel did not sync: {e}\n{}", tail(&node.raw_log(), 20)));
        std::thread::sleep(Duration::from_secs(3));
        (rss_bytes(node.pid()), allocated_bytes(&node))
    };
    eprintln!("baseline: RSS {:.1} MiB", rss_base as f64 / 1048576.0);

    let results: Vec<SizeResult> = sizes.iter().map(|&n| run_size(&bin, n, k)).collect();

    let mib = |b: u64| b as f64 / 1048576.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| pods | istio-cp start | ztunnel load (responses) | RSS base → loaded | RSS/workload | heap/workload | ztunnel idle CPU | NACKs |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for r in &results {
        let per = |a: u64, b: u64| (a as f64 - b as f64) / r.n as f64;
        let heap = match (r.alloc_loaded, alloc_base) {
            (Some(a), Some(b)) => format!("{:.0} B", per(a, b)),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} s | {:.2} s ({}) | {:.1} → {:.1} MiB | {:.0} B | {heap} | {:.0} us/s | {} |",
            r.n,
            r.cp_start.as_secs_f64(),
            r.load.as_secs_f64(),
            r.initial_responses,
            mib(rss_base),
            mib(r.rss_loaded),
            per(r.rss_loaded, rss_base),
            r.idle_ztunnel_us_per_s,
            r.nacks.map_or("n/a".into(), |v| v.to_string()),
        );
    }
    let _ = writeln!(
        out,
        "\n| pods | change | n | ztunnel CPU/change (median) | istio-cp CPU/change (median) | responses / resources (median) | istio-cp → ztunnel applied (median) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for r in &results {
        for kind in Kind::CYCLE {
            let of: Vec<&Change> = r.changes.iter().filter(|c| c.kind == kind).collect();
            let col = |f: fn(&Change) -> f64| median(&mut of.iter().map(|c| f(c)).collect::<Vec<_>>());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} us | {:.0} us | {:.0} / {:.0} | {:.1} ms |",
                r.n,
                kind.name(),
                of.len(),
                col(|c| c.ztunnel_us),
                col(|c| c.istio_cp_us),
                col(|c| c.responses as f64),
                col(|c| c.resources as f64),
                col(|c| c.latency_ms),
            );
        }
        let all = |f: fn(&Change) -> f64| median(&mut r.changes.iter().map(f).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "| {} | all | {} | {:.0} us (stat ticks: {:.0} us mean) | {:.0} us | {:.0} / {:.0} | {:.1} ms |",
            r.n,
            r.changes.len(),
            all(|c| c.ztunnel_us),
            r.stat_cpu_per_change_us,
            all(|c| c.istio_cp_us),
            all(|c| c.responses as f64),
            all(|c| c.resources as f64),
            all(|c| c.latency_ms),
        );
    }
    print!("{out}");
}
