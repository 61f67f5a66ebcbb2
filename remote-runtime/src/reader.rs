//! The reader: the thread that takes frames off a connection and handles
//! them.
//!
//! Calls from the peer are served right on the reader, which is the fastest
//! path for the common short method. The reader role moves to a fresh thread
//! (the old one finishes its call and exits) in two cases:
//! - code running there is about to block on a remote call (a method that
//!   calls back into its caller, or into anyone else), so the reply it waits
//!   for can still be read: nested synchronous calls never deadlock;
//! - a call has run for more than a few milliseconds (the watchdog sees it),
//!   so one slow method never holds up the other calls, releases and pings
//!   of its connection.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::session::{Keep, Session};
use crate::transport::Link;

thread_local! {
    /// Set while this thread is a reader handling a frame: which session, and
    /// which reader generation it is.
    static READER: RefCell<Option<(Weak<Session>, u64)>> = const { RefCell::new(None) };
}

pub(crate) fn spawn(link: Arc<dyn Link>, keep: Keep, generation: u64, session: Weak<Session>) {
    let spawned = std::thread::Builder::new()
        .name("remote-reader".into())
        .spawn(move || run(link, keep, generation, session));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start a reader thread");
    }
}

fn run(link: Arc<dyn Link>, keep: Keep, generation: u64, weak: Weak<Session>) {
    loop {
        match keep.get() {
            Some(s) if !s.is_closed() && s.reader_gen.load(Ordering::Acquire) == generation => {}
            _ => return,
        }
        let received = link.recv();
        let Some(session) = keep.get() else { return };
        match received {
            Ok(frame) => {
                READER.with(|r| *r.borrow_mut() = Some((weak.clone(), generation)));
                session.handle_frame(frame);
                READER.with(|r| *r.borrow_mut() = None);
                link.handled();
                if session.reader_gen.load(Ordering::Acquire) != generation {
                    // This thread handed the reader role on while it served
                    // (a nested call or a slow one) and is done now.
                    session.retired.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
            }
            Err(e) => {
                session.close(&e);
                return;
            }
        }
    }
}

/// Runs user code (a method served inline) on the reader, letting the
/// watchdog hand the reader role on if it runs long. Only here: everything
/// else a reader does with a frame happens in the order frames arrived.
pub(crate) fn serving<R>(session: &Session, user_code: impl FnOnce() -> R) -> R {
    let generation = READER.with(|r| r.borrow().as_ref().map(|(_, g)| *g));
    let Some(generation) = generation else {
        return user_code();
    };
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    session.busy_gen.store(generation, Ordering::Release);
    session
        .busy_call
        .store(CALLS.fetch_add(1, Ordering::Relaxed), Ordering::Release);
    let result = user_code();
    if session.reader_gen.load(Ordering::Acquire) == generation {
        session.busy_call.store(0, Ordering::Release);
    }
    result
}

/// Called before any blocking wait: if this thread is a reader, a new reader
/// takes over, so frames keep flowing while this thread waits. Refused with
/// `LimitExceeded` when its connection already has
/// `Options::max_busy_threads` former readers busy in calls: the wait would
/// need one more thread, so the call fails instead (it never hangs).
pub(crate) fn before_blocking() -> Result<(), crate::RemoteError> {
    let Some((weak, generation)) = READER.with(|r| r.borrow().clone()) else {
        return Ok(());
    };
    let Some(session) = weak.upgrade() else {
        return Ok(());
    };
    let limit = session.options.max_busy_threads;
    if session.retired.load(Ordering::Acquire) >= limit {
        tracing::warn!(peer = %session.peer, limit, "nested blocking call refused: too many threads busy on this connection");
        return Err(crate::RemoteError::LimitExceeded {
            what: "threads busy in nested or slow calls on this connection".into(),
            limit: limit as u64,
        });
    }
    READER.with(|r| r.borrow_mut().take());
    hand_off(&session, generation, "a nested blocking call");
    Ok(())
}

/// How often the watchdog looks while a call runs: a call seen at two looks
/// in a row has held the reader for at least this long and loses it.
const SLOW_CALL_MS: u64 = 5;

fn watchdog() -> &'static crossbeam_channel::Sender<Weak<Session>> {
    static WATCHDOG: std::sync::OnceLock<crossbeam_channel::Sender<Weak<Session>>> =
        std::sync::OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::unbounded::<Weak<Session>>();
        let spawned = std::thread::Builder::new()
            .name("remote-watchdog".into())
            .spawn(move || {
                // Each connection with the call it was serving at the last
                // look: the same call seen twice has run for a whole tick.
                let mut watched: Vec<(Weak<Session>, u64)> = Vec::new();
                let mut any_busy = false;
                loop {
                    // Idle connections cost a wake-up every 20 ms; while a
                    // call runs, every 5 ms.
                    let tick =
                        std::time::Duration::from_millis(if any_busy { SLOW_CALL_MS } else { 20 });
                    let got = if watched.is_empty() {
                        rx.recv()
                            .map_err(|_| crossbeam_channel::RecvTimeoutError::Disconnected)
                    } else {
                        rx.recv_timeout(tick)
                    };
                    match got {
                        Ok(weak) => watched.push((weak, 0)),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    }
                    while let Ok(weak) = rx.try_recv() {
                        watched.push((weak, 0));
                    }
                    any_busy = false;
                    watched.retain_mut(|(weak, last_seen)| {
                        let Some(session) = weak.upgrade() else {
                            return false;
                        };
                        if session.is_closed() {
                            return false;
                        }
                        let call = session.busy_call.load(Ordering::Acquire);
                        if call != 0 {
                            any_busy = true;
                            // Past the bound, slow calls keep the reader:
                            // the connection's next calls wait their turn.
                            let room = session.retired.load(Ordering::Acquire)
                                < session.options.max_busy_threads;
                            if call == *last_seen && room {
                                let generation = session.busy_gen.load(Ordering::Acquire);
                                hand_off(&session, generation, "slow call");
                            }
                        }
                        *last_seen = call;
                        true
                    });
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the watchdog thread");
        }
        tx
    })
}

/// Starts watching a new connection's reader.
pub(crate) fn watch(session: Weak<Session>) {
    let _ = watchdog().send(session);
}

/// Moves the reader role from generation `from` to a fresh thread, unless
/// that already happened.
fn hand_off(session: &Session, from: u64, why: &'static str) {
    if session
        .reader_gen
        .compare_exchange(from, from + 1, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        session.retired.fetch_add(1, Ordering::AcqRel);
        session.busy_call.store(0, Ordering::Release);
        tracing::trace!(peer = %session.peer, why, "reader handed off");
        session.spawn_reader(from + 1);
    }
}
