//! Which thread may block, and on what, and which calls run on a
//! connection's task.
//!
//! - A connection's task hands each frame to its session with a
//!   [`HandOff`] at hand. Code run there (a method served inline, an
//!   object's `Drop` run as its release is handled) that is about to block
//!   on a remote call first hands the connection to a new task, since only
//!   a reading task can deliver the reply, and moves the worker's other
//!   tasks away (`block_in_place`). On a runtime that cannot do that (a
//!   current-thread one), such a call is refused instead.
//! - A thread serving a connection's call may block in a nested remote
//!   call, up to `Options::max_busy_threads` such threads per connection;
//!   past that the call fails with `LimitExceeded` instead of taking one
//!   more thread (nesting never hangs, and never grows threads without
//!   bound).
//! - A runtime worker (an `async fn` that calls a blocking proxy) moves its
//!   other tasks to another thread first (`block_in_place`).
//! - Plain methods run on the task itself when they have proven short
//!   ([`Pace`]): no hop to another thread for the common quick call. The
//!   others run on the blocking pool.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::RemoteError;

/// A connection's task, as the code it runs sees it.
pub(crate) trait HandOff: Send + Sync {
    /// Gives the connection to a new task; the current one ends after the
    /// frame it is handling.
    fn hand_off(self: Arc<Self>);
    /// Whether calls may run on this task (its runtime can move a blocked
    /// worker's tasks away).
    fn may_inline(&self) -> bool;
}

thread_local! {
    /// Set while a connection's task hands a frame to its session.
    static DRIVING: RefCell<Option<Arc<dyn HandOff>>> = const { RefCell::new(None) };
    /// The connection whose call this thread is serving.
    static SERVING: RefCell<Option<Arc<Busy>>> = const { RefCell::new(None) };
    /// Set when the call this thread serves waited on a reply.
    static WAITED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as a connection's task, which `handoff` stands for.
pub(crate) fn on_driver<R>(handoff: Arc<dyn HandOff>, f: impl FnOnce() -> R) -> R {
    let was = DRIVING.with(|d| d.replace(Some(handoff)));
    let result = f();
    DRIVING.with(|d| *d.borrow_mut() = was);
    result
}

/// Whether this thread is a connection's task that may run a call itself.
pub(crate) fn may_inline() -> bool {
    DRIVING.with(|d| d.borrow().as_ref().is_some_and(|h| h.may_inline()))
}

/// A connection's threads that wait on replies in calls they serve.
pub(crate) struct Busy {
    blocked: AtomicUsize,
    limit: usize,
    peer: String,
}

impl Busy {
    /// At most `limit` threads, for the connection to `peer`.
    pub(crate) fn new(limit: usize, peer: &str) -> Busy {
        Busy {
            blocked: AtomicUsize::new(0),
            limit,
            peer: peer.to_string(),
        }
    }
}

/// Runs `f` (user code serving the peer whose connection `busy` counts)
/// on this thread; returns how long it ran and whether it waited on a
/// reply.
pub(crate) fn serving<R>(busy: &Arc<Busy>, f: impl FnOnce() -> R) -> (R, Duration, bool) {
    let was = SERVING.with(|s| s.replace(Some(busy.clone())));
    let waited = WAITED.with(|w| w.replace(false));
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    SERVING.with(|s| *s.borrow_mut() = was);
    let this_waited = WAITED.with(|w| w.replace(waited));
    (result, took, this_waited)
}

/// This thread's leave to block in a wait for a reply; counted against
/// the connection it serves until dropped.
pub(crate) struct Leave(Option<Arc<Busy>>);

impl Drop for Leave {
    fn drop(&mut self) {
        if let Some(busy) = self.0.take() {
            busy.blocked.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Asks to block this thread in a wait for a reply.
pub(crate) fn before_blocking() -> Result<Leave, RemoteError> {
    let driving = DRIVING.with(|d| d.borrow().clone());
    if let Some(handoff) = driving {
        if !handoff.may_inline() {
            tracing::warn!("blocking remote call refused on a connection's task (an object's Drop run as it was released?) of a current-thread runtime");
            return Err(RemoteError::LimitExceeded {
                what: "blocking remote calls where a connection's frames are handled on a current-thread runtime (make it from another thread, or use the async proxy)".into(),
                limit: 0,
            });
        }
        // This thread stops being the task: a new one reads on.
        DRIVING.with(|d| d.borrow_mut().take());
        handoff.hand_off();
    }
    WAITED.with(|w| w.set(true));
    let Some(busy) = SERVING.with(|s| s.borrow().clone()) else {
        return Ok(Leave(None));
    };
    let limit = busy.limit;
    let blocked = busy.blocked.fetch_add(1, Ordering::AcqRel);
    if blocked >= limit {
        busy.blocked.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!(peer = %busy.peer, limit, "nested blocking call refused: too many threads of this connection wait on replies");
        return Err(RemoteError::LimitExceeded {
            what: "threads busy in nested or slow calls on this connection".into(),
            limit: limit as u64,
        });
    }
    Ok(Leave(Some(busy)))
}

/// Runs `wait`, which blocks this thread; on a runtime worker, the
/// worker's other tasks move to another thread first.
pub(crate) fn wait<R>(wait: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// How fast a method has proven, which decides where its calls run:
/// on the connection's task once its last few calls each ran under
/// [`Pace::QUICK`] without waiting on a remote call; on the blocking pool
/// otherwise, and for a while after a call on the task ran long.
pub(crate) struct Pace(AtomicU32);

impl Pace {
    /// A call this short costs less than the hop to another thread.
    const QUICK: Duration = Duration::from_micros(100);
    /// Quick calls in a row before the next runs on the task.
    const PROVEN: u32 = 3;
    /// States from here on: slow, counting calls since.
    const SLOW: u32 = 1 << 16;
    /// Calls on the pool before a slow method is tried again.
    const RETRY_AFTER: u32 = 4096;

    pub(crate) const fn new() -> Pace {
        Pace(AtomicU32::new(0))
    }

    /// Whether the next call runs on the task.
    pub(crate) fn inline(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::PROVEN
    }

    /// A call ran (`inline`: on the task) for `took`.
    pub(crate) fn ran(&self, inline: bool, took: Duration, waited: bool) {
        let quick = took < Self::QUICK && !waited;
        let state = self.0.load(Ordering::Relaxed);
        let next = match (quick, state) {
            // Slow, and counting calls on the pool until it is tried again.
            (false, s) if s >= Self::SLOW && !inline => s + 1,
            (false, _) => Self::SLOW,
            (true, s) if s == Self::PROVEN => s,
            (true, s) => s + 1,
        };
        let next = if next >= Self::SLOW + Self::RETRY_AFTER {
            0
        } else {
            next
        };
        self.0.store(next, Ordering::Relaxed);
    }
}
