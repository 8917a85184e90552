//! The pure part of the DNS proxy: which service a query name means, from a pod's point of
//! view. Kubernetes pods resolve with `search <ns>.svc.<domain> svc.<domain> <domain>`, so a
//! query may arrive as the service hostname itself, as a short name with a search domain
//! appended (`echo.default.svc.cluster.local` for `echo`), or with a search domain appended
//! to an already complete name. Search-domain hits answer with a CNAME to the canonical
//! hostname plus its addresses, as upstream does.

use std::net::IpAddr;
use std::sync::Arc;

use crate::state::ProxyState;
use crate::state::service::Service;

/// A query answered from the mesh state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The service hostname the answer is for.
    pub hostname: String,
    /// True when `hostname` differs from the query name (answer with a CNAME first).
    pub alias: bool,
    pub ips: Vec<IpAddr>,
}

/// The search domains of a pod in `namespace`.
pub fn search_domains(namespace: &str, domain: &str) -> [String; 3] {
    [format!("{namespace}.svc.{domain}"), format!("svc.{domain}"), domain.to_string()]
}

/// Candidate service hostnames for `qname` (lower-case, no trailing dot), best first.
pub fn candidates(qname: &str, namespace: &str, domain: &str) -> Vec<String> {
    let mut out = vec![qname.to_string()];
    for suffix in search_domains(namespace, domain) {
        let Some(stripped) = qname.strip_suffix(&format!(".{suffix}")) else { continue };
        if stripped.is_empty() {
            continue;
        }
        // What the pod asked for before its resolver appended `suffix`.
        out.push(stripped.to_string());
        match stripped.matches('.').count() {
            // `svc` → `svc.<ns>.svc.<domain>`
            0 => out.push(format!("{stripped}.{namespace}.svc.{domain}")),
            // `svc.ns` → `svc.ns.svc.<domain>`
            1 => out.push(format!("{stripped}.svc.{domain}")),
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.clone()));
    out
}

fn service_ips(services: &[Arc<Service>]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = services.iter().flat_map(|s| s.vips.iter().map(|v| v.address)).collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Resolves `qname` for a pod in `namespace`; `None` means "not a mesh name: forward it".
pub fn resolve(state: &ProxyState, qname: &str, namespace: &str, domain: &str) -> Option<Resolved> {
    let qname = qname.trim_end_matches('.').to_ascii_lowercase();
    for c in candidates(&qname, namespace, domain) {
        let services = state.services_by_hostname(&c);
        let ips = service_ips(&services);
        if !ips.is_empty() {
            return Some(Resolved { alias: c != qname, hostname: c, ips });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_expand_through_search_domains() {
        let c = candidates("echo.default.svc.cluster.local", "default", "cluster.local");
        assert_eq!(c[0], "echo.default.svc.cluster.local");
        // `echo.default` + `svc.cluster.local` and `echo.default.svc` + `cluster.local`.
        assert!(c.contains(&"echo.default".to_string()));
        // A complete hostname with the pod's search domain appended again.
        let c = candidates("example.com.default.svc.cluster.local", "default", "cluster.local");
        assert!(c.contains(&"example.com".to_string()), "{c:?}");
        let c = candidates("echo.other.svc.cluster.local", "default", "cluster.local");
        assert!(c.contains(&"echo.other.svc.cluster.local".to_string()));
    }

    #[test]
    fn namespace_short_name() {
        // `echo.other` queried from namespace default, with `svc.cluster.local` appended.
        let c = candidates("echo.other.svc.cluster.local", "default", "cluster.local");
        assert_eq!(c[0], "echo.other.svc.cluster.local");
        // `echo` from namespace default with the first search domain appended.
        let c = candidates("echo.default.svc.cluster.local", "default", "cluster.local");
        assert!(c.iter().any(|x| x == "echo.default.svc.cluster.local"));
    }

    #[test]
    fn resolve_from_state() {
        let yaml = crate::testbed::Mesh::on_loopback(9, 8080).config_yaml();
        let state = crate::xds::load_str(&yaml, "test").unwrap();
        let r = resolve(&state, "echo.default.svc.cluster.local.", "default", "cluster.local").unwrap();
        assert_eq!(
            r,
            Resolved {
                hostname: "echo.default.svc.cluster.local".into(),
                alias: false,
                ips: vec!["127.9.10.1".parse().unwrap()]
            }
        );
        // Search domain appended to the full name: answered as an alias.
        let r = resolve(&state, "ECHO.default.svc.cluster.local.default.svc.cluster.local", "default", "cluster.local")
            .unwrap();
        assert!(r.alias);
        assert_eq!(r.hostname, "echo.default.svc.cluster.local");
        assert!(resolve(&state, "example.org", "default", "cluster.local").is_none());
    }
}
