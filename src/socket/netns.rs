//! Network namespaces: run work inside a pod's namespace without moving the process.
//!
//! `setns(CLONE_NEWNET)` changes only the calling thread, so [`Netns::run`] does it on a
//! fresh thread. Sockets created there stay in that namespace for their whole life, which is
//! how in-pod mode binds listeners and dials upstreams from inside each pod; child processes
//! spawned there (iptables, ip) inherit the namespace too.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// An open network namespace (a `/proc/<pid>/ns/net` or `/var/run/netns/<name>` fd).
#[derive(Debug, Clone)]
pub struct Netns {
    fd: Arc<OwnedFd>,
    /// A long-lived thread inside the namespace for [`Netns::run_async`] (per-connection
    /// socket creation), started on first use; it exits when the last handle is dropped.
    worker: Arc<OnceLock<Mutex<mpsc::Sender<Job>>>>,
}

impl Netns {
    pub fn from_fd(fd: OwnedFd) -> Netns {
        Netns { fd: Arc::new(fd), worker: Arc::default() }
    }

    /// Opens a namespace by path, or by name under /var/run/netns (as `ip netns` names them).
    pub fn open(name_or_path: &str) -> io::Result<Netns> {
        let path = if name_or_path.contains('/') {
            Path::new(name_or_path).to_path_buf()
        } else {
            Path::new("/var/run/netns").join(name_or_path)
        };
        let file = File::open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("opening network namespace {}: {e}", path.display())))?;
        Ok(Netns::from_fd(file.into()))
    }

    /// The namespace's inode: two handles with the same inode are the same namespace.
    pub fn inode(&self) -> io::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        let f = File::from(self.fd.try_clone()?);
        Ok(f.metadata()?.ino())
    }

    /// Runs `f` on a new thread that has entered this namespace, and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
        let fd = self.fd.clone();
        std::thread::Builder::new()
            .name("netns".into())
            .spawn(move || {
                // SAFETY: setns with a valid namespace fd; it affects only this new thread,
                // which exits when `f` returns.
                let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })?
            .join()
            .map_err(|_| io::Error::other("netns thread panicked"))?
    }

    /// Runs `f` inside the namespace without blocking the async caller, on the namespace's
    /// worker thread (no thread spawn per call). Used to create per-connection sockets.
    pub async fn run_async<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.worker()?
            .lock()
            .map_err(|_| io::Error::other("netns worker lock poisoned"))?
            .send(job)
            .map_err(|_| io::Error::other("netns worker thread exited"))?;
        rx.await.map_err(|_| io::Error::other("netns worker dropped the job (panicked?)"))
    }

    fn worker(&self) -> io::Result<&Mutex<mpsc::Sender<Job>>> {
        if let Some(w) = self.worker.get() {
            return Ok(w);
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let fd = self.fd.clone();
        std::thread::Builder::new().name("netns-worker".into()).spawn(move || {
            // SAFETY: setns with a valid namespace fd, on this dedicated thread only.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            drop(fd);
            let _ = ready_tx.send(if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) });
            if rc != 0 {
                return;
            }
            // Ends when every sender (every Netns clone) is gone.
            while let Ok(job) = rx.recv() {
                job();
            }
        })?;
        ready_rx.recv().map_err(|_| io::Error::other("netns worker failed to start"))??;
        // A concurrent first use may have won the race; its worker serves, ours exits.
        Ok(self.worker.get_or_init(|| Mutex::new(tx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn run_async_runs_in_the_namespace_and_reuses_one_thread() {
        let ns = Netns::open("/proc/self/ns/net").unwrap();
        let ino = ns.inode().unwrap();
        let id1 = ns.run_async(|| std::thread::current().id()).await.unwrap();
        let id2 = ns.run_async(|| std::thread::current().id()).await.unwrap();
        assert_eq!(id1, id2, "one worker thread per namespace");
        let seen = ns
            .run_async(|| {
                use std::os::unix::fs::MetadataExt;
                std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
            })
            .await
            .unwrap();
        assert_eq!(seen, ino);
    }
}
