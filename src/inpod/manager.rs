//! Pod lifecycle in shared (in-pod) mode: the ZDS client loop and the per-pod proxies.
//!
//! [`PodTable`] is the pure core: it applies one ZDS request to the set of pods and says what
//! to answer (Ack / error) — starting and stopping proxies goes through a [`PodStarter`], so
//! the reconciliation rules are unit-tested without sockets. [`run`] is the I/O edge: connect
//! to `INPOD_UDS`, say hello, feed requests to the table, answer, reconnect with backoff.
//!
//! Rules (upstream's): an `Add` for a running pod in the same namespace is a no-op; after a
//! (re)connect, pods neither re-added nor `Keep`-ed before `SnapshotSent` are torn down; a
//! failed `Add` is answered with its error and retried in the background until it succeeds or
//! the pod is deleted; readiness ("workload proxy manager") waits for the first snapshot.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::drain::{self, DrainTrigger, DrainWatcher};
use crate::proto::zds::{self, workload_request::Payload};
use crate::readiness::ReadyTask;
use crate::socket::netns::Netns;
use crate::util::backoff::Backoff;

use super::protocol::{ProtocolError, SeqPacket};
use super::states::{Phase, PodInfo, PodStates};

/// Starts a pod's proxy inside its namespace; the returned handle stops it.
pub trait PodStarter: Send + Sync {
    fn start(&self, pod: &PodInfo, netns: &Netns) -> Result<PodHandle, String>;
}

/// A running pod proxy.
pub struct PodHandle {
    pub trigger: DrainTrigger,
    /// The proxy's serving task; aborting it closes connections still open at the deadline.
    pub task: Option<tokio::task::AbortHandle>,
    /// Its open connections, for the admin dump.
    pub connections: crate::proxy::connections::LiveConnections,
}

impl PodHandle {
    /// Stops accepting at once; open connections get `deadline` to finish, then are closed.
    pub async fn stop(self, deadline: Duration) {
        if self.trigger.drain(deadline).await == drain::DrainOutcome::DeadlineExceeded {
            tracing::info!(?deadline, "pod drain deadline passed: closing its remaining connections");
        }
        if let Some(t) = self.task {
            t.abort();
        }
    }
}

struct Pod {
    info: PodInfo,
    netns: Netns,
    inode: u64,
    /// `None` while a failed start waits for a retry.
    running: Option<PodHandle>,
}

/// The pods this ztunnel serves and the reconciliation state of the current connection.
pub struct PodTable<S> {
    starter: S,
    pods: BTreeMap<String, Pod>,
    /// Pods announced (Add/Keep) since the current connection's hello.
    seen: HashSet<String>,
    /// Pod proxies being stopped, drained in the background by the caller.
    stopping: Vec<PodHandle>,
    /// What the admin server shows; kept in step with `pods`.
    states: PodStates,
}

/// Why a request was refused (sent back as the Ack's error text).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("add for pod {0} carried no network namespace fd")]
    MissingNetns(String),
    #[error("add for pod {0} carried no workload info")]
    MissingInfo(String),
    #[error("keep for unknown pod {0}")]
    UnknownKeep(String),
    #[error("request without payload")]
    Empty,
    #[error("starting proxy for pod {uid} ({namespace}/{name}): {reason}")]
    Start { uid: String, namespace: String, name: String, reason: String },
}

/// What happened, beyond the Ack (so the loop can flip readiness).
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Ok,
    SnapshotDone { removed: Vec<String> },
}

impl<S: PodStarter> PodTable<S> {
    pub fn new(starter: S, states: PodStates) -> Self {
        PodTable { starter, pods: BTreeMap::new(), seen: HashSet::new(), stopping: Vec::new(), states }
    }

    /// A new connection: announcements start over.
    pub fn connected(&mut self) {
        self.seen.clear();
    }

    pub fn uids(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    pub fn is_running(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.running.is_some())
    }

    /// Proxies stopped since the last call (the caller drains them).
    pub fn take_stopping(&mut self) -> Vec<PodHandle> {
        std::mem::take(&mut self.stopping)
    }

