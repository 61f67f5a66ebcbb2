//! Reply slots: where a caller waits for the answer to one call, parked
//! (a blocking proxy) or with a registered waker (an async one). A leaf: it
//! knows nothing of connections, frames or protocol.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;

enum Waiter {
    Thread(Thread),
    Task(Waker),
}

enum Slot<T> {
    Waiting(Option<Waiter>),
    Done(T),
}

/// The reply slots of one connection, by call ID.
pub(crate) struct Replies<T> {
    slots: Mutex<HashMap<u64, Slot<T>>>,
}

impl<T> Default for Replies<T> {
    fn default() -> Self {
        Replies {
            slots: Mutex::default(),
        }
    }
}

fn wake(waiter: Option<Waiter>) {
    match waiter {
        Some(Waiter::Thread(t)) => t.unpark(),
        Some(Waiter::Task(w)) => w.wake(),
        None => {}
    }
}

/// What a wait found.
pub(crate) enum Found<T> {
    Ready(T),
    /// No slot: the call was never registered, or it was cancelled.
    Gone,
}

impl<T> Replies<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Slot<T>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the slot of call `id`, before the call can be answered.
    pub(crate) fn open(&self, id: u64) {
        self.lock().insert(id, Slot::Waiting(None));
    }

    /// Fills the slot of `id` and wakes its waiter. A slot nobody waits on
    /// (cancelled) gets nothing: the value is dropped here, after the lock.
    pub(crate) fn complete(&self, id: u64, value: T) {
        let mut slots = self.lock();
        let waiter = match slots.get_mut(&id) {
            Some(slot @ Slot::Waiting(_)) => match std::mem::replace(slot, Slot::Done(value)) {
                Slot::Waiting(w) => w,
                Slot::Done(_) => unreachable!("slot checked above"),
            },
            _ => {
                drop(slots);
                drop(value);
                return;
            }
        };
        drop(slots);
        wake(waiter);
    }

    /// Blocks this thread until `id` is filled.
    pub(crate) fn wait(&self, id: u64) -> Found<T> {
        loop {
            {
                let mut slots = self.lock();
                match slots.get_mut(&id) {
                    Some(Slot::Done(_)) => match slots.remove(&id) {
                        Some(Slot::Done(value)) => return Found::Ready(value),
                        _ => unreachable!("slot checked above"),
                    },
                    Some(Slot::Waiting(waiter)) => {
                        if waiter.is_none() {
                            *waiter = Some(Waiter::Thread(std::thread::current()));
                        }
                    }
                    None => return Found::Gone,
                }
            }
            std::thread::park();
        }
    }

    /// Polls `id` from a task.
    pub(crate) fn poll(&self, id: u64, cx: &mut Context<'_>) -> Poll<Found<T>> {
        let mut slots = self.lock();
        match slots.get_mut(&id) {
            Some(Slot::Done(_)) => match slots.remove(&id) {
                Some(Slot::Done(value)) => Poll::Ready(Found::Ready(value)),
                _ => unreachable!("slot checked above"),
            },
            Some(Slot::Waiting(waiter)) => {
                match waiter {
                    Some(Waiter::Task(w)) if w.will_wake(cx.waker()) => {}
                    _ => *waiter = Some(Waiter::Task(cx.waker().clone())),
                }
                Poll::Pending
            }
            None => Poll::Ready(Found::Gone),
        }
    }

    /// Takes the value of `id` if it is in, without waiting or waking
    /// anyone: `None` while it is still awaited.
    pub(crate) fn take_ready(&self, id: u64) -> Option<Found<T>> {
        let mut slots = self.lock();
        match slots.get(&id) {
            Some(Slot::Done(_)) => match slots.remove(&id) {
                Some(Slot::Done(value)) => Some(Found::Ready(value)),
                _ => unreachable!("slot checked above"),
            },
            Some(Slot::Waiting(_)) => None,
            None => Some(Found::Gone),
        }
    }

    /// Gives up on `id`; what it held is dropped after the lock.
    pub(crate) fn cancel(&self, id: u64) {
        let slot = self.lock().remove(&id);
        drop(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_waiting_thread_is_woken_with_its_value() {
        let r = Arc::new(Replies::<u32>::default());
        r.open(1);
        let r2 = r.clone();
        let t = std::thread::spawn(move || match r2.wait(1) {
            Found::Ready(v) => v,
            Found::Gone => 0,
        });
        r.complete(1, 7);
        assert_eq!(t.join().unwrap(), 7);
        assert!(matches!(r.wait(1), Found::Gone), "taken once");
    }

    #[test]
    fn a_cancelled_slot_drops_what_arrives_and_a_wait_on_it_ends() {
        let r = Replies::<Arc<()>>::default();
        r.open(3);
        r.cancel(3);
        let value = Arc::new(());
        r.complete(3, value.clone());
        assert_eq!(Arc::strong_count(&value), 1, "dropped, not kept");
        assert!(matches!(r.wait(3), Found::Gone));
    }
}
