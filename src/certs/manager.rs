//! The secret manager: a per-identity cache of workload certificates.
//!
//! Each identity gets one background worker that fetches from the [`CertificateSource`] (the dev
//! CA or, later, istiod), publishes the result on a `watch` channel, and refreshes at half-life.
//! Callers only ever read the channel, so any number of concurrent first requests share one
//! fetch. While a refresh keeps failing the still-valid certificate is served (with
//! exponential backoff between attempts); an expired certificate is never handed out.
//!
//! Identities are kept for as long as someone holds a [`CertificateLease`] on them (each pod's
//! proxy holds one for its workload): when the last lease goes, so do the private key, the
//! refresh worker and its CA traffic. Without that, every identity ever seen on the node
//! would be refreshed for the life of the process.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Semaphore, watch};
use tokio::task::AbortHandle;

use super::Error;
use crate::identity::Identity;
use crate::tls::WorkloadCertificate;
use crate::tls::certificate::{details, to_pem};
use crate::util::backoff::Backoff;
use crate::util::sync::lock;

/// Upstream's backoff between failed fetches of one identity: 500 ms doubling up to 150 s.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(150);
/// Floor for the refresh timer, so a CA handing out already-stale certificates cannot make a
/// worker spin.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(500);
/// Upstream caps concurrent CSRs at 8 so a node full of new pods does not flood istiod.
const MAX_CONCURRENT_FETCHES: usize = 8;

/// Where certificates come from.
pub trait CertificateSource: Send + Sync + 'static {
    fn fetch(&self, id: &Identity) -> Pin<Box<dyn Future<Output = Result<WorkloadCertificate, Error>> + Send + '_>>;
}

#[derive(Clone)]
enum CertState {
    Initializing,
    Available {
        cert: Arc<WorkloadCertificate>,
        /// The last refresh failed; `cert` is still valid and still served.
        refresh_error: Option<Error>,
    },
    Unavailable(Error),
}

struct Entry {
    state: watch::Receiver<CertState>,
    worker: AbortHandle,
    /// Live [`CertificateLease`]s on this identity.
    leases: usize,
}

struct Inner {
    source: Arc<dyn CertificateSource>,
    fetch_permits: Arc<Semaphore>,
    entries: Mutex<HashMap<Identity, Entry>>,
}

impl Inner {
    fn entries(&self) -> MutexGuard<'_, HashMap<Identity, Entry>> {
        // The map stays consistent even if a holder panicked: every update is a single insert
        // or remove.
        lock(&self.entries)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for entry in self.entries().values() {
            entry.worker.abort();
        }
    }
}

/// Per-identity certificate cache. Cloning is cheap and clones share the cache; workers stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct SecretManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SecretManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretManager").field("identities", &self.inner.entries().len()).finish()
    }
}

