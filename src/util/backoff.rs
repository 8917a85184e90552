//! Exponential backoff with jitter, for every retry loop that talks to something shared: the
//! xDS stream and the CA (istiod), the CNI's ZDS socket.
//!
//! Without jitter, every ztunnel of a cluster retries istiod at the same instants after an
//! istiod restart (they all lost the stream at once), and the herd repeats at each doubling.
//! Each delay is drawn uniformly from [nominal / 2, nominal], so the spread grows with the
//! delay while the cap is never exceeded and the mean stays within 25 % of the nominal.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    jitter: bool,
}

impl Backoff {
    /// Starts at `initial`, doubles per delay, caps at `max`; jittered.
    pub const fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max, next: initial, jitter: true }
    }

    /// The same schedule without jitter (exact, for tests that step paused time).
    pub const fn without_jitter(mut self) -> Backoff {
        self.jitter = false;
        self
    }

    /// The un-jittered delay the next call is drawn from.
    pub fn nominal(&self) -> Duration {
        self.next
    }

    /// The delay to wait now; the nominal delay after it doubles (capped).
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(self.max);
        if !self.jitter || nominal.is_zero() {
            return nominal;
        }
        rand::rng().random_range(nominal / 2..=nominal)
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        // The schedules in use (xDS, CA, ZDS) are checked where they are defined.
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5)).without_jitter();
        let seq: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seq, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.nominal(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_between_half_and_the_nominal_and_spreads() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let nominal = b.nominal();
            let d = b.next_delay();
            assert!(d >= nominal / 2 && d <= nominal, "{d:?} outside [{:?}, {nominal:?}]", nominal / 2);
            seen.insert(d);
            if nominal == Duration::from_secs(8) {
                b.reset();
            }
        }
        assert!(seen.len() > 100, "delays are spread, not one value: {} distinct", seen.len());
    }
}
