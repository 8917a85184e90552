//! L4 authorization policy data: what an Istio AuthorizationPolicy looks like once it reaches
//! ztunnel.
//!
//! Owns the types only (and their local-config YAML form, which matches upstream's so the same
//! files load). The decision engine lives in [`super::engine`]; the small `matches`/`contains`
//! helpers here exist so it does not have to re-implement string/CIDR matching.
//!
//! Structure: a policy has `rules`; a rule is a list of clauses (ALL must match); a clause is a
//! list of [`RbacMatch`] (ANY must match). YAML: `rules: [[[RbacMatch]]]`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which workloads a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyScope {
    /// Every workload (upstream stores these under the empty namespace).
    Global,
    /// Every workload in the policy's namespace.
    Namespace,
    /// Only workloads listing `ns/name` in their `authorizationPolicies`.
    WorkloadSelector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyAction {
    Allow,
    Deny,
}

/// One authorization policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authorization {
    pub name: String,
    pub namespace: String,
    pub scope: PolicyScope,
    pub action: PolicyAction,
    /// rule → clause → match. A policy with no rules never matches (upstream semantics).
    #[serde(default)]
    pub rules: Vec<Vec<Vec<RbacMatch>>>,
    /// Evaluate and log, but do not enforce.
    #[serde(default)]
    pub dry_run: bool,
}

impl Authorization {
    /// The `ns/name` key workloads use in `authorizationPolicies`.
    pub fn key(&self) -> String {
        // Sized up front: `format!` would start empty and reallocate, and this runs once per
        // allowed or denied connection.
        let mut key = String::with_capacity(self.namespace.len() + 1 + self.name.len());
        key.push_str(&self.namespace);
        key.push('/');
        key.push_str(&self.name);
        key
    }
}

/// One match: every non-empty field must be satisfied (AND). Within a field, the positive list
/// is an OR and the `not_*` list must not match at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RbacMatch {
    /// Source identity's namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_namespaces: Vec<StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccountMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_service_accounts: Vec<ServiceAccountMatch>,
    /// Source identity with `spiffe://` stripped, e.g. `cluster.local/ns/a/sa/b`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_principals: Vec<StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<Cidr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_source_ips: Vec<Cidr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_ips: Vec<Cidr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_destination_ips: Vec<Cidr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_destination_ports: Vec<u16>,
}

impl RbacMatch {
    /// Upstream skips matches with no fields at all rather than treating them as "match all".
    pub fn is_empty(&self) -> bool {
        *self == RbacMatch::default()
    }
}

/// A string comparison. YAML uses tags, as upstream's serde_yaml does: `!Exact default`,
/// `!Prefix cluster.local/ns/`, `!Suffix -sa`, `!Presence` (non-empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// Matches any non-empty value.
    Presence,
}

impl StringMatch {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatch::Exact(s) => value == s,
            StringMatch::Prefix(s) => value.starts_with(s.as_str()),
            StringMatch::Suffix(s) => value.ends_with(s.as_str()),
            StringMatch::Presence => !value.is_empty(),
        }
    }
}

impl Serialize for StringMatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StringMatch::Exact(v) => s.serialize_newtype_variant("StringMatch", 0, "Exact", v),
            StringMatch::Prefix(v) => s.serialize_newtype_variant("StringMatch", 1, "Prefix", v),
            StringMatch::Suffix(v) => s.serialize_newtype_variant("StringMatch", 2, "Suffix", v),
            // Upstream's `Presence()` serializes as an empty sequence payload; keep that shape
            // (`!Presence []` in YAML, `{"Presence": []}` in JSON) so dumps look the same.
            StringMatch::Presence => s.serialize_newtype_variant("StringMatch", 3, "Presence", &[(); 0]),
        }
    }
}

impl<'de> Deserialize<'de> for StringMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StringMatch, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "StringMatch")]
        enum Raw {
            Exact(String),
            Prefix(String),
            Suffix(String),
            Presence(PresencePayload),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Exact(v) => StringMatch::Exact(v),
            Raw::Prefix(v) => StringMatch::Prefix(v),
            Raw::Suffix(v) => StringMatch::Suffix(v),
            Raw::Presence(PresencePayload) => StringMatch::Presence,
        })
    }
}

/// `!Presence` may carry nothing, null or an empty sequence; the payload is meaningless.
struct PresencePayload;

impl<'de> Deserialize<'de> for PresencePayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PresencePayload, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Payload {
            Str(String),
            Other(serde::de::IgnoredAny),
        }
        match Payload::deserialize(d)? {
            Payload::Str(s) if !s.is_empty() => {
                Err(serde::de::Error::custom("!Presence takes no value (write `!Presence`)"))
            }
            _ => Ok(PresencePayload),
        }
    }
}