impl SecretManager {
    pub fn new(source: Arc<dyn CertificateSource>) -> Self {
        SecretManager {
            inner: Arc::new(Inner {
                source,
                fetch_permits: Arc::new(Semaphore::new(MAX_CONCURRENT_FETCHES)),
                entries: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The current certificate for `id`, fetching it first if this identity is new. Must be
    /// called within a tokio runtime (the first call spawns the identity's worker).
    pub async fn fetch_certificate(&self, id: &Identity) -> Result<Arc<WorkloadCertificate>, Error> {
        let mut state = self.subscribe(id);
        loop {
            {
                let current = state.borrow_and_update();
                match &*current {
                    CertState::Available { cert, .. } => {
                        // The worker replaces an expired cert when it next wakes; until then
                        // refuse rather than hand out something peers will reject.
                        return if cert.is_expired(SystemTime::now()) {
                            Err(Error::Expired { identity: id.to_string(), not_after: cert.not_after() })
                        } else {
                            Ok(cert.clone())
                        };
                    }
                    CertState::Unavailable(err) => return Err(err.clone()),
                    CertState::Initializing => {}
                }
            }
            if state.changed().await.is_err() {
                return Err(Error::Cancelled(id.to_string()));
            }
        }
    }

    /// Keeps `id`'s certificate cached and refreshed until the returned lease (and every other
    /// lease on `id`) is dropped; then it is forgotten. Does not wait for the certificate.
    pub fn lease(&self, id: &Identity) -> CertificateLease {
        let mut entries = self.inner.entries();
        self.entry(&mut entries, id).leases += 1;
        CertificateLease { inner: self.inner.clone(), id: id.clone() }
    }

    /// Drops `id`'s certificate and stops refreshing it (the workload left the node).
    pub fn forget(&self, id: &Identity) {
        if let Some(entry) = self.inner.entries().remove(id) {
            entry.worker.abort();
        }
    }

    /// Snapshot for the admin config dump, sorted by identity.
    pub fn dump(&self) -> Vec<CertificateDump> {
        let mut snapshot: Vec<(Identity, CertState)> =
            self.inner.entries().iter().map(|(id, entry)| (id.clone(), entry.state.borrow().clone())).collect();
        snapshot.sort_by(|a, b| a.0.cmp(&b.0));
        snapshot
            .into_iter()
            .map(|(id, state)| match state {
                CertState::Initializing => CertificateDump::empty(&id, "Initializing".into()),
                CertState::Unavailable(err) => CertificateDump::empty(&id, format!("Unavailable: {err}")),
                CertState::Available { cert, refresh_error } => CertificateDump {
                    identity: id.to_string(),
                    state: "Available".into(),
                    cert_chain: cert.chain().iter().map(CertDump::new).collect(),
                    root_certs: cert.roots().iter().map(CertDump::new).collect(),
                    refresh_error: refresh_error.map(|e| e.to_string()),
                },
            })
            .collect()
    }

    fn subscribe(&self, id: &Identity) -> watch::Receiver<CertState> {
        let mut entries = self.inner.entries();
        self.entry(&mut entries, id).state.clone()
    }

    /// `id`'s entry, starting its worker if it is new.
    fn entry<'a>(&self, entries: &'a mut HashMap<Identity, Entry>, id: &Identity) -> &'a mut Entry {
        entries.entry(id.clone()).or_insert_with(|| {
            let (tx, rx) = watch::channel(CertState::Initializing);
            let worker =
                tokio::spawn(refresh_loop(self.inner.source.clone(), self.inner.fetch_permits.clone(), id.clone(), tx));
            Entry { state: rx, worker: worker.abort_handle(), leases: 0 }
        })
    }
}

/// A claim on one identity's certificate (see [`SecretManager::lease`]).
pub struct CertificateLease {
    inner: Arc<Inner>,
    id: Identity,
}

impl CertificateLease {
    pub fn identity(&self) -> &Identity {
        &self.id
    }
}

impl std::fmt::Debug for CertificateLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateLease").field("identity", &self.id.to_string()).finish()
    }
}

impl Drop for CertificateLease {
    fn drop(&mut self) {
        let mut entries = self.inner.entries();
        let Some(entry) = entries.get_mut(&self.id) else { return };
        entry.leases = entry.leases.saturating_sub(1);
        if entry.leases == 0 {
            if let Some(entry) = entries.remove(&self.id) {
                entry.worker.abort();
            }
            tracing::info!(identity = %self.id, "no workload on this node uses the identity any more: certificate dropped");
        }
    }
}

/// Rejects what a source must never hand us: someone else's or an already expired certificate.
fn check(id: &Identity, cert: WorkloadCertificate) -> Result<WorkloadCertificate, Error> {
    if cert.identity() != id {
        return Err(Error::WrongIdentity { requested: id.to_string(), got: cert.identity().to_string() });
    }
    if cert.is_expired(SystemTime::now()) {
        return Err(Error::Expired { identity: id.to_string(), not_after: cert.not_after() });
    }
    Ok(cert)
}

fn until(t: SystemTime, now: SystemTime) -> Duration {
    t.duration_since(now).unwrap_or_default()
}

