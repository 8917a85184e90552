//! The workload domain type: one pod (or VM) the mesh knows about, as ztunnel uses it.
//!
//! Owns [`Workload`] and the small value types it shares with services (network addresses,
//! gateway addresses, namespaced hostnames). These are domain types, never proto types; the
//! local config loader and (later) xDS convert into them.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::name::{Interner, Name};
use crate::identity::Identity;

/// How a workload expects to receive traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelProtocol {
    /// Plain TCP: the workload is not captured by a ztunnel (or is, but does not accept HBONE).
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// HBONE: send through the destination node's ztunnel on its HBONE port.
    #[serde(rename = "HBONE")]
    Hbone,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    #[default]
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NetworkMode {
    #[default]
    Standard,
    HostNetwork,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Locality {
    #[serde(default)]
    pub region: Name,
    #[serde(default)]
    pub zone: Name,
    #[serde(default)]
    pub subzone: Name,
}

impl Locality {
    pub fn is_empty(&self) -> bool {
        self.region.is_empty() && self.zone.is_empty() && self.subzone.is_empty()
    }
}

/// An IP on a named network. Written `network/ip`; `/ip` is the default ("") network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetworkAddress {
    pub network: Name,
    pub address: IpAddr,
}

/// Why a string is not a `network/ip` address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network address {0:?}: expected \"<network>/<ip>\" (e.g. \"/10.0.0.1\")")]
pub struct NetworkAddressError(String);

impl FromStr for NetworkAddress {
    type Err = NetworkAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Split at the last '/' so the network name may itself contain '/'.
        let (network, ip) = s.rsplit_once('/').ok_or_else(|| NetworkAddressError(s.to_string()))?;
        let address = ip.parse().map_err(|_| NetworkAddressError(s.to_string()))?;
        Ok(NetworkAddress { network: network.into(), address })
    }
}

impl fmt::Display for NetworkAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.address)
    }
}

impl Serialize for NetworkAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NetworkAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A service named by namespace and hostname (the xDS primary key of a service).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacedHostname {
    pub namespace: Name,
    pub hostname: Name,
}

impl fmt::Display for NamespacedHostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.hostname)
    }
}

/// Where a waypoint or network gateway is: an address, or a service by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GatewayDestination {
    Address(NetworkAddress),
    Hostname(NamespacedHostname),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayAddress {
    pub destination: GatewayDestination,
    /// Upstream requires this; we default it to the standard HBONE port for convenience.
    #[serde(default = "default_hbone_port")]
    pub hbone_mtls_port: u16,
}

fn default_hbone_port() -> u16 {
    crate::config::DEFAULT_HBONE_PORT
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum AppTunnelProtocol {
    NONE,
    PROXY,
}

/// The workload terminates HBONE itself (e.g. a waypoint), optionally behind a PROXY header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationTunnel {
    pub protocol: AppTunnelProtocol,
    #[serde(default)]
    pub port: Option<u16>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A workload. Serialized (camelCase) in the admin config dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    pub uid: Name,
    pub name: Name,
    pub namespace: Name,
    /// [`DEFAULT_TRUST_DOMAIN`] when the source gave none.
    pub trust_domain: Name,
    pub service_account: Name,
    pub workload_ips: Vec<IpAddr>,
    pub protocol: TunnelProtocol,
    pub network_mode: NetworkMode,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub network: Name,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub node: Name,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub hostname: Name,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub canonical_name: Name,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub canonical_revision: Name,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub workload_name: Name,
    #[serde(skip_serializing_if = "Name::is_empty")]
    pub workload_type: Name,
    pub cluster_id: Name,
    pub status: HealthStatus,
    /// Policies bound by WorkloadSelector scope, as `ns/name`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_policies: Vec<String>,
    #[serde(skip_serializing_if = "Locality::is_empty")]
    pub locality: Locality,
    /// Services this workload is an endpoint of.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<NamespacedHostname>,
    /// Where workload-addressed traffic must go first (`proxy::route`). Boxed, like
    /// `network_gateway`: 8 bytes in every workload instead of 48 (the mesh's memory is per
    /// workload; the indirection is paid only by workloads that have one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waypoint: Option<Box<GatewayAddress>>,
    /// How this workload is reached from another network (`proxy::route::network`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_gateway: Option<Box<GatewayAddress>>,
    #[serde(skip_serializing_if = "is_false")]
    pub native_tunnel: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_tunnel: Option<ApplicationTunnel>,
    /// Load-balancing weight (upstream default 1).
    pub capacity: u32,
    /// [`Workload::identity`], built on first use. Not part of the workload's value.
    #[serde(skip)]
    pub identity_cache: IdentityCache,
}

