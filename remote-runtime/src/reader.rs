//! The reader: the thread that takes frames off a connection and handles
//! them.
//!
//! Calls from the peer are served right on the reader, which is the fastest
//! path for the common short method. When code running there is about to
//! block on a remote call (a method that calls back into its caller, or into
//! anyone else), the reader role is first handed to a fresh thread, so the
//! reply it waits for can still be read: nested synchronous calls never
//! deadlock.

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
            }
            Err(e) => {
                session.close(&e);
                return;
            }
        }
    }
}

/// Called before any blocking wait: if this thread is a reader, a new reader
/// takes over, so frames keep flowing while this thread waits.
pub(crate) fn before_blocking() {
    let Some((weak, generation)) = READER.with(|r| r.borrow_mut().take()) else {
        return;
    };
    let Some(session) = weak.upgrade() else {
        return;
    };
    if session
        .reader_gen
        .compare_exchange(
            generation,
            generation + 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
    {
        tracing::trace!(peer = %session.peer, "reader handed off before a nested blocking call");
        session.spawn_reader(generation + 1);
    }
}
