//! A test "CNI": a real ZDS server on a real SOCK_SEQPACKET socket that hands ztunnel real
//! network namespace fds, as istio-cni's node agent does.
//!
//! Pods are registered with [`Cni::add`] / [`Cni::del`] (blocking, for `#[test]` code). On
//! every ztunnel (re)connection the CNI checks the hello (V1), replays every known pod as an
//! `Add` (fd attached), sends `SnapshotSent`, then forwards further adds/deletes live. Every
//! Ack is recorded so tests can assert on errors.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, oneshot};

use crate::inpod::protocol::{self, SeqPacket};
use crate::proto::zds::{self, workload_request::Payload, workload_response};

/// A pod as the CNI knows it.
#[derive(Debug, Clone)]
pub struct CniPod {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub service_account: String,
    /// `/var/run/netns/<name>` or any netns path.
    pub netns: PathBuf,
}

/// What the CNI observed.
#[derive(Debug, Default)]
pub struct CniLog {
    /// Connections that completed hello + snapshot.
    pub snapshots_acked: usize,
    /// `(request summary, ack error)` for every exchange.
    pub acks: Vec<(String, String)>,
    pub connected: bool,
}

type Shared = Arc<(Mutex<CniLog>, Condvar)>;

enum Cmd {
    Add(CniPod, oneshot::Sender<Option<String>>),
    Del(String, oneshot::Sender<Option<String>>),
}

pub struct Cni {
    pub path: PathBuf,
    cmds: mpsc::UnboundedSender<Cmd>,
    log: Shared,
    _thread: std::thread::JoinHandle<()>,
}

impl Cni {
    /// Listens on `path` and serves ztunnel connections on a background thread.
    pub fn start(path: &Path) -> anyhow::Result<Cni> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let listener = {
            let _g = rt.enter();
            protocol::listen(path).with_context(|| format!("listening on {}", path.display()))?
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let log: Shared = Arc::default();
        let log2 = log.clone();
        let thread = std::thread::spawn(move || rt.block_on(serve(listener, rx, log2)));
        Ok(Cni { path: path.to_path_buf(), cmds: tx, log, _thread: thread })
    }

    /// Registers a pod and, when ztunnel is connected, sends the Add. Returns the Ack's error
    /// (`Some("")` = success, `None` = not connected: it goes out with the next snapshot).
    pub fn add(&self, pod: CniPod) -> anyhow::Result<Option<String>> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Add(pod, tx)).ok().context("CNI stopped")?;
        rx.blocking_recv().context("CNI stopped")
    }

    /// Forgets a pod and, when connected, sends the Del.
    pub fn del(&self, uid: &str) -> anyhow::Result<Option<String>> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Del(uid.to_string(), tx)).ok().context("CNI stopped")?;
        rx.blocking_recv().context("CNI stopped")
    }

    /// Waits until `n` connections have completed their snapshot.
    pub fn wait_snapshots(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let (lock, cv) = &*self.log;
        let (g, res) = cv
            .wait_timeout_while(lock.lock().unwrap(), timeout, |l| l.snapshots_acked < n)
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        if res.timed_out() {
            bail!("ztunnel did not complete snapshot #{n} within {timeout:?} (acks so far: {:?})", g.acks);
        }
        Ok(())
    }

    /// Every `(request, ack error)` so far.
    pub fn acks(&self) -> Vec<(String, String)> {
        self.log.0.lock().unwrap().acks.clone()
    }
}