/// The identity of a workload, computed once: a connection asks for it several times, and
/// building it costs three `String`s. Equality, cloning and debug output ignore it, so two
/// workloads compare by their fields alone. Boxed: 16 bytes in every workload of the mesh
/// instead of 80, paid in full only by the workloads a connection actually used.
#[derive(Default)]
pub struct IdentityCache(OnceLock<Box<Identity>>);

impl Clone for IdentityCache {
    /// Starts empty: the clone is usually about to have its fields changed.
    fn clone(&self) -> Self {
        IdentityCache::default()
    }
}

impl PartialEq for IdentityCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for IdentityCache {}

impl fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityCache")
    }
}

/// Service account when a source gives none (upstream's rule, for xDS and local config alike).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Trust domain when a source gives none. istiod leaves `Workload.trust_domain` empty when it
/// is the default `cluster.local`, so an empty value must mean this, never `spiffe:///...`.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// Cluster id when a source gives none (upstream's default, also the first part of derived uids).
pub const DEFAULT_CLUSTER_ID: &str = "Kubernetes";

/// `sa`, or [`DEFAULT_SERVICE_ACCOUNT`] when it is empty.
pub fn service_account_or_default(sa: impl Into<Name>) -> Name {
    or_default(sa.into(), DEFAULT_SERVICE_ACCOUNT)
}

/// `td`, or [`DEFAULT_TRUST_DOMAIN`] when it is empty.
pub fn trust_domain_or_default(td: impl Into<Name>) -> Name {
    or_default(td.into(), DEFAULT_TRUST_DOMAIN)
}

/// `id`, or [`DEFAULT_CLUSTER_ID`] when it is empty.
pub fn cluster_id_or_default(id: impl Into<Name>) -> Name {
    or_default(id.into(), DEFAULT_CLUSTER_ID)
}

fn or_default(value: Name, default: &str) -> Name {
    if value.is_empty() { default.into() } else { value }
}

