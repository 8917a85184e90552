//! The xDS client's pure core: the resources accepted so far and the [`ProxyState`] built
//! from them.
//!
//! Owns the per-type resource maps, their versions (sent back as `initial_resource_versions`
//! on reconnect), and the merge rule from istiod's shape to ours: on the wire a workload lists
//! the services it belongs to, while [`Service`] holds its endpoints, so endpoints are derived
//! here on every build. A resource that fails to decode or to fit into the state (e.g. it
//! claims an IP another workload owns) is reported by name so the client can NACK it; the
//! previous version of that resource, if any, stays in force. No I/O.

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use super::convert::{self, AddressResource, ConvertError};
use crate::proto::discovery::Resource;
use crate::proto::{ADDRESS_TYPE, AUTHORIZATION_TYPE, security, workload};
use crate::rbac::Authorization;
use crate::state::{Endpoint, ProxyState, Service, Workload};

/// One workload as received: the domain workload plus its service memberships.
#[derive(Debug, Clone)]
struct WorkloadEntry {
    workload: Workload,
    memberships: BTreeMap<String, BTreeMap<u16, u16>>,
}

/// A resource that was rejected, with the reason (goes into the NACK's error_detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub name: String,
    pub reason: String,
}

/// What applying one response did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub applied: usize,
    pub removed: usize,
    pub rejected: Vec<Rejected>,
}

/// Accepted resources, keyed by resource name. BTreeMaps so builds are deterministic (which of
/// two conflicting workloads wins never depends on hash order).
#[derive(Debug, Default, Clone)]
pub struct XdsCache {
    workloads: BTreeMap<String, WorkloadEntry>,
    services: BTreeMap<String, Service>,
    policies: BTreeMap<String, Authorization>,
    /// type URL → resource name → version.
    versions: HashMap<String, BTreeMap<String, String>>,
}

impl XdsCache {
    pub fn new() -> XdsCache {
        XdsCache::default()
    }

    /// Versions of every accepted resource of `type_url`, for `initial_resource_versions`.
    pub fn versions(&self, type_url: &str) -> HashMap<String, String> {
        self.versions.get(type_url).map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    }

    pub fn workload_count(&self) -> usize {
        self.workloads.len()
    }

    /// Applies one delta response's resources and removals. Valid resources replace their
    /// previous version; invalid ones are rejected and leave the previous version in place.
    pub fn apply(&mut self, type_url: &str, resources: Vec<Resource>, removed: &[String]) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        for name in removed {
            let existed = match type_url {
                ADDRESS_TYPE => {
                    // Address names are a workload uid or a service `ns/hostname`.
                    let w = self.workloads.remove(name).is_some();
                    let s = self.services.remove(name).is_some();
                    w || s
                }
                AUTHORIZATION_TYPE => self.policies.remove(name).is_some(),
                _ => false,
            };
            if let Some(v) = self.versions.get_mut(type_url) {
                v.remove(name);
            }
            if existed {
                out.removed += 1;
            }
        }
        for r in resources {
            let name = r.name.clone();
            match self.apply_one(type_url, r) {
                Ok(version) => {
                    self.versions.entry(type_url.to_string()).or_default().insert(name, version);
                    out.applied += 1;
                }
                Err(e) => out.rejected.push(Rejected { name, reason: e.to_string() }),
            }
        }
        out
    }

    fn apply_one(&mut self, type_url: &str, r: Resource) -> Result<String, ConvertError> {
        let any = r
            .resource
            .ok_or_else(|| ConvertError::Decode { type_url: type_url.into(), reason: "resource has no body".into() })?;
        if any.type_url != type_url {
            return Err(ConvertError::Decode {
                type_url: type_url.into(),
                reason: format!("body has type {:?}", any.type_url),
            });
        }
        let decode_err =
            |e: prost::DecodeError| ConvertError::Decode { type_url: type_url.into(), reason: e.to_string() };
        match type_url {
            ADDRESS_TYPE => {
                let addr = workload::Address::decode(any.value.as_slice()).map_err(decode_err)?;
                match convert::address(addr)? {
                    AddressResource::Workload(w, memberships) => {
                        // A name can switch kind only via removal; drop any stale service.
                        self.services.remove(&r.name);
                        self.workloads.insert(r.name, WorkloadEntry { workload: *w, memberships });
                    }
                    AddressResource::Service(s) => {
                        self.workloads.remove(&r.name);
                        self.services.insert(r.name, s);
                    }
                }
            }
            AUTHORIZATION_TYPE => {
                let p = security::Authorization::decode(any.value.as_slice()).map_err(decode_err)?;
                self.policies.insert(r.name, convert::authorization(p)?);
            }
            other => {
                return Err(ConvertError::Decode {
                    type_url: other.into(),
                    reason: "unsubscribed resource type".into(),
                });
            }
        }
        Ok(r.version)
    }

    /// Builds the snapshot. Resources that do not fit (duplicate IP/VIP/uid) are left out and
    /// returned by name so the caller can NACK those that arrived in the current response.
    pub fn build(&self) -> (ProxyState, Vec<Rejected>) {
        let mut state = ProxyState::new();
        let mut rejected = Vec::new();
        let mut endpoints: HashMap<&str, Vec<Endpoint>> = HashMap::new();
        for (name, e) in &self.workloads {
            match state.insert_workload(e.workload.clone()) {
                Ok(_) => {
                    for (svc, ports) in &e.memberships {
                        endpoints.entry(svc.as_str()).or_default().push(Endpoint {
                            workload_uid: e.workload.uid.clone(),
                            port: ports.clone(),
                            status: e.workload.status,
                        });
                    }
                }
                Err(err) => rejected.push(Rejected { name: name.clone(), reason: err.to_string() }),
            }
        }
        for (name, s) in &self.services {
            let mut s = s.clone();
            for ep in endpoints.remove(s.key().as_str()).unwrap_or_default() {
                s.endpoints.insert(ep.workload_uid.clone(), ep);
            }
            if let Err(err) = state.insert_service(s) {
                rejected.push(Rejected { name: name.clone(), reason: err.to_string() });
            }
        }
        for (name, p) in &self.policies {
            if let Err(err) = state.insert_policy(p.clone()) {
                rejected.push(Rejected { name: name.clone(), reason: err.to_string() });
            }
        }
        (state, rejected)
    }

    /// Drops a resource that was accepted by [`XdsCache::apply`] but then failed to build,
    /// so the cache (and the versions we report) only hold what is actually in force.
    pub fn forget(&mut self, type_url: &str, name: &str) {
        match type_url {
            ADDRESS_TYPE => {
                self.workloads.remove(name);
                self.services.remove(name);
            }
            _ => {
                self.policies.remove(name);
            }
        }
        if let Some(v) = self.versions.get_mut(type_url) {
            v.remove(name);
        }
    }
}
