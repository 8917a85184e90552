//! Mesh-scale benchmark of the state store: what one node's ztunnel pays to hold and update
//! the whole mesh.
//!
//! For each size n (default 10k, 50k, 100k workloads; services = n/10, policies = n/20, in
//! namespaces of 100 workloads, each workload an endpoint of one service): time to load
//! everything through the state builder, live heap bytes (counted by a wrapping global
//! allocator over jemalloc, as the binary uses) and RSS once loaded, bytes per workload,
//! p50/p99 of one delta through `StateStore::update` (a workload add, update and remove, and
//! a policy change: clone of the snapshot, the change, and the publish; inputs are built
//! before the clock starts), and memory after a churn of updates (default 1 million, each
//! with a revision label never seen before, the interner's worst case). Then RBAC decision time through
//! `ProxyState::evaluate` with 10 / 1,000 / 10,000 policies in the destination's namespace.
//!
//! Run: `cargo bench --bench scale -- --sizes 10000,50000 [--churn 1000000] [--no-rbac]`.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use ztunnel::identity::Identity;
use ztunnel::rbac::{Authorization, Connection, PolicyAction, PolicyScope, RbacMatch, StringMatch};
use ztunnel::state::{
    Memberships, NamespacedHostname, NetworkAddress, ProxyState, Service, StateStore, TunnelProtocol, Workload,
};

/// Live heap bytes, so memory figures are the state's own and not the allocator's retention.
struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        unsafe { JEMALLOC.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { JEMALLOC.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        unsafe { JEMALLOC.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PER_NAMESPACE: usize = 100;

fn live_bytes() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn ns(i: usize) -> String {
    format!("ns-{}", i / PER_NAMESPACE)
}

fn ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + i as u32))
}

/// A workload shaped like istiod's: a pod with one IP, HBONE, node, canonical labels, one
/// service membership.
fn workload(i: usize, revision: &str) -> (Workload, Memberships) {
    let namespace = ns(i);
    let name = format!("app-{}-7d9f8c6b5-{:05}", i % PER_NAMESPACE / 10, i);
    let mut w = Workload::new(format!("Kubernetes//Pod/{namespace}/{name}"), namespace.clone(), name, vec![ip(i)]);
    w.protocol = TunnelProtocol::Hbone;
    w.service_account = format!("app-{}", i % PER_NAMESPACE / 10).into();
    w.node = format!("node-{}", i % 500).into();
    w.canonical_name = format!("app-{}", i % PER_NAMESPACE / 10).into();
    w.canonical_revision = revision.into();
    w.workload_name = format!("app-{}", i % PER_NAMESPACE / 10).into();
    w.workload_type = "deployment".into();
    // As the xDS conversion fills them: the membership both as a name and with its ports.
    w.services.push(NamespacedHostname { namespace: namespace.as_str().into(), hostname: service_host(i / 10).into() });
    let mut m = Memberships::new();
    m.entry(format!("{namespace}/{}", service_host(i / 10))).or_default().insert(80, 8080);
    (w, m)
}

fn service_host(s: usize) -> String {
    format!("app-{}.{}.svc.cluster.local", s % (PER_NAMESPACE / 10), ns(s * 10))
}

fn service(s: usize) -> Service {
    let mut svc = Service::new(ns(s * 10), format!("app-{}", s % (PER_NAMESPACE / 10)), service_host(s));
    svc.vips.push(NetworkAddress {
        network: Default::default(),
        address: IpAddr::V4(Ipv4Addr::from(0x0b00_0000u32 + s as u32)),
    });
    svc.ports.insert(80, 8080);
    svc
}

