//! Tests for [`super::Config::from_source_with_cpus`]; never touch the process environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_source_with_cpus(&env(pairs), 8)
}

fn err(pairs: &[(&str, &str)]) -> String {
    load(pairs).unwrap_err().to_string()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn defaults() {
    let c = load(&[]).unwrap();
    assert!(!c.fake_ca);
    assert_eq!(c.fake_ca_root, None);
    assert_eq!(c.xds_address.as_deref(), Some("https://localhost:15012"));
    assert_eq!(c.ca_address.as_deref(), Some("https://localhost:15012"));
    assert_eq!(c.local_xds, None);
    assert_eq!(c.proxy_mode, ProxyMode::Shared);
    assert_eq!(c.proxy_workload_info, None);
    assert_eq!(c.trust_domain, "cluster.local");
    assert_eq!(c.cluster_id, "Kubernetes");
    assert_eq!(c.cluster_domain, "cluster.local");
    assert_eq!(c.network, "");
    assert_eq!(c.local_node, None);
    assert_eq!(c.local_ip, None);
    assert!(!c.enable_socks5);
    assert_eq!(c.enable_original_source, None);
    assert_eq!(c.num_worker_threads, 2);
    assert_eq!(c.runtime_flavor, RuntimeFlavor::ThreadPerCore);
    assert!(c.hbone_early_data);
    assert_eq!(c.log_format, LogFormat::Plain);
    assert_eq!(c.log_filter, "info");
    assert_eq!(c.pool_max_streams_per_conn, 100);
    assert_eq!(c.pool_unused_release_timeout, Duration::from_secs(300));
    assert_eq!(c.window_size, 4 * 1024 * 1024);
    assert_eq!(c.connection_window_size, 16 * 1024 * 1024);
    assert_eq!(c.frame_size, 1024 * 1024);
    assert_eq!(c.self_termination_deadline, Duration::from_secs(5));
    assert_eq!(c.secret_ttl, Duration::from_secs(86400));
    assert!(!c.authz_policy_info_logging);
    assert!(c.dns_proxy);
    assert!(c.ipv6_enabled);
    assert_eq!(c.packet_mark, Some(1337));
    assert_eq!(c.outbound_addr, sa("[::]:15001"));
    assert_eq!(c.inbound_plaintext_addr, sa("[::]:15006"));
    assert_eq!(c.inbound_addr, sa("[::]:15008"));
    assert_eq!(c.socks5_addr, sa("127.0.0.1:15080"));
    assert_eq!(c.readiness_addr, sa("[::]:15021"));
    assert_eq!(c.admin_addr, sa("127.0.0.1:15000"));
    assert_eq!(c.stats_addr, sa("[::]:15020"));
    assert_eq!(c.hbone_port, 15008);
}

#[test]
fn ipv4_only_wildcards() {
    let c = load(&[("IPV6_ENABLED", "false")]).unwrap();
    assert_eq!(c.outbound_addr, sa("0.0.0.0:15001"));
    assert_eq!(c.inbound_addr, sa("0.0.0.0:15008"));
    assert_eq!(c.admin_addr, sa("127.0.0.1:15000"));
}

#[test]
fn overrides() {
    let c = load(&[
        ("FAKE_CA", "TRUE"),
        ("FAKE_CA_ROOT_CERT", "/tmp/root.pem"),
        ("FAKE_CA_ROOT_KEY", "/tmp/root.key"),
        ("XDS_ADDRESS", "istiod:15012"),
        ("LOCAL_XDS_PATH", "examples/localhost.yaml"),
        ("PROXY_MODE", "dedicated"),
        ("PROXY_WORKLOAD_INFO", "default/local/sa1"),
        ("NODE_NAME", "node1"),
        ("CLUSTER_ID", "c1"),
        ("INSTANCE_IP", "10.0.0.1"),
        ("UNSTABLE_ENABLE_SOCKS5", "1"),
        ("ENABLE_ORIG_SRC", "false"),
        ("ZTUNNEL_WORKER_THREADS", "50%"),
        ("ZTUNNEL_RUNTIME", "Work-Stealing"),
        ("ZTUNNEL_HBONE_EARLY_DATA", "false"),
        ("LOG_FORMAT", "JSON"),
        ("RUST_LOG", "debug"),
        ("POOL_UNUSED_RELEASE_TIMEOUT", "1m30s"),
        ("HTTP2_FRAME_SIZE", "16384"),
        ("CONNECTION_TERMINATION_DEADLINE", "300ms"),
        ("SECRET_TTL", "2h"),
        ("ISTIO_META_DNS_CAPTURE", "false"),
        ("ISTIO_META_ISTIO_VERSION", "1.24.0"),
        ("ZTUNNEL_INBOUND_ADDR", "127.0.0.1:0"),
        ("ZTUNNEL_HBONE_PORT", "25008"),
    ])
    .unwrap();
    assert!(c.fake_ca);
    assert_eq!(c.fake_ca_root, Some(FakeCaRoot { cert: "/tmp/root.pem".into(), key: "/tmp/root.key".into() }));
    assert_eq!(c.xds_address.as_deref(), Some("https://istiod:15012"));
    assert_eq!(c.ca_address, None, "FAKE_CA disables the CA client");
    assert_eq!(c.local_xds, Some(LocalXdsSource::File("examples/localhost.yaml".into())));
    assert_eq!(c.proxy_mode, ProxyMode::Dedicated);
    assert_eq!(
        c.proxy_workload_info,
        Some(ProxyWorkloadInfo { namespace: "default".into(), name: "local".into(), service_account: "sa1".into() })
    );
    assert_eq!(c.local_node.as_deref(), Some("node1"));
    assert_eq!(c.cluster_id, "c1");
    assert_eq!(c.local_ip, Some("10.0.0.1".parse().unwrap()));
    assert!(c.enable_socks5);
    assert_eq!(c.enable_original_source, Some(false));
    assert_eq!(c.num_worker_threads, 4);
    assert_eq!(c.runtime_flavor, RuntimeFlavor::WorkStealing);
    assert!(!c.hbone_early_data);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_filter, "debug");
    assert_eq!(c.pool_unused_release_timeout, Duration::from_secs(90));
    assert_eq!(c.frame_size, 16384);
    assert_eq!(c.self_termination_deadline, Duration::from_millis(300));
    assert_eq!(c.secret_ttl, Duration::from_secs(7200));
    assert!(!c.dns_proxy);
    assert_eq!(c.istio_version.as_deref(), Some("1.24.0"));
    assert_eq!(c.proxy_metadata.get("ISTIO_VERSION").map(String::as_str), Some("1.24.0"));
    assert_eq!(c.proxy_metadata.get("DNS_CAPTURE").map(String::as_str), Some("false"));
    assert_eq!(c.packet_mark, None, "no default mark in dedicated mode");
    assert_eq!(c.inbound_addr, sa("127.0.0.1:0"));
    assert_eq!(c.hbone_port, 25008);
}

