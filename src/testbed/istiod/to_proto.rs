//! Domain → proto, the direction istiod goes: the fake istiod loads the local-config YAML into
//! a [`ProxyState`] and serves every workload, service and policy as the resources istiod would
//! send (workloads carry their service memberships; services carry no endpoints).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::proto::{security as sec, workload as pw};
use crate::rbac::{Authorization, Cidr, PolicyAction, PolicyScope, RbacMatch, StringMatch};
use crate::state::service::{IpFamily, LoadBalancerHealthPolicy, LoadBalancerMode, LoadBalancerScope, Visibility};
use crate::state::workload::{AppTunnelProtocol, GatewayAddress, GatewayDestination, NetworkMode};
use crate::state::{HealthStatus, ProxyState, Service, TunnelProtocol, Workload};

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn gateway(g: &GatewayAddress) -> pw::GatewayAddress {
    let destination = match &g.destination {
        GatewayDestination::Address(a) => pw::gateway_address::Destination::Address(pw::NetworkAddress {
            network: a.network.to_string(),
            address: ip_bytes(a.address),
            length: None,
        }),
        GatewayDestination::Hostname(h) => pw::gateway_address::Destination::Hostname(pw::NamespacedHostname {
            namespace: h.namespace.to_string(),
            hostname: h.hostname.to_string(),
        }),
    };
    pw::GatewayAddress { destination: Some(destination), hbone_mtls_port: g.hbone_mtls_port.into() }
}

