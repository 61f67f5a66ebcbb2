//! Which thread may block, and on what.
//!
//! - A connection's task (the driver) never blocks: a blocking remote call
//!   made there (from an object's `Drop` run as its release is handled)
//!   would wait for a frame only that task can read, so it is refused.
//! - A thread of the blocking pool serving a connection's call may block
//!   in a nested remote call, up to `Options::max_busy_threads` such
//!   threads per connection; past that the call fails with
//!   `LimitExceeded` instead of taking one more thread (nesting never
//!   hangs, and never grows threads without bound).
//! - A runtime worker (an `async fn` that calls a blocking proxy) gives
//!   its other tasks to another thread first (`block_in_place`).

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::session::Session;
use crate::RemoteError;

thread_local! {
    /// Set while a connection's task hands a frame to its session.
    static ON_DRIVER: Cell<bool> = const { Cell::new(false) };
    /// The connection whose call this pool thread is serving.
    static SERVING: RefCell<Option<Weak<Session>>> = const { RefCell::new(None) };
}

/// Runs `f` as the driver: blocking waits are refused inside.
pub(crate) fn on_driver<R>(f: impl FnOnce() -> R) -> R {
    let was = ON_DRIVER.with(|d| d.replace(true));
    let result = f();
    ON_DRIVER.with(|d| d.set(was));
    result
}

/// Runs `f` (user code serving `session`'s peer) on this pool thread.
pub(crate) fn serving<R>(session: &Arc<Session>, f: impl FnOnce() -> R) -> R {
    let was = SERVING.with(|s| s.replace(Some(Arc::downgrade(session))));
    let result = f();
    SERVING.with(|s| *s.borrow_mut() = was);
    result
}

/// This thread's leave to block in a wait for a reply; counted against
/// the connection it serves until dropped.
pub(crate) struct Leave(Option<Arc<Session>>);

impl Drop for Leave {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.blocked.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Asks to block this thread in a wait for a reply.
pub(crate) fn before_blocking() -> Result<Leave, RemoteError> {
    if ON_DRIVER.with(Cell::get) {
        tracing::warn!("blocking remote call refused on a connection's driver (an object's Drop run as it was released?)");
        return Err(RemoteError::LimitExceeded {
            what: "blocking remote calls where a connection's frames are handled (make it from another thread, or use the async proxy)".into(),
            limit: 0,
        });
    }
    let Some(session) = SERVING.with(|s| s.borrow().as_ref().and_then(Weak::upgrade)) else {
        return Ok(Leave(None));
    };
    let limit = session.options.max_busy_threads;
    let blocked = session.blocked.fetch_add(1, Ordering::AcqRel);
    if blocked >= limit {
        session.blocked.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!(peer = %session.peer, limit, "nested blocking call refused: too many threads of this connection wait on replies");
        return Err(RemoteError::LimitExceeded {
            what: "threads busy in nested or slow calls on this connection".into(),
            limit: limit as u64,
        });
    }
    Ok(Leave(Some(session)))
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
