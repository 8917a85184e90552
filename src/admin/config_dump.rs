//! The `/config_dump` document (pure: built from values, no I/O except re-reading the local
//! config file for `staticConfig`, as upstream does).
//!
//! Keys follow current upstream (camelCase; `istioctl ztunnel-config` reads `workloads`,
//! `services`, `policies`, `certificates`, `config`): the flattened state, `staticConfig`,
//! `version`, `config`, `certificates` (public certificate metadata only; keys never leave the
//! secret manager). Kept from the older dump shape: `localNode`, `proxyMode`,
//! `policiesByNamespace`, `vips` (`vip:port` → endpoint `[ip, port]` pairs) and
//! `workloadToVip` (workload IP → `[vip:port, target port]`). In shared (in-pod) mode,
//! `workloadState` (pod uid → proxy state, see [`crate::inpod::states`]). Ours: `crypto`
//! (provider, FIPS mode, suites, groups).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::certs::manager::CertificateDump;
use crate::config::{Config, LocalXdsSource, ProxyMode};
use crate::inpod::states::PodState;
use crate::rbac::PolicyScope;
use crate::state::ProxyState;
use crate::tls::provider::ProviderInfo;

/// Build facts (upstream's `version` object, the parts we know).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: &'static str,
    pub git_revision: &'static str,
    pub rust_version: &'static str,
    pub build_profile: &'static str,
    pub istio_version: String,
}

impl BuildInfo {
    pub fn new(cfg: &Config) -> BuildInfo {
        BuildInfo::current(cfg.istio_version.clone())
    }

    /// This binary's facts; `istio_version` is ISTIO_META_ISTIO_VERSION.
    pub fn current(istio_version: Option<String>) -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            git_revision: option_env!("ZTUNNEL_GIT_REVISION").unwrap_or("unknown"),
            rust_version: env!("ZTUNNEL_RUSTC_VERSION"),
            build_profile: if cfg!(debug_assertions) { "debug" } else { "release" },
            istio_version: istio_version.unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// Upstream's one-line form, which scripts parse:
/// `version.BuildInfo{Version:"..", GitRevision:"..", RustVersion:"..", BuildProfile:"..",
/// BuildStatus:"..", GitTag:"..", IstioVersion:"..", CryptoProvider:".."}`.
impl std::fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "version.BuildInfo{{Version:{:?}, GitRevision:{:?}, RustVersion:{:?}, BuildProfile:{:?}, BuildStatus:{:?}, \
             GitTag:{:?}, IstioVersion:{:?}, CryptoProvider:{:?}}}",
            self.version,
            self.git_revision,
            self.rust_version,
            self.build_profile,
            // A release build from a tagged, clean tree would say "Clean"; we do not track it.
            "unknown",
            self.version,
            self.istio_version,
            crate::tls::provider::NAME,
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigDump<'a> {
    #[serde(flatten)]
    pub state: &'a ProxyState,
    pub policies_by_namespace: BTreeMap<String, Vec<String>>,
    pub vips: BTreeMap<String, Vec<(IpAddr, u16)>>,
    pub workload_to_vip: BTreeMap<IpAddr, Vec<(String, u16)>>,
    pub static_config: serde_json::Value,
    pub version: BuildInfo,
    pub config: &'a Config,
    pub local_node: Option<&'a str>,
    pub proxy_mode: ProxyMode,
    pub certificates: Vec<CertificateDump>,
    pub crypto: ProviderInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_state: Option<BTreeMap<String, PodState>>,
}

/// Assembles the dump.
pub fn build<'a>(
    cfg: &'a Config,
    state: &'a ProxyState,
    certificates: Vec<CertificateDump>,
    workload_state: Option<BTreeMap<String, PodState>>,
) -> ConfigDump<'a> {
    let (vips, workload_to_vip) = vip_maps(state);
    ConfigDump {
        state,
        policies_by_namespace: policies_by_namespace(state),
        vips,
        workload_to_vip,
        static_config: static_config(cfg),
        version: BuildInfo::new(cfg),
        config: cfg,
        local_node: cfg.local_node.as_deref(),
        proxy_mode: cfg.proxy_mode,
        certificates,
        crypto: crate::tls::provider::info(),
        workload_state,
    }
}

