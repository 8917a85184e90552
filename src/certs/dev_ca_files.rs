//! The built-in CA's root read from files that may not exist yet (FAKE_CA_ROOT_CERT/KEY
//! mounted after start-up, or written by another process). Until both files load, every
//! fetch fails with the reason, the secret manager retries with backoff, and readiness stays
//! "not ready, pending: workload certificate". Once loaded, the root is kept.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Error;
use super::dev_ca::DevCa;
use super::manager::CertificateSource;
use crate::identity::Identity;
use crate::tls::WorkloadCertificate;
use crate::util::sync::lock;

pub struct DevCaFiles {
    cert: PathBuf,
    key: PathBuf,
    ttl: Duration,
    loaded: Mutex<Option<Arc<DevCa>>>,
}

impl DevCaFiles {
    pub fn new(cert: PathBuf, key: PathBuf, ttl: Duration) -> DevCaFiles {
        DevCaFiles { cert, key, ttl, loaded: Mutex::new(None) }
    }

    fn ca(&self) -> Result<Arc<DevCa>, Error> {
        let mut slot = lock(&self.loaded);
        if let Some(ca) = slot.as_ref() {
            return Ok(ca.clone());
        }
        let ca = Arc::new(DevCa::load(&self.cert, &self.key)?.with_ttl(self.ttl));
        tracing::info!(cert = %self.cert.display(), "built-in CA root loaded");
        *slot = Some(ca.clone());
        Ok(ca)
    }
}

impl CertificateSource for DevCaFiles {
    fn fetch(&self, id: &Identity) -> Pin<Box<dyn Future<Output = Result<WorkloadCertificate, Error>> + Send + '_>> {
        let result = self.ca().and_then(|ca| ca.issue(id, ca.ttl()));
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_once_files_appear() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let src = DevCaFiles::new(cert.clone(), key.clone(), Duration::from_secs(3600));
        let id = Identity::new("cluster.local", "ns", "sa");
        let err = src.fetch(&id).await.unwrap_err().to_string();
        assert!(err.contains("c.pem"), "{err}");
        DevCa::generate("cluster.local").unwrap().write(&cert, &key).unwrap();
        let c = src.fetch(&id).await.unwrap();
        assert_eq!(c.identity(), &id);
    }
}
