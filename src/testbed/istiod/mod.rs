//! A faithful stand-in for istiod: the delta ADS server (Address + Authorization) and the
//! certificate service, over TLS, speaking the real gRPC protocols.
//!
//! Resources come from a local-config YAML file (the same schema as LOCAL_XDS_PATH), which is
//! polled and re-pushed when it changes. On the wire it behaves like istiod: wildcard
//! subscriptions, a fresh nonce per response, per-resource versions (a hash of the encoded
//! resource, so unchanged resources are not re-sent), `removed_resources` for deletions, and
//! honouring `initial_resource_versions` on reconnect. Test hooks: inject a raw (possibly
//! malformed) resource, take the CA down, and read what clients ACKed/NACKed and sent.
//! Used in-process by tests and as `cargo run --example fake_istiod`.

mod server;
pub mod to_proto;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use tokio::sync::watch;

use crate::certs::dev_ca::DevCa;
use crate::proto::{ADDRESS_TYPE, AUTHORIZATION_TYPE};
use crate::state::ProxyState;

/// Why the fake istiod could not start.
#[derive(Debug, thiserror::Error)]
pub enum IstiodError {
    #[error("config {path}: {reason}")]
    Config { path: String, reason: String },
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server certificate: {0}")]
    Cert(String),
}

/// One served resource: its version and encoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub version: String,
    pub body: Vec<u8>,
}

/// Everything served, per type URL, by resource name.
pub type Snapshot = BTreeMap<&'static str, BTreeMap<String, Served>>;

/// What clients told us, for tests.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub acks: u64,
    /// NACK error messages, in order.
    pub nacks: Vec<String>,
    pub streams: u64,
    /// `initial_resource_versions` sizes of each stream's first Address request.
    pub initial_versions: Vec<usize>,
    pub node_ids: Vec<String>,
    pub authorization: Vec<String>,
    pub certificates_signed: u64,
    pub ca_rejections: u64,
}

/// Settings for [`FakeIstiod::start`].
pub struct IstiodConfig {
    pub listen: SocketAddr,
    /// The local-config YAML to serve.
    pub config_path: PathBuf,
    /// Signs workload CSRs and the server's own TLS certificate.
    pub ca: DevCa,
    /// Names put in the server certificate (DNS names or IPs), e.g. `localhost`, `127.0.0.1`.
    pub server_hosts: Vec<String>,
    /// How often the config file is checked for changes.
    pub poll: Duration,
    /// If set, requests must carry `authorization: Bearer <token>`.
    pub expect_token: Option<String>,
}

pub(crate) struct Shared {
    pub(crate) snapshot: watch::Sender<Snapshot>,
    pub(crate) observed: Mutex<Observed>,
    pub(crate) ca: DevCa,
    pub(crate) ca_up: std::sync::atomic::AtomicBool,
    pub(crate) expect_token: Option<String>,
    /// Raw resources injected by tests, merged over the file's.
    injected: Mutex<Vec<(&'static str, String, Vec<u8>)>>,
    file_state: Mutex<Snapshot>,
    nonce: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn next_nonce(&self) -> String {
        format!("{}", self.nonce.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1)
    }

    pub(crate) fn observe(&self, f: impl FnOnce(&mut Observed)) {
        f(&mut self.observed.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn publish(&self) {
        let mut snap = self.file_state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (t, name, body) in self.injected.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            snap.entry(t).or_default().insert(name.clone(), served(body.clone()));
        }
        self.snapshot.send_if_modified(|cur| {
            if *cur == snap {
                false
            } else {
                *cur = snap;
                true
            }
        });
    }
}

fn served(body: Vec<u8>) -> Served {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    Served { version: format!("{:016x}", h.finish()), body }
}

/// Encodes a state the way istiod would serve it.
pub fn snapshot_of(state: &ProxyState) -> Snapshot {
    let mut snap = Snapshot::new();
    let a = snap.entry(ADDRESS_TYPE).or_default();
    for (name, addr) in to_proto::addresses(state) {
        a.insert(name, served(addr.encode_to_vec()));
    }
    let p = snap.entry(AUTHORIZATION_TYPE).or_default();
    for (name, auth) in to_proto::authorizations(state) {
        p.insert(name, served(auth.encode_to_vec()));
    }
    snap
}

/// A running fake istiod. Dropping it (or [`FakeIstiod::stop`]) closes the listener and every
/// stream at once, as a crashed istiod would.
pub struct FakeIstiod {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: tokio::task::JoinSet<()>,
}

impl FakeIstiod {
    pub async fn start(cfg: IstiodConfig) -> Result<FakeIstiod, IstiodError> {
        let path = cfg.config_path.clone();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| IstiodError::Config { path: path.display().to_string(), reason: e.to_string() })?;
        let state = crate::xds::load_str(&text, &path.display().to_string())
            .map_err(|e| IstiodError::Config { path: path.display().to_string(), reason: e.to_string() })?;
        let initial = snapshot_of(&state);
        let (tx, _) = watch::channel(initial.clone());
        let (cert, key) = cfg
            .ca
            .issue_server_pem(&cfg.server_hosts, Duration::from_secs(24 * 3600))
            .map_err(|e| IstiodError::Cert(e.to_string()))?;
        let shared = Arc::new(Shared {
            snapshot: tx,
            observed: Mutex::default(),
            ca: cfg.ca,
            ca_up: true.into(),
            expect_token: cfg.expect_token,
            injected: Mutex::default(),
            file_state: Mutex::new(initial),
            nonce: 0.into(),
        });
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| IstiodError::Bind { addr: cfg.listen, source })?;
        let addr = listener.local_addr().map_err(|source| IstiodError::Bind { addr: cfg.listen, source })?;
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(server::serve(listener, cert, key, shared.clone()).map_err_to_log());
        tasks.spawn(watch_file(path, text, cfg.poll, shared.clone()));
        tracing::info!(%addr, "fake istiod listening");
        Ok(FakeIstiod { addr, shared, tasks })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `body` (raw bytes, not validated) as resource `name` of `type_url`.
    pub fn inject_raw(&self, type_url: &'static str, name: &str, body: Vec<u8>) {
        self.shared.injected.lock().unwrap_or_else(|p| p.into_inner()).push((type_url, name.to_string(), body));
        self.shared.publish();
    }

    /// Takes the CA down (`false`: CreateCertificate answers UNAVAILABLE) or up.
    pub fn set_ca_available(&self, up: bool) {
        self.shared.ca_up.store(up, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn observed(&self) -> Observed {
        self.shared.observed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops serving immediately, dropping every connection.
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

trait LogErr {
    fn map_err_to_log(self) -> impl std::future::Future<Output = ()> + Send;
}

impl<F: std::future::Future<Output = Result<(), String>> + Send> LogErr for F {
    async fn map_err_to_log(self) {
        if let Err(e) = self.await {
            tracing::error!("fake istiod server failed: {e}");
        }
    }
}

async fn watch_file(path: PathBuf, mut last: String, poll: Duration, shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(poll).await;
        let Ok(text) = tokio::fs::read_to_string(&path).await else { continue };
        if text == last {
            continue;
        }
        last = text;
        match crate::xds::load_str(&last, &path.display().to_string()) {
            Ok(state) => {
                *shared.file_state.lock().unwrap_or_else(|p| p.into_inner()) = snapshot_of(&state);
                shared.publish();
                tracing::info!(path = %path.display(), "fake istiod: config changed, pushing");
            }
            Err(e) => tracing::error!("fake istiod: ignoring invalid config: {e}"),
        }
    }
}