#[test]
fn empty_xds_address_disables_xds() {
    let c = load(&[("XDS_ADDRESS", ""), ("CA_ADDRESS", "https://ca:15012")]).unwrap();
    assert_eq!(c.xds_address, None);
    assert_eq!(c.ca_address.as_deref(), Some("https://ca:15012"));
}

#[test]
fn inline_local_xds_and_cluster_id_fallback() {
    let c = load(&[("LOCAL_XDS", "workloads: []"), ("ISTIO_META_CLUSTER_ID", "meta")]).unwrap();
    assert_eq!(c.local_xds, Some(LocalXdsSource::Inline("workloads: []".into())));
    assert_eq!(c.cluster_id, "meta");
    // As upstream (and the Helm chart, which sets only ISTIO_META_CLUSTER_ID): the ISTIO_META_
    // form wins.
    let c = load(&[("CLUSTER_ID", "a"), ("ISTIO_META_CLUSTER_ID", "b")]).unwrap();
    assert_eq!(c.cluster_id, "b");
    let c = load(&[("CLUSTER_ID", "a")]).unwrap();
    assert_eq!(c.cluster_id, "a");
}

#[test]
fn istiod_default_address_inside_kubernetes() {
    let c = load(&[]).unwrap();
    assert_eq!(c.xds_address.as_deref(), Some("https://localhost:15012"));
    let c = load(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")]).unwrap();
    assert_eq!(c.xds_address.as_deref(), Some("https://istiod.istio-system.svc:15012"));
    assert_eq!(c.ca_address.as_deref(), Some("https://istiod.istio-system.svc:15012"));
    // An explicit value (what the chart sets) always wins.
    let c = load(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ("XDS_ADDRESS", "istiod-rev:15012")]).unwrap();
    assert_eq!(c.xds_address.as_deref(), Some("https://istiod-rev:15012"));
}

