//! The `baggage` header a peer sends on CONNECT (src/metrics/baggage.rs `parse`), and the
//! round trip through `encode`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ztunnel::metrics::baggage;
use ztunnel::state::Workload;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let b = baggage::parse(value);
    let fields = [&b.cluster, &b.namespace, &b.workload_name, &b.service_name, &b.service_version];
    for v in fields.into_iter().flatten() {
        assert!(!v.is_empty() && v.trim() == v && !v.contains([',', ';']), "{v:?}");
    }
    // What we would send for a workload with these values parses back to them (minus the
    // values `encode` refuses to write).
    let mut w = Workload::new("uid", b.namespace.clone().unwrap_or_default(), "pod", vec![]);
    w.cluster_id = b.cluster.clone().unwrap_or_default().into();
    w.workload_name = b.workload_name.clone().unwrap_or_default().into();
    w.canonical_name = b.service_name.clone().unwrap_or_default().into();
    w.canonical_revision = b.service_version.clone().unwrap_or_default().into();
    let back = baggage::parse(&baggage::encode(&w));
    let keep = |v: &Option<String>| v.clone().filter(|v| !v.contains('='));
    assert_eq!(back.cluster, keep(&b.cluster));
    assert_eq!(back.service_name, keep(&b.service_name));
    assert_eq!(back.service_version, keep(&b.service_version));
    // A workload name `encode` refuses leaves none (it does not fall back to the pod name).
    if b.workload_name.is_some() {
        assert_eq!(back.workload_name, keep(&b.workload_name));
    }
});
