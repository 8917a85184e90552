//! Process configuration: every environment variable ztunnel reads, its default and its meaning.
//!
//! Owns [`Config`] and its construction from an [`EnvSource`]. Variable names and defaults follow
//! upstream istio/ztunnel so this binary is a drop-in replacement; our own additions are marked
//! "(ours)" on the field. Parsing is pure: the only environment access is [`ProcessEnv`].

mod control;
mod env;
mod proxy_config;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use control::{AuthToken, ControlPlaneConfig, DEFAULT_ROOT_CERT_PATH, DEFAULT_TOKEN_PATH, RootCert};
pub use env::{EnvSource, ProcessEnv, parse_duration};
use env::{bool_or, duration_or, invalid, non_empty, opt_bool, opt_duration, opt_u32, positive_u32_or, worker_threads};

/// Upstream's default istiod address when not running inside Kubernetes.
pub const DEFAULT_ISTIOD_ADDRESS: &str = "https://localhost:15012";
/// The default istiod address inside Kubernetes (when KUBERNETES_SERVICE_HOST is set).
pub const DEFAULT_IN_CLUSTER_ISTIOD_ADDRESS: &str = "https://istiod.istio-system.svc:15012";
/// The port a remote ztunnel accepts HBONE on.
pub const DEFAULT_HBONE_PORT: u16 = 15008;
/// Upstream marks outbound sockets with this in shared (in-pod) mode.
pub const DEFAULT_SHARED_PACKET_MARK: u32 = 1337;

const MIN_FRAME_SIZE: u32 = 16_384;
const MAX_FRAME_SIZE: u32 = 16_777_215;

/// A configuration problem, always naming the variable(s) involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for {var}: expected {expected}")]
    Invalid { var: String, value: String, expected: String },
    #[error("{a} and {b} are mutually exclusive; set only one")]
    MutuallyExclusive { a: &'static str, b: &'static str },
    #[error("{set} is set but {missing} is not; set both or neither")]
    MissingPair { set: &'static str, missing: &'static str },
    #[error("{var} is required when {because}")]
    Required { var: &'static str, because: &'static str },
    #[error("{a} and {b} cannot both be on: {reason}")]
    Incompatible { a: &'static str, b: &'static str, reason: &'static str },
}

/// `shared`: one ztunnel serves many pods (node proxy, in-pod redirection).
/// `dedicated`: one ztunnel serves exactly one workload, named by PROXY_WORKLOAD_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProxyMode {
    Shared,
    Dedicated,
}

/// The workload a dedicated proxy serves (PROXY_WORKLOAD_INFO = `namespace/name/service-account`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyWorkloadInfo {
    pub namespace: String,
    pub name: String,
    pub service_account: String,
}

/// Where the local workload/service/policy config comes from instead of (or besides) xDS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LocalXdsSource {
    /// LOCAL_XDS_PATH: a YAML file (watched for changes).
    File(PathBuf),
    /// LOCAL_XDS: the YAML itself.
    Inline(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Plain,
    Json,
}

/// (ours) ZTUNNEL_RUNTIME: how the data path is laid out over the worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeFlavor {
    /// One single-threaded runtime per worker thread; a connection stays on the thread that
    /// accepted it ([`crate::runtime`]). The control plane has the main thread.
    ThreadPerCore,
    /// The earlier layout: one work-stealing runtime of all workers for everything, and one
    /// HBONE pool per process (as upstream's pool).
    WorkStealing,
}

/// (ours) A dev CA root shared between several ztunnel processes so they trust each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FakeCaRoot {
    /// PEM root certificate (FAKE_CA_ROOT_CERT).
    pub cert: PathBuf,
    /// PKCS#8 PEM private key of that root (FAKE_CA_ROOT_KEY).
    pub key: PathBuf,
}

