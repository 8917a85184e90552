//! Micro benchmark for the L4 authorization engine: `evaluate` and `ProxyState::policies_for`
//! with 10, 100 and 1,000 policies in scope of the destination workload, and the path
//! enforcement uses, `ProxyState::evaluate` over the precomputed, namespace-indexed policy
//! sets (no list collected; policies pinned to other source namespaces are not visited).
//!
//! Every in-scope policy but one is built not to match (so all of them are evaluated, the worst
//! case for a connection that is finally allowed), and one selected ALLOW policy matches.
//! Prints nanoseconds per decision (median of several batches) and heap allocations per call,
//! counted by a wrapping global allocator. Then the enforcement overheads: registering and
//! dropping one live connection in the registry, and a re-check of 10,000 live connections
//! after a policy change. Run: `cargo bench --bench rbac`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ztunnel::identity::Identity;
use ztunnel::rbac::{Authorization, Connection, PolicyAction, PolicyScope, RbacMatch, StringMatch, evaluate};
use ztunnel::state::{ProxyState, Workload};

/// Counts allocations so the report can show the hot path stays allocation-free.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A realistic-looking policy that does not match the benchmark connection: it passes the
/// cheap port check and fails on the identity, so each one costs a full match evaluation.
fn non_matching(i: usize, action: PolicyAction) -> Authorization {
    let m = RbacMatch {
        destination_ports: vec![8080, 9090],
        source_ips: vec!["10.0.0.0/8".parse().unwrap()],
        namespaces: vec![StringMatch::Exact(format!("ns-{i}"))],
        principals: vec![StringMatch::Prefix(format!("cluster.local/ns/ns-{i}/"))],
        ..RbacMatch::default()
    };
    Authorization {
        name: format!("p{i:05}"),
        namespace: "default".into(),
        scope: PolicyScope::Namespace,
        action,
        rules: vec![vec![vec![m]]],
        dry_run: false,
    }
}

fn setup(n: usize) -> (ProxyState, Arc<Workload>) {
    let mut st = ProxyState::new();
    let mut w = Workload::new("w", "default", "httpbin", vec![ip("10.0.1.7")]);
    w.authorization_policies = vec!["default/allow-client".into()];
    let w = st.insert_workload(w).unwrap();
    for i in 0..n - 1 {
        let action = if i % 2 == 0 { PolicyAction::Deny } else { PolicyAction::Allow };
        st.insert_policy(non_matching(i, action)).unwrap();
        // Out-of-scope noise the namespace index must skip.
        let mut other = non_matching(i, action);
        other.namespace = "other".into();
        st.insert_policy(other).unwrap();
    }
    st.insert_policy(Authorization {
        name: "allow-client".into(),
        namespace: "default".into(),
        scope: PolicyScope::WorkloadSelector,
        action: PolicyAction::Allow,
        rules: vec![vec![vec![RbacMatch {
            principals: vec![StringMatch::Exact("cluster.local/ns/default/sa/client".into())],
            ..RbacMatch::default()
        }]]],
        dry_run: false,
    })
    .unwrap();
    (st, w)
}

/// Median nanoseconds per call over `batches` batches of `iters` calls each.
fn median_ns(batches: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters {
        f(); // warm-up
    }
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

fn allocs_per_call(mut f: impl FnMut()) -> f64 {
    const N: u64 = 1_000;
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..N {
        f();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / N as f64
}

fn main() {
    let conn = Connection {
        src_identity: Some(Identity::new("cluster.local", "default", "client")),
        src_ip: ip("10.0.0.5"),
        dst_ip: ip("10.0.1.7"),
        dst_port: 8080,
    };
    println!(
        "{:>8} {:>14} {:>14} {:>16} {:>12} {:>12} {:>14} {:>14}",
        "policies", "evaluate ns", "policies_for", "both ns", "eval allocs", "for allocs", "indexed ns", "idx allocs"
    );
    for n in [10usize, 100, 1_000] {
        let (st, w) = setup(n);
        let ps = st.policies_for(&w);
        assert_eq!(ps.len(), n);
        let e = evaluate(ps.iter().map(Arc::as_ref), &conn);
        assert_eq!(e.allowed_by.as_deref(), Some("default/allow-client"), "{e:?}");
        let iters = 200_000 / n;
        let eval = || {
            black_box(evaluate(black_box(&ps).iter().map(Arc::as_ref), black_box(&conn)));
        };
        let lookup = || {
            black_box(st.policies_for(black_box(&w)));
        };
        let both = || {
            let ps = st.policies_for(black_box(&w));
            black_box(evaluate(ps.iter().map(Arc::as_ref), black_box(&conn)));
        };
        let indexed = || {
            black_box(st.evaluate(black_box(&w), black_box(&conn)));
        };
        assert_eq!(st.evaluate(&w, &conn), e, "the indexed path decides the same");
        let t_eval = median_ns(15, iters, eval);
        let t_for = median_ns(15, iters, lookup);
        let t_both = median_ns(15, iters, both);
        let t_idx = median_ns(15, 200_000, indexed);
        println!(
            "{n:>8} {t_eval:>14.0} {t_for:>14.0} {t_both:>16.0} {:>12.1} {:>12.1} {t_idx:>14.0} {:>14.1}",
            allocs_per_call(eval),
            allocs_per_call(lookup),
            allocs_per_call(indexed),
        );
    }
    // The common all-allowed case with no policy at all: nothing to allocate.
    let no_policies: Vec<Authorization> = Vec::new();
    let t = median_ns(15, 200_000, || {
        black_box(evaluate(black_box(&no_policies).iter(), black_box(&conn)));
    });
    let a = allocs_per_call(|| {
        black_box(evaluate(no_policies.iter(), &conn));
    });
    println!("{:>8} {t:>14.0} {:>14} {:>16} {a:>12.1} {:>12}", 0, "-", "-", "-");
    registry();
}

/// Per-connection registry cost, and one re-check pass over many live connections.
fn registry() {
    use ztunnel::proxy::authz::InboundConn;
    use ztunnel::proxy::connections::ConnectionRegistry;

    let (st, w) = setup(10);
    let facts = Arc::new(InboundConn::new(
        "10.0.0.5:40000".parse().unwrap(),
        Some(Identity::new("cluster.local", "default", "client")),
        "10.0.1.7:8080".parse().unwrap(),
        w,
    ));
    println!();
    for live in [0usize, 10_000] {
        let reg = ConnectionRegistry::default();
        let held: Vec<_> = (0..live).map(|_| reg.register(facts.clone())).collect();
        let t = median_ns(15, 20_000, || {
            black_box(reg.register(black_box(facts.clone())));
        });
        println!("register + drop, {live:>6} other live connections: {t:>8.0} ns");
        if live > 0 {
            // Nothing is revoked (all still allowed): the pure cost of the pass.
            let t = median_ns(5, 3, || {
                assert_eq!(reg.recheck(black_box(&st)), 0);
            });
            println!("re-check of {live} live connections (10 policies): {:>8.2} ms", t / 1e6);
        }
        drop(held);
    }
}
