//! Leases, in the manner of Java RMI's distributed GC, as a clock with no
//! clock: every method takes the time, in milliseconds from any fixed origin.
//!
//! Each side tells its peer in its `Hello` how long it may stay silent (its
//! *own* lease). The peer renews a third of that lease after it last sent
//! anything, with one small `Renew` frame. An owner that hears nothing from
//! its peer for a whole lease, while it is not serving one of the peer's
//! calls, releases everything the peer held.
//!
//! What the peer announces is held to a floor, so a peer cannot make us
//! renew every millisecond; the renewal interval is recomputed from the
//! announced lease the moment the `Hello` arrives.

/// The lease state of one connection.
#[derive(Debug, Clone)]
pub(crate) struct LeaseClock {
    own_ms: u64,
    renew_cap_ms: u64,
    min_peer_ms: u64,
    peer_ms: Option<u64>,
    heard_at: u64,
    sent_at: u64,
    /// Calls of the peer's being served: while we owe it a reply, its
    /// silence is ours, not its.
    busy: usize,
}

impl LeaseClock {
    pub(crate) fn new(own_ms: u64, renew_cap_ms: u64, min_peer_ms: u64, now: u64) -> Self {
        LeaseClock {
            own_ms: own_ms.max(1),
            renew_cap_ms: renew_cap_ms.max(1),
            min_peer_ms: min_peer_ms.max(1),
            peer_ms: None,
            heard_at: now,
            sent_at: now,
            busy: 0,
        }
    }

    /// Our own lease: how long the peer may stay silent.
    pub(crate) fn own_ms(&self) -> u64 {
        self.own_ms
    }

    /// The peer announced its lease; returns what we hold it to.
    pub(crate) fn set_peer(&mut self, announced_ms: u64) -> u64 {
        let held = announced_ms.max(self.min_peer_ms);
        self.peer_ms = Some(held);
        held
    }

    pub(crate) fn heard(&mut self, now: u64) {
        self.heard_at = self.heard_at.max(now);
    }

    pub(crate) fn sent(&mut self, now: u64) {
        self.sent_at = self.sent_at.max(now);
    }

    pub(crate) fn begin_busy(&mut self) {
        self.busy += 1;
    }

    /// A call of the peer's finished: the peer's silence counts again from
    /// now.
    pub(crate) fn end_busy(&mut self, now: u64) {
        self.busy = self.busy.saturating_sub(1);
        self.heard(now);
    }

    /// How often we must send something: a third of the peer's lease, and
    /// no less often than our own cap.
    pub(crate) fn renew_interval_ms(&self) -> u64 {
        match self.peer_ms {
            None => self.renew_cap_ms,
            Some(peer) => (peer / 3).clamp(1, self.renew_cap_ms),
        }
    }

    /// When a renewal falls due if we send nothing else.
    pub(crate) fn renew_at(&self) -> u64 {
        self.sent_at.saturating_add(self.renew_interval_ms())
    }

    /// When the peer's lease lapses if it stays silent (never while busy).
    pub(crate) fn expires_at(&self) -> Option<u64> {
        (self.busy == 0).then(|| self.heard_at.saturating_add(self.own_ms))
    }

    pub(crate) fn renew_due(&self, now: u64) -> bool {
        now >= self.renew_at()
    }

    /// True when the peer has been silent for more than a whole lease while
    /// we owed it nothing.
    pub(crate) fn lapsed(&self, now: u64) -> bool {
        self.expires_at().is_some_and(|at| now > at)
    }

    /// How long until the lease lapses if the peer stays silent.
    pub(crate) fn remaining_ms(&self, now: u64) -> u64 {
        self.heard_at
            .saturating_add(self.own_ms)
            .saturating_sub(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_follows_the_peer_lease_from_the_moment_it_is_known() {
        let mut l = LeaseClock::new(30_000, 10_000, 100, 0);
        assert_eq!(l.renew_interval_ms(), 10_000);
        assert_eq!(l.renew_at(), 10_000);
        l.set_peer(3_000);
        assert_eq!(l.renew_at(), 1_000, "rescheduled when the Hello arrives");
        l.set_peer(600_000);
        assert_eq!(l.renew_interval_ms(), 10_000, "never slower than our cap");
    }

    #[test]
    fn a_tiny_announced_lease_is_held_to_the_floor() {
        let mut l = LeaseClock::new(30_000, 10_000, 300, 0);
        assert_eq!(l.set_peer(1), 300);
        assert_eq!(l.renew_interval_ms(), 100);
    }

    #[test]
    fn a_peer_we_are_serving_never_lapses() {
        let mut l = LeaseClock::new(100, 1_000, 100, 0);
        assert!(l.lapsed(101));
        l.begin_busy();
        assert!(!l.lapsed(10_000));
        assert_eq!(l.expires_at(), None);
        l.end_busy(10_000);
        assert!(!l.lapsed(10_100));
        assert!(l.lapsed(10_101));
    }

    #[test]
    fn renewal_is_due_only_after_a_quiet_interval() {
        let mut l = LeaseClock::new(30_000, 100, 100, 0);
        l.sent(50);
        assert!(!l.renew_due(149));
        assert!(l.renew_due(150));
    }
}