/// One identity's worker: fetch, publish, sleep until refresh (or retry), repeat. Runs until
/// aborted by `forget` or by the manager being dropped.
async fn refresh_loop(
    source: Arc<dyn CertificateSource>,
    permits: Arc<Semaphore>,
    id: Identity,
    tx: watch::Sender<CertState>,
) {
    let mut backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);
    loop {
        let result = {
            // The semaphore is never closed, so acquiring only fails if that changes.
            let _permit = permits.acquire().await;
            source.fetch(&id).await
        }
        .and_then(|cert| check(&id, cert));
        let now = SystemTime::now();
        let wait = match result {
            Ok(cert) => {
                backoff.reset();
                let wait = until(cert.refresh_at(), now).max(MIN_REFRESH_INTERVAL);
                tracing::debug!(identity = %id, serial = cert.serial(), refresh_in = ?wait, "certificate available");
                tx.send_replace(CertState::Available { cert: Arc::new(cert), refresh_error: None });
                wait
            }
            Err(err) => {
                let retry_in = backoff.next_delay();
                let still_valid = match &*tx.borrow() {
                    CertState::Available { cert, .. } if !cert.is_expired(now) => Some(cert.clone()),
                    _ => None,
                };
                match still_valid {
                    Some(cert) => {
                        tracing::warn!(identity = %id, error = %err, ?retry_in, "certificate refresh failed; keeping the still-valid certificate");
                        // Wake no later than expiry so the state flips to Unavailable on time.
                        let wait = retry_in.min(until(cert.not_after(), now));
                        tx.send_replace(CertState::Available { cert, refresh_error: Some(err) });
                        wait
                    }
                    None => {
                        tracing::warn!(identity = %id, error = %err, ?retry_in, "certificate fetch failed");
                        tx.send_replace(CertState::Unavailable(err));
                        retry_in
                    }
                }
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// One identity in the admin config dump (upstream's field names).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDump {
    pub identity: String,
    pub state: String,
    pub cert_chain: Vec<CertDump>,
    pub root_certs: Vec<CertDump>,
    /// Why the last refresh failed while a still-valid certificate is being served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_error: Option<String>,
}

impl CertificateDump {
    fn empty(id: &Identity, state: String) -> Self {
        CertificateDump {
            identity: id.to_string(),
            state,
            cert_chain: Vec::new(),
            root_certs: Vec::new(),
            refresh_error: None,
        }
    }
}

/// One certificate in the dump; times are RFC 3339 (UTC).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertDump {
    pub pem: String,
    pub serial_number: String,
    pub valid_from: String,
    pub expiration_time: String,
}

impl CertDump {
    fn new(der: &CertificateDer<'static>) -> Self {
        // Certificates in the cache were parsed when loaded, so `details` only fails on a bug;
        // an empty field is better than dropping the certificate from the dump.
        let (serial_number, valid_from, expiration_time) = match details(der) {
            Ok(d) => (d.serial_decimal, rfc3339(d.not_before), rfc3339(d.not_after)),
            Err(_) => Default::default(),
        };
        CertDump { pem: to_pem(der), serial_number, valid_from, expiration_time }
    }
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::certs::dev_ca::DevCa;

    /// A dev CA with a call counter, a failure switch and configurable validity.
    struct TestSource {
        ca: DevCa,
        calls: AtomicUsize,
        fail: AtomicBool,
        /// (backdate, lifetime from now) of issued certificates.
        validity: Mutex<(Duration, Duration)>,
        delay: Duration,
        /// Issue for this identity instead of the requested one.
        impostor: Option<Identity>,
    }

    impl TestSource {
        fn new(delay: Duration) -> Arc<Self> {
            Arc::new(TestSource {
                ca: DevCa::generate("cluster.local").unwrap(),
                calls: AtomicUsize::new(0),
                fail: AtomicBool::new(false),
                validity: Mutex::new((Duration::from_secs(60), Duration::from_secs(3600))),
                delay,
                impostor: None,
            })
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl CertificateSource for TestSource {
        fn fetch(
            &self,
            id: &Identity,
        ) -> Pin<Box<dyn Future<Output = Result<WorkloadCertificate, Error>> + Send + '_>> {
            let id = self.impostor.clone().unwrap_or_else(|| id.clone());
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                if self.fail.load(Ordering::SeqCst) {
                    return Err(Error::CaUnavailable("test CA is down".into()));
                }
                let (back, fwd) = *self.validity.lock().unwrap();
                let now = SystemTime::now();
                self.ca.issue_with_validity(&id, now - back, now + fwd)
            })
        }
    }

    fn id(sa: &str) -> Identity {
        Identity::new("cluster.local", "default", sa)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_fetches_share_one_source_call() {
        let source = TestSource::new(Duration::from_millis(100));
        let manager = SecretManager::new(source.clone());
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let manager = manager.clone();
                tokio::spawn(async move { manager.fetch_certificate(&id("a")).await })
            })
            .collect();
        let mut certs = Vec::new();
        for task in tasks {
            certs.push(task.await.unwrap().unwrap());
        }
        assert_eq!(source.calls(), 1);
        assert!(certs.iter().all(|c| Arc::ptr_eq(c, &certs[0])));
        // Cached afterwards too.
        let again = manager.fetch_certificate(&id("a")).await.unwrap();
        assert!(Arc::ptr_eq(&again, &certs[0]));
        assert_eq!(source.calls(), 1);
        // A different identity is a different fetch.
        let b = manager.fetch_certificate(&id("b")).await.unwrap();
        assert_eq!(b.identity(), &id("b"));
        assert_eq!(source.calls(), 2);
    }

    #[tokio::test]
    async fn failing_refresh_keeps_valid_cert_then_expires_then_recovers() {
        let source = TestSource::new(Duration::ZERO);
        // Validity [now-1s, now+4s] (x509 truncates to whole seconds): refresh due within
        // ~1.5 s, expiry no earlier than 3 s.
        *source.validity.lock().unwrap() = (Duration::from_secs(1), Duration::from_secs(4));
        let manager = SecretManager::new(source.clone());
        let first = manager.fetch_certificate(&id("a")).await.unwrap();
        source.fail.store(true, Ordering::SeqCst);

        tokio::time::sleep(Duration::from_millis(2200)).await;
        assert!(source.calls() >= 2, "a refresh should have been attempted");
        let during = manager.fetch_certificate(&id("a")).await.unwrap();
        assert_eq!(during.serial(), first.serial(), "still-valid cert must be served");
        assert_eq!(manager.dump()[0].state, "Available");
        assert!(manager.dump()[0].refresh_error.is_some());

        let past_expiry = until(first.not_after(), SystemTime::now()) + Duration::from_millis(700);
        tokio::time::sleep(past_expiry).await;
        let err = manager.fetch_certificate(&id("a")).await.unwrap_err();
        assert!(matches!(err, Error::Expired { .. } | Error::CaUnavailable(_)), "{err}");

        // The CA comes back: the worker's retry picks up a fresh certificate.
        *source.validity.lock().unwrap() = (Duration::from_secs(60), Duration::from_secs(3600));
        source.fail.store(false, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let fresh = loop {
            if let Ok(cert) = manager.fetch_certificate(&id("a")).await {
                break cert;
            }
            assert!(tokio::time::Instant::now() < deadline, "never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_ne!(fresh.serial(), first.serial());
    }

    #[tokio::test]
    async fn successful_refresh_replaces_the_certificate() {
        let source = TestSource::new(Duration::ZERO);
        *source.validity.lock().unwrap() = (Duration::from_secs(1), Duration::from_secs(2));
        let manager = SecretManager::new(source.clone());
        let first = manager.fetch_certificate(&id("a")).await.unwrap();
        *source.validity.lock().unwrap() = (Duration::from_secs(60), Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let second = manager.fetch_certificate(&id("a")).await.unwrap();
        assert_ne!(second.serial(), first.serial());
        assert_eq!(source.calls(), 2);
    }

    #[tokio::test]
    async fn initial_failure_reaches_every_waiter() {
        let source = TestSource::new(Duration::from_millis(50));
        source.fail.store(true, Ordering::SeqCst);
        let manager = SecretManager::new(source.clone());
        let who = id("a");
        let (a, b) = tokio::join!(manager.fetch_certificate(&who), manager.fetch_certificate(&who));
        assert!(matches!(a, Err(Error::CaUnavailable(_))));
        assert!(matches!(b, Err(Error::CaUnavailable(_))));
        assert_eq!(source.calls(), 1);
        assert!(manager.dump()[0].state.starts_with("Unavailable: "));
    }

    #[tokio::test]
    async fn wrong_identity_from_source_is_rejected() {
        let mut source = TestSource::new(Duration::ZERO);
        Arc::get_mut(&mut source).unwrap().impostor = Some(id("evil"));
        let manager = SecretManager::new(source);
        let err = manager.fetch_certificate(&id("a")).await.unwrap_err();
        assert!(matches!(err, Error::WrongIdentity { .. }), "{err}");
    }

    #[tokio::test]
    async fn forget_drops_the_cache_entry() {
        let source = TestSource::new(Duration::ZERO);
        let manager = SecretManager::new(source.clone());
        let first = manager.fetch_certificate(&id("a")).await.unwrap();
        assert_eq!(manager.dump().len(), 1);
        manager.forget(&id("a"));
        assert!(manager.dump().is_empty());
        let second = manager.fetch_certificate(&id("a")).await.unwrap();
        assert_eq!(source.calls(), 2);
        assert_ne!(first.serial(), second.serial());
    }

    #[tokio::test(start_paused = true)]
    async fn last_lease_dropped_forgets_the_identity_and_stops_refreshing() {
        let source = TestSource::new(Duration::ZERO);
        let manager = SecretManager::new(source.clone());
        let (pod1, pod2) = (manager.lease(&id("a")), manager.lease(&id("a")));
        let other = manager.lease(&id("b"));
        manager.fetch_certificate(&id("a")).await.unwrap();
        manager.fetch_certificate(&id("b")).await.unwrap();
        // Control: while leased, a 1 h certificate is refreshed at half-life.
        tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
        assert!(source.calls() >= 4, "leased identities are refreshed: {} calls", source.calls());
        drop(pod1);
        assert_eq!(manager.dump().len(), 2, "pod2 still uses identity a");
        drop(pod2);
        let left: Vec<String> = manager.dump().into_iter().map(|d| d.identity).collect();
        assert_eq!(left, vec![id("b").to_string()], "a's key goes with its last user");
        // Only b keeps the CA busy from now on.
        drop(other);
        assert!(manager.dump().is_empty());
        let calls = source.calls();
        tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
        assert_eq!(source.calls(), calls, "no refresh (CA traffic) for forgotten identities");
        // Coming back is a fresh fetch.
        let _again = manager.lease(&id("a"));
        manager.fetch_certificate(&id("a")).await.unwrap();
        assert_eq!(source.calls(), calls + 1);
    }

    #[tokio::test]
    async fn dump_uses_upstream_field_names() {
        let source = TestSource::new(Duration::ZERO);
        let manager = SecretManager::new(source);
        let cert = manager.fetch_certificate(&id("a")).await.unwrap();
        let dump = manager.dump();
        assert_eq!(dump.len(), 1);
        assert_eq!(dump[0].identity, id("a").to_string());
        assert_eq!(dump[0].state, "Available");
        // Decimal, as upstream writes it and istioctl reads it (base 10); logs use hex.
        let serial = &dump[0].cert_chain[0].serial_number;
        assert!(serial.bytes().all(|b| b.is_ascii_digit()), "{serial}");
        let from_hex = u128::from_str_radix(cert.serial(), 16).unwrap();
        assert_eq!(serial, &from_hex.to_string());
        assert_eq!(dump[0].cert_chain[0].pem, cert.chain_pem()[0]);
        let json = serde_json::to_value(&dump).unwrap();
        let entry = &json[0];
        for key in ["identity", "state", "certChain", "rootCerts"] {
            assert!(entry.get(key).is_some(), "missing {key}: {entry}");
        }
        let c = &entry["certChain"][0];
        for key in ["pem", "serialNumber", "validFrom", "expirationTime"] {
            assert!(c.get(key).is_some(), "missing {key}: {c}");
        }
        let valid_from = c["validFrom"].as_str().unwrap();
        assert!(valid_from.ends_with('Z') && valid_from.contains('T'), "{valid_from}");
    }
}