#[test]
fn dns_capture_is_on_only_when_unset_or_true() {
    for (value, on) in [
        (None, true),
        (Some("true"), true),
        (Some("TRUE"), true),
        (Some("false"), false),
        (Some("no"), false),
        (Some(""), false),
    ] {
        let vars: Vec<(&str, &str)> = value.map(|v| ("ISTIO_META_DNS_CAPTURE", v)).into_iter().collect();
        assert_eq!(load(&vars).unwrap().dns_proxy, on, "{value:?}");
    }
}

#[test]
fn both_local_xds_sources_is_an_error() {
    let e = err(&[("LOCAL_XDS", "workloads: []"), ("LOCAL_XDS_PATH", "/x.yaml")]);
    assert!(e.contains("LOCAL_XDS_PATH") && e.contains("LOCAL_XDS "), "{e}");
}

#[test]
fn termination_grace_period_derives_deadline() {
    let d = |secs: &str| load(&[("TERMINATION_GRACE_PERIOD_SECONDS", secs)]).unwrap().self_termination_deadline;
    assert_eq!(d("30"), Duration::from_secs(25));
    assert_eq!(d("11"), Duration::from_secs(6));
    assert_eq!(d("10"), Duration::from_secs(9));
    assert_eq!(d("2"), Duration::from_secs(1));
    assert_eq!(d("0"), Duration::from_secs(1));
    // An explicit deadline wins over the derived one.
    let c = load(&[("TERMINATION_GRACE_PERIOD_SECONDS", "30"), ("CONNECTION_TERMINATION_DEADLINE", "2s")]).unwrap();
    assert_eq!(c.self_termination_deadline, Duration::from_secs(2));
    assert_eq!(c.termination_grace_period, Some(Duration::from_secs(30)));
}

#[test]
fn worker_thread_forms() {
    let t = |v: &str, cpus| {
        Config::from_source_with_cpus(&env(&[("ZTUNNEL_WORKER_THREADS", v)]), cpus).unwrap().num_worker_threads
    };
    assert_eq!(t("0", 6), 6);
    assert_eq!(t("3", 6), 3);
    assert_eq!(t("25%", 6), 2);
    assert_eq!(t("100%", 6), 6);
    assert_eq!(t("12.5%", 16), 2);
    assert_eq!(Config::from_source_with_cpus(&env(&[]), 32).unwrap().num_worker_threads, 8);
}

#[test]
fn keepalive_settings() {
    let c = load(&[]).unwrap();
    assert_eq!(c.keepalive, ztunnel_keepalive_default());
    let c = load(&[
        ("KEEPALIVE_TIME", "30s"),
        ("KEEPALIVE_INTERVAL", "5s"),
        ("KEEPALIVE_RETRIES", "3"),
        ("USER_TIMEOUT_ENABLED", "true"),
    ])
    .unwrap();
    assert_eq!(
        (c.keepalive.time, c.keepalive.interval, c.keepalive.retries),
        (Duration::from_secs(30), Duration::from_secs(5), 3)
    );
    assert!(c.keepalive.enabled && c.keepalive.user_timeout);
    assert!(!load(&[("KEEPALIVE_ENABLED", "false")]).unwrap().keepalive.enabled);
    let e = err(&[("KEEPALIVE_RETRIES", "many")]);
    assert!(e.contains("KEEPALIVE_RETRIES"), "{e}");
}

fn ztunnel_keepalive_default() -> crate::socket::Keepalive {
    crate::socket::Keepalive {
        enabled: true,
        time: Duration::from_secs(180),
        interval: Duration::from_secs(180),
        retries: 9,
        user_timeout: false,
    }
}

