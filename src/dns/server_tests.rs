use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Query};

use super::*;
use crate::state::ProxyState;

fn state(extra_vips: usize) -> StateStore {
    let mut yaml = crate::testbed::Mesh::on_loopback(9, 8080).config_yaml();
    // A service with many VIPs, for truncation.
    let vips: Vec<String> = (0..extra_vips).map(|i| format!("\"/10.9.{}.{}\"", i / 200, i % 200 + 1)).collect();
    yaml.push_str(&format!("- name: big\n  namespace: default\n  hostname: big.default.svc.cluster.local\n  vips: [{}]\n  ports:\n    80: 8080\n", vips.join(", ")));
    let s: ProxyState = crate::xds::load_str(&yaml, "test").unwrap();
    StateStore::new(s)
}

fn server(upstreams: Vec<SocketAddr>, extra_vips: usize) -> (Arc<DnsServer>, Arc<DnsMetrics>) {
    let metrics = DnsMetrics::unregistered();
    let cfg = DnsConfig {
        namespace: "default".into(),
        workload: "client".into(),
        search: super::lookup::search_domains("default", "cluster.local").to_vec(),
        require_workload: false,
        domain: "cluster.local".into(),
        network: String::new(),
        upstreams,
        socket: SocketOptions::default(),
    };
    (DnsServer::new(cfg, state(extra_vips), metrics.clone()), metrics)
}

fn query(name: &str, t: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    m.to_vec().unwrap()
}

fn answers(bytes: &[u8]) -> (Message, Vec<String>) {
    let m = Message::from_vec(bytes).unwrap();
    let a = m.answers.iter().map(|r| format!("{} {}", r.name, r.data)).collect();
    (m, a)
}

#[tokio::test]
async fn answers_service_names_from_state() {
    let (s, metrics) = server(vec![], 0);
    let (m, a) =
        answers(&s.handle(&query("echo.default.svc.cluster.local.", RecordType::A), Transport::Udp).await.unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a, vec!["echo.default.svc.cluster.local. 127.9.10.1"]);
    // Search domain appended to a full name: CNAME to the service, then its address.
    let (_, a) = answers(
        &s.handle(&query("echo.default.svc.cluster.local.default.svc.cluster.local.", RecordType::A), Transport::Tcp)
            .await
            .unwrap(),
    );
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(a[0].ends_with("echo.default.svc.cluster.local."), "{a:?}");
    // AAAA for an IPv4-only service: no data, no error, not forwarded.
    let (m, a) =
        answers(&s.handle(&query("echo.default.svc.cluster.local.", RecordType::AAAA), Transport::Udp).await.unwrap());
    assert_eq!((m.metadata.response_code, a.len()), (ResponseCode::NoError, 0));
    let total: u64 = ["A", "AAAA"]
        .iter()
        .flat_map(|t| ["udp", "tcp"].map(|p| (t.to_string(), p.to_string())))
        .map(|(t, p)| {
            metrics
                .requests
                .get_or_create(&DnsLabels {
                    request_query_type: t,
                    request_protocol: p,
                    source_canonical_service: "unknown".into(),
                    source_canonical_revision: "unknown".into(),
                })
                .get()
        })
        .sum();
    assert_eq!(total, 3);
}

/// A real upstream resolver on loopback answering every A query with 192.0.2.7.
async fn fake_upstream() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::response(q.metadata.id, OpCode::Query);
            r.add_query(q.queries[0].clone());
            r.add_answer(Record::from_rdata(q.queries[0].name().clone(), 60, RData::A(A(Ipv4Addr::new(192, 0, 2, 7)))));
            sock.send_to(&r.to_vec().unwrap(), from).await.unwrap();
        }
    });
    addr
}