/// Resource name → Address, for every workload (by uid) and service (by `ns/hostname`).
pub fn addresses(state: &ProxyState) -> Vec<(String, pw::Address)> {
    // Endpoint memberships live on services in our domain model and on workloads on the wire.
    let mut memberships: HashMap<&str, Vec<(String, pw::PortList)>> = HashMap::new();
    for s in state.services() {
        for ep in s.endpoints.values() {
            let ports = ep
                .port
                .iter()
                .map(|(sp, tp)| pw::Port { service_port: (*sp).into(), target_port: (*tp).into(), app_protocol: 0 })
                .collect();
            memberships.entry(ep.workload_uid.as_str()).or_default().push((s.key(), pw::PortList { ports }));
        }
    }
    let mut out = Vec::new();
    for w in state.workloads() {
        let services = memberships.remove(w.uid.as_str()).unwrap_or_default().into_iter().collect();
        out.push((w.uid.to_string(), pw::Address { r#type: Some(pw::address::Type::Workload(workload(w, services))) }));
    }
    for s in state.services() {
        out.push((s.key(), pw::Address { r#type: Some(pw::address::Type::Service(service(s))) }));
    }
    out
}

pub fn workload(w: &Workload, services: HashMap<String, pw::PortList>) -> pw::Workload {
    pw::Workload {
        uid: w.uid.to_string(),
        name: w.name.to_string(),
        namespace: w.namespace.to_string(),
        addresses: w.workload_ips.iter().map(|ip| ip_bytes(*ip)).collect(),
        hostname: w.hostname.to_string(),
        network: w.network.to_string(),
        tunnel_protocol: match w.protocol {
            TunnelProtocol::Tcp => pw::TunnelProtocol::None,
            TunnelProtocol::Hbone => pw::TunnelProtocol::Hbone,
        } as i32,
        trust_domain: w.trust_domain.to_string(),
        service_account: w.service_account.to_string(),
        waypoint: w.waypoint.as_deref().map(gateway),
        network_gateway: w.network_gateway.as_deref().map(gateway),
        node: w.node.to_string(),
        canonical_name: w.canonical_name.to_string(),
        canonical_revision: w.canonical_revision.to_string(),
        workload_type: match w.workload_type.as_str() {
            "cronjob" => pw::WorkloadType::Cronjob,
            "pod" => pw::WorkloadType::Pod,
            "job" => pw::WorkloadType::Job,
            _ => pw::WorkloadType::Deployment,
        } as i32,
        workload_name: w.workload_name.to_string(),
        native_tunnel: w.native_tunnel,
        application_tunnel: w.application_tunnel.as_ref().map(|t| pw::ApplicationTunnel {
            protocol: match t.protocol {
                AppTunnelProtocol::NONE => pw::application_tunnel::Protocol::None,
                AppTunnelProtocol::PROXY => pw::application_tunnel::Protocol::Proxy,
            } as i32,
            port: t.port.map(u32::from).unwrap_or(0),
        }),
        services,
        authorization_policies: w.authorization_policies.clone(),
        status: match w.status {
            HealthStatus::Healthy => pw::WorkloadStatus::Healthy,
            HealthStatus::Unhealthy => pw::WorkloadStatus::Unhealthy,
        } as i32,
        cluster_id: w.cluster_id.to_string(),
        locality: (!w.locality.is_empty()).then(|| pw::Locality {
            region: w.locality.region.to_string(),
            zone: w.locality.zone.to_string(),
            subzone: w.locality.subzone.to_string(),
        }),
        network_mode: match w.network_mode {
            NetworkMode::Standard => pw::NetworkMode::Standard,
            NetworkMode::HostNetwork => pw::NetworkMode::HostNetwork,
        } as i32,
        extensions: vec![],
        capacity: Some(w.capacity),
    }
}

pub fn service(s: &Service) -> pw::Service {
    let mut addresses: Vec<pw::NetworkAddress> = s
        .vips
        .iter()
        .map(|v| pw::NetworkAddress { network: v.network.to_string(), address: ip_bytes(v.address), length: None })
        .collect();
    addresses.extend(s.cidr_vips.iter().map(|c| pw::NetworkAddress {
        network: c.network.to_string(),
        address: ip_bytes(c.cidr.addr()),
        length: Some(c.cidr.prefix_len().into()),
    }));
    pw::Service {
        name: s.name.to_string(),
        namespace: s.namespace.to_string(),
        hostname: s.hostname.to_string(),
        addresses,
        ports: s
            .ports
            .iter()
            .map(|(sp, tp)| pw::Port { service_port: (*sp).into(), target_port: (*tp).into(), app_protocol: 0 })
            .collect(),
        subject_alt_names: s.subject_alt_names.clone(),
        waypoint: s.waypoint.as_ref().map(gateway),
        load_balancing: s.load_balancer.as_ref().map(|lb| {
            use pw::load_balancing::{HealthPolicy, Mode, Scope};
            pw::LoadBalancing {
                routing_preference: lb
                    .routing_preferences
                    .iter()
                    .map(|p| match p {
                        LoadBalancerScope::Region => Scope::Region,
                        LoadBalancerScope::Zone => Scope::Zone,
                        LoadBalancerScope::Subzone => Scope::Subzone,
                        LoadBalancerScope::Node => Scope::Node,
                        LoadBalancerScope::Cluster => Scope::Cluster,
                        LoadBalancerScope::Network => Scope::Network,
                    } as i32)
                    .collect(),
                mode: match lb.mode {
                    LoadBalancerMode::Standard => Mode::UnspecifiedMode,
                    LoadBalancerMode::Strict => Mode::Strict,
                    LoadBalancerMode::Failover => Mode::Failover,
                    LoadBalancerMode::Passthrough => Mode::Passthrough,
                } as i32,
                health_policy: match lb.health_policy {
                    LoadBalancerHealthPolicy::OnlyHealthy => HealthPolicy::OnlyHealthy,
                    LoadBalancerHealthPolicy::AllowAll => HealthPolicy::AllowAll,
                } as i32,
            }
        }),
        ip_families: match s.ip_families {
            None => pw::IpFamilies::Automatic,
            Some(IpFamily::IPv4) => pw::IpFamilies::Ipv4Only,
            Some(IpFamily::IPv6) => pw::IpFamilies::Ipv6Only,
            Some(IpFamily::Dual) => pw::IpFamilies::Dual,
        } as i32,
        extensions: vec![],
        canonical: s.canonical,
        ingress_use_waypoint: false,
        weighted_waypoints: s
            .weighted_waypoints
            .iter()
            .map(|w| pw::WeightedWaypoint { destination: Some(gateway(&w.destination)), weight: w.weight })
            .collect(),
        visibility: match s.visibility {
            None | Some(Visibility::Public) => pw::Visibility::Public,
            Some(Visibility::Namespace) => pw::Visibility::Namespace,
        } as i32,
    }
}

fn string_match(m: &StringMatch) -> sec::StringMatch {
    use sec::string_match::MatchType;
    sec::StringMatch {
        match_type: Some(match m {
            StringMatch::Exact(s) => MatchType::Exact(s.clone()),
            StringMatch::Prefix(s) => MatchType::Prefix(s.clone()),
            StringMatch::Suffix(s) => MatchType::Suffix(s.clone()),
            StringMatch::Presence => MatchType::Presence(()),
        }),
    }
}

fn cidr(c: &Cidr) -> sec::Address {
    sec::Address { address: ip_bytes(c.addr()), length: c.prefix_len().into() }
}

fn rbac_match(m: &RbacMatch) -> sec::Match {
    let sm = |v: &[StringMatch]| v.iter().map(string_match).collect::<Vec<_>>();
    let sa = |v: &[crate::rbac::ServiceAccountMatch]| {
        v.iter()
            .map(|s| sec::ServiceAccountMatch {
                namespace: s.namespace.to_string(),
                service_account: s.service_account.to_string(),
            })
            .collect::<Vec<_>>()
    };
    let ci = |v: &[Cidr]| v.iter().map(cidr).collect::<Vec<_>>();
    let po = |v: &[u16]| v.iter().map(|p| u32::from(*p)).collect::<Vec<_>>();
    sec::Match {
        namespaces: sm(&m.namespaces),
        not_namespaces: sm(&m.not_namespaces),
        service_accounts: sa(&m.service_accounts),
        not_service_accounts: sa(&m.not_service_accounts),
        principals: sm(&m.principals),
        not_principals: sm(&m.not_principals),
        source_ips: ci(&m.source_ips),
        not_source_ips: ci(&m.not_source_ips),
        destination_ips: ci(&m.destination_ips),
        not_destination_ips: ci(&m.not_destination_ips),
        destination_ports: po(&m.destination_ports),
        not_destination_ports: po(&m.not_destination_ports),
        extensions: vec![],
    }
}

/// Resource name (`ns/name`) → Authorization, for every policy.
pub fn authorizations(state: &ProxyState) -> Vec<(String, sec::Authorization)> {
    state.policies().map(|p| (p.key(), authorization(p))).collect()
}

pub fn authorization(p: &Authorization) -> sec::Authorization {
    sec::Authorization {
        name: p.name.clone(),
        namespace: p.namespace.clone(),
        scope: match p.scope {
            PolicyScope::Global => sec::Scope::Global,
            PolicyScope::Namespace => sec::Scope::Namespace,
            PolicyScope::WorkloadSelector => sec::Scope::WorkloadSelector,
        } as i32,
        action: match p.action {
            PolicyAction::Allow => sec::Action::Allow,
            PolicyAction::Deny => sec::Action::Deny,
        } as i32,
        rules: p
            .rules
            .iter()
            .map(|rule| sec::Rule {
                clauses: rule
                    .iter()
                    .map(|clause| sec::Clause { matches: clause.iter().map(rbac_match).collect() })
                    .collect(),
            })
            .collect(),
        dry_run: p.dry_run,
        extensions: vec![],
    }
}