/// What Istio's chart sets from the pod's resources (downward API), read as upstream does.
#[test]
fn worker_threads_follow_the_charts_cpu_resources() {
    let t = |pairs: &[(&str, &str)], cpus| Config::from_source_with_cpus(&env(pairs), cpus).unwrap().num_worker_threads;
    // A limit is used as the thread count (upstream runs 4 workers with limits.cpu: 4).
    assert_eq!(t(&[("ZTUNNEL_RESOURCE_CPU_LIMIT", "4")], 32), 4);
    assert_eq!(t(&[("ZTUNNEL_RESOURCE_CPU_LIMIT", "1500m")], 32), 2);
    assert_eq!(t(&[("ZTUNNEL_RESOURCE_CPU_LIMIT", "1"), ("ZTUNNEL_RESOURCE_CPU_REQUEST", "3")], 32), 3);
    // No limit: the request raises the automatic floor.
    assert_eq!(t(&[("ZTUNNEL_RESOURCE_CPU_REQUEST", "500m")], 8), 2);
    assert_eq!(t(&[("ZTUNNEL_RESOURCE_CPU_REQUEST", "6")], 8), 6);
    // ZTUNNEL_CPU_LIMIT replaces the detected core count; an explicit thread count wins.
    assert_eq!(t(&[("ZTUNNEL_CPU_LIMIT", "16")], 2), 4);
    assert_eq!(t(&[("ZTUNNEL_CPU_LIMIT", "16"), ("ZTUNNEL_WORKER_THREADS", "0")], 2), 16);
    assert_eq!(t(&[("ZTUNNEL_RESOURCE_CPU_LIMIT", "4"), ("ZTUNNEL_WORKER_THREADS", "1")], 2), 1);
    for (var, bad) in
        [("ZTUNNEL_RESOURCE_CPU_LIMIT", "lots"), ("ZTUNNEL_CPU_LIMIT", "0"), ("ZTUNNEL_WORKER_THREADS", "0%")]
    {
        let e = err(&[(var, bad)]);
        assert!(e.contains(var) && e.contains(bad), "{e}");
    }
}

#[test]
fn every_error_names_variable_value_and_form() {
    let cases: &[(&str, &str, &str)] = &[
        ("FAKE_CA", "yes", "true, false, 1 or 0"),
        ("UNSTABLE_ENABLE_SOCKS5", "on", "true, false"),
        ("ENABLE_ORIG_SRC", "maybe", "true, false"),
        ("AUTHZ_POLICY_INFO_LOGGING", "2", "true, false"),
        ("IPV6_ENABLED", "nope", "true, false"),
        ("ZTUNNEL_HBONE_EARLY_DATA", "sometimes", "true, false"),
        ("PROXY_MODE", "sidecar", "shared or dedicated"),
        ("PROXY_WORKLOAD_INFO", "default/local", "namespace/name/service-account"),
        ("PROXY_WORKLOAD_INFO", "a//c", "namespace/name/service-account"),
        ("PROXY_WORKLOAD_INFO", "a/b/c/d", "namespace/name/service-account"),
        ("INSTANCE_IP", "1.2.3", "IPv4 or IPv6"),
        ("LOG_FORMAT", "xml", "plain or json"),
        ("ZTUNNEL_RUNTIME", "green-threads", "thread-per-core or work-stealing"),
        ("POOL_MAX_STREAMS_PER_CONNECTION", "abc", "a positive integer"),
        ("POOL_MAX_STREAMS_PER_CONNECTION", "0", "a positive integer"),
        ("POOL_UNUSED_RELEASE_TIMEOUT", "5 minutes", "a duration"),
        ("HTTP2_STREAM_WINDOW_SIZE", "-1", "a positive integer"),
        ("HTTP2_CONNECTION_WINDOW_SIZE", "big", "a positive integer"),
        ("HTTP2_FRAME_SIZE", "1000", "between 16384 and 16777215"),
        ("HTTP2_FRAME_SIZE", "16777216", "between 16384 and 16777215"),
        ("CONNECTION_TERMINATION_DEADLINE", "soon", "a duration"),
        ("TERMINATION_GRACE_PERIOD_SECONDS", "30s", "whole number of seconds"),
        ("SECRET_TTL", "1y", "a duration"),
        ("ZTUNNEL_WORKER_THREADS", "many", "thread count"),
        ("ZTUNNEL_WORKER_THREADS", "150%", "percentage"),
        ("PACKET_MARK", "0x10", "non-negative 32-bit integer"),
        ("ZTUNNEL_OUTBOUND_ADDR", "localhost:15001", "socket address"),
        ("ZTUNNEL_INBOUND_PLAINTEXT_ADDR", "15006", "socket address"),
        ("ZTUNNEL_INBOUND_ADDR", "1.2.3.4", "socket address"),
        ("ZTUNNEL_SOCKS5_ADDR", "x", "socket address"),
        ("ZTUNNEL_READINESS_ADDR", "x", "socket address"),
        ("ZTUNNEL_ADMIN_ADDR", "x", "socket address"),
        ("ZTUNNEL_METRICS_ADDR", "x", "socket address"),
        ("ZTUNNEL_HBONE_PORT", "0", "port number"),
        ("ZTUNNEL_HBONE_PORT", "70000", "port number"),
        ("XDS_ADDRESS", "https://a b", "URL"),
        ("CA_ADDRESS", "https://a b", "URL"),
    ];
    for (var, value, form) in cases {
        let e = err(&[(var, value)]);
        assert!(
            e.contains(&format!("for {var}:")) && e.contains(&format!("{value:?}")) && e.contains(form),
            "{var}={value:?} gave: {e}"
        );
    }
    assert_eq!(
        err(&[("POOL_MAX_STREAMS_PER_CONNECTION", "abc")]),
        "invalid value \"abc\" for POOL_MAX_STREAMS_PER_CONNECTION: expected a positive integer"
    );
}

