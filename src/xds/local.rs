//! The local config file (LOCAL_XDS_PATH / LOCAL_XDS): workloads, services and policies written
//! as YAML, in upstream's schema, turned into a [`ProxyState`].
//!
//! Owns the YAML schema types ([`LocalConfig`], [`LocalWorkload`]), parsing with precise error
//! locations, and semantic validation. Parsing is pure; [`load_file`] is the only I/O here
//! (the watcher lives in [`super::watch`]).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::locate::{self, Seg, idx, key};
use crate::rbac::Authorization;
use crate::state::workload::{
    self as workload_defaults, ApplicationTunnel, GatewayAddress, HealthStatus, Locality, NamespacedHostname,
    NetworkMode, TunnelProtocol,
};
use crate::state::{Memberships, ProxyState, Service, StateError, Workload};

/// The whole file. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalConfig {
    #[serde(default)]
    pub workloads: Vec<LocalWorkload>,
    #[serde(default)]
    pub policies: Vec<Authorization>,
    #[serde(default)]
    pub services: Vec<Service>,
}

/// A workload as written in the file: the [`Workload`] fields plus `services`, which makes the
/// workload an endpoint of each listed service. Written out field by field because serde's
/// `flatten` silently disables `deny_unknown_fields`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalWorkload {
    /// Derived as `<clusterId>//v1/Pod/<namespace>/<name>` when absent.
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub name: String,
    pub namespace: String,
    /// `cluster.local` when absent (as istiod's empty value means).
    #[serde(default)]
    pub trust_domain: String,
    /// `default` when absent.
    #[serde(default)]
    pub service_account: String,
    #[serde(default)]
    pub workload_ips: Vec<IpAddr>,
    #[serde(default)]
    pub protocol: TunnelProtocol,
    #[serde(default)]
    pub network_mode: NetworkMode,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub canonical_name: String,
    #[serde(default)]
    pub canonical_revision: String,
    #[serde(default)]
    pub workload_name: String,
    #[serde(default)]
    pub workload_type: String,
    #[serde(default)]
    pub cluster_id: String,
    #[serde(default)]
    pub status: HealthStatus,
    #[serde(default)]
    pub authorization_policies: Vec<String>,
    #[serde(default)]
    pub locality: Locality,
    #[serde(default)]
    pub waypoint: Option<GatewayAddress>,
    #[serde(default)]
    pub network_gateway: Option<GatewayAddress>,
    #[serde(default)]
    pub native_tunnel: bool,
    #[serde(default)]
    pub application_tunnel: Option<ApplicationTunnel>,
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// `"<namespace>/<hostname>": { <servicePort>: <targetPort> }`.
    #[serde(default)]
    pub services: BTreeMap<String, BTreeMap<u16, u16>>,
}

fn default_capacity() -> u32 {
    1
}

/// Why the local config could not be used. Displays as
/// `<source>: line L column C: <path>: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum LocalConfigError {
    #[error("{0}")]
    Invalid(Box<InvalidConfig>),
    // The I/O error is part of the message and deliberately not a `source`: error chains
    // (`{:#}`) would print it twice.
    #[error("{}: cannot read: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
}

/// A parse or validation failure with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    /// The file path, or `LOCAL_XDS` for inline config.
    pub source_name: String,
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// Field path such as `workloads[0].protocol`; empty for document-level problems.
    pub path: String,
    pub message: String,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.source_name)?;
        if let Some((line, col)) = self.location {
            write!(f, "line {line} column {col}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl LocalConfigError {
    /// The structured details, for parse/validation errors.
    pub fn invalid(&self) -> Option<&InvalidConfig> {
        match self {
            LocalConfigError::Invalid(i) => Some(i),
            LocalConfigError::Read { .. } => None,
        }
    }
}

/// Reads and loads a config file. The file path is used as the source name in errors.
pub fn load_file(path: &Path) -> Result<ProxyState, LocalConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| LocalConfigError::Read { path: path.to_path_buf(), error })?;
    load_str(&text, &path.display().to_string())
}

/// Parses and validates `yaml`; `source_name` (a path, or `LOCAL_XDS`) prefixes every error.
pub fn load_str(yaml: &str, source_name: &str) -> Result<ProxyState, LocalConfigError> {
    let cfg = parse(yaml, source_name)?;
    build_state(cfg).map_err(|(path, message)| {
        LocalConfigError::Invalid(Box::new(InvalidConfig {
            source_name: source_name.to_string(),
            location: locate::locate(yaml, &path),
            path: locate::render(&path),
            message,
        }))
    })
}

