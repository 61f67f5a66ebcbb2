//! The maintenance thread: sends batched releases, renews leases of quiet
//! connections and expires leases of silent peers.
//!
//! When a proxy's last clone drops, its release is queued on the session and
//! the session is handed here; drops that happen while a batch is being sent
//! join the next one. Every connection registers here when it starts, and is
//! looked at as often as its lease needs (a fraction of the lease).

use std::sync::{OnceLock, Weak};
use std::time::Duration;

use crossbeam_channel::{unbounded, RecvTimeoutError, Sender};

use crate::clock::now_ms;
use crate::session::Session;

/// How long the janitor waits after the first drop of a burst before sending
/// the batch.
const COALESCE: Duration = Duration::from_micros(300);

enum Job {
    Flush(Weak<Session>),
    Watch(Weak<Session>),
    /// Look at every connection now: a deadline moved earlier.
    Wake,
}

fn jobs() -> &'static Sender<Job> {
    static JANITOR: OnceLock<Sender<Job>> = OnceLock::new();
    JANITOR.get_or_init(|| {
        let (tx, rx) = unbounded::<Job>();
        let spawned = std::thread::Builder::new()
            .name("remote-janitor".into())
            .spawn(move || {
                let mut watched: Vec<Weak<Session>> = Vec::new();
                let mut next_round = u64::MAX;
                let mut last_tick = u64::MAX;
                loop {
                    let now = now_ms();
                    let job = if next_round == u64::MAX {
                        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    } else {
                        rx.recv_timeout(Duration::from_millis(next_round.saturating_sub(now)))
                    };
                    let mut flush: Vec<Weak<Session>> = Vec::new();
                    match job {
                        Ok(Job::Flush(weak)) => {
                            // Let a burst of drops gather into one frame.
                            std::thread::sleep(COALESCE);
                            flush.push(weak);
                        }
                        Ok(Job::Watch(weak)) => {
                            watched.push(weak);
                            next_round = now;
                        }
                        Ok(Job::Wake) => next_round = now,
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    while let Ok(job) = rx.try_recv() {
                        match job {
                            Job::Flush(weak) => flush.push(weak),
                            Job::Watch(weak) => {
                                watched.push(weak);
                                next_round = now;
                            }
                            Job::Wake => next_round = now,
                        }
                    }
                    flush.sort_by_key(|w| w.as_ptr() as usize);
                    flush.dedup_by(|a, b| a.ptr_eq(b));
                    for session in flush.iter().filter_map(Weak::upgrade) {
                        session.flush_releases();
                    }
                    let now = now_ms();
                    if now >= next_round {
                        // A round that starts late (this thread was starved)
                        // renews but expires nobody: our own peers' renewals
                        // were late for the same reason.
                        let on_time = now.saturating_sub(next_round) <= last_tick;
                        let mut soonest = u64::MAX;
                        watched.retain(|weak| match weak.upgrade() {
                            Some(session) => {
                                let again = session.maintain(on_time);
                                soonest = soonest.min(again);
                                again != u64::MAX
                            }
                            None => false,
                        });
                        last_tick = soonest.min(1_000);
                        next_round = now.saturating_add(soonest);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the maintenance thread");
        }
        tx
    })
}

/// Asks for `session`'s queued releases to be sent soon.
pub(crate) fn schedule(session: Weak<Session>) {
    if let Err(e) = jobs().send(Job::Flush(session)) {
        if let Job::Flush(weak) = e.0 {
            if let Some(session) = weak.upgrade() {
                session.flush_releases();
            }
        }
    }
}

/// Asks for a maintenance round now (a peer's lease became known).
pub(crate) fn wake() {
    let _ = jobs().send(Job::Wake);
}

/// Starts looking after a new connection's leases.
pub(crate) fn register(session: Weak<Session>) {
    let _ = jobs().send(Job::Watch(session));
}