#[test]
fn dedicated_requires_workload_info() {
    let e = err(&[("PROXY_MODE", "dedicated")]);
    assert!(e.contains("PROXY_WORKLOAD_INFO") && e.contains("dedicated"), "{e}");
}

#[test]
fn fake_ca_root_needs_both_halves() {
    let e = err(&[("FAKE_CA_ROOT_CERT", "/a")]);
    assert!(e.contains("FAKE_CA_ROOT_CERT is set but FAKE_CA_ROOT_KEY is not"), "{e}");
    let e = err(&[("FAKE_CA_ROOT_KEY", "/a")]);
    assert!(e.contains("FAKE_CA_ROOT_KEY is set but FAKE_CA_ROOT_CERT is not"), "{e}");
}

/// ISTIO_META_DNS_PROXY_ADDR as upstream reads it (`localhost:<port>` or `ip:port`), also from
/// PROXY_CONFIG's proxyMetadata.
#[test]
fn dns_proxy_addr() {
    let c = load(&[]).unwrap();
    assert_eq!(c.dns_proxy_addr, DnsProxyAddr::Localhost(15053));
    assert_eq!(c.dns_proxy_addr.bind_addrs(true), (sa("127.0.0.1:15053"), Some(sa("[::1]:15053"))));
    assert_eq!(c.dns_proxy_addr.bind_addrs(false), (sa("127.0.0.1:15053"), None));
    let c = load(&[("ISTIO_META_DNS_PROXY_ADDR", "localhost:5353")]).unwrap();
    assert_eq!(c.dns_proxy_addr, DnsProxyAddr::Localhost(5353));
    let c = load(&[("ISTIO_META_DNS_PROXY_ADDR", "127.0.230.1:53")]).unwrap();
    assert_eq!(c.dns_proxy_addr.bind_addrs(true), (sa("127.0.230.1:53"), None));
    assert_eq!(c.proxy_metadata.get("DNS_PROXY_ADDR").map(String::as_str), Some("127.0.230.1:53"));
    let c = load(&[("ISTIO_META_DNS_PROXY_ADDR", "[::1]:15053")]).unwrap();
    assert_eq!(c.dns_proxy_addr, DnsProxyAddr::Socket(sa("[::1]:15053")));
    let pc = "proxyMetadata:\n  ISTIO_META_DNS_PROXY_ADDR: \"127.0.230.2:15053\"\n";
    assert_eq!(load(&[("PROXY_CONFIG", pc)]).unwrap().dns_proxy_addr, DnsProxyAddr::Socket(sa("127.0.230.2:15053")));
    for bad in ["15053", "localhost", "localhost:x", "dns.example:53", "127.0.0.1"] {
        let e = err(&[("ISTIO_META_DNS_PROXY_ADDR", bad)]);
        assert!(e.contains("ISTIO_META_DNS_PROXY_ADDR") && e.contains(bad), "{bad}: {e}");
    }
    let json = serde_json::to_value(load(&[]).unwrap()).unwrap();
    assert_eq!(json["dnsProxyAddr"], "localhost:15053");
}

