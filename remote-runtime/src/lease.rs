//! Leases, in the manner of Java RMI's distributed GC: each side tells its
//! peer how long it may stay silent; the peer renews well before that (a
//! third of the lease) with one small frame per connection, only when it has
//! sent nothing else meanwhile. An owner that hears nothing for a whole lease
//! releases everything that peer held.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
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
    /// Frames received and sent: counted on the hot path (no clock read),
    /// turned into times by the maintenance thread when it looks.
    heard: AtomicU64,
    sent: AtomicU64,
    /// Frames being handled right now: while we serve the peer's call, its
    /// silence is ours, not its.
    busy: AtomicUsize,
    seen: Mutex<Seen>,
}

/// What the maintenance thread saw last: the counters, and when they last
/// changed.
struct Seen {
    heard: u64,
    heard_at: u64,
    sent: u64,
    sent_at: u64,
}

impl Lease {
    pub(crate) fn new(own: Duration, renew_cap: Duration) -> Lease {
        let now = now_ms();
        Lease {
            own_ms: own.as_millis() as u64,
            renew_cap_ms: renew_cap.as_millis() as u64,
            peer_ms: AtomicU64::new(0),
            heard: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            seen: Mutex::new(Seen {
                heard: 0,
                heard_at: now,
                sent: 0,
                sent_at: now,
            }),
        }
    }

    pub(crate) fn own_ms(&self) -> u64 {
        self.own_ms
    }

    pub(crate) fn set_peer_lease(&self, ms: u64) {
        self.peer_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn heard(&self) {
        self.heard.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
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

    fn observe(&self, now: u64) -> std::sync::MutexGuard<'_, Seen> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let heard = self.heard.load(Ordering::Relaxed);
        if heard != seen.heard {
            seen.heard = heard;
            seen.heard_at = now;
        }
        let sent = self.sent.load(Ordering::Relaxed);
        if sent != seen.sent {
            seen.sent = sent;
            seen.sent_at = now;
        }
        seen
    }

    pub(crate) fn renew_due(&self, now: u64) -> bool {
        now.saturating_sub(self.observe(now).sent_at) >= self.renew_interval_ms()
    }

    /// True when the peer has been silent for a whole lease while we were not
    /// busy serving it.
    pub(crate) fn lapsed(&self, now: u64) -> bool {
        let heard_at = self.observe(now).heard_at;
        self.busy.load(Ordering::Acquire) == 0 && now.saturating_sub(heard_at) > self.own_ms
    }

    /// How long until the peer's lease lapses if it stays silent (as of the
    /// maintenance thread's last look).
    pub(crate) fn remaining(&self, now: u64) -> Duration {
        let silent = now.saturating_sub(self.observe(now).heard_at);
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
        assert!(!l.lapsed(later + 1_000));
        l.leave();
        // Leaving counts as hearing from the peer, seen at the next look.
        assert!(!l.lapsed(later + 1_050));
        assert!(l.lapsed(later + 1_200));
    }

    #[test]
    fn renewal_is_due_only_after_a_quiet_interval() {
        let l = Lease::new(Duration::from_secs(30), Duration::from_millis(100));
        let t = now_ms();
        l.sent();
        assert!(!l.renew_due(t + 10));
        assert!(!l.renew_due(t + 100));
        assert!(l.renew_due(t + 111));
    }
}
