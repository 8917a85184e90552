//! The certificate supply chain: where workload certificates come from and how they are kept
//! fresh.
//!
//! - [`manager`]: the per-identity certificate cache ([`manager::SecretManager`]): fetch on
//!   first use, prefetch for local workloads, rotation before expiry, retry with backoff;
//! - [`ca_client`]: istiod's CA (`IstioCertificateService/CreateCertificate` over the
//!   control-plane channel);
//! - [`dev_ca`]: the built-in development CA (FAKE_CA, `ztunnel dev-ca`, the demo), and
//!   [`dev_ca_files`]: certificates read from files (local config).
//!
//! Depends on [`crate::identity`] (what a certificate is for), [`crate::tls`] (what a
//! certificate is) and [`crate::control_plane`] (how to reach istiod); nothing here is used by
//! those three.

pub mod ca_client;
pub mod dev_ca;
pub mod dev_ca_files;
pub mod manager;

use std::time::SystemTime;

use crate::identity::IdentityError;

/// Why a certificate for an identity could not be obtained. `Clone` because one failed fetch
/// is reported to every task waiting for that identity.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("CA unavailable: {0}")]
    CaUnavailable(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::Error),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("{path}: {reason}")]
    Io { path: std::path::PathBuf, reason: String },
    #[error("CA returned a certificate for {got} instead of {requested}")]
    WrongIdentity { requested: String, got: String },
    #[error("certificate for {identity} expired at {not_after:?}")]
    Expired { identity: String, not_after: SystemTime },
    #[error("CA certificate is not usable as a CA: {0}")]
    InvalidCa(String),
    #[error("certificate request for {0} was cancelled (identity forgotten or manager dropped)")]
    Cancelled(String),
}
