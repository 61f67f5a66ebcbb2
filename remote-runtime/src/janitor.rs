//! Batched release: when a proxy's last clone drops, its release is queued on
//! the session, and this one background thread sends each session's queue as
//! one frame. Drops that happen while a batch is being sent join the next one.

use std::sync::{OnceLock, Weak};

use crossbeam_channel::{unbounded, Sender};

use crate::session::Session;

static JANITOR: OnceLock<Sender<Weak<Session>>> = OnceLock::new();

/// Asks for `session`'s queued releases to be sent soon.
pub(crate) fn schedule(session: Weak<Session>) {
    let tx = JANITOR.get_or_init(|| {
        let (tx, rx) = unbounded::<Weak<Session>>();
        let spawned = std::thread::Builder::new()
            .name("remote-janitor".into())
            .spawn(move || {
                for weak in rx {
                    if let Some(session) = weak.upgrade() {
                        session.flush_releases();
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the release thread");
        }
        tx
    });
    if tx.send(session.clone()).is_err() {
        if let Some(session) = session.upgrade() {
            session.flush_releases();
        }
    }
}
