//! The threads the data path runs on: one single-threaded tokio runtime per data-plane thread
//! ("shards"), for the thread-per-core layout (`ZTUNNEL_RUNTIME=thread-per-core`).
//!
//! Why: with tokio's work-stealing runtime a connection's tasks (the accept, the TLS and HTTP/2
//! drivers, the two pumps) wake each other across workers, and every hand-off is a futex wake
//! and a context switch. Measured in issue 16, one worker spent a fifth less CPU per connection
//! than two (269 against 341 us, context switches 8.4 against 13.1 per connection). Here every
//! shard polls every listener (the same sockets, so the first shard awake takes a connection,
//! which balances by load) and has its own HBONE pool, and a connection stays on the shard
//! that accepted it, so the byte path never leaves its thread. The price is a pooled
//! connection per destination per shard, as Envoy's workers each keep their own upstream pools.
//!
//! The control plane (xDS, CA, admin, metrics, DNS) stays on the runtime of the thread that
//! called [`ShardThreads::start`], so a large xDS push never occupies a data-plane thread. The
//! readiness port is the exception, served from the first shard (as upstream serves it from its
//! data-plane runtime), so that a busy control thread never times out the kubelet's probe.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// How long a stopping shard gives its remaining tasks (they were already drained).
const STOP_GRACE: Duration = Duration::from_millis(100);

thread_local! {
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The shard the calling thread runs, if it is a data-plane thread.
pub fn current_shard() -> Option<usize> {
    CURRENT.with(Cell::get)
}

/// One data-plane thread: its index and its runtime's handle.
#[derive(Clone)]
pub struct Shard {
    index: usize,
    handle: Handle,
}

impl Shard {
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

/// The shards a component serves on. Empty: the caller's own runtime (the work-stealing layout,
/// and unit tests).
#[derive(Clone, Default)]
pub struct Shards(Arc<[Shard]>);

impl Shards {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.0.iter()
    }
}

impl fmt::Debug for Shards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|s| s.index)).finish()
    }
}

/// The running data-plane threads. Dropping this stops them; tasks still on them are dropped.
pub struct ShardThreads {
    shards: Shards,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl ShardThreads {
    /// Starts `n` data-plane threads (at least one), each running its own single-threaded runtime.
    pub fn start(n: usize) -> io::Result<ShardThreads> {
        let mut shards = Vec::new();
        let mut stops = Vec::new();
        let mut threads = Vec::new();
        for index in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            shards.push(Shard { index, handle: runtime.handle().clone() });
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            // Linux keeps 15 bytes of a thread name: `ztunnel-dp-NNN` fits.
            threads.push(std::thread::Builder::new().name(format!("ztunnel-dp-{index}")).spawn(move || {
                CURRENT.with(|c| c.set(Some(index)));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_timeout(STOP_GRACE);
            })?);
        }
        Ok(ShardThreads { shards: Shards(shards.into()), stops, threads })
    }

    pub fn shards(&self) -> Shards {
        self.shards.clone()
    }
}

impl Drop for ShardThreads {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_runs_its_tasks_on_its_own_thread() {
        let threads = ShardThreads::start(2).unwrap();
        let shards = threads.shards();
        assert_eq!(format!("{shards:?}"), "[0, 1]");
        assert_eq!(current_shard(), None);
        for shard in shards.iter() {
            let (tx, rx) = std::sync::mpsc::channel();
            shard.handle().spawn(async move {
                // A task spawned from a shard's task lands on the same shard.
                let inner = tokio::spawn(async { (current_shard(), std::thread::current().name().map(String::from)) });
                tx.send(inner.await.unwrap()).unwrap();
            });
            let (index, name) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(index, Some(shard.index()));
            assert_eq!(name.as_deref(), Some(format!("ztunnel-dp-{}", shard.index()).as_str()));
        }
    }

    #[test]
    fn dropping_the_threads_stops_them_and_their_tasks() {
        let threads = ShardThreads::start(1).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        // A task that never finishes on its own: it holds the sender until it is dropped.
        threads.shards().iter().next().unwrap().handle().spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        });
        drop(threads);
        assert_eq!(rx.blocking_recv(), None, "the task was dropped with its runtime");
    }
}