#[tokio::test]
async fn unknown_names_are_forwarded_and_failures_counted() {
    let up = fake_upstream().await;
    // A dead resolver first: the next one answers.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let (s, metrics) = server(vec![dead_addr, up], 0);
    let (m, a) = answers(&s.handle(&query("example.org.", RecordType::A), Transport::Udp).await.unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a, vec!["example.org. 192.0.2.7"]);
    let sum = |f: &Family<DnsLabels, Counter>| -> u64 {
        f.get_or_create(&DnsLabels {
            request_query_type: "A".into(),
            request_protocol: "udp".into(),
            source_canonical_service: "unknown".into(),
            source_canonical_revision: "unknown".into(),
        })
        .get()
    };
    assert_eq!(sum(&metrics.upstream_requests), 2);
    assert_eq!(sum(&metrics.upstream_failures), 0);

    // No resolver answers: SERVFAIL, counted.
    let (s, metrics) = server(vec![dead_addr], 0);
    let (m, _) = answers(&s.handle(&query("example.org.", RecordType::A), Transport::Udp).await.unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(sum(&metrics.upstream_failures), 1);
}

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

#[tokio::test]
async fn large_answers_are_truncated_over_udp_only() {
    let (s, _) = server(vec![], 60);
    let q = query("big.default.svc.cluster.local.", RecordType::A);
    let udp = s.handle(&q, Transport::Udp).await.unwrap();
    let (m, a) = answers(&udp);
    assert!(m.metadata.truncation && a.is_empty() && udp.len() <= 512, "{} bytes", udp.len());
    let (m, a) = answers(&s.handle(&q, Transport::Tcp).await.unwrap());
    assert!(!m.metadata.truncation);
    assert_eq!(a.len(), 60);
    // A client advertising a larger EDNS payload gets it all over UDP.
    let mut big = Message::from_vec(&q).unwrap();
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    big.edns = Some(edns);
    let (m, a) = answers(&s.handle(&big.to_vec().unwrap(), Transport::Udp).await.unwrap());
    assert!(!m.metadata.truncation && a.len() == 60);
}

#[tokio::test]
async fn garbage_gets_formerr_or_is_dropped() {
    let (s, _) = server(vec![], 0);
    assert!(s.handle(&[1], Transport::Udp).await.is_none());
    let (m, _) = answers(&s.handle(&[0xab, 0xcd, 0xff, 0xff, 0xff], Transport::Udp).await.unwrap());
    assert_eq!((m.metadata.id, m.metadata.response_code), (0xabcd, ResponseCode::FormErr));
}

#[test]
fn resolv_conf_parsing() {
    let ups = parse_resolv_conf(
        "# c\nsearch a b\nnameserver 10.0.0.10\nnameserver fd00::53\nnameserver fe80::1%eth0\noptions ndots:5\n",
    );
    assert_eq!(ups, vec!["10.0.0.10:53".parse().unwrap(), "[fd00::53]:53".parse().unwrap()]);
}

#[test]
fn resolv_conf_search_list() {
    let text =
        "domain old.example\nsearch NS1.svc.cluster.local. svc.cluster.local cluster.local\nnameserver 10.0.0.10\n";
    assert_eq!(parse_resolv_conf_search(text), ["ns1.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    assert!(parse_resolv_conf_search("nameserver 10.0.0.10\n").is_empty());
    // The last of `search`/`domain` wins.
    assert_eq!(parse_resolv_conf_search("search a b\ndomain c\n"), ["c"]);
}

/// Dedicated mode: while the workload is missing from the state nothing is answered on its
/// behalf: a query waits up to WORKLOAD_WAIT for it (holding a forwarding slot), then gets
/// SERVFAIL (counted); once it is there its namespace's short names resolve.
#[tokio::test(start_paused = true)]
async fn dedicated_workload_missing_from_the_state_gets_servfail() {
    let metrics = DnsMetrics::unregistered();
    let cfg = DnsConfig {
        namespace: "default".into(),
        workload: "not-there".into(),
        search: vec![],
        require_workload: true,
        domain: "cluster.local".into(),
        network: String::new(),
        upstreams: vec![],
        socket: SocketOptions::default(),
    };
    let store = state(0);
    let s = DnsServer::new(cfg.clone(), store.clone(), metrics.clone());
    for q in ["echo.", "echo.default.svc.cluster.local.", "example.org."] {
        let started = tokio::time::Instant::now();
        let (m, a) = answers(&s.handle(&query(q, RecordType::A), Transport::Udp).await.unwrap());
        assert_eq!((m.metadata.response_code, a.len()), (ResponseCode::ServFail, 0), "{q}");
        assert_eq!(started.elapsed(), WORKLOAD_WAIT, "{q}: waited for the workload first");
    }
    let unknown = DnsLabels {
        request_query_type: "A".into(),
        request_protocol: "udp".into(),
        source_canonical_service: "unknown".into(),
        source_canonical_revision: "unknown".into(),
    };
    assert_eq!(metrics.requests.get_or_create(&unknown).get(), 3);
    assert_eq!(metrics.upstream_requests.get_or_create(&unknown).get(), 0, "nothing forwarded for an unknown client");

    // Waiting holds a slot: with one, a second query meanwhile is refused.
    let s = DnsServer::with_max_in_flight(cfg.clone(), store.clone(), metrics.clone(), 1);
    let waiting = tokio::spawn({
        let s = s.clone();
        async move { s.handle(&query("echo.", RecordType::A), Transport::Udp).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (m, _) = answers(&s.handle(&query("echo.", RecordType::A), Transport::Udp).await.unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert_eq!(answers(&waiting.await.unwrap().unwrap()).0.metadata.response_code, ResponseCode::ServFail);

    // The workload arriving during the wait: answered at once, for its namespace.
    let empty = StateStore::new(ProxyState::new());
    let s = DnsServer::new(DnsConfig { workload: "client".into(), ..cfg }, empty.clone(), metrics);
    let started = tokio::time::Instant::now();
    let waiting = tokio::spawn({
        let s = s.clone();
        async move { s.handle(&query("echo.", RecordType::A), Transport::Udp).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    empty.replace((*store.snapshot()).clone());
    let (m, a) = answers(&waiting.await.unwrap().unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a, ["echo. 127.9.10.1"]);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    // Present: no wait at all.
    let started = tokio::time::Instant::now();
    let (_, a) = answers(&s.handle(&query("echo.default", RecordType::A), Transport::Udp).await.unwrap());
    assert_eq!((a, started.elapsed()), (vec!["echo.default. 127.9.10.1".to_string()], Duration::ZERO));
}

fn query_with_id(name: &str, id: u16) -> Vec<u8> {
    let mut m = Message::from_vec(&query(name, RecordType::A)).unwrap();
    m.metadata.id = id;
    m.to_vec().unwrap()
}

/// Each forwarded query holds a task and a 64 KiB buffer until its upstream answers or times
/// out; beyond the bound a query must be answered REFUSED at once (and counted) instead.
#[tokio::test]
async fn queries_beyond_the_in_flight_bound_are_refused() {
    // An upstream that takes queries and never answers: forwarded queries stay in flight.
    let black_hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let metrics = DnsMetrics::unregistered();
    let cfg = DnsConfig {
        namespace: "default".into(),
        workload: "client".into(),
        search: super::lookup::search_domains("default", "cluster.local").to_vec(),
        require_workload: false,
        domain: "cluster.local".into(),
        network: String::new(),
        upstreams: vec![black_hole.local_addr().unwrap()],
        socket: SocketOptions::default(),
    };
    let server = DnsServer::with_max_in_flight(cfg, state(0), metrics.clone(), 2);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (_trigger, watcher) = crate::drain::new();
    tokio::spawn(serve_udp(sock, server, watcher));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    for id in [1, 2] {
        client.send(&query_with_id("example.org.", id)).await.unwrap();
        // Forwarded, so it holds its slot.
        black_hole.recv_from(&mut buf).await.unwrap();
    }
    client.send(&query_with_id("example.org.", 0x7777)).await.unwrap();
    // Well inside the 5 s upstream timeout, after which the first two would be answered too.
    let n = tokio::time::timeout(Duration::from_secs(3), client.recv(&mut buf))
        .await
        .expect("the query over the bound must be answered at once")
        .unwrap();
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!((m.metadata.id, m.metadata.response_code), (0x7777, ResponseCode::Refused));
    assert_eq!(metrics.refused.get(), 1);
    assert_eq!(
        metrics
            .requests
            .get_or_create(&DnsLabels {
                request_query_type: "A".into(),
                request_protocol: "udp".into(),
                source_canonical_service: "unknown".into(),
                source_canonical_revision: "unknown".into(),
            })
            .get(),
        2,
        "a refused query is not worked on"
    );
}

/// With every forwarding slot taken by a black-holed upstream, names of the mesh are still
/// answered: they take no slot.
#[tokio::test]
async fn local_names_are_answered_while_forwarding_is_saturated() {
    let black_hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cfg = DnsConfig {
        namespace: "default".into(),
        workload: "client".into(),
        search: super::lookup::search_domains("default", "cluster.local").to_vec(),
        require_workload: false,
        domain: "cluster.local".into(),
        network: String::new(),
        upstreams: vec![black_hole.local_addr().unwrap()],
        socket: SocketOptions::default(),
    };
    let server = DnsServer::with_max_in_flight(cfg, state(0), DnsMetrics::unregistered(), 1);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (_trigger, watcher) = crate::drain::new();
    tokio::spawn(serve_udp(sock, server, watcher));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    client.send(&query_with_id("example.org.", 1)).await.unwrap();
    black_hole.recv_from(&mut buf).await.unwrap();
    // The only slot is held; another forwarded query is refused, a local name answered.
    client.send(&query_with_id("example.org.", 2)).await.unwrap();
    client.send(&query_with_id("echo.default.svc.cluster.local.", 3)).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..2 {
        let n = tokio::time::timeout(Duration::from_secs(3), client.recv(&mut buf)).await.unwrap().unwrap();
        let m = Message::from_vec(&buf[..n]).unwrap();
        codes.push((m.metadata.id, m.metadata.response_code));
    }
    codes.sort_by_key(|c| c.0);
    assert_eq!(codes, [(2, ResponseCode::Refused), (3, ResponseCode::NoError)]);
}

#[tokio::test]
async fn unassigned_query_types_share_one_metric_label() {
    let (s, metrics) = server(vec![], 0);
    for t in [65_000, 65_001] {
        s.handle(&query("echo.default.svc.cluster.local.", RecordType::Unknown(t)), Transport::Udp).await.unwrap();
    }
    let label = |t: &str| DnsLabels {
        request_query_type: t.into(),
        request_protocol: "udp".into(),
        source_canonical_service: "unknown".into(),
        source_canonical_revision: "unknown".into(),
    };
    assert_eq!(metrics.requests.get_or_create(&label("unknown")).get(), 2);
}

/// The client's network is its workload's, else NETWORK: only VIPs on it are answered.
#[tokio::test]
async fn answers_the_client_networks_vips() {
    let yaml = "\
workloads:
- uid: u-client
  name: client
  namespace: default
  workloadIps: [127.0.210.9]
  network: net-b
services:
- name: echo
  namespace: default
  hostname: echo.default.svc.cluster.local
  vips: [net-a/127.0.210.1, net-b/127.0.210.2]
";
    let ask = |workload: &str, network: &str| {
        let cfg = DnsConfig {
            namespace: "default".into(),
            workload: workload.into(),
            search: crate::dns::lookup::search_domains("default", "cluster.local").to_vec(),
            require_workload: false,
            domain: "cluster.local".into(),
            network: network.into(),
            upstreams: vec![],
            socket: SocketOptions::default(),
        };
        let st = StateStore::new(crate::xds::load_str(yaml, "test").unwrap());
        DnsServer::new(cfg, st, DnsMetrics::unregistered())
    };
    let q = query("echo.default.svc.cluster.local.", RecordType::A);
    // The workload names its network: that wins over NETWORK.
    let (_, a) = answers(&ask("client", "net-a").handle(&q, Transport::Udp).await.unwrap());
    assert_eq!(a, vec!["echo.default.svc.cluster.local. 127.0.210.2"]);
    // A client the state does not know: NETWORK.
    let (_, a) = answers(&ask("unknown", "net-a").handle(&q, Transport::Udp).await.unwrap());
    assert_eq!(a, vec!["echo.default.svc.cluster.local. 127.0.210.1"]);
}
