//! Certificate revocation lists for peer certificates (CRL_PATH; Istio's chart sets it with
//! `peerCaCrl.enabled`): a PEM (or DER) file holding one or more CRLs from the mesh's CAs.
//!
//! Owns [`CrlStore`], the shared, swappable set in force, and [`watch`], which re-reads the file
//! when it changes. A file that cannot be read or parsed is an error at start-up (fail closed:
//! the operator asked for revocation checking); later, a bad version is logged and the last
//! good set stays in force, so a half-written or corrupt file never un-revokes anything.
//! Signatures on the CRLs are checked against the mesh roots at verification time by WebPKI,
//! through our crypto provider (both builds). A certificate whose issuer has no CRL in the set
//! is not refused for that (unknown status is allowed): one CA's CRL says nothing of another's
//! certificates.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;

use crate::drain::DrainWatcher;
use crate::util::sync::{read, write};

/// Why a CRL file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("CRL_PATH {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("CRL_PATH {path}: CRL #{index} does not parse: {reason}")]
    Parse { path: PathBuf, index: usize, reason: String },
    #[error("CRL_PATH {path}: holds no CRL")]
    Empty { path: PathBuf },
}

/// One parsed set of CRLs.
#[derive(Debug, Default)]
pub struct CrlSet {
    /// Bumped by every successful (re)load; caches of TLS configs key on it.
    pub generation: u64,
    ders: Vec<CertificateRevocationListDer<'static>>,
    parsed: Vec<webpki::CertRevocationList<'static>>,
}

impl CrlSet {
    pub fn is_empty(&self) -> bool {
        self.ders.is_empty()
    }

    /// The DER forms, for rustls' client-certificate verifier.
    pub fn ders(&self) -> &[CertificateRevocationListDer<'static>] {
        &self.ders
    }

    /// The parsed forms, for WebPKI's revocation options.
    pub fn parsed(&self) -> &[webpki::CertRevocationList<'static>] {
        &self.parsed
    }
}

/// The CRLs in force; cheap to clone, empty (no revocation checking) unless CRL_PATH is set.
#[derive(Debug, Clone, Default)]
pub struct CrlStore(Arc<RwLock<Arc<CrlSet>>>);

impl CrlStore {
    /// Loads `path` once; an unusable file is an error naming it.
    pub fn load(path: &Path) -> Result<CrlStore, CrlError> {
        let store = CrlStore::default();
        store.reload(path)?;
        Ok(store)
    }

    pub fn current(&self) -> Arc<CrlSet> {
        read(&self.0).clone()
    }

    /// Re-reads `path`; on error the set in force is unchanged.
    pub fn reload(&self, path: &Path) -> Result<Arc<CrlSet>, CrlError> {
        let bytes = std::fs::read(path).map_err(|e| CrlError::Read { path: path.into(), reason: e.to_string() })?;
        let (ders, parsed) = parse(path, &bytes)?;
        let mut slot = write(&self.0);
        let next = Arc::new(CrlSet { generation: slot.generation + 1, ders, parsed });
        *slot = next.clone();
        Ok(next)
    }
}

type Parsed = (Vec<CertificateRevocationListDer<'static>>, Vec<webpki::CertRevocationList<'static>>);

/// PEM `X509 CRL` blocks, or a single DER CRL.
fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, CrlError> {
    let pem: Vec<_> = CertificateRevocationListDer::pem_slice_iter(bytes).collect();
    let ders: Vec<CertificateRevocationListDer<'static>> = if pem.is_empty() && bytes.first() == Some(&0x30) {
        vec![CertificateRevocationListDer::from(bytes.to_vec())]
    } else {
        pem.into_iter()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| CrlError::Parse { path: path.into(), index: i + 1, reason: e.to_string() }))
            .collect::<Result<_, _>>()?
    };
    if ders.is_empty() {
        return Err(CrlError::Empty { path: path.into() });
    }
    let parsed = ders
        .iter()
        .enumerate()
        .map(|(i, d)| {
            webpki::OwnedCertRevocationList::from_der(d.as_ref())
                .map(webpki::CertRevocationList::from)
                .map_err(|e| CrlError::Parse { path: path.into(), index: i + 1, reason: format!("{e:?}") })
        })
        .collect::<Result<_, _>>()?;
    Ok((ders, parsed))
}

/// Re-reads `path` whenever its contents change (checked every `poll`), until drained. Secrets
/// and ConfigMaps are updated by swapping a symlink, which only a content check sees reliably.
pub async fn watch(path: PathBuf, store: CrlStore, poll: Duration, drain: DrainWatcher) {
    let mut last = std::fs::read(&path).ok();
    // Reloading never holds up shutdown.
    let drain = drain.detached();
    let stop = drain.signaled();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(poll) => {}
        }
        let now = std::fs::read(&path).ok();
        if now == last {
            continue;
        }
        last = now;
        match store.reload(&path) {
            Ok(set) => {
                tracing::info!(path = %path.display(), crls = set.ders().len(), generation = set.generation, "reloaded CRLs")
            }
            Err(e) => tracing::error!("keeping the CRLs in force: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_refused_and_keep_the_last_good_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crl.pem");
        for (content, want) in [
            (&b""[..], "holds no CRL"),
            (b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "does not parse"),
            (b"not a crl", "holds no CRL"),
        ] {
            std::fs::write(&path, content).unwrap();
            let err = CrlStore::load(&path).unwrap_err().to_string();
            assert!(err.contains("CRL_PATH") && err.contains("crl.pem") && err.contains(want), "{err}");
        }
        let err = CrlStore::load(&dir.path().join("missing.pem")).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
        // (Valid CRLs and revocation itself: tests/crl.rs, with CRLs made by openssl.)
        assert!(CrlStore::default().current().is_empty());
    }
}