fn parse(yaml: &str, source_name: &str) -> Result<LocalConfig, LocalConfigError> {
    // An empty file (or only comments) is an empty config, not an error: it is how one clears
    // all local state.
    if yaml.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    }) {
        return Ok(LocalConfig::default());
    }
    let de = serde_yaml::Deserializer::from_str(yaml);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner.location().map(|l| (l.line(), l.column()));
        LocalConfigError::Invalid(Box::new(InvalidConfig {
            source_name: source_name.to_string(),
            location,
            path: if path == "." { String::new() } else { path },
            message: bare_message(&inner, location),
        }))
    })
}

/// serde_yaml's message repeats its own path prefix and the location; we print both
/// ourselves, so strip them.
fn bare_message(err: &serde_yaml::Error, location: Option<(usize, usize)>) -> String {
    let mut msg = err.to_string();
    if let Some((line, col)) = location {
        msg = msg.replace(&format!(" at line {line} column {col}"), "");
    }
    if let Some((prefix, rest)) = msg.split_once(": ") {
        let looks_like_path = !prefix.is_empty()
            && !prefix.contains(char::is_whitespace)
            && (prefix.contains('.') || prefix.contains('[') || !prefix.contains('`'));
        if looks_like_path && !rest.is_empty() {
            msg = rest.to_string();
        }
    }
    msg
}

type Failure = (Vec<Seg>, String);

fn fail<T>(path: Vec<Seg>, message: impl Into<String>) -> Result<T, Failure> {
    Err((path, message.into()))
}

fn build_state(cfg: LocalConfig) -> Result<ProxyState, Failure> {
    let mut state = ProxyState::new();
    // Where each workload lists each service, to name it if the service is never defined.
    let mut listed_at: BTreeMap<String, Vec<(Vec<Seg>, String)>> = BTreeMap::new();
    let mut workloads = Vec::with_capacity(cfg.workloads.len());

    for (i, lw) in cfg.workloads.into_iter().enumerate() {
        let at = |rest: &[Seg]| {
            let mut p = vec![key("workloads"), idx(i)];
            p.extend_from_slice(rest);
            p
        };
        if lw.namespace.trim().is_empty() {
            return fail(at(&[key("namespace")]), "must not be empty");
        }
        // A pod on another network may come without an address: its network gateway is how
        // it is reached (as istiod sends remote pods).
        if lw.workload_ips.is_empty() && lw.hostname.is_empty() && lw.network_gateway.is_none() {
            return fail(at(&[key("workloadIps")]), "a workload needs workloadIps, a hostname or a networkGateway");
        }
        for (j, p) in lw.authorization_policies.iter().enumerate() {
            if split_pair(p).is_none() {
                return fail(
                    at(&[key("authorizationPolicies"), idx(j)]),
                    format!("{p:?} is not of the form \"<namespace>/<name>\""),
                );
            }
        }
        let uid = if lw.uid.is_empty() { derived_uid(&lw) } else { lw.uid.clone() };
        let mut services = Vec::with_capacity(lw.services.len());
        let mut memberships = Memberships::new();
        for (svc_key, ports) in &lw.services {
            let Some((namespace, hostname)) = split_pair(svc_key) else {
                return fail(
                    at(&[key("services"), key(svc_key.clone())]),
                    format!("service key {svc_key:?} is not of the form \"<namespace>/<hostname>\""),
                );
            };
            if ports.contains_key(&0) {
                return fail(
                    at(&[key("services"), key(svc_key.clone()), key("0")]),
                    "service port 0 is not a valid port",
                );
            }
            services.push(NamespacedHostname { namespace: namespace.into(), hostname: hostname.into() });
            listed_at
                .entry(svc_key.clone())
                .or_default()
                .push((at(&[key("services"), key(svc_key.clone())]), uid.clone()));
            memberships.insert(svc_key.clone(), ports.clone());
        }
        let w = into_workload(lw, uid, services);
        workloads.push((at(&[]), w, memberships));
    }

    // The same builder the xDS cache uses: endpoints derived from memberships, defaults applied.
    let mut log = Vec::new();
    for (mut path, w, memberships) in workloads {
        if state.workload_by_uid(&w.uid).is_some() {
            // Derived uids repeat only when the names do; a given one is named precisely.
            path.push(key("uid"));
            return Err((path, StateError::DuplicateWorkloadUid(w.uid.to_string()).to_string()));
        }
        state.upsert_workload(w, &memberships, &mut log);
    }

    let mut seen_services = HashSet::new();
    for (i, svc) in cfg.services.into_iter().enumerate() {
        let at = |rest: &[Seg]| {
            let mut p = vec![key("services"), idx(i)];
            p.extend_from_slice(rest);
            p
        };
        for (field, value) in [("name", &svc.name), ("namespace", &svc.namespace), ("hostname", &svc.hostname)] {
            if value.trim().is_empty() {
                return fail(at(&[key(field)]), "must not be empty");
            }
        }
        if svc.ports.contains_key(&0) {
            return fail(at(&[key("ports"), key("0")]), "service port 0 is not a valid port");
        }
        for (uid, ep) in &svc.endpoints {
            if ep.workload_uid != *uid {
                return fail(
                    at(&[key("endpoints"), key(uid.clone()), key("workloadUid")]),
                    format!("workloadUid {:?} does not match its key {uid:?}", ep.workload_uid),
                );
            }
        }
        seen_services.insert(svc.key());
        state.insert_service(svc).map_err(|e| {
            let p = match &e {
                StateError::DuplicateVip { .. } => at(&[key("vips")]),
                _ => at(&[key("hostname")]),
            };
            (p, e.to_string())
        })?;
    }
    // Upstream keeps endpoints for not-yet-known services (they may arrive later over xDS);
    // with a static file they can never be used, which is almost always a typo, so say so.
    for (svc_key, eps) in listed_at.iter().filter(|(k, _)| !seen_services.contains(*k)) {
        for (path, uid) in eps {
            tracing::warn!(
                service = %svc_key,
                workload = %uid,
                at = %locate::render(path),
                "workload lists a service that is not defined in the local config; ignoring it"
            );
        }
    }

    for (i, policy) in cfg.policies.into_iter().enumerate() {
        for (field, value) in [("name", &policy.name), ("namespace", &policy.namespace)] {
            if value.trim().is_empty() && !(field == "namespace" && is_global(&policy)) {
                return fail(vec![key("policies"), idx(i), key(field)], "must not be empty");
            }
        }
        state.insert_policy(policy).map_err(|e| (vec![key("policies"), idx(i), key("name")], e.to_string()))?;
    }
    Ok(state)
}

