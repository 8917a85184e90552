//! PROXY_CONFIG: Istio's `ProxyConfig` as YAML (what `proxy.istio.io/config` and mesh
//! `defaultConfig` carry), read the way upstream reads it: `discoveryAddress` is the xDS
//! address when XDS_ADDRESS is unset, `proxyAdminPort` / `statsPort` move the admin and metrics
//! listeners, `concurrency` sets the worker threads when ZTUNNEL_WORKER_THREADS is unset (0 =
//! one per core), and `proxyMetadata` entries act as environment variables that the real
//! environment overrides. Other ProxyConfig fields are accepted and ignored (they are Envoy's).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::ConfigError;
use super::env::{EnvSource, invalid};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfigYaml {
    pub discovery_address: Option<String>,
    pub proxy_admin_port: Option<u16>,
    pub stats_port: Option<u16>,
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub proxy_metadata: BTreeMap<String, String>,
}

impl ProxyConfigYaml {
    /// PROXY_CONFIG from `src`; unset or empty is the empty config.
    pub fn from_source(src: &dyn EnvSource) -> Result<ProxyConfigYaml, ConfigError> {
        match src.get("PROXY_CONFIG").filter(|v| !v.trim().is_empty()) {
            None => Ok(ProxyConfigYaml::default()),
            Some(yaml) => serde_yaml::from_str(&yaml)
                .map_err(|e| invalid("PROXY_CONFIG", &yaml, &format!("a YAML ProxyConfig ({e})"))),
        }
    }
}

/// The environment with `proxyMetadata` beneath it: a variable set in the environment wins.
pub struct WithProxyMetadata<'a> {
    pub env: &'a dyn EnvSource,
    pub metadata: &'a BTreeMap<String, String>,
}

impl EnvSource for WithProxyMetadata<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.env.get(key).or_else(|| self.metadata.get(key).cloned())
    }

    fn keys_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut all: HashMap<String, String> =
            self.metadata.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        all.extend(self.env.keys_with_prefix(prefix));
        let mut out: Vec<(String, String)> = all.into_iter().collect();
        out.sort();
        out
    }
}
