//! Proto → domain conversion at the xDS boundary.
//!
//! Owns the rules for turning istiod's `Address` (workload or service) and `Authorization`
//! resources into [`Workload`], [`Service`] and [`Authorization`]. Nothing past this module sees
//! a proto type. Anything we cannot represent faithfully (a 5-byte IP, an unknown enum value,
//! the unsupported LEGACY_ISTIO_MTLS tunnel) is rejected with a message naming the field, so the
//! xDS client can NACK that one resource and keep the rest.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::proto::{security as sec, workload as pw};
use crate::rbac::{Authorization, Cidr, PolicyAction, PolicyScope, RbacMatch, ServiceAccountMatch, StringMatch};
use crate::state::service::{
    IpFamily, LoadBalancer, LoadBalancerHealthPolicy, LoadBalancerMode, LoadBalancerScope, Visibility, WeightedWaypoint,
};
use crate::state::workload::{
    self as workload_defaults, AppTunnelProtocol, ApplicationTunnel, GatewayAddress, GatewayDestination, Locality,
    NamespacedHostname, NetworkMode,
};
use crate::state::{HealthStatus, NetworkAddress, NetworkCidr, Service, TunnelProtocol, Workload};

/// Why a resource could not be converted. The string is the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("Address resource has neither a workload nor a service")]
    EmptyAddress,
    #[error("cannot decode {type_url}: {reason}")]
    Decode { type_url: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConvertError {
    ConvertError::Invalid { field: field.into(), reason: reason.into() }
}

/// Service memberships of a workload: `ns/hostname` → service port → target port (empty when
/// the workload gives no per-port override).
pub type Memberships = BTreeMap<String, BTreeMap<u16, u16>>;

/// A decoded Address resource.
// Short-lived (moved straight into the cache), so the variant size gap costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum AddressResource {
    /// A workload plus the services it is an endpoint of.
    Workload(Box<Workload>, Memberships),
    Service(Service),
}

/// Decodes and converts one `istio.workload.Address`.
pub fn address(a: pw::Address) -> Result<AddressResource, ConvertError> {
    match a.r#type {
        Some(pw::address::Type::Workload(w)) => {
            let (w, eps) = workload(w)?;
            Ok(AddressResource::Workload(Box::new(w), eps))
        }
        Some(pw::address::Type::Service(s)) => Ok(AddressResource::Service(service(s)?)),
        None => Err(ConvertError::EmptyAddress),
    }
}

fn ip(bytes: &[u8], field: &str) -> Result<IpAddr, ConvertError> {
    match bytes.len() {
        4 => Ok(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).expect("len 4")))),
        16 => Ok(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("len 16")))),
        n => Err(invalid(field, format!("an IP address must be 4 or 16 bytes, got {n}"))),
    }
}

fn port(v: u32, field: &str) -> Result<u16, ConvertError> {
    u16::try_from(v).map_err(|_| invalid(field, format!("port {v} is out of range")))
}

fn enum_value<T: TryFrom<i32>>(v: i32, field: &str) -> Result<T, ConvertError> {
    T::try_from(v).map_err(|_| invalid(field, format!("unknown enum value {v}")))
}

fn split_pair<'a>(s: &'a str, field: &str) -> Result<(&'a str, &'a str), ConvertError> {
    s.split_once('/')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| invalid(field, format!("{s:?} is not of the form \"<namespace>/<name>\"")))
}

fn gateway(g: pw::GatewayAddress, field: &str) -> Result<GatewayAddress, ConvertError> {
    let destination = match g.destination {
        Some(pw::gateway_address::Destination::Hostname(h)) => GatewayDestination::Hostname(NamespacedHostname {
            namespace: h.namespace.into(),
            hostname: h.hostname.into(),
        }),
        Some(pw::gateway_address::Destination::Address(a)) => GatewayDestination::Address(NetworkAddress {
            network: a.network.into(),
            address: ip(&a.address, &format!("{field}.address"))?,
        }),
        None => return Err(invalid(field, "gateway has no destination")),
    };
    Ok(GatewayAddress { destination, hbone_mtls_port: port(g.hbone_mtls_port, &format!("{field}.hboneMtlsPort"))? })
}

