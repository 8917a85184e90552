//! The pure part of the DNS proxy: which service a query name means, from a pod's point of
//! view. Kubernetes pods resolve with `search <ns>.svc.<domain> svc.<domain> <domain>`, so a
//! query may arrive as the service hostname itself, as a short name with a search domain
//! appended (`echo.default.svc.cluster.local` for `echo`), or with a search domain appended
//! to an already complete name, or bare (`echo`, `echo.ns`: `dig`, or a resolver trying the
//! name as given), read in the client's namespace. Search-domain hits answer with a CNAME to
//! the canonical hostname plus its addresses, as upstream does. A name no service has exactly
//! may still be covered by a wildcard ServiceEntry host (`*.example.com`), tried most specific
//! first. The client is a pod (in-pod mode) or the dedicated workload, whose search domains
//! are then ztunnel's own resolv.conf list ([`Client::search`]).

use std::net::IpAddr;
use std::sync::Arc;

use crate::state::ProxyState;
use crate::state::service::Service;

/// A query answered from the mesh state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The service hostname the answer is for.
    pub hostname: String,
    /// True when the query named `hostname` through a search domain (answer with a CNAME to it
    /// first); false for the service's own hostname, a wildcard, or a bare Kubernetes short
    /// name, which are answered under the query name.
    pub alias: bool,
    pub ips: Vec<IpAddr>,
}

/// The search domains of a pod in `namespace`.
pub fn search_domains(namespace: &str, domain: &str) -> [String; 3] {
    [format!("{namespace}.svc.{domain}"), format!("svc.{domain}"), domain.to_string()]
}

/// Who is asking: the namespace short names are relative to, and the search domains its
/// resolver appends (stripped off again to recover what it asked for).
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub namespace: &'a str,
    /// The network whose VIPs are answered (the client's, else the proxy's NETWORK).
    pub network: &'a str,
    pub search: &'a [String],
    /// CLUSTER_DOMAIN.
    pub domain: &'a str,
}

/// A service hostname to try for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    /// Reached by stripping a search domain: answered with a CNAME to the service hostname.
    /// Otherwise the answer carries the query name itself, as upstream's.
    pub alias: bool,
}

/// The Kubernetes service FQDN a partial name stands for, from `namespace`:
/// `svc` → `svc.<ns>.svc.<domain>`, `svc.ns` → `svc.ns.svc.<domain>`,
/// `svc.ns.svc` → `svc.ns.svc.<domain>`; anything else is taken as it is.
fn kube_fqdn(name: &str, namespace: &str, domain: &str) -> Option<String> {
    match name.matches('.').count() {
        0 => Some(format!("{name}.{namespace}.svc.{domain}")),
        1 => Some(format!("{name}.svc.{domain}")),
        2 if name.ends_with(".svc") => Some(format!("{name}.{domain}")),
        _ => None,
    }
}

/// Candidate service hostnames for `qname` (lower-case, no trailing dot), best first.
pub fn candidates(qname: &str, client: &Client<'_>) -> Vec<Candidate> {
    let mut out = vec![Candidate { name: qname.to_string(), alias: false }];
    out.extend(kube_fqdn(qname, client.namespace, client.domain).map(|name| Candidate { name, alias: false }));
    for suffix in client.search {
        let Some(stripped) = qname.strip_suffix(&format!(".{suffix}")) else { continue };
        if stripped.is_empty() {
            continue;
        }
        // What the client asked for before its resolver appended `suffix`.
        out.push(Candidate { name: stripped.to_string(), alias: true });
        out.extend(kube_fqdn(stripped, client.namespace, client.domain).map(|name| Candidate { name, alias: true }));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.name.clone()));
    out
}

/// The services' VIPs on `network` (upstream's: a VIP on another network is not the client's
/// to dial).
fn service_ips(services: &[Arc<Service>], network: &str) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> =
        services.iter().flat_map(|s| s.vips.iter().filter(|v| v.network == network).map(|v| v.address)).collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Resolves `qname` for a pod in `namespace` on `network`, with the Kubernetes search domains;
/// `None` means "not a mesh name: forward it".
pub fn resolve(state: &ProxyState, qname: &str, namespace: &str, network: &str, domain: &str) -> Option<Resolved> {
    let search = search_domains(namespace, domain);
    resolve_for(state, qname, &Client { namespace, network, search: &search, domain })
}

/// [`resolve`] for a client with its own search domains.
pub fn resolve_for(state: &ProxyState, qname: &str, client: &Client<'_>) -> Option<Resolved> {
    let (namespace, network) = (client.namespace, client.network);
    let qname = qname.trim_end_matches('.').to_ascii_lowercase();
    for c in candidates(&qname, client) {
        for (i, host) in std::iter::once(c.name.clone()).chain(wildcards(&c.name)).enumerate() {
            let mut services = state.services_by_hostname(&host);
            // exportTo: a service visible to its own namespace only does not exist for other
            // clients, in DNS as in routing (the name is then forwarded like any unknown one).
            services.retain(|s| s.visible_in(namespace));
            let ips = service_ips(&services, network);
            if ips.is_empty() {
                continue;
            }
            // A wildcard match answers the query name itself, no CNAME (as upstream): there is
            // no single name to alias it to.
            let alias = i == 0 && c.alias;
            return Some(Resolved { alias, hostname: host, ips });
        }
    }
    None
}

