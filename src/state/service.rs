//! The service domain type: a set of endpoints behind VIPs and a hostname.
//!
//! Owns [`Service`], [`Endpoint`] and the service-level options accepted by the local config
//! schema. The YAML shape matches upstream's `Service` (camelCase, unknown fields rejected).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::name::{Name, PortMap};
use super::workload::{GatewayAddress, HealthStatus, NamespacedHostname, NetworkAddress};
use crate::rbac::Cidr;

/// A CIDR VIP on a named network (a ServiceEntry address range; like a VIP, it means something
/// only on its network). Written `network/addr/len`; a bare `addr/len` (or `/addr/len`) is on
/// the default ("") network, and is how one on the default network is written back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkCidr {
    pub network: Name,
    pub cidr: Cidr,
}

impl NetworkCidr {
    /// A range on the default ("") network.
    pub fn on_default(cidr: Cidr) -> NetworkCidr {
        NetworkCidr { network: Name::default(), cidr }
    }
}

/// Why a string is not a `[network/]addr/len` CIDR VIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR VIP {input:?}: expected \"[<network>/]<ip>/<prefix length>\": {reason}")]
pub struct NetworkCidrError {
    input: String,
    reason: String,
}

impl FromStr for NetworkCidr {
    type Err = NetworkCidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| NetworkCidrError { input: s.to_string(), reason };
        let (rest, len) = s.rsplit_once('/').ok_or_else(|| err("no prefix length".into()))?;
        // The network is what precedes the address; it may itself contain '/'.
        let (network, addr) = rest.rsplit_once('/').unwrap_or(("", rest));
        let cidr: Cidr = format!("{addr}/{len}").parse().map_err(|e: crate::rbac::CidrError| err(e.to_string()))?;
        Ok(NetworkCidr { network: network.into(), cidr })
    }
}

impl fmt::Display for NetworkCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.network.is_empty() { write!(f, "{}", self.cidr) } else { write!(f, "{}/{}", self.network, self.cidr) }
    }
}

impl Serialize for NetworkCidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NetworkCidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One workload backing a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    /// The same shared copy as the workload's `uid` (no allocation per endpoint).
    pub workload_uid: Name,
    /// Per-endpoint service port → target port; wins over the service's `ports`. Shared
    /// (through the state's interner) by the endpoints that have the same one.
    #[serde(default)]
    pub port: PortMap,
    #[serde(default)]
    pub status: HealthStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadBalancerMode {
    Standard,
    Strict,
    Failover,
    Passthrough,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadBalancerHealthPolicy {
    #[default]
    OnlyHealthy,
    AllowAll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadBalancerScope {
    Region,
    Zone,
    Subzone,
    Node,
    Cluster,
    Network,
}

/// How `proxy::route` picks an endpoint (mode, locality preferences, health policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancer {
    #[serde(default)]
    pub routing_preferences: Vec<LoadBalancerScope>,
    pub mode: LoadBalancerMode,
    #[serde(default)]
    pub health_policy: LoadBalancerHealthPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpFamily {
    Dual,
    IPv4,
    IPv6,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visibility {
    #[default]
    Public,
    Namespace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightedWaypoint {
    pub destination: GatewayAddress,
    #[serde(default)]
    pub weight: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A service. Endpoints come from the service's own `endpoints` and from workloads that list the
/// service in their `services` map (the loader merges both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    pub name: Name,
    pub namespace: Name,
    pub hostname: Name,
    #[serde(default)]
    pub vips: Vec<NetworkAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidr_vips: Vec<NetworkCidr>,
    /// Service port → target port; a target of 0 means "same as the service port".
    #[serde(default)]
    pub ports: BTreeMap<u16, u16>,
    /// Keyed by workload uid. A persistent map: the state store updates one endpoint of a
    /// large service in O(log n) and shares the rest with the previous snapshot.
    #[serde(default)]
    pub endpoints: imbl::OrdMap<Name, Endpoint>,
    /// Extra identities accepted for this service's endpoints (`spiffe://...`).
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waypoint: Option<GatewayAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weighted_waypoints: Vec<WeightedWaypoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_families: Option<IpFamily>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub canonical: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

impl Service {
    /// A service with only the identifying fields set.
    pub fn new(namespace: impl Into<Name>, name: impl Into<Name>, hostname: impl Into<Name>) -> Service {
        Service {
            name: name.into(),
            namespace: namespace.into(),
            hostname: hostname.into(),
            vips: Vec::new(),
            cidr_vips: Vec::new(),
            ports: BTreeMap::new(),
            endpoints: imbl::OrdMap::new(),
            subject_alt_names: Vec::new(),
            waypoint: None,
            weighted_waypoints: Vec::new(),
            load_balancer: None,
            ip_families: None,
            canonical: false,
            visibility: None,
        }
    }

    pub fn namespaced_hostname(&self) -> NamespacedHostname {
        NamespacedHostname { namespace: self.namespace.clone(), hostname: self.hostname.clone() }
    }

    /// The `ns/hostname` key used by workloads' `services` maps and the state index.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.hostname)
    }

    /// Whether clients in `namespace` can see this service at all (`exportTo`): one exported
    /// to its own namespace only does not exist elsewhere, for routing or DNS.
    pub fn visible_in(&self, namespace: &str) -> bool {
        self.visibility != Some(Visibility::Namespace) || self.namespace == namespace
    }

    /// Whether unhealthy endpoints may still receive traffic (load balancer `AllowAll`).
    pub fn allows_unhealthy(&self) -> bool {
        self.load_balancer.as_ref().is_some_and(|lb| lb.health_policy == LoadBalancerHealthPolicy::AllowAll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_shape() {
        let yaml = r#"
name: local
namespace: default
hostname: example.com
vips: [/127.10.0.1, remote/127.10.0.2]
ports: {80: 8080, 443: 0}
subjectAltNames: [spiffe://cluster.local/ns/default/sa/local]
endpoints:
  uid1: {workloadUid: uid1, port: {80: 9090}, status: Unhealthy}
loadBalancer: {mode: Failover, healthPolicy: AllowAll, routingPreferences: [Zone]}
ipFamilies: IPv4
canonical: true
visibility: Namespace
"#;
        let s: Service = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(s.key(), "default/example.com");
        assert_eq!(s.vips[1].network, "remote");
        assert_eq!(s.ports[&443], 0);
        assert_eq!(s.endpoints["uid1"].port[&80], 9090);
        assert_eq!(s.endpoints["uid1"].status, HealthStatus::Unhealthy);
        assert!(s.allows_unhealthy());
        let e = serde_yaml::from_str::<Service>("name: a\nnamespace: b\nhostname: c\nvip: []").unwrap_err().to_string();
        assert!(e.contains("unknown field `vip`"), "{e}");
    }
}
