//! A DNS query from a pod to the DNS proxy on 15053 (src/dns/server.rs `DnsServer::handle`:
//! hickory parse, mesh-name lookup with search domains, answer building, truncation), over
//! both transports. No upstream resolvers, so names not in the mesh get SERVFAIL without I/O.

#![no_main]

mod common;

use std::sync::{Arc, LazyLock};

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use ztunnel::dns::metrics::DnsMetrics;
use ztunnel::dns::server::{DnsConfig, DnsServer, Transport};
use ztunnel::socket::SocketOptions;
use ztunnel::state::StateStore;

/// A service with a VIP of each family and one IPv4-only, plus a workload to label metrics.
const STATE: &str = r#"
workloads:
- name: client
  namespace: default
  workloadIps: ["10.0.0.1"]
services:
- name: echo
  namespace: default
  hostname: echo.default.svc.cluster.local
  vips: ["/10.96.0.1", "/fd00::1"]
  ports: {80: 8080}
- name: ext
  namespace: other
  hostname: example.com
  vips: ["/10.96.0.2"]
  ports: {443: 443}
"#;

static SERVER: LazyLock<Arc<DnsServer>> = LazyLock::new(|| {
    let state = ztunnel::xds::load_str(STATE, "fuzz").expect("fuzz state loads");
    let cfg = DnsConfig {
        namespace: "default".into(),
        workload: "client".into(),
        search: ztunnel::dns::lookup::search_domains("default", "cluster.local").to_vec(),
        require_workload: false,
        domain: "cluster.local".into(),
        network: String::new(),
        upstreams: vec![],
        socket: SocketOptions::default(),
    };
    DnsServer::new(cfg, StateStore::new(state), DnsMetrics::unregistered())
});

fuzz_target!(|data: &[u8]| {
    for proto in [Transport::Udp, Transport::Tcp] {
        let Some(reply) = common::ready(SERVER.handle(data, proto)) else {
            // Only input too short to carry an id goes unanswered.
            assert!(data.len() < 2);
            continue;
        };
        // Every answer is well-formed and carries the query's id.
        let m = Message::from_vec(&reply).expect("reply parses");
        assert_eq!(m.metadata.id.to_be_bytes(), [data[0], data[1]]);
        // Over UDP an answer fits the client's limit (else it is truncated, TC set).
        if proto == Transport::Udp
            && let Ok(q) = Message::from_vec(data)
        {
            let max = q.edns.as_ref().map(|e| e.max_payload() as usize).unwrap_or(512).max(512);
            assert!(reply.len() <= max, "{} byte UDP answer, limit {max}", reply.len());
        }
    }
});