/// Where the DNS proxy listens (ISTIO_META_DNS_PROXY_ADDR, upstream's `DNS_PROXY_ADDR` proxy
/// metadata): `localhost:<port>` means 127.0.0.1 and, with IPv6 enabled, ::1; anything else is
/// one `ip:port`. The same address serves dedicated mode and, inside each pod, in-pod mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsProxyAddr {
    Localhost(u16),
    Socket(SocketAddr),
}

/// Upstream's DNS proxy port.
pub const DEFAULT_DNS_PROXY_PORT: u16 = 15053;

impl DnsProxyAddr {
    /// Upstream's syntax: `localhost:<port>` or a socket address.
    pub fn parse(v: &str) -> Option<DnsProxyAddr> {
        match v.strip_prefix("localhost:") {
            Some(port) => port.parse().ok().map(DnsProxyAddr::Localhost),
            None => v.parse().ok().map(DnsProxyAddr::Socket),
        }
    }

    /// The IPv4 address to bind, and the IPv6 one whose failure is tolerated (a pod or host
    /// without IPv6 on loopback still gets its DNS proxy, as upstream downgrades).
    pub fn bind_addrs(&self, ipv6_enabled: bool) -> (SocketAddr, Option<SocketAddr>) {
        match *self {
            DnsProxyAddr::Localhost(port) => (
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                ipv6_enabled.then(|| SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)),
            ),
            DnsProxyAddr::Socket(a) => (a, None),
        }
    }
}

impl std::fmt::Display for DnsProxyAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsProxyAddr::Localhost(port) => write!(f, "localhost:{port}"),
            DnsProxyAddr::Socket(a) => write!(f, "{a}"),
        }
    }
}

