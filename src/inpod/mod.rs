//! Shared (in-pod) mode: istio-cni hands us each pod's network namespace over the ZDS
//! protocol and we serve that pod's capture listeners from inside it.
//!
//! - [`protocol`]: SOCK_SEQPACKET framing and fd passing (SCM_RIGHTS);
//! - [`manager`]: the ZDS client loop and pod lifecycle (add / keep / del / snapshot);
//! - [`starter`]: binds one [`crate::proxy::Proxy`] per pod inside its namespace;
//! - [`states`]: the per-pod view `/config_dump` shows as `workloadState`.

pub mod manager;
#[allow(unsafe_code)] // SCM_RIGHTS: receiving the pod's netns fd over the CNI's SOCK_SEQPACKET socket
pub mod protocol;
pub mod starter;
pub mod states;
