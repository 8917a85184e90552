//! Graceful drain: one trigger, many watchers.
//!
//! Every listener and every proxied connection holds a [`DrainWatcher`]. When the trigger fires,
//! watchers see [`DrainWatcher::signaled`] complete, stop accepting or send GOAWAY, and drop
//! themselves once their work is done. [`DrainTrigger::drain`] waits until every watcher is
//! gone or the deadline passes, whichever is first.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// Creates a linked trigger/watcher pair.
pub fn new() -> (DrainTrigger, DrainWatcher) {
    let (signal_tx, signal_rx) = watch::channel(false);
    let (done_tx, done_rx) = mpsc::channel(1);
    (DrainTrigger { signal_tx, done_rx }, DrainWatcher { signal_rx, _done: Some(done_tx) })
}

/// The side that starts a drain and waits for it to complete.
pub struct DrainTrigger {
    signal_tx: watch::Sender<bool>,
    done_rx: mpsc::Receiver<()>,
}

/// Result of a drain: whether every watcher finished before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    Complete,
    DeadlineExceeded,
}

impl DrainTrigger {
    /// Signals every watcher, then waits (up to `deadline`) for all of them to be dropped.
    pub async fn drain(mut self, deadline: Duration) -> DrainOutcome {
        let _ = self.signal_tx.send(true);
        // `recv` returns None once every sender (held inside watchers) is dropped.
        match tokio::time::timeout(deadline, self.done_rx.recv()).await {
            Ok(_) => DrainOutcome::Complete,
            Err(_) => DrainOutcome::DeadlineExceeded,
        }
    }

    /// Signals watchers without waiting; the trigger stays usable for `drain`.
    pub fn signal(&self) {
        let _ = self.signal_tx.send(true);
    }
}

/// Held by anything that must finish before shutdown completes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DrainWatcher {
    signal_rx: watch::Receiver<bool>,
    // Never used to send; its drop is what tells the trigger this watcher is done.
    // `None` for detached watchers, which observe the signal without delaying the drain.
    _done: Option<mpsc::Sender<()>>,
}

impl DrainWatcher {
    /// Completes once a drain has started (immediately if it already has).
    pub async fn signaled(&self) {
        let mut rx = self.signal_rx.clone();
        // An error means the trigger is gone, which we treat as a drain too.
        let _ = rx.wait_for(|draining| *draining).await;
    }

    /// A watcher that sees the signal but does not hold up completion: for long-lived
    /// background machinery (pooled idle connections) that should simply stop when asked.
    pub fn detached(&self) -> DrainWatcher {
        DrainWatcher { signal_rx: self.signal_rx.clone(), _done: None }
    }

    /// True once a drain has started.
    pub fn is_draining(&self) -> bool {
        *self.signal_rx.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_watchers() {
        let (trigger, watcher) = new();
        let w2 = watcher.clone();
        let task = tokio::spawn(async move {
            w2.signaled().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(w2);
        });
        drop(watcher);
        let started = tokio::time::Instant::now();
        assert_eq!(trigger.drain(Duration::from_secs(5)).await, DrainOutcome::Complete);
        assert_eq!(started.elapsed(), Duration::from_millis(20), "completed when the last watcher went");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn detached_watchers_do_not_delay() {
        let (trigger, watcher) = new();
        let detached = watcher.detached();
        drop(watcher);
        assert_eq!(trigger.drain(Duration::from_secs(5)).await, DrainOutcome::Complete);
        assert!(detached.is_draining());
    }

    #[tokio::test]
    async fn drain_deadline() {
        let (trigger, watcher) = new();
        let out = trigger.drain(Duration::from_millis(20)).await;
        assert_eq!(out, DrainOutcome::DeadlineExceeded);
        assert!(watcher.is_draining());
    }
}
