//! Hot reload of the local config file.
//!
//! Owns the polling loop: every interval the file is stat'ed, and read and hashed only when its
//! identity, size or change times moved (or it changed too recently for them to be trusted);
//! when the content changes it is re-parsed and, if valid, installed into the [`StateStore`].
//! An invalid file is logged with its precise error and the last good state stays in place.
//! Polling (rather than inotify) is deliberate: Kubernetes ConfigMap volumes update by swapping
//! a symlink, which file-event watchers on the old inode miss, while a poll of the path always
//! sees the current target.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::local::{LocalConfigError, load_str};
use crate::drain::DrainWatcher;
use crate::state::{ProxyState, StateStore};

/// Counters for the reload loop (exported as metrics later).
#[derive(Debug, Default)]
pub struct WatchStats {
    reloads: AtomicU64,
    errors: AtomicU64,
    polls: AtomicU64,
    reads: AtomicU64,
}

impl WatchStats {
    /// Successful reloads after the initial load.
    pub fn reload_count(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Rejected file versions (invalid content or unreadable file).
    pub fn error_count(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Polls after the initial load (each one stats the file).
    pub fn poll_count(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Polls that read the file's content (its metadata said it may have changed).
    pub fn read_count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// A file modified this recently is read on every poll whatever its metadata says: file
/// times come from a coarse clock (a few milliseconds), so two same-size writes within one of
/// its ticks leave size and times alike. Well above that tick and the poll interval.
const RECENT: Duration = Duration::from_secs(2);

/// What the metadata says about the file without reading it: which file the path names (a
/// symlink swap or a rename over it gives a new inode), its size, and its modify and change
/// times (a write moves both; only the modify time can be set back by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stat {
    fn of(meta: &std::fs::Metadata) -> Stat {
        Stat {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Whether `meta` was modified within [`RECENT`] (or, clocks being skewed, in the future).
fn recently_modified(meta: &std::fs::Metadata) -> bool {
    meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).is_none_or(|age| age < RECENT)
}

/// The hash of one version's content: what decides whether it changed.
fn content_hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Watches one local config file and keeps a [`StateStore`] in sync with it.
pub struct LocalFileWatcher {
    path: PathBuf,
    store: StateStore,
    interval: Duration,
    /// The content hash of the version last read.
    hash: u64,
    /// The metadata of the version last read.
    stat: Stat,
    stats: Arc<WatchStats>,
}

impl LocalFileWatcher {
    /// Loads the file once (an error here is fatal to start-up: there is no last good state to
    /// keep) and installs it into `store`.
    pub async fn start(
        path: PathBuf,
        store: StateStore,
        interval: Duration,
    ) -> Result<LocalFileWatcher, LocalConfigError> {
        let meta = metadata(&path).await?;
        let text = read_text(&path).await?;
        let hash = content_hash(&text);
        let state = parse_off_thread(text, path.display().to_string()).await?;
        tracing::info!(
            path = %path.display(),
            "loaded local config ({} workloads, {} services, {} policies)",
            state.workload_count(),
            state.service_count(),
            state.policy_count()
        );
        store.replace(state);
        Ok(LocalFileWatcher { hash, stat: Stat::of(&meta), path, store, interval, stats: Arc::default() })
    }

    pub fn stats(&self) -> Arc<WatchStats> {
        self.stats.clone()
    }

    /// Polls until `stop` signals a drain.
    pub async fn run(mut self, stop: DrainWatcher) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // The first tick is immediate; the file was just loaded.
        let mut read_failing = false;
        loop {
            tokio::select! {
                _ = stop.signaled() => return,
                _ = ticker.tick() => {}
            }
            self.stats.polls.fetch_add(1, Ordering::Relaxed);
            let read = async {
                // Idle polls end here, at one stat: no read, no hash, one blocking-pool hop.
                let meta = metadata(&self.path).await?;
                let stat = Stat::of(&meta);
                if stat == self.stat && !recently_modified(&meta) {
                    return Ok::<_, LocalConfigError>(None);
                }
                self.stats.reads.fetch_add(1, Ordering::Relaxed);
                // A change between the stat and the read is seen at the next poll: the stat
                // recorded here is then older than the file's.
                let text = read_text(&self.path).await?;
                Ok(Some((text, stat)))
            };
            let (text, stat) = match read.await {
                Ok(None) => {
                    read_failing = false;
                    continue;
                }
                Ok(Some(v)) => {
                    read_failing = false;
                    v
                }
                Err(e) => {
                    // During a symlink swap the file can briefly vanish; report once per outage.
                    if !read_failing {
                        tracing::warn!("local config unreadable, keeping last good state: {e}");
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        read_failing = true;
                    }
                    continue;
                }
            };
            let hash = content_hash(&text);
            let previous = std::mem::replace(&mut self.stat, stat);
            if hash == self.hash {
                // Re-reads of a recent file find the same metadata: one log line per touch.
                if stat != previous {
                    tracing::debug!(path = %self.path.display(), "local config touched, content unchanged");
                }
                continue;
            }
            // Remember this version even if it is bad, so one bad edit logs one error.
            self.hash = hash;
            match parse_off_thread(text, self.path.display().to_string()).await {
                Ok(state) => {
                    tracing::info!(
                        path = %self.path.display(),
                        "reloaded local config ({} workloads, {} services, {} policies)",
                        state.workload_count(),
                        state.service_count(),
                        state.policy_count()
                    );
                    self.store.replace(state);
                    self.stats.reloads.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!("invalid local config, keeping last good state: {e}");
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Loads `path` into `store`, then keeps it in sync until `stop` fires. Convenience over
/// [`LocalFileWatcher`] when the counters are not needed.
pub async fn watch(
    path: PathBuf,
    store: StateStore,
    interval: Duration,
    stop: DrainWatcher,
) -> Result<(), LocalConfigError> {
    LocalFileWatcher::start(path, store, interval).await?.run(stop).await;
    Ok(())
}

/// [`load_str`] on the blocking pool. A large file takes a visible while to parse (20,000
/// workloads: a few hundred milliseconds in a debug build), and in the thread-per-core layout
/// the control plane's one thread also answers the admin and metrics ports, which must not
/// stall meanwhile.
async fn parse_off_thread(text: String, source: String) -> Result<ProxyState, LocalConfigError> {
    match tokio::task::spawn_blocking(move || load_str(&text, &source)).await {
        Ok(v) => v,
        // Not cancellable once running (a shutdown drops this future instead), so the
        // error is the parser's panic, which stays one.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn read_error(path: &std::path::Path, error: std::io::Error) -> LocalConfigError {
    LocalConfigError::Read { path: path.to_path_buf(), error }
}

/// Metadata of the path, following symlinks, so a swapped target is seen as a new file.
async fn metadata(path: &std::path::Path) -> Result<std::fs::Metadata, LocalConfigError> {
    tokio::fs::metadata(path).await.map_err(|e| read_error(path, e))
}

async fn read_text(path: &std::path::Path) -> Result<String, LocalConfigError> {
    tokio::fs::read_to_string(path).await.map_err(|e| read_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Replaces the file atomically (write + rename), as config management does; an
    /// in-place rewrite would let the 10 ms poller see a truncated file and count extra errors.
    fn write(path: &std::path::Path, body: &str) {
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(body.as_bytes()).unwrap();
        drop(f);
        std::fs::rename(&tmp, path).unwrap();
    }

    const GOOD: &str = "workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n";
    const BAD: &str = "workloads:\n- name: a\n  namespace: ns\n  protocol: HBONEX\n  workloadIps: [10.0.0.1]\n";
    const GOOD2: &str = "workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n- name: b\n  namespace: ns\n  workloadIps: [10.0.0.2]\n";

    async fn wait_for(mut cond: impl FnMut() -> bool) {
        for _ in 0..1000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn good_bad_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg.yaml");
        write(&path, GOOD);
        let store = StateStore::default();
        let w = LocalFileWatcher::start(path.clone(), store.clone(), Duration::from_millis(10)).await.unwrap();
        let stats = w.stats();
        assert_eq!(store.snapshot().workload_count(), 1);
        let (trigger, watcher) = crate::drain::new();
        let task = tokio::spawn(w.run(watcher));

        write(&path, BAD);
        wait_for(|| stats.error_count() == 1).await;
        assert_eq!(store.snapshot().workload_count(), 1, "last good state kept");
        assert_eq!(stats.reload_count(), 0);

        write(&path, GOOD2);
        wait_for(|| stats.reload_count() == 1).await;
        assert_eq!(store.snapshot().workload_count(), 2);
        assert_eq!(stats.error_count(), 1, "a bad version is reported once");

        // A vanished file is an error, but the state stays.
        std::fs::remove_file(&path).unwrap();
        wait_for(|| stats.error_count() == 2).await;
        assert_eq!(store.snapshot().workload_count(), 2);

        assert_eq!(trigger.drain(Duration::from_secs(5)).await, crate::drain::DrainOutcome::Complete);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn an_old_unchanged_file_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg.yaml");
        write(&path, GOOD);
        let long_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(long_ago).unwrap();
        let store = StateStore::default();
        let w = LocalFileWatcher::start(path.clone(), store.clone(), Duration::from_millis(10)).await.unwrap();
        let stats = w.stats();
        let (trigger, watcher) = crate::drain::new();
        let task = tokio::spawn(w.run(watcher));

        wait_for(|| stats.poll_count() >= 10).await;
        assert_eq!(stats.read_count(), 0, "an old file whose metadata did not move is not read");

        // Rewritten in place with the same length, and its modify time set back: the change
        // time still moves, so the new content is read.
        let same_len = GOOD.replace("name: a", "name: z");
        assert_eq!(same_len.len(), GOOD.len());
        std::fs::write(&path, &same_len).unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(long_ago).unwrap();
        wait_for(|| stats.reload_count() == 1).await;
        assert!(store.snapshot().workload_count() == 1 && stats.read_count() >= 1);

        // A version modified just now is read on every poll, whatever its metadata says.
        write(&path, GOOD2);
        wait_for(|| stats.reload_count() == 2).await;
        let reads = stats.read_count();
        wait_for(|| stats.read_count() >= reads + 3).await;
        assert_eq!(stats.reload_count(), 2, "re-reading the same content does not reload");

        assert_eq!(trigger.drain(Duration::from_secs(5)).await, crate::drain::DrainOutcome::Complete);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn start_fails_on_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg.yaml");
        write(&path, BAD);
        let e = LocalFileWatcher::start(path.clone(), StateStore::default(), Duration::from_secs(1))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cfg.yaml: line 4 column 13: workloads[0].protocol"), "{e}");
    }
}