/// A namespace policy allowing one caller namespace on two ports (the common shape).
fn policy(p: usize, namespace: String, caller: usize) -> Authorization {
    Authorization {
        name: format!("allow-{p}"),
        namespace,
        scope: PolicyScope::Namespace,
        action: if p.is_multiple_of(2) { PolicyAction::Allow } else { PolicyAction::Deny },
        rules: vec![vec![vec![RbacMatch {
            destination_ports: vec![8080, 9090],
            namespaces: vec![StringMatch::Exact(format!("caller-{caller}"))],
            principals: vec![StringMatch::Prefix(format!("cluster.local/ns/caller-{caller}/"))],
            ..RbacMatch::default()
        }]]],
        dry_run: false,
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_nanos() as f64 / 1e3;
    (at(0.50), at(0.99))
}

/// p50/p99 of `f` over `inputs`, each built beforehand so only the store's work is timed.
fn timed<T>(inputs: Vec<T>, mut f: impl FnMut(T)) -> (f64, f64) {
    let mut samples = Vec::with_capacity(inputs.len());
    for input in inputs {
        let t = Instant::now();
        f(input);
        samples.push(t.elapsed());
    }
    percentiles(samples)
}

/// Loads the mesh; also returns the heap each phase added (workloads with their pending
/// endpoints, then services, then policies).
fn load(n: usize) -> (ProxyState, [i64; 3]) {
    let mut st = ProxyState::new();
    let mut log = Vec::new();
    let mut phases = [0; 3];
    let mut at = live_bytes();
    for i in 0..n {
        let (w, m) = workload(i, "v1");
        st.upsert_workload(w, &m, &mut log);
        log.clear();
    }
    phases[0] = live_bytes() - at;
    at = live_bytes();
    for s in 0..n / 10 {
        st.upsert_service(service(s), &mut log).expect("distinct VIPs");
        log.clear();
    }
    phases[1] = live_bytes() - at;
    at = live_bytes();
    for p in 0..n / 20 {
        // Five per namespace of 100 workloads.
        st.upsert_policy(policy(p, ns(p * 20), p), &mut log);
        log.clear();
    }
    phases[2] = live_bytes() - at;
    (st, phases)
}

fn size(n: usize, churn: usize) {
    let heap0 = live_bytes();
    let rss0 = rss_bytes();
    let t = Instant::now();
    let (st, phases) = load(n);
    let load_s = t.elapsed().as_secs_f64();
    let heap = live_bytes() - heap0;
    let rss = rss_bytes().saturating_sub(rss0);
    let store = StateStore::new(st);
    println!(
        "n={n:>7}: load {load_s:>6.3} s | heap {:>7.1} MiB, {:>5.0} B/workload (all-in) | RSS +{:>6.1} MiB",
        heap as f64 / 1048576.0,
        heap as f64 / n as f64,
        rss as f64 / 1048576.0
    );
    println!(
        "           per workload: {} B workloads (with their endpoints), {} B services, {} B policies",
        phases[0] / n as i64,
        phases[1] / n as i64,
        phases[2] / n as i64
    );

    const OPS: usize = 20_000;
    let (a50, a99) = timed((0..OPS).map(|i| workload(n + i, "v1")).collect(), |(w, m)| {
        store.update(|st, log| black_box(st.upsert_workload(w, &m, log)));
    });
    let (u50, u99) = timed((0..OPS).map(|i| workload((i * 7919) % n, "v2")).collect(), |(w, m)| {
        store.update(|st, log| black_box(st.upsert_workload(w, &m, log)));
    });
    let (r50, r99) = timed((0..OPS).map(|i| workload(n + i, "v1").0.uid).collect(), |uid| {
        store.update(|st, log| black_box(st.remove_workload(&uid, log)));
    });
    let policies = (0..OPS)
        .map(|i| {
            let p = (i * 31) % (n / 20);
            let mut changed = policy(p, ns(p * 20), p);
            changed.rules[0][0][0].destination_ports.push(1000 + (i % 1000) as u16);
            changed
        })
        .collect();
    let (p50, p99) = timed(policies, |changed| {
        store.update(|st, log| black_box(st.upsert_policy(changed, log)));
    });
    println!(
        "           delta p50/p99 us: workload add {a50:.1}/{a99:.1}, update {u50:.1}/{u99:.1}, remove {r50:.1}/{r99:.1}; policy change {p50:.1}/{p99:.1}"
    );

    // Churn: every update a revision never seen before (the interner's worst case: each one
    // a new string, dead after the next update of that workload). Every workload is set to
    // "v1" before and after, so the two heap figures hold the same live values.
    let restore = || {
        for i in 0..n {
            let (w, m) = workload(i, "v1");
            store.update(|st, log| {
                st.upsert_workload(w, &m, log);
            });
        }
    };
    restore();
    let before_heap = live_bytes();
    let before_rss = rss_bytes();
    let t = Instant::now();
    for i in 0..churn {
        let (w, m) = workload((i * 104_729) % n, &format!("rev-{i}"));
        store.update(|st, log| {
            st.upsert_workload(w, &m, log);
        });
    }
    let churn_s = t.elapsed().as_secs_f64();
    let interned = store.snapshot().interned_names();
    restore();
    let after_heap = live_bytes();
    // The revisions the reset made dead stay in the interner until its next sweep (when its
    // table has doubled); a sweep now shows what is left beyond them.
    store.snapshot().sweep_names();
    println!(
        "           after {churn} churn updates ({:.1} us each, {interned} names interned at the end): heap {:+.1} MiB ({:+.1} MiB after a sweep), RSS {:+.1} MiB",
        churn_s * 1e6 / churn.max(1) as f64,
        (after_heap - before_heap) as f64 / 1048576.0,
        (live_bytes() - before_heap) as f64 / 1048576.0,
        (rss_bytes() as f64 - before_rss as f64) / 1048576.0
    );
}

fn median_ns(batches: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    let mut per = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        per.push(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    per.sort_by(|a, b| a.partial_cmp(b).unwrap());
    per[batches / 2]
}

/// Decision time with `n` policies in the destination's namespace, one of which (selected by
/// the workload) allows the caller: namespace-pinned policies (the index skips all but the
/// caller's), and port-only ones the index cannot rule out (every one is evaluated).
fn rbac(n: usize) {
    let conn = Connection {
        src_identity: Some(Identity::new("cluster.local", "caller", "client")),
        src_ip: "10.0.0.5".parse().unwrap(),
        dst_ip: "10.0.1.7".parse().unwrap(),
        dst_port: 8080,
    };
    let mut out = Vec::new();
    for pinned in [true, false] {
        let mut st = ProxyState::new();
        let mut w = Workload::new("w", "default", "httpbin", vec!["10.0.1.7".parse().unwrap()]);
        w.authorization_policies = vec!["default/allow-client".into()];
        let w = st.insert_workload(w).unwrap();
        for i in 0..n - 1 {
            let mut p = policy(i, "default".into(), i);
            if !pinned {
                p.rules = vec![vec![vec![RbacMatch {
                    destination_ports: vec![9000 + (i % 500) as u16],
                    ..RbacMatch::default()
                }]]];
            }
            st.insert_policy(p).unwrap();
        }
        st.insert_policy(Authorization {
            name: "allow-client".into(),
            namespace: "default".into(),
            scope: PolicyScope::WorkloadSelector,
            action: PolicyAction::Allow,
            rules: vec![vec![vec![RbacMatch {
                principals: vec![StringMatch::Exact("cluster.local/ns/caller/sa/client".into())],
                ..RbacMatch::default()
            }]]],
            dry_run: false,
        })
        .unwrap();
        assert_eq!(st.evaluate(&w, &conn).allowed_by.as_deref(), Some("default/allow-client"));
        let iters = (2_000_000 / n).clamp(10, 200_000);
        out.push(median_ns(9, iters, || {
            black_box(st.evaluate(black_box(&w), black_box(&conn)));
        }));
    }
    println!(
        "rbac {n:>6} policies in one namespace: {:>9.0} ns namespace-pinned, {:>9.0} ns port-only",
        out[0], out[1]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let sizes: Vec<usize> = arg("--sizes")
        .map(|s| s.split(',').map(|v| v.trim().parse().expect("--sizes: comma-separated numbers")).collect())
        .unwrap_or_else(|| vec![10_000, 50_000, 100_000]);
    let churn: usize = arg("--churn").map(|c| c.parse().expect("--churn: a number")).unwrap_or(1_000_000);
    for n in sizes {
        size(n, churn);
    }
    if !args.iter().any(|a| a == "--no-rbac") {
        for n in [10, 1_000, 10_000] {
            rbac(n);
        }
    }
}
