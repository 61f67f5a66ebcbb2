//! Deadlines: one thread that fails waits whose deadline passed with
//! `RemoteError::Timeout`. A wait that already ended is not affected.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{OnceLock, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, RecvTimeoutError, Sender};

use crate::session::Session;
use crate::RemoteError;

struct Deadline {
    at: Instant,
    seq: u64,
    session: Weak<Session>,
    id: u64,
    after: Duration,
}

impl PartialEq for Deadline {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Deadline {}
impl PartialOrd for Deadline {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Deadline {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

fn timer() -> &'static Sender<Deadline> {
    static TIMER: OnceLock<Sender<Deadline>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let (tx, rx) = unbounded::<Deadline>();
        let spawned = std::thread::Builder::new()
            .name("remote-timer".into())
            .spawn(move || {
                let mut heap: BinaryHeap<Reverse<Deadline>> = BinaryHeap::new();
                loop {
                    let got = match heap.peek() {
                        Some(Reverse(next)) => {
                            rx.recv_timeout(next.at.saturating_duration_since(Instant::now()))
                        }
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    };
                    match got {
                        Ok(deadline) => heap.push(Reverse(deadline)),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let now = Instant::now();
                    while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
                        let Some(Reverse(d)) = heap.pop() else { break };
                        if let Some(session) = d.session.upgrade() {
                            let millis = d.after.as_millis() as u64;
                            session.fail_pending(d.id, RemoteError::Timeout { millis });
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the timer thread");
        }
        tx
    })
}

/// Fails the wait for call `id` of `session` with `Timeout` after `after`,
/// unless it ended before.
pub(crate) fn fail_after(session: Weak<Session>, id: u64, after: Duration) {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let _ = timer().send(Deadline {
        at: Instant::now() + after,
        seq: SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        session,
        id,
        after,
    });
}