fn is_global(p: &Authorization) -> bool {
    p.scope == crate::rbac::PolicyScope::Global
}

/// `a/b` with both halves non-empty.
fn split_pair(s: &str) -> Option<(&str, &str)> {
    s.split_once('/').filter(|(a, b)| !a.is_empty() && !b.is_empty())
}

fn derived_uid(lw: &LocalWorkload) -> String {
    let cluster = if lw.cluster_id.is_empty() { workload_defaults::DEFAULT_CLUSTER_ID } else { &lw.cluster_id };
    // Without a name, the first IP keeps the uid unique and stable across reloads.
    let name = if lw.name.is_empty() {
        lw.workload_ips.first().map(ToString::to_string).unwrap_or_else(|| lw.hostname.clone())
    } else {
        lw.name.clone()
    };
    format!("{cluster}//v1/Pod/{}/{name}", lw.namespace)
}

fn into_workload(lw: LocalWorkload, uid: String, services: Vec<NamespacedHostname>) -> Workload {
    Workload {
        uid: uid.into(),
        name: lw.name.into(),
        namespace: lw.namespace.into(),
        trust_domain: workload_defaults::trust_domain_or_default(lw.trust_domain),
        service_account: workload_defaults::service_account_or_default(lw.service_account),
        workload_ips: lw.workload_ips,
        protocol: lw.protocol,
        network_mode: lw.network_mode,
        network: lw.network.into(),
        node: lw.node.into(),
        hostname: lw.hostname.into(),
        canonical_name: lw.canonical_name.into(),
        canonical_revision: lw.canonical_revision.into(),
        workload_name: lw.workload_name.into(),
        workload_type: lw.workload_type.into(),
        cluster_id: workload_defaults::cluster_id_or_default(lw.cluster_id),
        status: lw.status,
        authorization_policies: lw.authorization_policies,
        locality: lw.locality,
        services,
        waypoint: lw.waypoint.map(Box::new),
        network_gateway: lw.network_gateway.map(Box::new),
        native_tunnel: lw.native_tunnel,
        application_tunnel: lw.application_tunnel,
        capacity: lw.capacity,
        identity_cache: Default::default(),
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