async fn serve(listener: protocol::SeqPacketListener, mut cmds: mpsc::UnboundedReceiver<Cmd>, log: Shared) {
    let mut pods: BTreeMap<String, CniPod> = BTreeMap::new();
    loop {
        // Not connected: keep the pod list current while waiting for ztunnel.
        let conn = tokio::select! {
            c = listener.accept() => match c {
                Ok(c) => c,
                Err(_) => {
                    // Same pause as the crate's TCP accept loops (crate::socket::accept).
                    tokio::time::sleep(crate::socket::ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            cmd = cmds.recv() => {
                match cmd {
                    None => return,
                    Some(Cmd::Add(p, reply)) => { pods.insert(p.uid.clone(), p); let _ = reply.send(None); }
                    Some(Cmd::Del(uid, reply)) => { pods.remove(&uid); let _ = reply.send(None); }
                }
                continue;
            }
        };
        if let Err(e) = session(&conn, &mut pods, &mut cmds, &log).await {
            tracing::debug!("test CNI: ztunnel connection ended: {e:#}");
        }
        let (lock, cv) = &*log;
        lock.lock().unwrap().connected = false;
        cv.notify_all();
    }
}

fn record(log: &Shared, what: String, error: String) {
    let (lock, cv) = &**log;
    lock.lock().unwrap().acks.push((what, error));
    cv.notify_all();
}

async fn exchange(
    conn: &SeqPacket,
    req: zds::WorkloadRequest,
    fd: Option<std::fs::File>,
    log: &Shared,
) -> anyhow::Result<String> {
    let what = match &req.payload {
        Some(Payload::Add(a)) => format!("add {}", a.uid),
        Some(Payload::Del(d)) => format!("del {}", d.uid),
        Some(Payload::Keep(k)) => format!("keep {}", k.uid),
        Some(Payload::SnapshotSent(_)) => "snapshot".into(),
        None => "empty".into(),
    };
    conn.send_msg(&req, fd.as_ref().map(|f| f.as_raw_fd())).await?;
    let (resp, _) = conn.recv_msg::<zds::WorkloadResponse>().await?;
    let Some(workload_response::Payload::Ack(ack)) = resp.payload else { bail!("response without ack") };
    record(log, what, ack.error.clone());
    Ok(ack.error)
}

fn add_req(p: &CniPod) -> anyhow::Result<(zds::WorkloadRequest, std::fs::File)> {
    let f = std::fs::File::open(&p.netns).with_context(|| format!("opening {}", p.netns.display()))?;
    let req = zds::WorkloadRequest {
        payload: Some(Payload::Add(zds::AddWorkload {
            uid: p.uid.clone(),
            workload_info: Some(zds::WorkloadInfo {
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                service_account: p.service_account.clone(),
            }),
        })),
    };
    Ok((req, f))
}

async fn session(
    conn: &SeqPacket,
    pods: &mut BTreeMap<String, CniPod>,
    cmds: &mut mpsc::UnboundedReceiver<Cmd>,
    log: &Shared,
) -> anyhow::Result<()> {
    let (hello, _) = conn.recv_msg::<zds::ZdsHello>().await?;
    if hello.version != zds::Version::V1 as i32 {
        bail!("unexpected ZDS version {}", hello.version);
    }
    {
        let (lock, cv) = &**log;
        lock.lock().unwrap().connected = true;
        cv.notify_all();
    }
    for p in pods.values() {
        let (req, f) = add_req(p)?;
        exchange(conn, req, Some(f), log).await?;
    }
    exchange(conn, zds::WorkloadRequest { payload: Some(Payload::SnapshotSent(zds::SnapshotSent {})) }, None, log)
        .await?;
    {
        let (lock, cv) = &**log;
        lock.lock().unwrap().snapshots_acked += 1;
        cv.notify_all();
    }
    loop {
        tokio::select! {
            // Anything unsolicited from ztunnel (or EOF) ends the session.
            r = conn.recv() => { r?; bail!("unsolicited message from ztunnel"); }
            cmd = cmds.recv() => match cmd {
                None => return Ok(()),
                Some(Cmd::Add(p, reply)) => {
                    let (req, f) = add_req(&p)?;
                    pods.insert(p.uid.clone(), p);
                    let _ = reply.send(Some(exchange(conn, req, Some(f), log).await?));
                }
                Some(Cmd::Del(uid, reply)) => {
                    pods.remove(&uid);
                    let req = zds::WorkloadRequest { payload: Some(Payload::Del(zds::DelWorkload { uid })) };
                    let _ = reply.send(Some(exchange(conn, req, None, log).await?));
                }
            }
        }
    }
}
