//! Leases, in the manner of Java RMI's distributed GC: each side tells its
//! peer how long it may stay silent; the peer renews well before that (a
//! third of the lease) with one small frame per connection, only when it has
//! sent nothing else meanwhile. An owner that hears nothing for a whole lease
//! releases everything that peer held.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Milliseconds since this process first asked.
pub(crate) fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}

pub(crate) struct Lease {
    own_ms: u64,
    renew_cap_ms: u64,
    peer_ms: AtomicU64,
    last_heard: AtomicU64,
    last_sent: AtomicU64,
    /// Frames being handled right now: while we serve the peer's call, its
    /// silence is ours, not its.
    busy: AtomicUsize,
}

impl Lease {
    pub(crate) fn new(own: Duration, renew_cap: Duration) -> Lease {
        let now = now_ms();
        Lease {
            own_ms: own.as_millis() as u64,
            renew_cap_ms: renew_cap.as_millis() as u64,
            peer_ms: AtomicU64::new(0),
            last_heard: AtomicU64::new(now),
            last_sent: AtomicU64::new(now),
            busy: AtomicUsize::new(0),
        }
    }

    pub(crate) fn own_ms(&self) -> u64 {
        self.own_ms
    }

    pub(crate) fn set_peer_lease(&self, ms: u64) {
        self.peer_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn heard(&self) {
        self.last_heard.store(now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.last_sent.store(now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn enter(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn leave(&self) {
        self.heard();
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// How often we must send something: a third of the peer's lease, and no
    /// less often than our own cap.
    pub(crate) fn renew_interval_ms(&self) -> u64 {
        match self.peer_ms.load(Ordering::Relaxed) {
            0 => self.renew_cap_ms,
            peer => (peer / 3).clamp(1, self.renew_cap_ms.max(1)),
        }
    }

    pub(crate) fn renew_due(&self, now: u64) -> bool {
        now.saturating_sub(self.last_sent.load(Ordering::Relaxed)) >= self.renew_interval_ms()
    }

    /// True when the peer has been silent for a whole lease while we were not
    /// busy serving it.
    pub(crate) fn lapsed(&self, now: u64) -> bool {
        self.busy.load(Ordering::Acquire) == 0
            && now.saturating_sub(self.last_heard.load(Ordering::Relaxed)) > self.own_ms
    }

    /// How long until the peer's lease lapses if it stays silent.
    pub(crate) fn remaining(&self, now: u64) -> Duration {
        let silent = now.saturating_sub(self.last_heard.load(Ordering::Relaxed));
        Duration::from_millis(self.own_ms.saturating_sub(silent))
    }

    /// How often the maintenance thread should look at this connection.
    pub(crate) fn tick_ms(&self) -> u64 {
        (self.own_ms / 8).min(self.renew_interval_ms() / 2).max(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_follows_the_peer_lease_but_never_exceeds_our_cap() {
        let l = Lease::new(Duration::from_secs(30), Duration::from_secs(10));
        assert_eq!(l.renew_interval_ms(), 10_000);
        l.set_peer_lease(3_000);
        assert_eq!(l.renew_interval_ms(), 1_000);
        l.set_peer_lease(600_000);
        assert_eq!(l.renew_interval_ms(), 10_000);
    }

    #[test]
    fn a_busy_connection_never_lapses() {
        let l = Lease::new(Duration::from_millis(100), Duration::from_secs(1));
        let later = now_ms() + 1_000;
        assert!(l.lapsed(later));
        l.enter();
        assert!(!l.lapsed(later));
        l.leave();
        assert!(!l.lapsed(now_ms()));
    }
}