/// The wildcard hostnames a ServiceEntry may use to cover `name`, most specific first:
/// `a.b.example.com` → `*.b.example.com`, `*.example.com`, `*.com`.
pub fn wildcards(name: &str) -> impl Iterator<Item = String> + '_ {
    let mut rest = name;
    std::iter::from_fn(move || {
        let (_, parent) = rest.split_once('.')?;
        if parent.is_empty() {
            return None;
        }
        rest = parent;
        Some(format!("*.{parent}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::service::Visibility;

    fn names(qname: &str, namespace: &str) -> Vec<String> {
        let search = search_domains(namespace, "cluster.local");
        candidates(qname, &Client { namespace, network: "", search: &search, domain: "cluster.local" })
            .into_iter()
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn short_names_expand_through_search_domains() {
        let c = names("echo.default.svc.cluster.local", "default");
        assert_eq!(c[0], "echo.default.svc.cluster.local");
        // `echo.default` + `svc.cluster.local` and `echo.default.svc` + `cluster.local`.
        assert!(c.contains(&"echo.default".to_string()));
        // A complete hostname with the pod's search domain appended again.
        let c = names("example.com.default.svc.cluster.local", "default");
        assert!(c.contains(&"example.com".to_string()), "{c:?}");
        let c = names("echo.other.svc.cluster.local", "default");
        assert!(c.contains(&"echo.other.svc.cluster.local".to_string()));
    }

    #[test]
    fn namespace_short_name() {
        // `echo.other` queried from namespace default, with `svc.cluster.local` appended.
        let c = names("echo.other.svc.cluster.local", "default");
        assert_eq!(c[0], "echo.other.svc.cluster.local");
        // `echo` from namespace default with the first search domain appended.
        let c = names("echo.default.svc.cluster.local", "default");
        assert!(c.iter().any(|x| x == "echo.default.svc.cluster.local"));
    }

    /// Names sent without any search domain (`dig echo`, or a resolver that tries the bare
    /// name) are the Kubernetes forms relative to the client's namespace, answered under the
    /// query name itself, as upstream's.
    #[test]
    fn bare_kubernetes_names_expand_in_the_client_namespace() {
        let ns1 = |q: &str| {
            let c = Client { namespace: "ns1", network: "", search: &[], domain: "cluster.local" };
            candidates(q, &c)
        };
        let fqdn = |name: &str| Candidate { name: name.into(), alias: false };
        assert_eq!(ns1("echo"), [fqdn("echo"), fqdn("echo.ns1.svc.cluster.local")]);
        assert_eq!(ns1("echo.ns2"), [fqdn("echo.ns2"), fqdn("echo.ns2.svc.cluster.local")]);
        assert_eq!(ns1("echo.ns2.svc"), [fqdn("echo.ns2.svc"), fqdn("echo.ns2.svc.cluster.local")]);
        assert_eq!(ns1("www.example.com"), [fqdn("www.example.com")]);
        // No search domains given: nothing is stripped.
        assert_eq!(ns1("echo.ns1.svc.cluster.local.ns1.svc.cluster.local").len(), 1);
        // A search domain of the client's own (a VM's resolv.conf): stripped, then expanded.
        let search = vec!["corp.example".to_string()];
        let c = candidates(
            "echo.corp.example",
            &Client { namespace: "ns1", network: "", search: &search, domain: "cluster.local" },
        );
        assert_eq!(c[1], Candidate { name: "echo".into(), alias: true });
        assert_eq!(c[2], Candidate { name: "echo.ns1.svc.cluster.local".into(), alias: true });

        let yaml = crate::testbed::Mesh::on_loopback(9, 8080).config_yaml();
        let state = crate::xds::load_str(&yaml, "test").unwrap();
        let r = resolve(&state, "echo.", "default", "", "cluster.local").unwrap();
        assert_eq!((r.alias, r.ips), (false, vec!["127.9.10.1".parse::<IpAddr>().unwrap()]));
        assert!(resolve(&state, "echo.default", "other", "", "cluster.local").is_some());
        assert!(resolve(&state, "echo", "other", "", "cluster.local").is_none(), "another namespace's short name");
    }

    #[test]
    fn resolve_from_state() {
        let yaml = crate::testbed::Mesh::on_loopback(9, 8080).config_yaml();
        let state = crate::xds::load_str(&yaml, "test").unwrap();
        let r = resolve(&state, "echo.default.svc.cluster.local.", "default", "", "cluster.local").unwrap();
        assert_eq!(
            r,
            Resolved {
                hostname: "echo.default.svc.cluster.local".into(),
                alias: false,
                ips: vec!["127.9.10.1".parse().unwrap()]
            }
        );
        // Search domain appended to the full name: answered as an alias.
        let r =
            resolve(&state, "ECHO.default.svc.cluster.local.default.svc.cluster.local", "default", "", "cluster.local")
                .unwrap();
        assert!(r.alias);
        assert_eq!(r.hostname, "echo.default.svc.cluster.local");
        assert!(resolve(&state, "example.org", "default", "", "cluster.local").is_none());
    }

    fn svc(ns: &str, host: &str, vip: &str, visibility: Option<Visibility>) -> Service {
        let mut s = Service::new(ns, "svc", host);
        s.vips.push(format!("/{vip}").parse().unwrap());
        s.visibility = visibility;
        s
    }

    #[test]
    fn wildcard_hostnames_cover_subdomains_most_specific_first() {
        assert_eq!(wildcards("a.b.example.com").collect::<Vec<_>>(), ["*.b.example.com", "*.example.com", "*.com"]);
        assert_eq!(wildcards("com").count(), 0);
        let mut state = ProxyState::new();
        state.insert_service(svc("ns", "*.example.com", "240.240.0.1", None)).unwrap();
        state.insert_service(svc("ns", "*.api.example.com", "240.240.0.2", None)).unwrap();
        let ip = |s: &str| vec![s.parse::<IpAddr>().unwrap()];
        let r = resolve(&state, "www.example.com.", "default", "", "cluster.local").unwrap();
        assert_eq!(r, Resolved { hostname: "*.example.com".into(), alias: false, ips: ip("240.240.0.1") });
        assert_eq!(
            resolve(&state, "v1.api.example.com", "default", "", "cluster.local").unwrap().ips,
            ip("240.240.0.2")
        );
        assert_eq!(resolve(&state, "x.y.example.com", "default", "", "cluster.local").unwrap().ips, ip("240.240.0.1"));
        // The wildcard covers subdomains only, not the domain itself.
        assert!(resolve(&state, "example.com", "default", "", "cluster.local").is_none());
        // With the pod's search domain appended: still the query name, no CNAME.
        let r = resolve(&state, "www.example.com.default.svc.cluster.local", "default", "", "cluster.local").unwrap();
        assert!(!r.alias);
        assert_eq!(r.ips, ip("240.240.0.1"));
        // An exact hostname wins over a wildcard covering it.
        state.insert_service(svc("ns", "www.example.com", "240.240.0.3", None)).unwrap();
        assert_eq!(resolve(&state, "www.example.com", "default", "", "cluster.local").unwrap().ips, ip("240.240.0.3"));
    }

    #[test]
    fn namespace_visible_services_are_hidden_from_other_namespaces() {
        let mut state = ProxyState::new();
        let host = "private.team.svc.cluster.local";
        state.insert_service(svc("team", host, "10.96.0.1", Some(Visibility::Namespace))).unwrap();
        let own = resolve(&state, host, "team", "", "cluster.local").unwrap();
        assert_eq!(own.ips, vec!["10.96.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(resolve(&state, "private", "team", "", "cluster.local").unwrap().ips, own.ips);
        assert!(resolve(&state, "private", "other", "", "cluster.local").is_none());
        assert_eq!(resolve(&state, "private.team.svc.cluster.local", "team", "", "cluster.local"), Some(own));
        assert!(resolve(&state, host, "other", "", "cluster.local").is_none());
        // Another namespace defining the same hostname publicly: only its address is answered
        // outside `team`.
        state.insert_service(svc("shared", host, "10.96.0.2", None)).unwrap();
        let r = resolve(&state, host, "other", "", "cluster.local").unwrap();
        assert_eq!(r.ips, vec!["10.96.0.2".parse::<IpAddr>().unwrap()]);
        let r = resolve(&state, host, "team", "", "cluster.local").unwrap();
        assert_eq!(r.ips.len(), 2);
    }

    #[test]
    fn only_the_client_networks_vips_are_answered() {
        let mut state = ProxyState::new();
        let mut s = Service::new("default", "echo", "echo.default.svc.cluster.local");
        s.vips = ["net-a/10.96.0.1", "net-b/10.96.0.1", "net-b/10.96.0.2"].iter().map(|v| v.parse().unwrap()).collect();
        state.insert_service(s).unwrap();
        let ips =
            |network: &str| resolve(&state, "echo.default.svc.cluster.local", "default", network, "cluster.local");
        assert_eq!(ips("net-a").unwrap().ips, vec!["10.96.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(ips("net-b").unwrap().ips.len(), 2);
        // No VIP on the client's network: not a name it can use here, forwarded like any other.
        assert!(ips("net-c").is_none());
    }
}