impl Serialize for DnsProxyAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything the process is configured with. Serialized (camelCase) into the admin config dump.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// FAKE_CA: issue certificates from a built-in self-signed CA instead of istiod.
    pub fake_ca: bool,
    /// (ours) FAKE_CA_ROOT_CERT + FAKE_CA_ROOT_KEY: use this root for the built-in CA instead of
    /// a freshly generated one, so separate processes share a trust anchor.
    pub fake_ca_root: Option<FakeCaRoot>,
    /// TLS roots, token and headers for the xDS and CA clients.
    pub control_plane: ControlPlaneConfig,
    /// XDS_ADDRESS; `None` when set to the empty string (no xDS).
    pub xds_address: Option<String>,
    /// CA_ADDRESS; `None` when FAKE_CA is on or the variable is set to the empty string.
    pub ca_address: Option<String>,
    /// LOCAL_XDS_PATH or LOCAL_XDS (mutually exclusive).
    pub local_xds: Option<LocalXdsSource>,
    /// XDS_ON_DEMAND: subscribe to Address resources one by one as connections need them,
    /// instead of the whole mesh. Refused together with the DNS proxy (upstream's rule: DNS
    /// answers from the full service list, which an on-demand state does not have).
    pub xds_on_demand: bool,
    /// PROXY_MODE (`shared` | `dedicated`).
    pub proxy_mode: ProxyMode,
    /// PROXY_WORKLOAD_INFO; required in dedicated mode.
    pub proxy_workload_info: Option<ProxyWorkloadInfo>,
    /// NODE_NAME.
    pub local_node: Option<String>,
    /// TRUST_DOMAIN: only used for ztunnel's own identity.
    pub trust_domain: String,
    /// CLUSTER_ID, else ISTIO_META_CLUSTER_ID.
    pub cluster_id: String,
    /// CLUSTER_DOMAIN.
    pub cluster_domain: String,
    /// NETWORK: the network this node is on ("" = default).
    pub network: String,
    /// INSTANCE_IP.
    pub local_ip: Option<IpAddr>,
    /// POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT: ztunnel's own pod.
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub service_account: Option<String>,
    /// UNSTABLE_ENABLE_SOCKS5.
    pub enable_socks5: bool,
    /// ENABLE_ORIG_SRC: `None` = best effort.
    pub enable_original_source: Option<bool>,
    /// ZTUNNEL_WORKER_THREADS, resolved against the CPU count.
    pub num_worker_threads: usize,
    /// (ours) ZTUNNEL_RUNTIME.
    pub runtime_flavor: RuntimeFlavor,
    /// LOG_FORMAT.
    pub log_format: LogFormat,
    /// RUST_LOG.
    pub log_filter: String,
    /// POOL_MAX_STREAMS_PER_CONNECTION.
    pub pool_max_streams_per_conn: u32,
    /// POOL_UNUSED_RELEASE_TIMEOUT.
    pub pool_unused_release_timeout: Duration,
    /// HTTP2_STREAM_WINDOW_SIZE.
    pub window_size: u32,
    /// HTTP2_CONNECTION_WINDOW_SIZE.
    pub connection_window_size: u32,
    /// HTTP2_FRAME_SIZE (16384..=16777215, the HTTP/2 legal range).
    pub frame_size: u32,
    /// How long existing connections get after a drain starts: CONNECTION_TERMINATION_DEADLINE,
    /// else derived from TERMINATION_GRACE_PERIOD_SECONDS, else 5 s.
    pub self_termination_deadline: Duration,
    /// TERMINATION_GRACE_PERIOD_SECONDS, as given.
    pub termination_grace_period: Option<Duration>,
    /// SECRET_TTL: requested certificate lifetime.
    pub secret_ttl: Duration,
    /// AUTHZ_POLICY_INFO_LOGGING: log RBAC decisions at INFO.
    pub authz_policy_info_logging: bool,
    /// LOCALHOST_APP_TUNNEL (true): PROXY-protocol application tunnels are delivered over
    /// loopback, so only ztunnel can reach the tunnel port.
    pub localhost_app_tunnel: bool,
    /// ISTIO_META_DNS_CAPTURE: DNS proxy on unless exactly "false" (upstream semantics).
    pub dns_proxy: bool,
    /// ISTIO_META_DNS_PROXY_ADDR (default `localhost:15053`): where the DNS proxy listens.
    pub dns_proxy_addr: DnsProxyAddr,
    /// ZTUNNEL_RESOLV_CONF (ours, default /etc/resolv.conf): ztunnel's own resolvers, for the
    /// DNS proxy's forwarding and for hostname-only endpoints.
    pub resolv_conf: PathBuf,
    /// ISTIO_META_ISTIO_VERSION.
    pub istio_version: Option<String>,
    /// Every ISTIO_META_* variable with the prefix stripped (sent as xDS node metadata).
    pub proxy_metadata: BTreeMap<String, String>,
    /// IPV6_ENABLED: dual-stack wildcard binds.
    pub ipv6_enabled: bool,
    /// PACKET_MARK: SO_MARK for outbound sockets; defaults to 1337 in shared mode only.
    pub packet_mark: Option<u32>,
    /// INPOD_UDS: the CNI's ZDS socket (shared mode).
    pub inpod_uds: PathBuf,
    /// CRL_PATH: revocation lists for peer certificates (the chart's `peerCaCrl.enabled`).
    pub crl_path: Option<PathBuf>,
    /// KEEPALIVE_ENABLED/_TIME/_INTERVAL/_RETRIES, USER_TIMEOUT_ENABLED.
    pub keepalive: crate::socket::Keepalive,
    /// INPOD_PORT_REUSE (default true): SO_REUSEPORT on per-pod listeners, so during a surge
    /// upgrade the new ztunnel binds each pod's ports while the old one still drains.
    pub inpod_port_reuse: bool,
    /// (ours) ZTUNNEL_OUTBOUND_ADDR, default wildcard:15001.
    pub outbound_addr: SocketAddr,
    /// (ours) ZTUNNEL_INBOUND_PLAINTEXT_ADDR, default wildcard:15006.
    pub inbound_plaintext_addr: SocketAddr,
    /// (ours) ZTUNNEL_INBOUND_ADDR, default wildcard:15008.
    pub inbound_addr: SocketAddr,
    /// (ours) ZTUNNEL_SOCKS5_ADDR, default 127.0.0.1:15080.
    pub socks5_addr: SocketAddr,
    /// (ours) ZTUNNEL_READINESS_ADDR, default wildcard:15021.
    pub readiness_addr: SocketAddr,
    /// (ours) ZTUNNEL_ADMIN_ADDR, default 127.0.0.1:15000.
    pub admin_addr: SocketAddr,
    /// (ours) ZTUNNEL_METRICS_ADDR, default wildcard:15020.
    pub stats_addr: SocketAddr,
    /// (ours) ZTUNNEL_HBONE_EARLY_DATA (default true): an outbound connection's first bytes
    /// leave with its `CONNECT` to a peer ztunnel, before the answer ([`crate::proxy::early`]);
    /// `false` waits for the answer first, as upstream does.
    pub hbone_early_data: bool,
    /// (ours) ZTUNNEL_HBONE_PORT: the port dialed on a remote node for HBONE (default 15008).
    /// Lets tests run several instances on one host with distinct inbound ports.
    pub hbone_port: u16,
}

