//! Workload identities: the SPIFFE ID `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
//!
//! Owns parsing, formatting and comparison of identities: a value type and a leaf of the
//! module graph (it imports nothing from the crate). It never performs I/O; certificates for
//! an identity are issued and held by [`crate::certs`].

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

const SPIFFE_PREFIX: &str = "spiffe://";

/// Why a string is not an identity we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("identity {0:?} does not start with spiffe://")]
    NotSpiffe(String),
    #[error("identity {0:?} must have the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>")]
    BadShape(String),
}

/// A SPIFFE workload identity. Upstream only accepts the `ns/<ns>/sa/<sa>` path shape, and so do we.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    trust_domain: String,
    namespace: String,
    service_account: String,
}

impl Identity {
    pub fn new(
        trust_domain: impl Into<String>,
        namespace: impl Into<String>,
        service_account: impl Into<String>,
    ) -> Self {
        Identity {
            trust_domain: trust_domain.into(),
            namespace: namespace.into(),
            service_account: service_account.into(),
        }
    }

    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn service_account(&self) -> &str {
        &self.service_account
    }
}

impl FromStr for Identity {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix(SPIFFE_PREFIX).ok_or_else(|| IdentityError::NotSpiffe(s.to_string()))?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [td, "ns", ns, "sa", sa] if !ns.is_empty() && !sa.is_empty() => Ok(Identity::new(*td, *ns, *sa)),
            _ => Err(IdentityError::BadShape(s.to_string())),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SPIFFE_PREFIX}{}/ns/{}/sa/{}", self.trust_domain, self.namespace, self.service_account)
    }
}

impl Serialize for Identity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let id: Identity = "spiffe://cluster.local/ns/default/sa/httpbin".parse().unwrap();
        assert_eq!(id.trust_domain(), "cluster.local");
        assert_eq!(id.namespace(), "default");
        assert_eq!(id.service_account(), "httpbin");
        assert_eq!(id.to_string(), "spiffe://cluster.local/ns/default/sa/httpbin");
    }

    #[test]
    fn empty_trust_domain_is_allowed() {
        // Upstream gives workloads without a trustDomain an empty one.
        let id: Identity = "spiffe:///ns/a/sa/b".parse().unwrap();
        assert_eq!(id.trust_domain(), "");
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "http://cluster.local/ns/a/sa/b",
            "spiffe://cluster.local/ns/a",
            "spiffe://cluster.local/ns/a/sa/b/extra",
            "spiffe://cluster.local/namespace/a/sa/b",
            "spiffe://cluster.local/ns//sa/b",
        ] {
            assert!(bad.parse::<Identity>().is_err(), "{bad} should be rejected");
        }
    }
}