impl Workload {
    /// The SPIFFE identity certificates for this workload carry. Borrowed from a cache after
    /// the first call (no allocation); the fields are public, so a cached value that no longer
    /// agrees with them (a workload changed after it was asked) is recomputed, never served.
    pub fn identity(&self) -> Cow<'_, Identity> {
        let id = self.identity_cache.0.get_or_init(|| Box::new(self.compute_identity()));
        if id.trust_domain() == self.trust_domain
            && id.namespace() == self.namespace
            && id.service_account() == self.service_account
        {
            Cow::Borrowed(id)
        } else {
            Cow::Owned(self.compute_identity())
        }
    }

    fn compute_identity(&self) -> Identity {
        Identity::new(&self.trust_domain, &self.namespace, &self.service_account)
    }

    /// Fills what a source left empty with upstream's defaults. Every source (xDS, local
    /// config, tests) goes through this when a workload enters the state, so they cannot
    /// drift apart (an empty trust domain once meant `spiffe:///` on one path only).
    pub fn apply_defaults(&mut self) {
        for (field, default) in [
            (&mut self.trust_domain, DEFAULT_TRUST_DOMAIN),
            (&mut self.service_account, DEFAULT_SERVICE_ACCOUNT),
            (&mut self.cluster_id, DEFAULT_CLUSTER_ID),
        ] {
            if field.is_empty() {
                *field = default.into();
            }
        }
    }

    /// Replaces every low-cardinality name (namespace, identity, placement, labels, service
    /// memberships) with the copy `names` shares, so a mesh stores each distinct value once.
    /// `uid` and `name` are unique per workload and stay as they are.
    pub fn share_names(&mut self, names: &mut Interner) {
        for field in [
            &mut self.namespace,
            &mut self.trust_domain,
            &mut self.service_account,
            &mut self.network,
            &mut self.node,
            &mut self.canonical_name,
            &mut self.canonical_revision,
            &mut self.workload_name,
            &mut self.workload_type,
            &mut self.cluster_id,
            &mut self.locality.region,
            &mut self.locality.zone,
            &mut self.locality.subzone,
        ] {
            names.share(field);
        }
        for svc in &mut self.services {
            names.share(&mut svc.namespace);
            names.share(&mut svc.hostname);
        }
        for gw in [&mut self.waypoint, &mut self.network_gateway].into_iter().flatten() {
            match &mut gw.destination {
                GatewayDestination::Address(a) => names.share(&mut a.network),
                GatewayDestination::Hostname(h) => {
                    names.share(&mut h.namespace);
                    names.share(&mut h.hostname);
                }
            }
        }
    }

    /// A workload with only the required fields set; the rest take upstream defaults.
    /// Convenient for tests and for building state programmatically.
    pub fn new(
        uid: impl Into<Name>,
        namespace: impl Into<Name>,
        name: impl Into<Name>,
        workload_ips: Vec<IpAddr>,
    ) -> Workload {
        Workload {
            uid: uid.into(),
            name: name.into(),
            namespace: namespace.into(),
            trust_domain: DEFAULT_TRUST_DOMAIN.into(),
            service_account: DEFAULT_SERVICE_ACCOUNT.into(),
            workload_ips,
            protocol: TunnelProtocol::Tcp,
            network_mode: NetworkMode::Standard,
            network: Name::default(),
            node: Name::default(),
            hostname: Name::default(),
            canonical_name: Name::default(),
            canonical_revision: Name::default(),
            workload_name: Name::default(),
            workload_type: Name::default(),
            cluster_id: DEFAULT_CLUSTER_ID.into(),
            status: HealthStatus::Healthy,
            authorization_policies: Vec::new(),
            locality: Locality::default(),
            services: Vec::new(),
            waypoint: None,
            network_gateway: None,
            native_tunnel: false,
            application_tunnel: None,
            capacity: 1,
            identity_cache: IdentityCache::default(),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.status == HealthStatus::Healthy
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} (uid {})", self.namespace, self.name, self.uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_address_forms() {
        let a: NetworkAddress = "/127.10.0.1".parse().unwrap();
        assert_eq!(a.network, "");
        assert_eq!(a.to_string(), "/127.10.0.1");
        let b: NetworkAddress = "remote/127.10.0.2".parse().unwrap();
        assert_eq!(b.network, "remote");
        let c: NetworkAddress = "net/fd00::1".parse().unwrap();
        assert_eq!(c.address, "fd00::1".parse::<IpAddr>().unwrap());
        for bad in ["127.0.0.1", "net/nope", ""] {
            assert!(bad.parse::<NetworkAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_uses_trust_domain_namespace_and_sa() {
        let mut w = Workload::new("u", "ns", "n", vec![]);
        assert_eq!(w.identity().to_string(), "spiffe://cluster.local/ns/ns/sa/default");
        w.trust_domain = "td".into();
        w.service_account = "sa".into();
        assert_eq!(w.identity().to_string(), "spiffe://td/ns/ns/sa/sa");
    }

    #[test]
    fn gateway_destination_is_untagged() {
        let g: GatewayAddress = serde_yaml::from_str("destination: net/10.0.0.1").unwrap();
        assert!(matches!(g.destination, GatewayDestination::Address(_)));
        assert_eq!(g.hbone_mtls_port, 15008);
        let g: GatewayAddress =
            serde_yaml::from_str("destination: {namespace: ns, hostname: wp.ns.svc}\nhboneMtlsPort: 15009").unwrap();
        assert!(matches!(g.destination, GatewayDestination::Hostname(_)));
        assert_eq!(g.hbone_mtls_port, 15009);
    }

    #[test]
    fn serializes_camel_case_for_the_dump() {
        let mut w = Workload::new("u", "ns", "n", vec!["10.0.0.1".parse().unwrap()]);
        w.protocol = TunnelProtocol::Hbone;
        let j = serde_json::to_value(&w).unwrap();
        assert_eq!(j["workloadIps"][0], "10.0.0.1");
        assert_eq!(j["protocol"], "HBONE");
        assert_eq!(j["serviceAccount"], "default");
        assert_eq!(j["status"], "Healthy");
    }
}