/// Matches a source identity's namespace and service account exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountMatch {
    pub namespace: String,
    pub service_account: String,
}

impl ServiceAccountMatch {
    pub fn matches(&self, namespace: &str, service_account: &str) -> bool {
        self.namespace == namespace && self.service_account == service_account
    }
}

/// An IP prefix, written `10.0.0.0/8`, `fd00::/64`, or a bare address (full-length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix_len: u8,
}

/// Why a string is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {input:?}: {reason}")]
pub struct CidrError {
    input: String,
    reason: &'static str,
}

impl Cidr {
    /// Builds a prefix; host bits beyond `prefix_len` are cleared so equal prefixes compare equal.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Cidr, CidrError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(CidrError {
                input: format!("{addr}/{prefix_len}"),
                reason: "prefix length too long for the address family",
            });
        }
        Ok(Cidr { addr: mask(addr, prefix_len), prefix_len })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// True if `ip` is inside this prefix. Families never match each other; IPv4-mapped IPv6
    /// addresses are compared as IPv4 so a dual-stack socket's view matches a v4 policy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = crate::util::net::canonical_ip(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix_len) == self.addr
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let err = |reason| CidrError { input: s.to_string(), reason };
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = ip.trim().parse().map_err(|_| err("not an IP address"))?;
        let len = match len {
            None => {
                if addr.is_ipv4() {
                    32
                } else {
                    128
                }
            }
            Some(l) => l.trim().parse::<u8>().map_err(|_| err("bad prefix length"))?,
        };
        Cidr::new(addr, len).map_err(|e| err(e.reason))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_yaml_shape() {
        let yaml = r#"
name: p
namespace: default
scope: WorkloadSelector
action: Deny
dryRun: true
rules:
- - - namespaces: [!Exact default]
      principals: [!Prefix cluster.local/ns/]
      notPrincipals:
      - !Suffix /sa/bad
      - !Presence
      serviceAccounts: [{namespace: a, serviceAccount: b}]
      sourceIps: [10.0.0.0/8, "fd00::1"]
      destinationPorts: [8080]
  - - notDestinationPorts: [9999]
      notNamespaces: [!Presence []]
"#;
        let p: Authorization = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(p.key(), "default/p");
        assert_eq!(p.scope, PolicyScope::WorkloadSelector);
        assert_eq!(p.action, PolicyAction::Deny);
        assert!(p.dry_run);
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].len(), 2);
        let m = &p.rules[0][0][0];
        assert_eq!(m.namespaces, vec![StringMatch::Exact("default".into())]);
        assert_eq!(m.principals, vec![StringMatch::Prefix("cluster.local/ns/".into())]);
        assert_eq!(m.not_principals, vec![StringMatch::Suffix("/sa/bad".into()), StringMatch::Presence]);
        assert!(m.service_accounts[0].matches("a", "b"));
        assert_eq!(m.source_ips[1].to_string(), "fd00::1/128");
        assert_eq!(m.destination_ports, vec![8080]);
        assert_eq!(p.rules[0][1][0].not_namespaces, vec![StringMatch::Presence]);
        // Round trip through our own serialization.
        let back: Authorization = serde_yaml::from_str(&serde_yaml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn rejects_untagged_string_match_and_unknown_fields() {
        let bad = "name: p\nnamespace: n\nscope: Global\naction: Allow\nrules: [[[{namespaces: [default]}]]]\n";
        assert!(serde_yaml::from_str::<Authorization>(bad).is_err());
        let bad = "name: p\nnamespace: n\nscope: Global\naction: Allow\nrules: [[[{nope: 1}]]]\n";
        let e = serde_yaml::from_str::<Authorization>(bad).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn string_match() {
        assert!(StringMatch::Exact("a".into()).matches("a"));
        assert!(!StringMatch::Exact("a".into()).matches("ab"));
        assert!(StringMatch::Prefix("a".into()).matches("ab"));
        assert!(StringMatch::Suffix("b".into()).matches("ab"));
        assert!(StringMatch::Presence.matches("x"));
        assert!(!StringMatch::Presence.matches(""));
    }

    #[test]
    fn cidr() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains("10.200.0.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!c.contains("fd00::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let v6: Cidr = "fd00::/64".parse().unwrap();
        assert!(v6.contains("fd00::5".parse().unwrap()));
        assert!(!v6.contains("fd01::5".parse().unwrap()));
        let host: Cidr = "1.2.3.4".parse().unwrap();
        assert_eq!(host.prefix_len(), 32);
        for bad in ["1.2.3.4/33", "::/129", "nope/8", "1.2.3.4/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_match() {
        assert!(RbacMatch::default().is_empty());
        let m = RbacMatch { destination_ports: vec![1], ..Default::default() };
        assert!(!m.is_empty());
    }
}
