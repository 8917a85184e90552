//! The xDS client's pure core: the resources accepted so far, applied one by one as deltas to
//! a working [`ProxyState`].
//!
//! Owns the resource versions (sent back as `initial_resource_versions` on reconnect) and the
//! mapping from resource names to state keys. Each resource in a response is decoded,
//! converted and applied on its own: one that fails to decode, to convert, or to fit into the
//! state (a VIP another service owns) is rejected by name for the NACK and changes nothing,
//! so the previous version of that resource, if any, stays in force. Merging (a workload's
//! service memberships become the services' endpoints) and defaults are the state's own
//! builder ([`crate::state::apply`]), the same one the local config goes through. No I/O.

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use super::convert::{self, AddressResource, ConvertError};
use crate::proto::discovery::Resource;
use crate::proto::{ADDRESS_TYPE, AUTHORIZATION_TYPE, security, workload};
use crate::state::{Name, ProxyState, StateChange, StateError};

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

/// What one address resource name stands for in the state. Names are normally the state key
/// itself (a workload's uid, a service's `ns/hostname`); only names that differ are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AddressKey {
    Workload(String),
    Service(String),
}

/// Why a resource could not be applied.
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Accepted resources, as a working state plus what the client must report.
#[derive(Debug, Default, Clone)]
pub struct XdsCache {
    state: ProxyState,
    /// Changes applied since the last [`XdsCache::take_changes`].
    changes: Vec<StateChange>,
    /// type URL → resource name → version. One entry per resource of the mesh, so kept
    /// small: a workload's name is its uid, and the key shares the workload's copy of it
    /// (an 8-byte pointer instead of a `String` and its own heap copy); versions are
    /// `Box<str>` (16 bytes, no spare capacity).
    versions: HashMap<String, BTreeMap<Name, Box<str>>>,
    /// Address names that differ from their state key.
    address_aliases: HashMap<String, AddressKey>,
    /// Policy names that differ from their `ns/name` key.
    policy_aliases: HashMap<String, String>,
}

impl XdsCache {
    pub fn new() -> XdsCache {
        XdsCache::default()
    }

    /// Versions of every accepted resource of `type_url`, for `initial_resource_versions`.
    pub fn versions(&self, type_url: &str) -> HashMap<String, String> {
        self.versions
            .get(type_url)
            .map(|m| m.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
            .unwrap_or_default()
    }

    /// Whether the versions entry for `name` uses the state's copy of the workload's uid.
    #[cfg(test)]
    pub fn version_key_shared(&self, type_url: &str, name: &str) -> bool {
        let key = self.versions.get(type_url).and_then(|m| m.get_key_value(name)).map(|(k, _)| k);
        match (key, self.state.workload_by_uid(name)) {
            (Some(k), Some(w)) => k.ptr_eq(&w.uid),
            _ => false,
        }
    }

    pub fn workload_count(&self) -> usize {
        self.state.workload_count()
    }

    /// The state as of the last response (O(1) to clone).
    pub fn snapshot(&self) -> ProxyState {
        self.state.clone()
    }

    /// The changes made since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.changes)
    }