fn workload_type(t: pw::WorkloadType) -> &'static str {
    match t {
        pw::WorkloadType::Deployment => "deployment",
        pw::WorkloadType::Cronjob => "cronjob",
        pw::WorkloadType::Pod => "pod",
        pw::WorkloadType::Job => "job",
    }
}

/// Converts a workload; also returns its service memberships with per-port targets.
pub fn workload(w: pw::Workload) -> Result<(Workload, Memberships), ConvertError> {
    if w.uid.is_empty() {
        return Err(invalid("workload.uid", "must not be empty"));
    }
    let workload_ips = w
        .addresses
        .iter()
        .enumerate()
        .map(|(i, a)| ip(a, &format!("workload.addresses[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let protocol = match enum_value(w.tunnel_protocol, "workload.tunnelProtocol")? {
        pw::TunnelProtocol::None => TunnelProtocol::Tcp,
        pw::TunnelProtocol::Hbone => TunnelProtocol::Hbone,
        pw::TunnelProtocol::LegacyIstioMtls => {
            return Err(invalid("workload.tunnelProtocol", "LEGACY_ISTIO_MTLS is not supported"));
        }
    };
    let mut memberships = BTreeMap::new();
    let mut services = Vec::with_capacity(w.services.len());
    // Sorted so the resulting state does not depend on the proto map's hash order.
    let sorted: BTreeMap<String, pw::PortList> = w.services.into_iter().collect();
    for (key, list) in sorted {
        let field = format!("workload.services[{key:?}]");
        let (ns, host) = split_pair(&key, &field)?;
        services.push(NamespacedHostname { namespace: ns.into(), hostname: host.into() });
        let mut ports = BTreeMap::new();
        for (i, p) in list.ports.iter().enumerate() {
            let f = format!("{field}.ports[{i}]");
            let sp = port(p.service_port, &f)?;
            if sp == 0 {
                return Err(invalid(f, "service port 0 is not a valid port"));
            }
            ports.insert(sp, port(p.target_port, &f)?);
        }
        memberships.insert(key, ports);
    }
    for (i, p) in w.authorization_policies.iter().enumerate() {
        split_pair(p, &format!("workload.authorizationPolicies[{i}]"))?;
    }
    let application_tunnel = match w.application_tunnel {
        None => None,
        Some(t) => Some(ApplicationTunnel {
            protocol: match enum_value(t.protocol, "workload.applicationTunnel.protocol")? {
                pw::application_tunnel::Protocol::None => AppTunnelProtocol::NONE,
                pw::application_tunnel::Protocol::Proxy => AppTunnelProtocol::PROXY,
            },
            port: match t.port {
                0 => None,
                p => Some(port(p, "workload.applicationTunnel.port")?),
            },
        }),
    };
    let out = Workload {
        uid: w.uid.into(),
        name: w.name.into(),
        namespace: w.namespace.into(),
        trust_domain: workload_defaults::trust_domain_or_default(w.trust_domain),
        service_account: workload_defaults::service_account_or_default(w.service_account),
        workload_ips,
        protocol,
        network_mode: match enum_value(w.network_mode, "workload.networkMode")? {
            pw::NetworkMode::Standard => NetworkMode::Standard,
            pw::NetworkMode::HostNetwork => NetworkMode::HostNetwork,
        },
        network: w.network.into(),
        node: w.node.into(),
        hostname: w.hostname.into(),
        canonical_name: w.canonical_name.into(),
        canonical_revision: w.canonical_revision.into(),
        workload_name: w.workload_name.into(),
        workload_type: workload_type(enum_value(w.workload_type, "workload.workloadType")?).into(),
        cluster_id: workload_defaults::cluster_id_or_default(w.cluster_id),
        status: match enum_value(w.status, "workload.status")? {
            pw::WorkloadStatus::Healthy => HealthStatus::Healthy,
            pw::WorkloadStatus::Unhealthy => HealthStatus::Unhealthy,
        },
        authorization_policies: w.authorization_policies,
        locality: w
            .locality
            .map(|l| Locality { region: l.region.into(), zone: l.zone.into(), subzone: l.subzone.into() })
            .unwrap_or_default(),
        services,
        waypoint: w.waypoint.map(|g| gateway(g, "workload.waypoint").map(Box::new)).transpose()?,
        network_gateway: w.network_gateway.map(|g| gateway(g, "workload.networkGateway").map(Box::new)).transpose()?,
        native_tunnel: w.native_tunnel,
        application_tunnel,
        // Upstream: an absent capacity means 1.
        capacity: w.capacity.unwrap_or(1),
        identity_cache: Default::default(),
    };
    Ok((out, memberships))
}

/// Converts a service (its endpoints come from workloads and are filled in later).
pub fn service(s: pw::Service) -> Result<Service, ConvertError> {
    for (field, v) in
        [("service.name", &s.name), ("service.namespace", &s.namespace), ("service.hostname", &s.hostname)]
    {
        if v.is_empty() {
            return Err(invalid(field, "must not be empty"));
        }
    }
    let mut out = Service::new(s.namespace, s.name, s.hostname);
    for (i, a) in s.addresses.iter().enumerate() {
        let field = format!("service.addresses[{i}]");
        let addr = ip(&a.address, &field)?;
        let full = if addr.is_ipv4() { 32 } else { 128 };
        match a.length {
            Some(len) if len != full => {
                let len = u8::try_from(len).map_err(|_| invalid(&field, "prefix length out of range"))?;
                let cidr = Cidr::new(addr, len).map_err(|e| invalid(&field, e.to_string()))?;
                out.cidr_vips.push(NetworkCidr { network: a.network.as_str().into(), cidr });
            }
            _ => out.vips.push(NetworkAddress { network: a.network.as_str().into(), address: addr }),
        }
    }
    for (i, p) in s.ports.iter().enumerate() {
        let f = format!("service.ports[{i}]");
        let sp = port(p.service_port, &f)?;
        if sp == 0 {
            return Err(invalid(f, "service port 0 is not a valid port"));
        }
        out.ports.insert(sp, port(p.target_port, &f)?);
    }
    out.subject_alt_names = s.subject_alt_names;
    out.waypoint = s.waypoint.map(|g| gateway(g, "service.waypoint")).transpose()?;
    for (i, ww) in s.weighted_waypoints.into_iter().enumerate() {
        let f = format!("service.weightedWaypoints[{i}]");
        let dest = ww.destination.ok_or_else(|| invalid(&f, "missing destination"))?;
        out.weighted_waypoints.push(WeightedWaypoint { destination: gateway(dest, &f)?, weight: ww.weight });
    }
    if let Some(lb) = s.load_balancing {
        use pw::load_balancing::{HealthPolicy, Mode, Scope};
        let mut prefs = Vec::new();
        for (i, sc) in lb.routing_preference.iter().enumerate() {
            let f = format!("service.loadBalancing.routingPreference[{i}]");
            prefs.push(match enum_value::<Scope>(*sc, &f)? {
                Scope::UnspecifiedScope => return Err(invalid(f, "UNSPECIFIED_SCOPE is not a scope")),
                Scope::Region => LoadBalancerScope::Region,
                Scope::Zone => LoadBalancerScope::Zone,
                Scope::Subzone => LoadBalancerScope::Subzone,
                Scope::Node => LoadBalancerScope::Node,
                Scope::Cluster => LoadBalancerScope::Cluster,
                Scope::Network => LoadBalancerScope::Network,
            });
        }
        out.load_balancer = Some(LoadBalancer {
            routing_preferences: prefs,
            mode: match enum_value(lb.mode, "service.loadBalancing.mode")? {
                Mode::UnspecifiedMode => LoadBalancerMode::Standard,
                Mode::Strict => LoadBalancerMode::Strict,
                Mode::Failover => LoadBalancerMode::Failover,
                Mode::Passthrough => LoadBalancerMode::Passthrough,
            },
            health_policy: match enum_value(lb.health_policy, "service.loadBalancing.healthPolicy")? {
                HealthPolicy::OnlyHealthy => LoadBalancerHealthPolicy::OnlyHealthy,
                HealthPolicy::AllowAll => LoadBalancerHealthPolicy::AllowAll,
            },
        });
    }
    out.ip_families = match enum_value(s.ip_families, "service.ipFamilies")? {
        pw::IpFamilies::Automatic => None,
        pw::IpFamilies::Ipv4Only => Some(IpFamily::IPv4),
        pw::IpFamilies::Ipv6Only => Some(IpFamily::IPv6),
        pw::IpFamilies::Dual => Some(IpFamily::Dual),
    };
    out.canonical = s.canonical;
    out.visibility = match enum_value(s.visibility, "service.visibility")? {
        pw::Visibility::Public => None,
        pw::Visibility::Namespace => Some(Visibility::Namespace),
    };
    Ok(out)
}

fn string_match(m: sec::StringMatch, field: &str) -> Result<StringMatch, ConvertError> {
    use sec::string_match::MatchType;
    match m.match_type {
        Some(MatchType::Exact(s)) => Ok(StringMatch::Exact(s)),
        Some(MatchType::Prefix(s)) => Ok(StringMatch::Prefix(s)),
        Some(MatchType::Suffix(s)) => Ok(StringMatch::Suffix(s)),
        Some(MatchType::Presence(())) => Ok(StringMatch::Presence),
        None => Err(invalid(field, "string match has no match type")),
    }
}

fn cidr(a: &sec::Address, field: &str) -> Result<Cidr, ConvertError> {
    let addr = ip(&a.address, field)?;
    let len = u8::try_from(a.length).map_err(|_| invalid(field, "prefix length out of range"))?;
    Cidr::new(addr, len).map_err(|e| invalid(field, e.to_string()))
}

fn rbac_match(m: sec::Match, field: &str) -> Result<RbacMatch, ConvertError> {
    let strings = |v: Vec<sec::StringMatch>, name: &str| {
        v.into_iter()
            .enumerate()
            .map(|(i, s)| string_match(s, &format!("{field}.{name}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
    };
    let cidrs = |v: &[sec::Address], name: &str| {
        v.iter().enumerate().map(|(i, a)| cidr(a, &format!("{field}.{name}[{i}]"))).collect::<Result<Vec<_>, _>>()
    };
    let ports = |v: &[u32], name: &str| {
        v.iter().enumerate().map(|(i, p)| port(*p, &format!("{field}.{name}[{i}]"))).collect::<Result<Vec<_>, _>>()
    };
    let sas = |v: Vec<sec::ServiceAccountMatch>| {
        v.into_iter()
            .map(|s| ServiceAccountMatch { namespace: s.namespace, service_account: s.service_account })
            .collect::<Vec<_>>()
    };
    Ok(RbacMatch {
        namespaces: strings(m.namespaces, "namespaces")?,
        not_namespaces: strings(m.not_namespaces, "notNamespaces")?,
        service_accounts: sas(m.service_accounts),
        not_service_accounts: sas(m.not_service_accounts),
        principals: strings(m.principals, "principals")?,
        not_principals: strings(m.not_principals, "notPrincipals")?,
        source_ips: cidrs(&m.source_ips, "sourceIps")?,
        not_source_ips: cidrs(&m.not_source_ips, "notSourceIps")?,
        destination_ips: cidrs(&m.destination_ips, "destinationIps")?,
        not_destination_ips: cidrs(&m.not_destination_ips, "notDestinationIps")?,
        destination_ports: ports(&m.destination_ports, "destinationPorts")?,
        not_destination_ports: ports(&m.not_destination_ports, "notDestinationPorts")?,
    })
}

/// Converts one `istio.security.Authorization`.
pub fn authorization(p: sec::Authorization) -> Result<Authorization, ConvertError> {
    if p.name.is_empty() {
        return Err(invalid("authorization.name", "must not be empty"));
    }
    let scope = match enum_value(p.scope, "authorization.scope")? {
        sec::Scope::Global => PolicyScope::Global,
        sec::Scope::Namespace => PolicyScope::Namespace,
        sec::Scope::WorkloadSelector => PolicyScope::WorkloadSelector,
    };
    let action = match enum_value(p.action, "authorization.action")? {
        sec::Action::Allow => PolicyAction::Allow,
        sec::Action::Deny => PolicyAction::Deny,
    };
    let mut rules = Vec::with_capacity(p.rules.len());
    for (r, rule) in p.rules.into_iter().enumerate() {
        let mut clauses = Vec::with_capacity(rule.clauses.len());
        for (c, clause) in rule.clauses.into_iter().enumerate() {
            let matches = clause
                .matches
                .into_iter()
                .enumerate()
                .map(|(m, x)| rbac_match(x, &format!("authorization.rules[{r}].clauses[{c}].matches[{m}]")))
                .collect::<Result<Vec<_>, _>>()?;
            clauses.push(matches);
        }
        rules.push(clauses);
    }
    Ok(Authorization { name: p.name, namespace: p.namespace, scope, action, rules, dry_run: p.dry_run })
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
