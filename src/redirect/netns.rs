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
use std::sync::Arc;

/// An open network namespace (a `/proc/<pid>/ns/net` or `/var/run/netns/<name>` fd).
#[derive(Debug, Clone)]
pub struct Netns {
    fd: Arc<OwnedFd>,
}

impl Netns {
    pub fn from_fd(fd: OwnedFd) -> Netns {
        Netns { fd: Arc::new(fd) }
    }

    /// Opens a namespace by path, or by name under /var/run/netns (as `ip netns` names them).
    pub fn open(name_or_path: &str) -> io::Result<Netns> {
        let path = if name_or_path.contains('/') {
            Path::new(name_or_path).to_path_buf()
        } else {
            Path::new("/var/run/netns").join(name_or_path)
        };
        let file = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("opening network namespace {}: {e}", path.display())))?;
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

    /// [`Netns::run`] without blocking the async caller (the thread reports back through a
    /// oneshot). Used to create per-connection sockets inside a pod.
    pub async fn run_async<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let fd = self.fd.clone();
        std::thread::Builder::new().name("netns".into()).spawn(move || {
            // SAFETY: as in `run`: a fresh thread that exits after `f`.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            let res = if rc != 0 { Err(io::Error::last_os_error()) } else { Ok(f()) };
            let _ = tx.send(res);
        })?;
        rx.await.map_err(|_| io::Error::other("netns thread panicked"))?
    }
}
