//! What a connection's task shares with the code it runs.
//!
//! While the task hands a frame to its session, its state (`S`: the
//! socket halves and buffers, or an in-process receiver) waits in the
//! relay's slot. Code run for that frame (a method served on the task, an
//! object's `Drop`) that is about to block on a remote call hands the
//! connection to a new task, which takes the state and reads on: the reply
//! it waits for can only come through a reading task. The old task sees an
//! empty slot after the frame and ends.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::{Handle, RuntimeFlavor};

use super::blocking::{self, HandOff};
use super::{ConnTask, Keep};
use crate::wire::Frame;

/// One connection's relay; `C` is what its task needs besides `S`.
pub(crate) struct Relay<S, C> {
    slot: Mutex<Option<S>>,
    pub(crate) keep: Keep,
    pub(crate) ctx: C,
    /// The runtime can move a blocked worker's tasks away
    /// (`block_in_place`), so calls may run on the task.
    inline: bool,
    rt: Handle,
    /// Starts a task that carries on with the state.
    resume: fn(Arc<Relay<S, C>>, S) -> ConnTask,
}

impl<S: Send + 'static, C: Send + Sync + 'static> Relay<S, C> {
    pub(crate) fn new(
        keep: Keep,
        ctx: C,
        rt: Handle,
        resume: fn(Arc<Relay<S, C>>, S) -> ConnTask,
    ) -> Arc<Self> {
        Arc::new(Relay {
            slot: Mutex::new(None),
            keep,
            ctx,
            inline: rt.runtime_flavor() == RuntimeFlavor::MultiThread,
            rt,
            resume,
        })
    }

    fn slot(&self) -> MutexGuard<'_, Option<S>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `frame` to the session with the state parked; returns the
    /// state, or `None` when a new task took the connection over meanwhile
    /// (the caller's task then ends).
    pub(crate) fn deliver(self: &Arc<Self>, state: S, frame: Frame) -> Option<S> {
        let Some(session) = self.keep.get() else {
            return Some(state);
        };
        *self.slot() = Some(state);
        let handoff: Arc<dyn HandOff> = self.clone();
        blocking::on_driver(handoff, || session.handle_frame(frame));
        self.slot().take()
    }
}

impl<S: Send + 'static, C: Send + Sync + 'static> HandOff for Relay<S, C> {
    fn hand_off(self: Arc<Self>) {
        let state = self.slot().take();
        if let Some(state) = state {
            let task = (self.resume)(self.clone(), state);
            drop(self.rt.spawn(task));
        }
    }

    fn may_inline(&self) -> bool {
        self.inline
    }
}