impl Config {
    /// Builds the configuration, resolving thread counts against this host's CPUs.
    pub fn from_source(src: &dyn EnvSource) -> Result<Config, ConfigError> {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self::from_source_with_cpus(src, cpus)
    }

    /// Like [`Config::from_source`] with an explicit CPU count (deterministic in tests).
    pub fn from_source_with_cpus(env: &dyn EnvSource, cpus: usize) -> Result<Config, ConfigError> {
        let pc = proxy_config::ProxyConfigYaml::from_source(env)?;
        let layered = proxy_config::WithProxyMetadata { env, metadata: &pc.proxy_metadata };
        let src: &dyn EnvSource = &layered;
        let fake_ca = bool_or(src, "FAKE_CA", false)?;
        let fake_ca_root = match (non_empty(src, "FAKE_CA_ROOT_CERT"), non_empty(src, "FAKE_CA_ROOT_KEY")) {
            (Some(cert), Some(key)) => Some(FakeCaRoot { cert: cert.into(), key: key.into() }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::MissingPair { set: "FAKE_CA_ROOT_CERT", missing: "FAKE_CA_ROOT_KEY" });
            }
            (None, Some(_)) => {
                return Err(ConfigError::MissingPair { set: "FAKE_CA_ROOT_KEY", missing: "FAKE_CA_ROOT_CERT" });
            }
        };

        let xds_address = match (src.get("XDS_ADDRESS"), &pc.discovery_address) {
            (None, Some(discovery)) => {
                control_plane_address(&HashMap::from([("XDS_ADDRESS".to_string(), discovery.clone())]), "XDS_ADDRESS")?
            }
            _ => control_plane_address(src, "XDS_ADDRESS")?,
        };
        let ca_address = if fake_ca { None } else { control_plane_address(src, "CA_ADDRESS")? };