#[test]
fn serializes_camel_case() {
    let json = serde_json::to_value(load(&[]).unwrap()).unwrap();
    assert_eq!(json["xdsAddress"], "https://localhost:15012");
    assert_eq!(json["numWorkerThreads"], 2);
    assert_eq!(json["proxyMode"], "Shared");
    assert_eq!(json["logFormat"], "plain");
}

/// PROXY_CONFIG as upstream reads it; the environment wins over it.
#[test]
fn proxy_config_yaml() {
    let pc = "discoveryAddress: istiod-canary.istio-system.svc:15012\nproxyAdminPort: 16000\nstatsPort: 16020\nconcurrency: 3\n\
              proxyMetadata:\n  ISTIO_META_DNS_CAPTURE: \"false\"\n  ISTIO_META_CLUSTER_ID: east\n\
              holdApplicationUntilProxyStarts: true\n";
    let c = load(&[("PROXY_CONFIG", pc)]).unwrap();
    assert_eq!(c.xds_address.as_deref(), Some("https://istiod-canary.istio-system.svc:15012"));
    assert_eq!(c.admin_addr.port(), 16000);
    assert_eq!(c.stats_addr.port(), 16020);
    assert_eq!(c.num_worker_threads, 3);
    assert!(!c.dns_proxy, "proxyMetadata acts as the environment");
    assert_eq!(c.cluster_id, "east");
    assert_eq!(c.proxy_metadata.get("CLUSTER_ID").map(String::as_str), Some("east"));
    // The real environment overrides every one of them.
    let c = load(&[
        ("PROXY_CONFIG", pc),
        ("XDS_ADDRESS", "https://istiod:15012"),
        ("ZTUNNEL_WORKER_THREADS", "1"),
        ("ISTIO_META_DNS_CAPTURE", "true"),
        ("ZTUNNEL_ADMIN_ADDR", "127.0.0.1:15000"),
    ])
    .unwrap();
    assert_eq!(c.xds_address.as_deref(), Some("https://istiod:15012"));
    assert_eq!((c.num_worker_threads, c.dns_proxy, c.admin_addr.port()), (1, true, 15000));
    assert_eq!(load(&[("PROXY_CONFIG", "concurrency: 0")]).unwrap().num_worker_threads, 8);
    let e = err(&[("PROXY_CONFIG", "concurrency: [")]);
    assert!(e.contains("PROXY_CONFIG") && e.contains("YAML ProxyConfig"), "{e}");
}

#[test]
fn xds_on_demand_is_off_by_default_and_refused_with_the_dns_proxy() {
    assert!(!load(&[]).unwrap().xds_on_demand);
    let c = load(&[("XDS_ON_DEMAND", "true"), ("ISTIO_META_DNS_CAPTURE", "false")]).unwrap();
    assert!(c.xds_on_demand && !c.dns_proxy);
    assert!(!load(&[("XDS_ON_DEMAND", "false")]).unwrap().xds_on_demand);
    // The DNS proxy is on unless turned off: on-demand alone is refused, with upstream's words.
    for dns in [None, Some("true")] {
        let mut vars = vec![("XDS_ON_DEMAND", "true")];
        vars.extend(dns.map(|v| ("ISTIO_META_DNS_CAPTURE", v)));
        let e = err(&vars);
        assert!(
            e.contains("XDS_ON_DEMAND") && e.contains("DNS proxy does not currently support on-demand mode"),
            "{e}"
        );
        assert!(e.contains("ISTIO_META_DNS_CAPTURE=false"), "says how to fix it: {e}");
    }
    let e = err(&[("XDS_ON_DEMAND", "yes please"), ("ISTIO_META_DNS_CAPTURE", "false")]);
    assert!(e.contains("XDS_ON_DEMAND"), "{e}");
}