/// Policies that apply by scope: NAMESPACE ones under their namespace, GLOBAL under "".
fn policies_by_namespace(state: &ProxyState) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in state.policies() {
        let bucket = match p.scope {
            PolicyScope::Global => String::new(),
            PolicyScope::Namespace => p.namespace.clone(),
            PolicyScope::WorkloadSelector => continue,
        };
        out.entry(bucket).or_default().push(p.key());
    }
    out
}

fn vip_key(network: &str, addr: SocketAddr) -> String {
    if network.is_empty() { addr.to_string() } else { format!("{network}/{addr}") }
}

type VipMaps = (BTreeMap<String, Vec<(IpAddr, u16)>>, BTreeMap<IpAddr, Vec<(String, u16)>>);

/// Service VIP:port → endpoints, and the reverse per workload IP.
fn vip_maps(state: &ProxyState) -> VipMaps {
    let mut vips: BTreeMap<String, Vec<(IpAddr, u16)>> = BTreeMap::new();
    let mut reverse: BTreeMap<IpAddr, Vec<(String, u16)>> = BTreeMap::new();
    for svc in state.services() {
        for vip in &svc.vips {
            for (&svc_port, &target) in &svc.ports {
                let key = vip_key(&vip.network, SocketAddr::new(vip.address, svc_port));
                let list = vips.entry(key.clone()).or_default();
                for ep in svc.endpoints.values() {
                    let Some(w) = state.workload_by_uid(&ep.workload_uid) else { continue };
                    let port = ep.port.get(&svc_port).copied().unwrap_or(target);
                    let port = if port == 0 { svc_port } else { port };
                    for ip in &w.workload_ips {
                        list.push((*ip, port));
                        reverse.entry(*ip).or_default().push((key.clone(), port));
                    }
                }
            }
        }
    }
    (vips, reverse)
}

/// The local config as loaded now (upstream re-reads it for the dump). Errors are reported
/// in place rather than failing the whole dump.
fn static_config(cfg: &Config) -> serde_json::Value {
    let loaded = match &cfg.local_xds {
        None => return serde_json::Value::Null,
        Some(LocalXdsSource::Inline(yaml)) => crate::xds::load_str(yaml, "LOCAL_XDS").map_err(|e| e.to_string()),
        Some(LocalXdsSource::File(path)) => crate::xds::load_file(path).map_err(|e| e.to_string()),
    };
    match loaded {
        Ok(state) => serde_json::to_value(&state).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() })),
        Err(e) => serde_json::json!({ "error": e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_has_upstream_keys_and_vip_maps() {
        let yaml = "\
workloads:
- uid: u1
  name: server
  namespace: default
  workloadIps: [10.0.0.2]
  services:
    default/echo.default.svc.cluster.local:
      80: 8080
policies:
- name: allow
  namespace: default
  scope: Namespace
  action: Allow
  rules: []
services:
- name: echo
  namespace: default
  hostname: echo.default.svc.cluster.local
  vips: [/10.96.0.1]
  ports: {80: 8080}
";
        let state = crate::xds::load_str(yaml, "test").unwrap();
        let env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut cfg = Config::from_source(&env).unwrap();
        cfg.local_xds = Some(LocalXdsSource::Inline(yaml.into()));
        let dump = serde_json::to_value(build(&cfg, &state, Vec::new(), None)).unwrap();
        for key in [
            "workloads",
            "services",
            "policies",
            "policiesByNamespace",
            "vips",
            "workloadToVip",
            "staticConfig",
            "version",
            "config",
            "localNode",
            "proxyMode",
            "certificates",
            "crypto",
        ] {
            assert!(dump.get(key).is_some(), "missing {key}");
        }
        assert_eq!(dump["vips"]["10.96.0.1:80"][0], serde_json::json!(["10.0.0.2", 8080]));
        assert_eq!(dump["workloadToVip"]["10.0.0.2"][0], serde_json::json!(["10.96.0.1:80", 8080]));
        assert_eq!(dump["policiesByNamespace"]["default"][0], "default/allow");
        assert_eq!(dump["staticConfig"]["workloads"][0]["uid"], "u1");
        assert_eq!(dump["crypto"]["name"], crate::tls::provider::NAME);
    }
}