        let local_xds = match (non_empty(src, "LOCAL_XDS_PATH"), non_empty(src, "LOCAL_XDS")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::MutuallyExclusive { a: "LOCAL_XDS_PATH", b: "LOCAL_XDS" });
            }
            (Some(path), None) => Some(LocalXdsSource::File(path.into())),
            (None, Some(yaml)) => Some(LocalXdsSource::Inline(yaml)),
            (None, None) => None,
        };

        let proxy_mode = match non_empty(src, "PROXY_MODE") {
            None => ProxyMode::Shared,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "shared" => ProxyMode::Shared,
                "dedicated" => ProxyMode::Dedicated,
                _ => return Err(invalid("PROXY_MODE", &v, "shared or dedicated")),
            },
        };
        let proxy_workload_info = non_empty(src, "PROXY_WORKLOAD_INFO").map(|v| parse_workload_info(&v)).transpose()?;
        if proxy_mode == ProxyMode::Dedicated && proxy_workload_info.is_none() {
            return Err(ConfigError::Required { var: "PROXY_WORKLOAD_INFO", because: "PROXY_MODE=dedicated" });
        }

        // Upstream: the chart's ISTIO_META_CLUSTER_ID wins over CLUSTER_ID.
        let cluster_id = non_empty(src, "ISTIO_META_CLUSTER_ID")
            .or_else(|| non_empty(src, "CLUSTER_ID"))
            .unwrap_or_else(|| "Kubernetes".to_string());

        let local_ip = non_empty(src, "INSTANCE_IP")
            .map(|v| v.trim().parse::<IpAddr>().map_err(|_| invalid("INSTANCE_IP", &v, "an IPv4 or IPv6 address")))
            .transpose()?;

        let log_format = match non_empty(src, "LOG_FORMAT") {
            None => LogFormat::Plain,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "plain" => LogFormat::Plain,
                "json" => LogFormat::Json,
                _ => return Err(invalid("LOG_FORMAT", &v, "plain or json")),
            },
        };

        let frame_size = positive_u32_or(src, "HTTP2_FRAME_SIZE", 1024 * 1024)?;
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&frame_size) {
            return Err(invalid("HTTP2_FRAME_SIZE", &frame_size.to_string(), "an integer between 16384 and 16777215"));
        }

        let termination_grace_period = non_empty(src, "TERMINATION_GRACE_PERIOD_SECONDS")
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| invalid("TERMINATION_GRACE_PERIOD_SECONDS", &v, "a whole number of seconds"))
            })
            .transpose()?;
        let self_termination_deadline = match opt_duration(src, "CONNECTION_TERMINATION_DEADLINE")? {
            Some(d) => d,
            None => termination_grace_period.map(deadline_from_grace_period).unwrap_or(Duration::from_secs(5)),
        };

        let ipv6_enabled = bool_or(src, "IPV6_ENABLED", true)?;
        let wildcard = if ipv6_enabled { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);

        let packet_mark = match opt_u32(src, "PACKET_MARK")? {
            Some(m) => Some(m),
            None if proxy_mode == ProxyMode::Shared => Some(DEFAULT_SHARED_PACKET_MARK),
            None => None,
        };

        let hbone_port = match non_empty(src, "ZTUNNEL_HBONE_PORT") {
            None => DEFAULT_HBONE_PORT,
            Some(v) => match v.trim().parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(invalid("ZTUNNEL_HBONE_PORT", &v, "a port number 1-65535")),
            },
        };

        let proxy_metadata = src
            .keys_with_prefix("ISTIO_META_")
            .into_iter()
            .map(|(k, v)| (k["ISTIO_META_".len()..].to_string(), v))
            .collect();

        // Upstream refuses this pair at start-up (validate_config) rather than running a DNS
        // proxy that would answer NXDOMAIN for every service not yet demanded.
        let dns_proxy = src.get("ISTIO_META_DNS_CAPTURE").is_none_or(|v| v.trim().eq_ignore_ascii_case("true"));
        let xds_on_demand = bool_or(src, "XDS_ON_DEMAND", false)?;
        if dns_proxy && xds_on_demand {
            return Err(ConfigError::Incompatible {
                a: "XDS_ON_DEMAND",
                b: "the DNS proxy (ISTIO_META_DNS_CAPTURE, on by default)",
                reason: "DNS proxy does not currently support on-demand mode; set ISTIO_META_DNS_CAPTURE=false",
            });
        }

        Ok(Config {
            fake_ca,
            fake_ca_root,
            control_plane: ControlPlaneConfig::from_source(src, &|p| p.is_file())?,
            xds_address,
            ca_address,
            local_xds,
            xds_on_demand,
            proxy_mode,
            proxy_workload_info,
            local_node: non_empty(src, "NODE_NAME"),
            trust_domain: non_empty(src, "TRUST_DOMAIN").unwrap_or_else(|| "cluster.local".to_string()),
            cluster_id,
            cluster_domain: non_empty(src, "CLUSTER_DOMAIN").unwrap_or_else(|| "cluster.local".to_string()),
            network: non_empty(src, "NETWORK").unwrap_or_default(),
            local_ip,
            pod_name: non_empty(src, "POD_NAME"),
            pod_namespace: non_empty(src, "POD_NAMESPACE"),
            service_account: non_empty(src, "SERVICE_ACCOUNT"),
            enable_socks5: bool_or(src, "UNSTABLE_ENABLE_SOCKS5", false)?,
            enable_original_source: opt_bool(src, "ENABLE_ORIG_SRC")?,
            num_worker_threads: match (non_empty(src, "ZTUNNEL_WORKER_THREADS"), pc.concurrency) {
                (None, Some(0)) => cpus.max(1),
                (None, Some(n)) => n as usize,
                _ => worker_threads(src, cpus)?,
            },
            runtime_flavor: match non_empty(src, "ZTUNNEL_RUNTIME") {
                None => RuntimeFlavor::ThreadPerCore,
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "thread-per-core" => RuntimeFlavor::ThreadPerCore,
                    "work-stealing" => RuntimeFlavor::WorkStealing,
                    _ => return Err(invalid("ZTUNNEL_RUNTIME", &v, "thread-per-core or work-stealing")),
                },
            },
            log_format,
            log_filter: non_empty(src, "RUST_LOG").unwrap_or_else(|| "info".to_string()),
            pool_max_streams_per_conn: positive_u32_or(src, "POOL_MAX_STREAMS_PER_CONNECTION", 100)?,
            pool_unused_release_timeout: duration_or(src, "POOL_UNUSED_RELEASE_TIMEOUT", Duration::from_secs(300))?,
            window_size: positive_u32_or(src, "HTTP2_STREAM_WINDOW_SIZE", 4 * 1024 * 1024)?,
            connection_window_size: positive_u32_or(src, "HTTP2_CONNECTION_WINDOW_SIZE", 16 * 1024 * 1024)?,
            frame_size,
            self_termination_deadline,
            termination_grace_period,
            secret_ttl: duration_or(src, "SECRET_TTL", Duration::from_secs(24 * 3600))?,
            authz_policy_info_logging: bool_or(src, "AUTHZ_POLICY_INFO_LOGGING", false)?,
            localhost_app_tunnel: bool_or(src, "LOCALHOST_APP_TUNNEL", true)?,
            // Upstream: on when unset or "true" (any case); any other value turns it off.
            dns_proxy,
            dns_proxy_addr: match non_empty(src, "ISTIO_META_DNS_PROXY_ADDR") {
                None => DnsProxyAddr::Localhost(DEFAULT_DNS_PROXY_PORT),
                Some(v) => DnsProxyAddr::parse(v.trim()).ok_or_else(|| {
                    invalid("ISTIO_META_DNS_PROXY_ADDR", &v, "localhost:<port> or an ip:port such as 127.0.0.1:15053")
                })?,
            },
            resolv_conf: non_empty(src, "ZTUNNEL_RESOLV_CONF")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf")),
            istio_version: non_empty(src, "ISTIO_META_ISTIO_VERSION"),
            proxy_metadata,
            ipv6_enabled,
            packet_mark,
            hbone_early_data: bool_or(src, "ZTUNNEL_HBONE_EARLY_DATA", true)?,
            inpod_port_reuse: bool_or(src, "INPOD_PORT_REUSE", true)?,
            crl_path: non_empty(src, "CRL_PATH").map(PathBuf::from),
            keepalive: {
                let d = crate::socket::Keepalive::default();
                crate::socket::Keepalive {
                    enabled: bool_or(src, "KEEPALIVE_ENABLED", d.enabled)?,
                    time: duration_or(src, "KEEPALIVE_TIME", d.time)?,
                    interval: duration_or(src, "KEEPALIVE_INTERVAL", d.interval)?,
                    retries: positive_u32_or(src, "KEEPALIVE_RETRIES", d.retries)?,
                    user_timeout: bool_or(src, "USER_TIMEOUT_ENABLED", d.user_timeout)?,
                }
            },
            inpod_uds: src
                .get("INPOD_UDS")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/var/run/ztunnel/ztunnel.sock")),
            outbound_addr: addr_or(src, "ZTUNNEL_OUTBOUND_ADDR", SocketAddr::new(wildcard, 15001))?,
            inbound_plaintext_addr: addr_or(src, "ZTUNNEL_INBOUND_PLAINTEXT_ADDR", SocketAddr::new(wildcard, 15006))?,
            inbound_addr: addr_or(src, "ZTUNNEL_INBOUND_ADDR", SocketAddr::new(wildcard, 15008))?,
            socks5_addr: addr_or(src, "ZTUNNEL_SOCKS5_ADDR", SocketAddr::new(localhost, 15080))?,
            readiness_addr: addr_or(src, "ZTUNNEL_READINESS_ADDR", SocketAddr::new(wildcard, 15021))?,
            admin_addr: addr_or(
                src,
                "ZTUNNEL_ADMIN_ADDR",
                SocketAddr::new(localhost, pc.proxy_admin_port.unwrap_or(15000)),
            )?,
            stats_addr: addr_or(
                src,
                "ZTUNNEL_METRICS_ADDR",
                SocketAddr::new(wildcard, pc.stats_port.unwrap_or(15020)),
            )?,
            hbone_port,
        })
    }
}