    fn stop(&mut self, uid: &str) {
        if let Some(p) = self.pods.remove(uid) {
            self.states.remove(uid);
            if p.running.is_some() {
                self.states.proxy_stopped();
            }
            tracing::info!(uid, pod = %format!("{}/{}", p.info.namespace, p.info.name), "pod removed: closing its listeners");
            self.stopping.extend(p.running);
        }
    }

    pub fn apply(&mut self, req: zds::WorkloadRequest, fd: Option<Netns>) -> Result<Applied, RequestError> {
        match req.payload.ok_or(RequestError::Empty)? {
            Payload::Add(add) => {
                let uid = add.uid;
                let info = add.workload_info.ok_or_else(|| RequestError::MissingInfo(uid.clone()))?;
                let netns = fd.ok_or_else(|| RequestError::MissingNetns(uid.clone()))?;
                let inode = netns.inode().map_err(|e| RequestError::Start {
                    uid: uid.clone(),
                    namespace: info.namespace.clone(),
                    name: info.name.clone(),
                    reason: format!("bad namespace fd: {e}"),
                })?;
                self.seen.insert(uid.clone());
                let info = PodInfo {
                    uid: uid.clone(),
                    name: info.name,
                    namespace: info.namespace,
                    service_account: info.service_account,
                };
                if let Some(p) = self.pods.get(&uid)
                    && p.inode == inode
                    && p.info == info
                    && p.running.is_some()
                {
                    return Ok(Applied::Ok);
                }
                // New pod, or the same uid with a new namespace (sandbox restarted): replace.
                self.stop(&uid);
                self.pods.insert(uid.clone(), Pod { info, netns, inode, running: None });
                self.try_start(&uid).map(|()| Applied::Ok)
            }
            Payload::Keep(keep) => {
                if !self.pods.contains_key(&keep.uid) {
                    return Err(RequestError::UnknownKeep(keep.uid));
                }
                self.seen.insert(keep.uid);
                Ok(Applied::Ok)
            }
            Payload::Del(del) => {
                // Deleting an unknown pod is fine: the CNI may retry a delete we already did.
                self.seen.remove(&del.uid);
                self.stop(&del.uid);
                Ok(Applied::Ok)
            }
            Payload::SnapshotSent(_) => {
                let removed: Vec<String> = self.pods.keys().filter(|u| !self.seen.contains(*u)).cloned().collect();
                for uid in &removed {
                    self.stop(uid);
                }
                Ok(Applied::SnapshotDone { removed })
            }
        }
    }

    fn try_start(&mut self, uid: &str) -> Result<(), RequestError> {
        let p = self.pods.get_mut(uid).expect("caller checked");
        match self.starter.start(&p.info, &p.netns) {
            Ok(handle) => {
                tracing::info!(uid, pod = %format!("{}/{}", p.info.namespace, p.info.name), "pod added: listeners bound in its network namespace");
                self.states.set(&p.info, Phase::Up, None);
                self.states.set_connections(uid, handle.connections.clone());
                p.running = Some(handle);
                self.states.proxy_started();
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(uid, pod = %format!("{}/{}", p.info.namespace, p.info.name), "starting pod proxy failed (will retry): {reason}");
                self.states.set(&p.info, Phase::Pending, Some(reason.clone()));
                Err(RequestError::Start {
                    uid: uid.to_string(),
                    namespace: p.info.namespace.clone(),
                    name: p.info.name.clone(),
                    reason,
                })
            }
        }
    }

    /// Retries pods whose start failed; returns how many are still pending.
    pub fn retry_pending(&mut self) -> usize {
        let pending: Vec<String> =
            self.pods.iter().filter(|(_, p)| p.running.is_none()).map(|(u, _)| u.clone()).collect();
        pending.into_iter().filter(|uid| self.try_start(uid).is_err()).count()
    }

    /// Stops every pod (node shutdown).
    pub fn stop_all(&mut self) {
        for uid in self.uids() {
            self.stop(&uid);
        }
    }
}