    /// Applies one delta response's resources and removals. Valid resources replace their
    /// previous version; invalid ones are rejected and leave the previous version in place.
    pub fn apply(&mut self, type_url: &str, resources: Vec<Resource>, removed: &[String]) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        for name in removed {
            let existed = match type_url {
                ADDRESS_TYPE => self.remove_address(name),
                AUTHORIZATION_TYPE => {
                    let key = self.policy_aliases.remove(name).unwrap_or_else(|| name.clone());
                    self.state.remove_policy(&key, &mut self.changes).is_some()
                }
                _ => false,
            };
            if let Some(v) = self.versions.get_mut(type_url) {
                v.remove(name.as_str());
            }
            if existed {
                out.removed += 1;
            }
        }
        for r in resources {
            let name = r.name.clone();
            match self.apply_one(type_url, r) {
                Ok((key, version)) => {
                    let versions = match self.versions.get_mut(type_url) {
                        Some(v) => v,
                        None => self.versions.entry(type_url.to_string()).or_default(),
                    };
                    let version = version.into_boxed_str();
                    match key {
                        // A map keeps the key it has on insert: drop the old one first, so
                        // the key is the current workload's copy and the replaced one's goes.
                        Some(key) => {
                            versions.remove(key.as_str());
                            versions.insert(key, version);
                        }
                        None => {
                            versions.insert(Name::from(name), version);
                        }
                    }
                    out.applied += 1;
                }
                Err(e) => out.rejected.push(Rejected { name, reason: e.to_string() }),
            }
        }
        out
    }

    /// Removes whatever `name` stands for; true if something was there.
    fn remove_address(&mut self, name: &str) -> bool {
        match self.address_aliases.remove(name) {
            Some(AddressKey::Workload(uid)) => self.state.remove_workload(&uid, &mut self.changes).is_some(),
            Some(AddressKey::Service(key)) => self.state.remove_service(&key, &mut self.changes).is_some(),
            None => {
                let w = self.state.remove_workload(name, &mut self.changes).is_some();
                let s = self.state.remove_service(name, &mut self.changes).is_some();
                w || s
            }
        }
    }

    /// Applies one resource; returns its version and, when the state holds a copy of its
    /// name (a workload named by its uid), that copy, for the versions map to share.
    fn apply_one(&mut self, type_url: &str, r: Resource) -> Result<(Option<Name>, String), ApplyError> {
        let any = r
            .resource
            .ok_or_else(|| ConvertError::Decode { type_url: type_url.into(), reason: "resource has no body".into() })?;
        if any.type_url != type_url {
            return Err(ConvertError::Decode {
                type_url: type_url.into(),
                reason: format!("body has type {:?}", any.type_url),
            }
            .into());
        }
        let decode_err =
            |e: prost::DecodeError| ConvertError::Decode { type_url: type_url.into(), reason: e.to_string() };
        match type_url {
            ADDRESS_TYPE => {
                let addr = workload::Address::decode(any.value.as_slice()).map_err(decode_err)?;
                match convert::address(addr)? {
                    AddressResource::Workload(w, memberships) => {
                        // Two names claiming one uid: the second would silently replace the
                        // first; refuse it instead (the first stays in force).
                        if w.uid != r.name
                            && self.state.workload_by_uid(&w.uid).is_some()
                            && self.address_aliases.get(&r.name) != Some(&AddressKey::Workload(w.uid.to_string()))
                        {
                            return Err(StateError::DuplicateWorkloadUid(w.uid.to_string()).into());
                        }
                        let uid = w.uid.to_string();
                        // A name can switch kind only via removal; drop any stale entry first.
                        self.drop_other_kind(&r.name, AddressKey::Workload(uid.clone()));
                        self.state.upsert_workload(*w, &memberships, &mut self.changes);
                        let shared =
                            (uid == r.name).then(|| self.state.workload_by_uid(&uid).map(|w| w.uid.clone())).flatten();
                        self.alias_address(&r.name, AddressKey::Workload(uid));
                        return Ok((shared, r.version));
                    }
                    AddressResource::Service(s) => {
                        let key = s.key();
                        // Fails (changing nothing) on a VIP another service owns.
                        self.state.upsert_service(s, &mut self.changes)?;
                        self.drop_other_kind(&r.name, AddressKey::Service(key.clone()));
                        self.alias_address(&r.name, AddressKey::Service(key));
                    }
                }
            }
            AUTHORIZATION_TYPE => {
                let p = security::Authorization::decode(any.value.as_slice()).map_err(decode_err)?;
                let p = convert::authorization(p)?;
                let key = p.key();
                if let Some(old) = self.policy_aliases.get(&r.name).filter(|old| **old != key).cloned() {
                    self.state.remove_policy(&old, &mut self.changes);
                }
                self.state.upsert_policy(p, &mut self.changes);
                if key == r.name {
                    self.policy_aliases.remove(&r.name);
                } else {
                    self.policy_aliases.insert(r.name.clone(), key);
                }
            }
            other => {
                return Err(ConvertError::Decode {
                    type_url: other.into(),
                    reason: "unsubscribed resource type".into(),
                }
                .into());
            }
        }
        Ok((None, r.version))
    }

    /// Before `name` is (re)applied as `now`: removes what it stood for before, if that was
    /// something else (the other kind, or another key).
    fn drop_other_kind(&mut self, name: &str, now: AddressKey) {
        let before = self.address_aliases.get(name).cloned();
        match before {
            Some(b) if b == now => {}
            Some(AddressKey::Workload(uid)) => {
                self.state.remove_workload(&uid, &mut self.changes);
            }
            Some(AddressKey::Service(key)) => {
                self.state.remove_service(&key, &mut self.changes);
            }
            None => match now {
                AddressKey::Workload(_) => {
                    self.state.remove_service(name, &mut self.changes);
                }
                AddressKey::Service(_) => {
                    self.state.remove_workload(name, &mut self.changes);
                }
            },
        }
    }

    fn alias_address(&mut self, name: &str, key: AddressKey) {
        let same = match &key {
            AddressKey::Workload(k) | AddressKey::Service(k) => k == name,
        };
        if same {
            self.address_aliases.remove(name);
        } else {
            self.address_aliases.insert(name.to_string(), key);
        }
    }
}