/// XDS_ADDRESS / CA_ADDRESS: unset ⇒ the default istiod (the in-cluster service when
/// KUBERNETES_SERVICE_HOST says we run in Kubernetes, as upstream decides); empty ⇒ disabled;
/// no scheme ⇒ https.
fn control_plane_address(src: &dyn EnvSource, var: &str) -> Result<Option<String>, ConfigError> {
    match src.get(var) {
        None if non_empty(src, "KUBERNETES_SERVICE_HOST").is_some() => {
            Ok(Some(DEFAULT_IN_CLUSTER_ISTIOD_ADDRESS.to_string()))
        }
        None => Ok(Some(DEFAULT_ISTIOD_ADDRESS.to_string())),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => {
            let v = v.trim();
            if v.contains(char::is_whitespace) {
                return Err(invalid(var, v, "a URL such as https://istiod.istio-system.svc:15012"));
            }
            if v.contains("://") { Ok(Some(v.to_string())) } else { Ok(Some(format!("https://{v}"))) }
        }
    }
}

fn addr_or(src: &dyn EnvSource, var: &str, default: SocketAddr) -> Result<SocketAddr, ConfigError> {
    match non_empty(src, var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| invalid(var, &v, "an IP:port socket address such as 127.0.0.1:15001 or [::]:0")),
    }
}

fn parse_workload_info(v: &str) -> Result<ProxyWorkloadInfo, ConfigError> {
    let parts: Vec<&str> = v.trim().split('/').collect();
    match parts.as_slice() {
        [ns, name, sa] if !ns.is_empty() && !name.is_empty() && !sa.is_empty() => {
            Ok(ProxyWorkloadInfo { namespace: ns.to_string(), name: name.to_string(), service_account: sa.to_string() })
        }
        _ => Err(invalid("PROXY_WORKLOAD_INFO", v, "namespace/name/service-account")),
    }
}

/// Upstream: leave 5 s of the pod's grace period for the rest of shutdown when it is long enough,
/// else 1 s, and never less than 1 s.
fn deadline_from_grace_period(period: Duration) -> Duration {
    let secs = period.as_secs();
    let derived = if secs > 10 { secs - 5 } else { secs.saturating_sub(1) };
    Duration::from_secs(derived.max(1))
}

#[cfg(test)]
mod tests;