/// How the loop behaves.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub uds: PathBuf,
    /// How long a removed pod's connections get to finish.
    pub drain_deadline: Duration,
    pub retry_interval: Duration,
}

const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(15);

fn ack(error: Option<String>) -> zds::WorkloadResponse {
    zds::WorkloadResponse {
        payload: Some(zds::workload_response::Payload::Ack(zds::Ack { error: error.unwrap_or_default() })),
    }
}

/// Serves ZDS until `drain`: connects, reconnects with backoff, keeps pods running across
/// reconnects (reconciled at the next snapshot), and stops every pod on shutdown.
pub async fn run<S: PodStarter>(
    cfg: ManagerConfig,
    starter: S,
    states: PodStates,
    ready: ReadyTask,
    drain: DrainWatcher,
) {
    let mut table = PodTable::new(starter, states);
    let mut ready = Some(ready);
    let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
    loop {
        let conn = tokio::select! {
            _ = drain.signaled() => break,
            c = SeqPacket::connect(&cfg.uds) => c,
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(uds = %cfg.uds.display(), retry_in = ?delay, "cannot connect to the CNI's ZDS socket: {e}");
                tokio::select! {
                    _ = drain.signaled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
                continue;
            }
        };
        let res = serve_connection(&cfg, &conn, &mut table, &mut ready, &drain, &mut backoff).await;
        match res {
            Ok(()) => break, // draining
            Err(e) => tracing::warn!(uds = %cfg.uds.display(), "ZDS connection lost, reconnecting: {e}"),
        }
        tokio::select! {
            _ = drain.signaled() => break,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
    table.stop_all();
    drain_stopped(&mut table, cfg.drain_deadline).await;
}

async fn drain_stopped<S: PodStarter>(table: &mut PodTable<S>, deadline: Duration) {
    let stopping = table.take_stopping();
    let all = stopping.into_iter().map(|h| h.stop(deadline));
    futures_util::future::join_all(all).await;
}

async fn serve_connection<S: PodStarter>(
    cfg: &ManagerConfig,
    conn: &SeqPacket,
    table: &mut PodTable<S>,
    ready: &mut Option<ReadyTask>,
    drain: &DrainWatcher,
    backoff: &mut Backoff,
) -> Result<(), ProtocolError> {
    conn.send_msg(&zds::ZdsHello { version: zds::Version::V1 as i32 }, None).await?;
    tracing::info!(uds = %cfg.uds.display(), "connected to the CNI (ZDS hello sent)");
    table.connected();
    let mut retry = tokio::time::interval(cfg.retry_interval);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let msg = tokio::select! {
            _ = drain.signaled() => return Ok(()),
            _ = retry.tick() => {
                table.retry_pending();
                continue;
            }
            m = conn.recv() => m,
        };
        let (buf, fd) = msg?;
        backoff.reset();
        let reply = match prost::Message::decode(buf.as_slice()) {
            Ok(req) => match table.apply(req, fd.map(Netns::from_fd)) {
                Ok(Applied::Ok) => ack(None),
                Ok(Applied::SnapshotDone { removed }) => {
                    tracing::info!(pods = table.uids().len(), removed = removed.len(), "ZDS snapshot reconciled");
                    if let Some(r) = ready.take() {
                        r.done();
                    }
                    ack(None)
                }
                Err(e) => {
                    tracing::warn!("ZDS request refused: {e}");
                    ack(Some(e.to_string()))
                }
            },
            Err(e) => {
                tracing::warn!("malformed ZDS request: {e}");
                ack(Some(format!("malformed request: {e}")))
            }
        };
        conn.send_msg(&reply, None).await?;
        // Stopped pods drain in the background; the node drain still waits via `drain`.
        for t in table.take_stopping() {
            let deadline = cfg.drain_deadline;
            let hold = drain.clone();
            tokio::spawn(async move {
                t.stop(deadline).await;
                drop(hold);
            });
        }
    }
}

/// A pod proxy's stop handle plus the watcher its listeners serve with.
pub fn pod_drain() -> (DrainTrigger, DrainWatcher) {
    drain::new()
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
